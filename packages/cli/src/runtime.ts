/**
 * What the commands share: threads, the run options of the cells, printing, and turning errors
 * into one line and an exit code.
 */
import { ParascanError } from '@parascan/core';
import { tryLoadNativeAddon } from '@parascan/native';
import type { RunOptions } from '@parascan/nn';
import { UsageError, type FlagSpec, type ParsedFlags } from './args.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, as shells report a Ctrl-C'd program. */
export const EXIT_INTERRUPTED = 130;

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export const RUN_FLAGS: readonly FlagSpec[] = [
  { name: 'mode', type: 'choice', choices: ['parallel', 'sequential', 'fused', 'picard', 'auto'], default: 'parallel', help: 'how the cells solve the recurrence: Newton in parallel over the sequence, the step-by-step loop, the whole Newton loop in one native call, Picard iteration, or auto (the cells pick by their measured cost model)' },
  { name: 'backend', type: 'choice', choices: ['cpu', 'js'], help: "'cpu': the native addon (default when it loads); 'js': pure TypeScript" },
  { name: 'threads', type: 'int', min: 1, max: 1024, help: 'native worker threads (default: every core)' },
];

export function runOptionsFromFlags(command: string, f: ParsedFlags): RunOptions {
  const mode = f['mode'] as RunOptions['mode'];
  const backend = f['backend'] as RunOptions['backend'] | undefined;
  if (mode === 'fused' && backend === 'js') {
    throw new UsageError(`parascan ${command}: --mode fused runs the whole Newton loop natively and needs --backend cpu; use --mode parallel with --backend js.`);
  }
  prepareNative(command, backend, mode === 'fused', f['threads'] as number | undefined);
  return { mode, ...(backend ? { backend } : {}) };
}

/**
 * Loads the native addon when the run needs or may use it and applies --threads. A missing addon
 * is an error only when the flags demand it (--backend cpu, a fused mode, --threads); otherwise the
 * models fall back to 'js' by themselves.
 */
export function prepareNative(command: string, backend: RunOptions['backend'] | undefined, needsFused: boolean, threads: number | undefined): void {
  if (backend === 'js' && threads === undefined) return;
  const r = tryLoadNativeAddon('cpu');
  if ('error' in r) {
    if (backend === 'cpu' || needsFused || threads !== undefined) {
      throw new CliError(`parascan ${command}: the native addon did not load, so --backend cpu / mode fused / --threads cannot work.\n${r.error.message}`);
    }
  } else if (threads !== undefined) {
    r.addon.setThreads?.(threads);
  }
}

/** A failure the user can act on: printed as is, exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** One line (or the loader's short list of fixes) on stderr, and the exit code. */
export function reportError(command: string, err: unknown, io: Io): number {
  if (err instanceof UsageError) {
    io.stderr.write(`${err.message}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof CliError) {
    io.stderr.write(`${err.message}\n`);
    return EXIT_FAILURE;
  }
  if (err instanceof ParascanError) {
    io.stderr.write(`parascan ${command}: ${err.message}\n`);
    return EXIT_FAILURE;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.path === 'string') {
    const what = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory, expected a file' : e.message;
    io.stderr.write(`parascan ${command}: ${e.path}: ${what}.\n`);
    return EXIT_FAILURE;
  }
  const message = err instanceof Error ? err.stack ?? err.message : String(err);
  io.stderr.write(`parascan ${command}: unexpected internal error (please report it):\n${message}\n`);
  return EXIT_FAILURE;
}

export function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(digits);
}
