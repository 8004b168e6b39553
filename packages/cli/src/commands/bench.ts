/** `parascan bench`: training-step and forward time of a ParaRNN LM per solve mode, side by side. */
import { formatHelp, parseFlags, UsageError, type CommandSpec } from '../args.js';
import { EXIT_OK, fmt, prepareNative, type Io } from '../runtime.js';
import { measureTrainingThroughput, type ThroughputMode } from '../throughput.js';

const MODES = ['sequential', 'parallel', 'fused', 'picard', 'auto'] as const;

export const BENCH: CommandSpec = {
  name: 'bench',
  summary: 'time a training step (forward + backward) and a forward of a ParaRNN language model in each solve mode, in one run',
  usage: 'parascan bench [options]',
  flags: [
    { name: 'cell', type: 'choice', choices: ['gru', 'lstm', 'both'], default: 'both', help: 'which cells to measure' },
    { name: 'layers', type: 'int', min: 1, max: 64, default: 2, help: 'ParaRNN blocks' },
    { name: 'width', type: 'int', min: 1, default: 128, help: 'model width d' },
    { name: 'heads', type: 'int', min: 1, default: 4, help: 'heads; must divide --width' },
    { name: 'batch', type: 'int', min: 1, default: 4, help: 'sequences B' },
    { name: 'length', type: 'int', min: 1, default: 1024, help: 'sequence length T' },
    { name: 'modes', type: 'string', value: 'M,M,..', default: 'sequential,parallel,fused', help: `modes to compare, the first is the baseline (${MODES.join(', ')})` },
    { name: 'backend', type: 'choice', choices: ['cpu', 'js'], help: "'cpu' (native, default when it loads) or 'js'" },
    { name: 'threads', type: 'int', min: 1, max: 1024, help: 'native worker threads (default: every core)' },
    { name: 'repeats', type: 'int', min: 1, max: 1000, default: 3, help: 'timed rounds per mode (after one warm-up round); medians are reported' },
    { name: 'json', type: 'boolean', help: 'print one JSON object instead of the table' },
    { name: 'help', type: 'boolean', short: 'h', help: 'show this help' },
  ],
  notes: ['For the kernel-level benchmarks (bandwidth, solvers, cells, GEMM) run `npx pnpm@10.34.9 bench` in the repository.'],
  examples: ['parascan bench', 'parascan bench --cell lstm --width 64 --length 4096 --modes sequential,parallel --json'],
};

export async function benchCommand(argv: readonly string[], io: Io): Promise<number> {
  const f = parseFlags(BENCH, argv);
  if (f['help']) {
    io.stdout.write(formatHelp(BENCH));
    return EXIT_OK;
  }
  const modes = String(f['modes']).split(',').map((s) => s.trim()).filter(Boolean);
  if (modes.length === 0) throw new UsageError('parascan bench: --modes needs at least one mode.');
  for (const m of modes) {
    if (!(MODES as readonly string[]).includes(m)) throw new UsageError(`parascan bench: --modes: unknown mode "${m}"; choose from ${MODES.join(', ')}.`);
  }
  if (new Set(modes).size !== modes.length) throw new UsageError('parascan bench: --modes lists a mode twice.');
  const width = f['width'] as number;
  const heads = f['heads'] as number;
  if (width % heads !== 0) throw new UsageError(`parascan bench: --heads ${heads} must divide --width ${width}.`);
  const backend = f['backend'] as 'cpu' | 'js' | undefined;
  if (backend === 'js' && modes.includes('fused')) {
    throw new UsageError("parascan bench: mode 'fused' runs natively and needs --backend cpu; drop it from --modes or drop --backend js.");
  }
  prepareNative('bench', backend, modes.includes('fused'), f['threads'] as number | undefined);
  const cells = f['cell'] === 'both' ? (['gru', 'lstm'] as const) : [f['cell'] as 'gru' | 'lstm'];
  const results = [];
  for (const cell of cells) {
    if (!f['json']) io.stderr.write(`measuring ${cell} ...\n`);
    const rows = await measureTrainingThroughput({
      cell,
      layers: f['layers'] as number,
      width,
      heads,
      batch: f['batch'] as number,
      length: f['length'] as number,
      modes: modes as ThroughputMode[],
      ...(backend ? { backend } : {}),
      repeats: f['repeats'] as number,
      between: () => new Promise<void>((r) => setImmediate(r)),
    });
    results.push({ cell, rows });
  }
  const shape = { layers: f['layers'], width, heads, batch: f['batch'], length: f['length'], backend: backend ?? 'default' };
  if (f['json']) {
    io.stdout.write(JSON.stringify({ shape, results }) + '\n');
    return EXIT_OK;
  }
  io.stdout.write(`ParaRNN LM, ${shape.layers} layers, d=${width}, ${heads} heads, B=${shape.batch}, T=${shape.length}, vocab 256; medians of ${f['repeats']} rounds\n`);
  const header = ['cell', 'mode', 'step ms', 'tokens/s', `step vs ${modes[0]}`, 'forward ms', `fwd vs ${modes[0]}`, 'Newton it.'];
  const lines = [header];
  for (const { cell, rows } of results) {
    for (const r of rows) {
      lines.push([cell, r.mode, fmt(r.stepMs, 1), Math.round(r.tokensPerSecond).toString(), `${r.stepSpeedup.toFixed(2)}x`, fmt(r.forwardMs, 1), `${r.forwardSpeedup.toFixed(2)}x`, String(r.newtonIterations)]);
    }
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines) io.stdout.write(l.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ') + '\n');
  return EXIT_OK;
}
