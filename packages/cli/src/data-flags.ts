/**
 * The data flags shared by `train` and `eval`: `--task` names a bundled dataset, `--data FILE`
 * reads the user's own (a .csv is a time series, anything else text read as bytes).
 */
import { SYNTHETIC_TASKS, type DatasetSpec, type SyntheticTaskName } from '@parascan/train';
import { UsageError, type FlagSpec, type ParsedFlags } from './args.js';

export const TASKS = [...SYNTHETIC_TASKS, 'brown', 'weather'] as const;
export type TaskName = (typeof TASKS)[number];

export const DATA_FLAGS: readonly FlagSpec[] = [
  {
    name: 'task',
    type: 'choice',
    choices: TASKS,
    help: 'bundled data: the ParaRNN synthetic tasks (parity, mqar, khop, keepnth), brown (byte-level Brown corpus, next-byte LM) or weather (Seattle hourly normals from vega-datasets, next-step forecasting)',
  },
  { name: 'data', type: 'string', value: 'FILE', help: 'your own data: a .csv time series (header row, numeric columns) or any other file as byte-level text' },
  { name: 'columns', type: 'string', value: 'A,B,..', help: 'CSV input columns (default: every numeric column)' },
  { name: 'targets', type: 'string', value: 'A,B,..', help: 'CSV columns to forecast one step ahead (default: the input columns)' },
  { name: 'length', type: 'int', min: 1, help: 'sequence length L (default: the task preset\'s, 128 for text, 64 for series)' },
  { name: 'preset', type: 'choice', choices: ['quick', 'paper'], help: "synthetic tasks: 'quick' (L=20, 2000 sequences) or 'paper' (L=100, 10k sequences, 1 layer, d=64, 4 heads)" },
  { name: 'data-seed', type: 'int', min: 0, help: 'seed of the generated synthetic sequences (default 0)' },
];

function list(v: unknown): string[] | undefined {
  if (typeof v !== 'string') return undefined;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The dataset spec the flags describe, or null when no data flag was given. */
export function datasetSpecFromFlags(command: string, f: ParsedFlags): DatasetSpec | null {
  const task = f['task'] as TaskName | undefined;
  const data = f['data'] as string | undefined;
  if (task !== undefined && data !== undefined) {
    throw new UsageError(`parascan ${command}: give either --task or --data, not both (--task ${task} names bundled data, --data ${data} your own).`);
  }
  const length = f['length'] as number | undefined;
  const isCsv = data !== undefined && /\.csv$/i.test(data);
  const series = task === 'weather' || isCsv;
  if ((f['columns'] !== undefined || f['targets'] !== undefined) && !series) {
    throw new UsageError(`parascan ${command}: --columns and --targets apply to CSV time series only (--data FILE.csv or --task weather).`);
  }
  const synthetic = task !== undefined && (SYNTHETIC_TASKS as readonly string[]).includes(task);
  if ((f['preset'] !== undefined || f['data-seed'] !== undefined) && !synthetic) {
    throw new UsageError(`parascan ${command}: --preset and --data-seed apply to the synthetic tasks only (--task ${SYNTHETIC_TASKS.join('|')}).`);
  }
  if (task === undefined && data === undefined) return null;
  if (synthetic) {
    return {
      kind: 'synthetic',
      task: task as SyntheticTaskName,
      ...(f['preset'] !== undefined ? { preset: f['preset'] as 'quick' | 'paper' } : {}),
      ...(length !== undefined ? { length } : {}),
      ...(f['data-seed'] !== undefined ? { seed: f['data-seed'] as number } : {}),
    };
  }
  if (series) {
    const columns = list(f['columns']);
    const targetColumns = list(f['targets']);
    return {
      kind: 'series',
      ...(data !== undefined ? { path: data } : {}),
      ...(columns ? { columns } : {}),
      ...(targetColumns ? { targetColumns } : {}),
      ...(length !== undefined ? { length } : {}),
    };
  }
  return { kind: 'text', ...(data !== undefined ? { path: data } : {}), ...(length !== undefined ? { length } : {}) };
}
