/**
 * One error type and one factory per kind of failure, so every message reads the same way:
 *
 *   solveLinearRecurrence: argument `rhs` must be a Float32Array of length 24 ([B=1, T=8, D=3]); got a Float64Array of length 24.
 *
 * Messages name the operation, the argument, what was expected and what arrived, and (where
 * there is one) the fix.
 */

export type ParascanErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NON_FINITE'
  | 'NATIVE_UNAVAILABLE'
  | 'DEVICE_ERROR'
  | 'DIVERGED'
  | 'INVALID_DATA';

export interface ParascanErrorDetails {
  operation: string;
  argument?: string;
  expected?: string;
  got?: string;
  hint?: string;
}

export class ParascanError extends Error {
  readonly code: ParascanErrorCode;
  readonly operation: string;
  readonly argument: string | undefined;
  readonly expected: string | undefined;
  readonly got: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ParascanErrorCode, message: string, details: ParascanErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParascanError';
    this.code = code;
    this.operation = details.operation;
    this.argument = details.argument;
    this.expected = details.expected;
    this.got = details.got;
    this.hint = details.hint;
  }
}

/** `op: argument \`arg\` must be EXPECTED; got GOT.` */
export function invalidArgument(operation: string, argument: string, expected: string, got: string, hint?: string): ParascanError {
  const message = `${operation}: argument \`${argument}\` must be ${expected}; got ${got}.${hint ? ` ${hint}` : ''}`;
  return new ParascanError('INVALID_ARGUMENT', message, { operation, argument, expected, got, hint });
}

/** A NaN or Inf, in an input (where; `argument` names it) or produced by the computation. */
export function nonFinite(operation: string, where: string, hint?: string, argument?: string): ParascanError {
  const message = `${operation}: ${where}.${hint ? ` ${hint}` : ''}`;
  return new ParascanError('NON_FINITE', message, { operation, argument, hint });
}

/**
 * Bad content in a data file or a stored artefact (a CSV, a corpus, a checkpoint): `op: SOURCE: PROBLEM. FIX`.
 * `source` says where (a path, with a line and column when known) so the user can go and fix it.
 */
export function dataError(operation: string, source: string, problem: string, fix?: string, cause?: unknown): ParascanError {
  const message = `${operation}: ${source}: ${problem}.${fix ? ` ${fix}` : ''}`;
  return new ParascanError('INVALID_DATA', message, { operation, argument: source, got: problem, hint: fix }, { cause });
}

export function nativeUnavailable(operation: string, reason: string, fixes: string[], cause?: unknown): ParascanError {
  const list = fixes.map((f, i) => `  ${i + 1}. ${f}`).join('\n');
  const message = `${operation}: ${reason}\nTo fix it, any one of:\n${list}`;
  return new ParascanError('NATIVE_UNAVAILABLE', message, { operation, hint: fixes.join(' | ') }, { cause });
}

export function deviceError(operation: string, reason: string, hint?: string, cause?: unknown): ParascanError {
  const message = `${operation}: ${reason}${hint ? ` ${hint}` : ''}`;
  return new ParascanError('DEVICE_ERROR', message, { operation, hint }, { cause });
}

/** Describes a value for the `got` part of a message: its type, and its length for arrays. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (ArrayBuffer.isView(value)) {
    const ctor = (value as object).constructor?.name ?? 'TypedArray';
    const len = (value as { length?: number }).length;
    const article = /^[AEIOU]/i.test(ctor) ? 'an' : 'a';
    return len === undefined ? `${article} ${ctor}` : `${article} ${ctor} of length ${len}`;
  }
  if (Array.isArray(value)) return `a plain Array of length ${value.length}`;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}
