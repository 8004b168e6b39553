/** The records the benchmark produces (one JSON document with `--json`; see README.md). */

export type Dtype = 'float32' | 'float64';

export interface Timing {
  /** Median of the timed samples (the number every ratio uses). */
  medianMs: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  sdMs: number;
  /** tinybench's relative margin of error of the mean, in percent. */
  rmePct: number;
  samples: number;
}

export interface Target {
  /** What the target constrains. */
  metric: 'pctOfTriad' | 'speedup';
  /** The smallest acceptable value (percent for pctOfTriad, a factor for speedup). */
  min: number;
  /** Human-readable form, e.g. '>= 60% of triad'. */
  text: string;
}

/** One measured row, as a case reports it (ratios are filled in once every case has run). */
export interface Row {
  /** `<case>/<variant>`, unique in a run, e.g. 'diag-f32/cpu-auto-2t'. */
  id: string;
  case: string;
  section: Section;
  /** 'native' (memory probes), 'cpu', 'js' or 'cuda'. */
  backend: string;
  /** The requested method ('copy' / 'triad' for the probes). */
  method: string;
  /** The schedule the kernel reports it ran (null for the probes). */
  schedule: string | null;
  dtype: Dtype;
  structure: 'diagonal' | 'block' | null;
  /** e.g. 'B=16 T=16384 D=64' or 'n=16777216'. */
  shape: string;
  /** CPU threads requested (null where it does not apply: js, cuda). */
  threads: number | null;
  /** Bytes that must move per call: probes 2n·4 (copy) / 3n·4 (triad); solves (k²N + 2kN)·B·T·bytes. */
  bytesMoved: number;
  timing: Timing;
  /** bytesMoved / median time, in GB/s (1e9 bytes per second). */
  gbps: number;
  /** bytesMoved / fastest sample: less disturbed by other processes on a shared machine. */
  gbpsBest: number;
  /** Id of the triad row this row is compared with (same thread count; 1 thread for js). */
  triadRef: string | null;
  pctOfTriad: number | null;
  /** Best sample against the triad's best sample. */
  pctOfTriadBest: number | null;
  /** Id of the row this one's speedup is measured against. */
  baselineRef: string | null;
  /** Short name of the baseline for the table, e.g. 'cpu sequential 1t'. */
  baselineLabel: string | null;
  /** baseline median / this median. */
  speedup: number | null;
  /** baseline fastest sample / this fastest sample. */
  speedupBest: number | null;
  target: Target | null;
  /** null when the row has no target, or when its reference row is missing. */
  met: boolean | null;
  /** Peak RSS of the process that ran this row's case, and the arrays that case allocated. */
  memory: CaseMemory;
  note?: string;
}

/**
 * A row's comparison fields before the report fills in the ratios, and its memory before the
 * case's is measured: spread first, then override what the case knows.
 */
export const UNCOMPARED = {
  triadRef: null,
  pctOfTriad: null,
  pctOfTriadBest: null,
  baselineRef: null,
  baselineLabel: null,
  speedup: null,
  speedupBest: null,
  target: null,
  met: null,
  memory: { peakRssMiB: 0, startRssMiB: 0, arraysMiB: 0, isolated: false },
} as const satisfies Partial<Row>;

export type Section = 'bandwidth' | 'throughput' | 'time-parallel' | 'js-reference' | 'cells' | 'cells-memory' | 'cuda';

export interface CaseMemory {
  /** process.resourceUsage().maxRSS of the process that ran the case (KiB -> MiB). */
  peakRssMiB: number;
  /** RSS of that process before the case allocated anything (Node + tsx + the addon). */
  startRssMiB: number;
  /** The case's own arrays (inputs and output), MiB. */
  arraysMiB: number;
  /** os.loadavg()[0] when the case started and ended. */
  loadStart?: number;
  loadEnd?: number;
  /** True when the case ran in a process of its own (peak RSS is then this case's). */
  isolated: boolean;
}

/** What one case returns. */
export interface CaseResult {
  case: string;
  rows: Row[];
  /** Set when the case could not run here (e.g. no CUDA device): the reason, printed as one line. */
  skipped?: string;
  /** Set when the case failed. */
  error?: string;
  memory: CaseMemory;
}

export interface MachineInfo {
  date: string;
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  totalMemoryGiB: number;
  platform: string;
  arch: string;
  node: string;
  /** os.loadavg() when the run started and ended: a loaded machine skews every number. */
  loadAverageStart: number[];
  loadAverageEnd?: number[];
  native: {
    path: string | null;
    isa: string | null;
    availableIsas: string[];
    poolThreads: number | null;
    version: string | null;
    /** mtime and the first 16 hex digits of the SHA-256 of the addon file that was measured. */
    fileModified?: string;
    fileSha256?: string;
    error?: string;
  };
}

export interface BenchDocument {
  tool: '@parascan/bench';
  machine: MachineInfo;
  command: string;
  argv: string[];
  profile: string;
  threads: number;
  rows: Row[];
  skipped: { case: string; reason: string }[];
  errors: { case: string; error: string }[];
  targets: { id: string; target: string; value: number | null; valueBest: number | null; met: boolean | null }[];
  totalSeconds: number;
}
