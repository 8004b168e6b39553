/**
 * A small declarative flag parser: every command lists its flags once, and the same list gives
 * parsing, validation, defaults and the `--help` text, so they cannot drift apart.
 *
 * Usage errors are `UsageError`s: one line that says what is wrong and what to do, and exit code 2.
 */

export type FlagType = 'string' | 'int' | 'number' | 'boolean' | 'choice';

export interface FlagSpec {
  readonly name: string;
  readonly type: FlagType;
  readonly help: string;
  /** For 'choice'. */
  readonly choices?: readonly string[];
  /** Shown in --help and used when the flag is absent. */
  readonly default?: string | number | boolean;
  /** Placeholder in --help (e.g. FILE). */
  readonly value?: string;
  /** Inclusive bounds for numbers. */
  readonly min?: number;
  readonly max?: number;
  /** One-letter alias. */
  readonly short?: string;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly flags: readonly FlagSpec[];
  readonly examples: readonly string[];
  readonly notes?: readonly string[];
}

export type ParsedFlags = Record<string, string | number | boolean | undefined>;

export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

export function suggest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = distance(word, c);
    if (dd < bestD) {
      bestD = dd;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

function convert(cmd: string, spec: FlagSpec, raw: string): string | number | boolean {
  const where = `parascan ${cmd}: --${spec.name}`;
  switch (spec.type) {
    case 'string':
      if (raw === '') throw new UsageError(`${where} needs a value (${spec.value ?? 'TEXT'}); got an empty string.`);
      return raw;
    case 'choice': {
      const choices = spec.choices ?? [];
      if (!choices.includes(raw)) {
        const s = suggest(raw, choices);
        throw new UsageError(`${where} must be one of ${choices.join(', ')}; got "${raw}".${s ? ` Did you mean "${s}"?` : ''}`);
      }
      return raw;
    }
    case 'boolean':
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      throw new UsageError(`${where} is a switch: write --${spec.name} or --no-${spec.name}; got "${raw}".`);
    case 'int':
    case 'number': {
      const n = Number(raw);
      const isInt = spec.type === 'int';
      if (raw.trim() === '' || !Number.isFinite(n) || (isInt && !Number.isSafeInteger(n))) {
        throw new UsageError(`${where} must be ${isInt ? 'an integer' : 'a finite number'}; got "${raw}".`);
      }
      if (spec.min !== undefined && n < spec.min) throw new UsageError(`${where} must be at least ${spec.min}; got ${raw}.`);
      if (spec.max !== undefined && n > spec.max) throw new UsageError(`${where} must be at most ${spec.max}; got ${raw}.`);
      return n;
    }
  }
}

/** Parses `--name value`, `--name=value`, `--switch`, `--no-switch` and `-x value`. No positionals. */
export function parseFlags(spec: CommandSpec, argv: readonly string[]): ParsedFlags {
  const byName = new Map(spec.flags.map((f) => [f.name, f] as const));
  const byShort = new Map(spec.flags.filter((f) => f.short).map((f) => [f.short!, f] as const));
  const out: ParsedFlags = {};
  const names = spec.flags.map((f) => f.name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let flag: FlagSpec | undefined;
    let inline: string | undefined;
    let negated = false;
    if (arg.startsWith('--')) {
      const body = arg.slice(2);
      const eq = body.indexOf('=');
      const name = eq >= 0 ? body.slice(0, eq) : body;
      inline = eq >= 0 ? body.slice(eq + 1) : undefined;
      flag = byName.get(name);
      if (!flag && name.startsWith('no-')) {
        const f = byName.get(name.slice(3));
        if (f && f.type === 'boolean' && inline === undefined) {
          flag = f;
          negated = true;
        }
      }
      if (!flag) {
        const s = suggest(name, names);
        throw new UsageError(
          `parascan ${spec.name}: unknown flag --${name}.${s ? ` Did you mean --${s}?` : ''} Run \`parascan ${spec.name} --help\` for the list.`,
        );
      }
    } else if (arg.startsWith('-') && arg.length === 2) {
      flag = byShort.get(arg.slice(1));
      if (!flag) throw new UsageError(`parascan ${spec.name}: unknown flag ${arg}. Run \`parascan ${spec.name} --help\` for the list.`);
    } else {
      throw new UsageError(
        `parascan ${spec.name}: unexpected argument "${arg}"; every option is a --flag (for a data file: --data ${arg}). Run \`parascan ${spec.name} --help\`.`,
      );
    }
    if (out[flag.name] !== undefined) throw new UsageError(`parascan ${spec.name}: --${flag.name} is given twice; keep one.`);
    if (flag.type === 'boolean') {
      out[flag.name] = negated ? false : inline === undefined ? true : convert(spec.name, flag, inline);
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`parascan ${spec.name}: --${flag.name} needs a value (${flag.value ?? describeType(flag)}).`);
      }
      raw = next;
      i++;
    }
    out[flag.name] = convert(spec.name, flag, raw);
  }
  for (const f of spec.flags) if (out[f.name] === undefined && f.default !== undefined) out[f.name] = f.default;
  return out;
}

function describeType(f: FlagSpec): string {
  switch (f.type) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'choice':
      return (f.choices ?? []).join('|');
    default:
      return f.value ?? 'TEXT';
  }
}

function wrap(text: string, width: number, indent: number): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

export function formatHelp(spec: CommandSpec): string {
  const rows = spec.flags.map((f) => {
    const value = f.type === 'boolean' ? '' : ` ${f.value ?? (f.type === 'choice' ? (f.choices ?? []).join('|') : f.type === 'int' ? 'N' : f.type === 'number' ? 'X' : 'TEXT')}`;
    const left = `  ${f.short ? `-${f.short}, ` : ''}--${f.name}${value}`;
    const def = f.default !== undefined && f.type !== 'boolean' ? ` (default: ${f.default})` : '';
    return { left, right: `${f.help}${def}` };
  });
  const col = Math.min(34, Math.max(...rows.map((r) => r.left.length)) + 2);
  const body = rows
    .map((r) => (r.left.length + 1 > col ? `${r.left}\n${' '.repeat(col)}` : r.left.padEnd(col)) + wrap(r.right, 100 - col, col))
    .join('\n');
  const parts = [`parascan ${spec.name}: ${spec.summary}`, '', `Usage: ${spec.usage}`, '', 'Options:', body];
  if (spec.notes && spec.notes.length) parts.push('', ...spec.notes);
  if (spec.examples.length) parts.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return parts.join('\n') + '\n';
}
