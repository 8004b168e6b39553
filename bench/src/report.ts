/** Ratios between rows, target verdicts, and the stdout table. */
import type { BenchDocument, MachineInfo, Row, Section } from './types.js';

/** Fills pctOfTriad, speedup and met from the rows they refer to (missing references stay null). */
export function resolveRatios(rows: Row[]): void {
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const r of rows) {
    const triad = r.triadRef ? byId.get(r.triadRef) : undefined;
    r.pctOfTriad = triad ? (100 * r.gbps) / triad.gbps : null;
    r.pctOfTriadBest = triad ? (100 * r.gbpsBest) / triad.gbpsBest : null;
    const base = r.baselineRef ? byId.get(r.baselineRef) : undefined;
    r.speedup = base ? base.timing.medianMs / r.timing.medianMs : null;
    r.speedupBest = base ? base.timing.minMs / r.timing.minMs : null;
    if (r.target) {
      const value = r.target.metric === 'pctOfTriad' ? r.pctOfTriad : r.speedup;
      r.met = value === null ? null : value >= r.target.min;
    }
  }
}

export function targetSummary(rows: Row[]): BenchDocument['targets'] {
  return rows
    .filter((r) => r.target)
    .map((r) => ({
      id: r.id,
      target: r.target!.text,
      value: r.target!.metric === 'pctOfTriad' ? r.pctOfTriad : r.speedup,
      valueBest: r.target!.metric === 'pctOfTriad' ? r.pctOfTriadBest : r.speedupBest,
      met: r.met,
    }));
}

// ---- formatting ----------------------------------------------------------------------------------

function sig(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const mag = Math.floor(Math.log10(Math.abs(x)));
  const decimals = Math.max(0, digits - 1 - mag);
  return x.toFixed(Math.min(decimals, 6));
}

export function verdict(r: Row): string {
  if (!r.target) return '';
  if (r.met === null) return 'n/a (reference row not run)';
  return r.met ? 'met' : 'NOT MET';
}

function methodCell(r: Row): string {
  if (r.backend === 'native') return r.method;
  const m = `${r.backend} ${r.method}`;
  return r.schedule && r.schedule !== r.method ? `${m} -> ${r.schedule}` : m;
}

const SECTION_TITLES: Record<Section, string> = {
  bandwidth: 'Memory bandwidth (native STREAM probes, same thread pool as the solver)',
  throughput: 'Solve throughput (GB/s of J + r read and x written; % of the triad row above it: same threads, same arrays, measured just before)',
  'time-parallel': 'Parallel in time: one long stream (B=1), float32',
  'js-reference': 'Pure-TS reference vs native, float32 (js rows compare with the 1-thread triad)',
  cells: 'Cells (ParaGRU/ParaLSTM f32 through the public forward/backward, projection included; speedup vs the row named)',
  'cells-memory': 'Cells: one forward+backward per mode at T=2^20 (peak RSS of a process running only that mode)',
  cuda: 'CUDA',
};

const HEADERS = ['case', 'dtype', 'shape', 'method -> schedule', 'thr', 'median ms', '±%', 'GB/s', '% triad', 'speedup', 'target', 'status', 'RSS / arrays MiB', 'load'];

function cells(r: Row): string[] {
  const m = r.memory;
  return [
    r.case,
    r.dtype === 'float32' ? 'f32' : 'f64',
    r.shape,
    methodCell(r),
    r.threads === null ? '-' : String(r.threads),
    sig(r.timing.medianMs),
    sig(r.timing.rmePct, 2),
    sig(r.gbps),
    r.pctOfTriad === null ? '' : `${r.pctOfTriad.toFixed(1)}%`,
    r.speedup === null ? '' : `${sig(r.speedup)}x vs ${r.baselineLabel ?? r.baselineRef}`,
    r.target ? r.target.text : '',
    verdict(r),
    m.peakRssMiB > 0 ? `${Math.round(m.peakRssMiB)} / ${sig(m.arraysMiB)}${m.isolated ? '' : ' (shared proc)'}` : '',
    m.loadStart === undefined ? '' : `${m.loadStart.toFixed(1)}-${(m.loadEnd ?? m.loadStart).toFixed(1)}`,
  ];
}

