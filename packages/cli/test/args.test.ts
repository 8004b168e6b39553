import { describe, expect, it } from 'vitest';
import { UsageError, formatHelp, parseFlags, suggest, type CommandSpec } from '../src/args.js';

const spec: CommandSpec = {
  name: 'demo',
  summary: 'a command for the parser tests',
  usage: 'parascan demo [options]',
  flags: [
    { name: 'steps', type: 'int', help: 'optimiser steps', default: 10, min: 1 },
    { name: 'lr', type: 'number', help: 'learning rate', min: 0 },
    { name: 'cell', type: 'choice', choices: ['gru', 'lstm'], help: 'cell', default: 'gru' },
    { name: 'data', type: 'string', help: 'data file', value: 'FILE' },
    { name: 'json', type: 'boolean', help: 'JSON lines' },
    { name: 'quiet', type: 'boolean', help: 'less output', short: 'q' },
  ],
  examples: ['parascan demo --steps 5'],
};

function usage(argv: string[]): string {
  try {
    parseFlags(spec, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseFlags', () => {
  it('parses every flag form and fills defaults', () => {
    expect(parseFlags(spec, [])).toEqual({ steps: 10, cell: 'gru' });
    expect(parseFlags(spec, ['--steps', '3', '--lr=0.5', '--cell', 'lstm', '--data', 'a.txt', '--json', '-q'])).toEqual({
      steps: 3,
      lr: 0.5,
      cell: 'lstm',
      data: 'a.txt',
      json: true,
      quiet: true,
    });
    expect(parseFlags(spec, ['--no-json'])['json']).toBe(false);
    expect(parseFlags(spec, ['--json=false'])['json']).toBe(false);
    expect(parseFlags(spec, ['--lr', '-0']).lr).toBe(-0);
  });

  it('rejects bad input with one line that says what to fix', () => {
    expect(usage(['--stpes', '3'])).toBe('parascan demo: unknown flag --stpes. Did you mean --steps? Run `parascan demo --help` for the list.');
    expect(usage(['--steps', 'many'])).toBe('parascan demo: --steps must be an integer; got "many".');
    expect(usage(['--steps', '2.5'])).toBe('parascan demo: --steps must be an integer; got "2.5".');
    expect(usage(['--steps', '0'])).toBe('parascan demo: --steps must be at least 1; got 0.');
    expect(usage(['--lr', 'NaN'])).toBe('parascan demo: --lr must be a finite number; got "NaN".');
    expect(usage(['--cell', 'lstn'])).toBe('parascan demo: --cell must be one of gru, lstm; got "lstn". Did you mean "lstm"?');
    expect(usage(['--data'])).toBe('parascan demo: --data needs a value (FILE).');
    expect(usage(['--data', '--json'])).toBe('parascan demo: --data needs a value (FILE).');
    expect(usage(['file.txt'])).toMatch(/unexpected argument "file.txt".*--data file.txt/);
    expect(usage(['--steps', '1', '--steps', '2'])).toBe('parascan demo: --steps is given twice; keep one.');
    expect(usage(['-x'])).toMatch(/unknown flag -x/);
    expect(usage(['--no-steps'])).toMatch(/unknown flag --no-steps/);
    expect(usage(['--json=maybe'])).toMatch(/--json is a switch/);
  });

  it('suggests only close names', () => {
    expect(suggest('widht', ['width', 'heads'])).toBe('width');
    expect(suggest('zzzzzz', ['width', 'heads'])).toBeNull();
  });

  it('formats help from the same spec', () => {
    const h = formatHelp(spec);
    expect(h).toContain('Usage: parascan demo [options]');
    expect(h).toMatch(/--steps N\s+optimiser steps \(default: 10\)/);
    expect(h).toMatch(/--cell gru\|lstm\s+cell \(default: gru\)/);
    expect(h).toMatch(/-q, --quiet\s+less output/);
    expect(h).toContain('parascan demo --steps 5');
  });
});
