/**
 * The package's test (CI): runs every case on tiny sizes (`--smoke --json --inline`), then one case
 * through the child-process path the full run uses, and checks that each JSON document parses and
 * that every row carries finite, positive numbers. Ends with a plain `N passed, N failed` line.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { BenchDocument, Row } from './types.js';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
let passed = 0;
let failed = 0;

function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else {
    failed++;
    process.stderr.write(`FAIL ${name}${detail ? `: ${detail}` : ''}\n`);
  }
}

function run(args: string[]): BenchDocument | null {
  const r = spawnSync(process.execPath, [...process.execArgv, main, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  check(`main.ts ${args.join(' ')} exits 0`, r.status === 0, `status ${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ''}`);
  try {
    return JSON.parse(r.stdout) as BenchDocument;
  } catch (e) {
    check(`main.ts ${args.join(' ')} prints one JSON document`, false, (e as Error).message);
    return null;
  }
}

const finitePositive = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0;

function checkRow(r: Row, ids: Set<string>): void {
  const t = r.timing;
  const numbers: [string, unknown][] = [
    ['timing.medianMs', t.medianMs],
    ['timing.meanMs', t.meanMs],
    ['timing.minMs', t.minMs],
    ['timing.samples', t.samples],
    ['bytesMoved', r.bytesMoved],
    ['gbps', r.gbps],
    ['gbpsBest', r.gbpsBest],
    ['memory.peakRssMiB', r.memory.peakRssMiB],
    ['memory.arraysMiB', r.memory.arraysMiB],
  ];
  if (r.triadRef && ids.has(r.triadRef)) numbers.push(['pctOfTriad', r.pctOfTriad], ['pctOfTriadBest', r.pctOfTriadBest]);
  if (r.baselineRef && ids.has(r.baselineRef)) numbers.push(['speedup', r.speedup], ['speedupBest', r.speedupBest]);
  const bad = numbers.filter(([, v]) => !finitePositive(v)).map(([k, v]) => `${k}=${String(v)}`);
  check(`row ${r.id} has numbers`, bad.length === 0, bad.join(', '));
  if (r.target) check(`row ${r.id} has a target verdict`, typeof r.met === 'boolean', `met=${String(r.met)}`);
  if (r.backend !== 'native') check(`row ${r.id} reports its schedule`, typeof r.schedule === 'string' && r.schedule.length > 0);
}

const t0 = performance.now();
const all = run(['--smoke', '--json', '--inline']);
if (all) {
  check('machine info', typeof all.machine.cpuModel === 'string' && all.machine.cores > 0 && typeof all.machine.node === 'string');
  check('native isa reported', typeof all.machine.native.isa === 'string', all.machine.native.error ?? '');
  check('no case failed', all.errors.length === 0, all.errors.map((e) => `${e.case}: ${e.error.split('\n')[0]}`).join('; '));
  const ids = new Set(all.rows.map((r) => r.id));
  for (const id of ['bandwidth/triad-2t', 'diag-f32/triad-2t', 'diag-f32/cpu-auto-2t', 'block2-f32/cpu-auto-2t', 'diag-f64/cpu-auto-1t', 'time-d1/cpu-chunked-2t', 'time-d4/cpu-sequential-1t', 'js-diag/js-sequential', 'js-diag-parallel/js-parallel']) {
    check(`row ${id} present`, ids.has(id));
  }
  check('cuda rows or a reason', all.rows.some((r) => r.section === 'cuda') || all.skipped.some((s) => s.case === 'cuda' && s.reason.length > 0));
  check('targets listed', all.targets.length >= 4);
  // Cells: the modes of a shape are timed in interleaved rounds (at least 2 at smoke, one call per mode each),
  // and the auto rows say which mode auto ran and how it compared round by round.
  const cellRows = all.rows.filter((r) => r.section === 'cells' && r.case.startsWith('cells-t'));
  check('cells rows present', cellRows.length > 0);
  // (The js reference rows are timed alone, outside the rounds.)
  for (const r of cellRows.filter((r) => r.backend !== 'js')) check(`row ${r.id} has a sample per round`, r.timing.samples >= 2 && r.timing.minMs <= r.timing.medianMs && r.timing.medianMs <= r.timing.maxMs);
  for (const r of cellRows.filter((r) => r.method.startsWith('auto'))) {
    check(`row ${r.id} names auto's pick and the paired ratio`, /^auto picked (sequential|parallel|picard|fused)\b.*auto\/best within a round: median [\d.]+, quartiles [\d.]+-[\d.]+, (\d{2,}|[2-9]) rounds/.test(r.note ?? ''), r.note ?? 'no note');
  }
  for (const r of all.rows) checkRow(r, ids);
}
// The child-process path (one fresh process per case, as the full run does).
const one = run(['--smoke', '--json', '--case', 'time-d1']);
if (one) {
  const ids = new Set(one.rows.map((r) => r.id));
  check('child cases ran isolated', one.rows.some((r) => r.case === 'time-d1') && one.rows.every((r) => r.memory.isolated));
  check('a selected case brings the bandwidth rows', ids.has('bandwidth/triad-2t'));
  for (const r of one.rows) checkRow(r, ids);
}
process.stdout.write(`bench smoke: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed ? 1 : 0;
