/**
 * Multivariate time series from a CSV file, for next-step forecasting.
 *
 * The file has a header row; the chosen columns must be numeric on every data row (other columns,
 * such as a date, are ignored). Rows are split in time: the first (1 − validFraction) train, the rest
 * validate. Every chosen column is standardised with the TRAINING rows' mean and standard deviation
 * (so nothing of the validation rows leaks into the model's inputs).
 *
 * Example i of a split is the window of L + 1 consecutive rows starting at row i·stride:
 * inputs = rows [s, s + L) of the input columns, targets = rows [s + 1, s + L + 1) of the target
 * columns (standardised), every position scored.
 */
import { readFileSync, statSync } from 'node:fs';
import { ParascanError, dataError, invalidArgument } from '@parascan/core';
import type { Batch } from '../contract.js';
import { SplitBase } from './split.js';

export interface CsvTable {
  readonly header: string[];
  /** Data rows as strings, with their 1-based line numbers in the file. */
  readonly rows: { line: number; fields: string[] }[];
}

/**
 * A small RFC 4180 reader: comma separated, double-quoted fields may hold commas and "" for a quote,
 * CRLF or LF line ends, blank lines skipped. Errors name the file and line.
 */
export function parseCsv(text: string, source: string): CsvTable {
  const op = 'createDataset';
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  let sawAny = false; // something on the current record (to tell a blank line from an empty field)
  const endRecord = () => {
    if (sawAny || fields.length > 0) {
      fields.push(field);
      records.push({ line: recordLine, fields });
    }
    fields = [];
    field = '';
    sawAny = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field.length === 0) {
      inQuotes = true;
      sawAny = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      sawAny = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += c;
      if (c !== ' ' && c !== '\t') sawAny = true;
    }
  }
  if (inQuotes) throw dataError(op, `${source} line ${recordLine}`, 'a quoted field is never closed', 'Add the closing double quote.');
  endRecord();
  if (records.length === 0) throw dataError(op, source, 'is empty', 'Give a CSV file with a header row and data rows.');
  const [head, ...rows] = records;
  const header = head!.fields.map((h) => h.trim());
  if (rows.length === 0) throw dataError(op, source, `has a header (${header.join(', ')}) but no data rows`, 'Add data rows below the header.');
  for (const row of rows) {
    if (row.fields.length !== header.length) {
      throw dataError(op, `${source} line ${row.line}`, `has ${row.fields.length} fields but the header has ${header.length} (${header.join(', ')})`, 'Fix or remove that row (a ragged CSV).');
    }
  }
  return { header, rows };
}

export class SeriesWindowSplit extends SplitBase {
  constructor(
    name: 'train' | 'valid',
    /** [rows, F] standardised inputs */
    readonly inputRows: Float64Array,
    /** [rows, O] standardised targets */
    readonly targetRows: Float64Array,
    readonly rowCount: number,
    readonly inputFeatures: number,
    readonly outputFeatures: number,
    readonly length: number,
    readonly stride: number,
    readonly dtype: 'float32' | 'float64',
  ) {
    super(name, rowCount >= length + 1 ? Math.floor((rowCount - length - 1) / stride) + 1 : 0);
  }

  batch(indices: readonly number[]): Batch {
    const { length: L, inputFeatures: F, outputFeatures: O } = this;
    const B = indices.length;
    const Arr = this.dtype === 'float32' ? Float32Array : Float64Array;
    const inputs = new Arr(B * L * F);
    const targets = new Arr(B * L * O);
    indices.forEach((ex, b) => {
      const s = ex * this.stride;
      inputs.set(this.inputRows.subarray(s * F, (s + L) * F), b * L * F);
      targets.set(this.targetRows.subarray((s + 1) * O, (s + 1 + L) * O), b * L * O);
    });
    return { kind: 'series', batch: B, length: L, inputs, targets };
  }
}

export interface SeriesData {
  readonly source: string;
  readonly inputColumns: string[];
  readonly targetColumns: string[];
  /** Training-split mean and standard deviation per chosen column (inputs first, then targets not among them). */
  readonly scale: Record<string, { mean: number; std: number }>;
  readonly trainRows: number;
  readonly validRows: number;
  readonly train: SeriesWindowSplit;
  readonly valid: SeriesWindowSplit;
}

export interface SeriesOptions {
  columns?: string[];
  targetColumns?: string[];
  length: number;
  stride?: number;
  validFraction: number;
  dtype: 'float32' | 'float64';
}

