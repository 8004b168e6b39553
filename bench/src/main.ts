/**
 * parascan benchmarks: one run puts the machine's memory bandwidth, the native solver's
 * throughput, the parallel-in-time speedup, the pure-TS reference and (when present) CUDA side by
 * side. Every case runs in a child process of its own so that its peak RSS is its own.
 *
 *   tsx src/main.ts [--quick | --smoke] [--json] [--json-out FILE] [--case NAME]... [--threads N] [--inline] [--list]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

import { tryLoadNativeAddon } from '@parascan/native';

import { USAGE, parseArgs, profileFlags, type BenchArgs } from './args.js';
import { CASES, findCase, type CaseContext } from './cases.js';
import { installScheduleRecorder } from './instrument.js';
import { BUDGETS, MiB } from './measure.js';
import { formatReport, resolveRatios, targetSummary } from './report.js';
import type { BenchDocument, CaseResult, MachineInfo } from './types.js';

const CHILD_MARK = '@@parascan-bench-case@@';
/** A case that runs longer than this (child process) is killed and reported as failed. */
const CASE_TIMEOUT_MS = { full: 180_000, quick: 90_000, smoke: 60_000 } as const;

function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const native: MachineInfo['native'] = { path: null, isa: null, availableIsas: [], poolThreads: null, version: null };
  const loaded = tryLoadNativeAddon('cpu');
  if ('error' in loaded) {
    native.error = loaded.error.message.split('\n')[0] ?? 'not loaded';
  } else {
    native.path = loaded.path;
    try {
      // The addon changes while the kernels are tuned: say exactly which build was measured.
      const st = statSync(loaded.path);
      native.fileModified = st.mtime.toISOString();
      native.fileSha256 = createHash('sha256').update(readFileSync(loaded.path)).digest('hex').slice(0, 16);
    } catch {
      // informative only
    }
    native.version = loaded.addon.version;
    const info = loaded.addon.info();
    if (info.backend === 'cpu') {
      native.isa = info.isa;
      native.availableIsas = info.availableIsas;
      native.poolThreads = info.threads;
    }
  }
  return {
    date: new Date().toISOString(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryGiB: os.totalmem() / 1024 ** 3,
    platform: process.platform,
    arch: process.arch,
    node: process.versions.node,
    loadAverageStart: os.loadavg(),
    native,
  };
}

function rssMiB(): number {
  return process.memoryUsage().rss / MiB;
}

function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024; // KiB -> MiB
}

/** Runs one case in this process. */
async function runCaseHere(name: string, args: BenchArgs, isolated: boolean): Promise<CaseResult> {
  const startRssMiB = rssMiB();
  const ctx: CaseContext = { profile: args.profile, budget: BUDGETS[args.profile], threads: args.threads };
  try {
    const r = await findCase(name).run(ctx);
    const memory = { peakRssMiB: peakRssMiB(), startRssMiB, arraysMiB: r.arraysMiB, isolated };
    for (const row of r.rows) row.memory = memory;
    const result: CaseResult = { case: r.case, rows: r.rows, memory };
    if (r.skipped) result.skipped = r.skipped;
    return result;
  } catch (e) {
    return {
      case: name,
      rows: [],
      error: (e as Error).stack ?? String(e),
      memory: { peakRssMiB: peakRssMiB(), startRssMiB, arraysMiB: 0, isolated },
    };
  }
}

/** Runs one case in a fresh child process (same Node flags, so tsx keeps working). */
function runCaseInChild(name: string, args: BenchArgs): CaseResult {
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, script, '--child', '--case', name, '--threads', String(args.threads), ...profileFlags(args.profile)],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', timeout: CASE_TIMEOUT_MS[args.profile], maxBuffer: 64 * MiB },
  );
  const fail = (why: string): CaseResult => ({
    case: name,
    rows: [],
    error: why,
    memory: { peakRssMiB: 0, startRssMiB: 0, arraysMiB: 0, isolated: true },
  });
  if (child.error) return fail(`child process: ${child.error.message}`);
  const line = (child.stdout ?? '').split('\n').find((l) => l.startsWith(CHILD_MARK));
  if (!line) return fail(`child process exited with ${child.status ?? child.signal} and printed no result`);
  return JSON.parse(line.slice(CHILD_MARK.length)) as CaseResult;
}

function commandLine(argv: string[]): string {
  const event = process.env['npm_lifecycle_event'];
  const via = event && event !== 'npx' ? ` (via the package script "${event}")` : '';
  return `tsx src/main.ts${argv.length ? ` ${argv.join(' ')}` : ''}${via}`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.list) {
    for (const c of CASES) process.stdout.write(`${c.name.padEnd(22)} ${c.title}\n`);
    return 0;
  }
  installScheduleRecorder();

  if (args.child) {
    const name = args.cases[0];
    if (!name || args.cases.length !== 1) throw new Error('--child runs exactly one --case');
    const result = await runCaseHere(name, args, true);
    process.stdout.write(`${CHILD_MARK}${JSON.stringify(result)}\n`);
    return 0;
  }

  // A selection of cases still gets the bandwidth probes: every '% of triad' needs them.
  const names = args.cases.length ? [...new Set(['bandwidth', ...args.cases])] : CASES.map((c) => c.name);
  for (const n of names) findCase(n); // unknown names fail before anything runs
  const machine = machineInfo();
  const t0 = performance.now();
  const results: CaseResult[] = [];
  for (const [i, name] of names.entries()) {
    const t = performance.now();
    process.stderr.write(`[${i + 1}/${names.length}] ${name} ...`);
    const loadStart = os.loadavg()[0]!;
    const r = args.inline ? await runCaseHere(name, args, names.length === 1) : runCaseInChild(name, args);
    r.memory.loadStart = loadStart;
    r.memory.loadEnd = os.loadavg()[0]!;
    for (const row of r.rows) row.memory = r.memory;
    results.push(r);
    const status = r.error ? ' FAILED' : r.skipped ? ` skipped (${r.skipped.split(':')[0]})` : '';
    process.stderr.write(` ${((performance.now() - t) / 1000).toFixed(1)} s${status}\n`);
  }
  machine.loadAverageEnd = os.loadavg();

  const rows = results.flatMap((r) => r.rows);
  resolveRatios(rows);
  const doc: BenchDocument = {
    tool: '@parascan/bench',
    machine,
    command: commandLine(argv),
    argv,
    profile: args.profile,
    threads: args.threads,
    rows,
    skipped: results.filter((r) => r.skipped).map((r) => ({ case: r.case, reason: r.skipped! })),
    errors: results.filter((r) => r.error).map((r) => ({ case: r.case, error: r.error! })),
    targets: targetSummary(rows),
    totalSeconds: (performance.now() - t0) / 1000,
  };
  if (args.jsonOut) writeFileSync(args.jsonOut, `${JSON.stringify(doc, null, 2)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else process.stdout.write(`${formatReport(doc)}\n`);
  return doc.errors.length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${(e as Error).message ?? String(e)}\n`);
    process.exitCode = 2;
  },
);
