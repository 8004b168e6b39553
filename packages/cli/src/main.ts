/**
 * `parascan <command>`: dispatch, top-level help, and the one place where errors become a line on
 * stderr and an exit code (0 ok, 1 failed, 2 bad usage, 130 interrupted).
 */
import { readFileSync } from 'node:fs';
import { suggest, UsageError } from './args.js';
import { BENCH, benchCommand } from './commands/bench.js';
import { EVAL, evalCommand } from './commands/eval.js';
import { TRAIN, train } from './commands/train.js';
import { EXIT_OK, reportError, type Io } from './runtime.js';

const COMMANDS = [TRAIN, EVAL, BENCH];

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function topLevelHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'parascan: train and run nonlinear RNNs in parallel over the sequence (ParaRNN: Newton + parallel reductions)',
    '',
    'Usage: parascan <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
    '',
    'Run `parascan <command> --help` for its options. `parascan --version` prints the version.',
    '',
    'Examples:',
    '  parascan train --task parity',
    '  parascan eval --checkpoint runs/<run>/checkpoint.safetensors',
    '  parascan bench --cell gru --length 2048',
    '',
  ].join('\n');
}

export interface MainOptions {
  io?: Io;
  /** Registers a Ctrl-C handler; returns its remover. Default: process SIGINT. */
  onInterrupt?: (handler: () => void) => () => void;
}

function processInterrupt(handler: () => void): () => void {
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const io = options.io ?? { stdout: process.stdout, stderr: process.stderr };
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    if (command === 'help' && rest[0]) return main([rest[0], '--help'], options);
    io.stdout.write(topLevelHelp());
    return EXIT_OK;
  }
  if (command === '--version' || command === '-v') {
    io.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  try {
    switch (command) {
      case 'train':
        return await train(rest, io, { onInterrupt: options.onInterrupt ?? processInterrupt });
      case 'eval':
        return await evalCommand(rest, io);
      case 'bench':
        return await benchCommand(rest, io);
      default: {
        const s = suggest(command, COMMANDS.map((c) => c.name));
        throw new UsageError(`parascan: unknown command "${command}".${s ? ` Did you mean "${s}"?` : ''} Commands: ${COMMANDS.map((c) => c.name).join(', ')}; run \`parascan --help\`.`);
      }
    }
  } catch (err) {
    return reportError(COMMANDS.some((c) => c.name === command) ? command : '', err, io);
  }
}