function table(rows: string[][]): string {
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cs: string[]) => cs.map((c, i) => (i >= 4 && i <= 9 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatMachine(m: MachineInfo): string {
  const n = m.native;
  const lines = [
    `machine: ${m.cpuModel}, ${m.cores} cores (availableParallelism ${m.availableParallelism}), ${m.totalMemoryGiB.toFixed(1)} GiB, ${m.platform}-${m.arch}, Node ${m.node}`,
    `native:  ${n.path ?? 'not loaded'}${n.isa ? `, isa ${n.isa} (available: ${n.availableIsas.join(', ')}), pool ${n.poolThreads} threads, v${n.version}` : ''}${n.fileSha256 ? `, file sha256 ${n.fileSha256} modified ${n.fileModified}` : ''}${n.error ? ` (${n.error})` : ''}`,
    `date:    ${m.date}; load average at start ${m.loadAverageStart.map((x) => x.toFixed(2)).join(' ')}${m.loadAverageEnd ? `, at end ${m.loadAverageEnd.map((x) => x.toFixed(2)).join(' ')}` : ''}`,
  ];
  const worst = Math.max(m.loadAverageStart[0] ?? 0, m.loadAverageEnd?.[0] ?? 0);
  if (worst > m.cores) {
    lines.push(`WARNING: load average ${worst.toFixed(1)} exceeds ${m.cores} cores: other processes compete for CPU and memory bandwidth; every number below is noisy.`);
  }
  return lines.join('\n');
}

export function formatReport(doc: BenchDocument): string {
  const out: string[] = [];
  out.push(`parascan bench (${doc.profile}), command: ${doc.command}`);
  out.push(formatMachine(doc.machine));
  if (doc.profile === 'smoke') out.push('SMOKE RUN: tiny sizes that only prove every case runs; its timings and target verdicts say nothing about performance.');
  out.push(
    "Times are tinybench medians; ±% is tinybench's relative margin of error of the mean. GB/s = bytes that must move / median time. load = 1-minute load average when the case started-ended.",
  );
  const sections: Section[] = ['bandwidth', 'throughput', 'time-parallel', 'js-reference', 'cells', 'cells-memory', 'cuda'];
  for (const s of sections) {
    const rows = doc.rows.filter((r) => r.section === s);
    const skipped = s === 'cuda' ? doc.skipped.filter((x) => x.case === 'cuda') : [];
    if (rows.length === 0 && skipped.length === 0) continue;
    out.push('', `## ${SECTION_TITLES[s]}`);
    if (rows.length) out.push(table(rows.map(cells)));
    for (const sk of skipped) out.push(`CUDA rows skipped: ${sk.reason}`);
  }
  const otherSkips = doc.skipped.filter((x) => x.case !== 'cuda');
  for (const sk of otherSkips) out.push(`case ${sk.case} skipped: ${sk.reason}`);
  if (doc.errors.length) {
    out.push('', '## FAILED cases');
    for (const e of doc.errors) out.push(`${e.case}: ${e.error}`);
  }
  out.push('', '## Targets');
  for (const t of doc.targets) {
    const row = doc.rows.find((r) => r.id === t.id)!;
    const pct = row.target!.metric === 'pctOfTriad';
    const fmt = (v: number | null) => (v === null ? 'n/a' : pct ? `${v.toFixed(1)}% of triad` : `${v.toFixed(2)}x`);
    out.push(
      `${t.met === null ? 'n/a    ' : t.met ? 'met    ' : 'NOT MET'}  ${t.id.padEnd(24)} ${fmt(t.value).padStart(16)} median` +
        `  (fastest samples: ${fmt(t.valueBest)})   target ${t.target}; schedule ${row.schedule ?? '-'}`,
    );
  }
  out.push('The verdict uses the medians; the fastest-sample ratio is shown because other processes on a shared machine inflate medians.');
  if (doc.targets.length === 0) out.push('(no target rows ran)');
  out.push('', `total ${doc.totalSeconds.toFixed(1)} s`);
  return out.join('\n');
}