export function loadSeries(path: string, options: SeriesOptions): SeriesData {
  const op = 'createDataset';
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw dataError(op, path, 'is a folder, not a CSV file', 'Give the path of a .csv file.');
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ParascanError) throw err;
    throw dataError(op, path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'Check the path.', err);
  }
  if (text.trim().length === 0) throw dataError(op, path, 'is empty', 'Give a CSV file with a header row and data rows.');
  const table = parseCsv(text, path);
  const { header, rows } = table;

  const firstRow = rows[0]!.fields;
  const numericAt = (i: number) => firstRow[i]!.trim() !== '' && Number.isFinite(Number(firstRow[i]));
  const inputColumns = options.columns ?? header.filter((_, i) => numericAt(i));
  if (inputColumns.length === 0) {
    throw dataError(op, path, `has no numeric column on its first data row (line ${rows[0]!.line}; columns ${header.join(', ')})`, 'Choose columns with `columns`.');
  }
  const targetColumns = options.targetColumns ?? inputColumns;
  for (const [label, list] of [['columns', inputColumns], ['targetColumns', targetColumns]] as const) {
    if (list.length === 0) throw invalidArgument(op, `spec.${label}`, 'a non-empty list of column names', 'an empty list');
    for (const name of list) {
      if (!header.includes(name)) {
        throw dataError(op, path, `has no column \`${name}\` (asked for in spec.${label}); its columns are ${header.join(', ')}`, 'Fix the column name.');
      }
    }
  }
  const used = [...new Set([...inputColumns, ...targetColumns])];
  const colIndex = used.map((name) => header.indexOf(name));
  const values = used.map(() => new Float64Array(rows.length));
  rows.forEach((row, r) => {
    colIndex.forEach((ci, k) => {
      const raw = row.fields[ci]!.trim();
      const v = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) {
        throw dataError(op, `${path} line ${row.line} column ${ci + 1} (\`${used[k]}\`)`, `${raw === '' ? 'is empty' : `holds ${JSON.stringify(raw.length > 30 ? raw.slice(0, 30) + '…' : raw)}`}, not a finite number`, 'Fix the value, remove the row, or leave the column out of `columns`.');
      }
      values[k]![r] = v;
    });
  });

  if (!(options.validFraction > 0 && options.validFraction < 1)) throw invalidArgument(op, 'spec.validFraction', 'a number in (0, 1)', `${options.validFraction}`);
  const L = options.length;
  const stride = options.stride ?? L;
  const trainRows = Math.floor(rows.length * (1 - options.validFraction));
  const validRows = rows.length - trainRows;
  const need = L + 1;
  if (trainRows < need || validRows < need) {
    throw dataError(op, path, `has ${rows.length} data rows: ${trainRows} for training and ${validRows} for validation, but a window of length ${L} needs ${need} rows in each`, `Use a shorter sequence length (at most ${Math.max(0, Math.min(trainRows, validRows) - 1)}), a different validFraction, or more data.`);
  }

  const scale: Record<string, { mean: number; std: number }> = {};
  used.forEach((name, k) => {
    const col = values[k]!;
    let mean = 0;
    for (let r = 0; r < trainRows; r++) mean += col[r]!;
    mean /= trainRows;
    let sq = 0;
    for (let r = 0; r < trainRows; r++) sq += (col[r]! - mean) ** 2;
    let std = Math.sqrt(sq / trainRows);
    // A constant column would divide by zero; keep it centred and unscaled.
    if (!(std > 0)) std = 1;
    scale[name] = { mean, std };
  });
  const pack = (names: string[], from: number, to: number): Float64Array => {
    const out = new Float64Array((to - from) * names.length);
    const ks = names.map((n) => used.indexOf(n));
    for (let r = from; r < to; r++) {
      ks.forEach((k, j) => {
        const { mean, std } = scale[used[k]!]!;
        out[(r - from) * names.length + j] = (values[k]![r]! - mean) / std;
      });
    }
    return out;
  };
  const F = inputColumns.length;
  const O = targetColumns.length;
  const train = new SeriesWindowSplit('train', pack(inputColumns, 0, trainRows), pack(targetColumns, 0, trainRows), trainRows, F, O, L, stride, options.dtype);
  const valid = new SeriesWindowSplit('valid', pack(inputColumns, trainRows, rows.length), pack(targetColumns, trainRows, rows.length), validRows, F, O, L, stride, options.dtype);
  return { source: path, inputColumns, targetColumns, scale, trainRows, validRows, train, valid };
}
