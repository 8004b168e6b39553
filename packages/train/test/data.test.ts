import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParascanError } from '@parascan/core';
import { testSeed } from '@parascan/core/testing';
import { createDataset, stripBrownTags, unigramEntropy, parseCsv, type Dataset } from '../src/index.js';
import type { TokenBatch, SeriesBatch } from '../src/contract.js';

const seed = testSeed();
const dir = mkdtempSync(join(tmpdir(), 'parascan-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function allSequences(d: Dataset, split: 'train' | 'valid'): TokenBatch[] {
  return [...d[split].batches(64)] as TokenBatch[];
}

/** Calls `check(inputs, targets, mask)` on every sequence of both splits. */
function eachSequence(d: Dataset, check: (x: number[], y: number[], m: number[]) => void): number {
  let n = 0;
  for (const split of ['train', 'valid'] as const) {
    for (const b of allSequences(d, split)) {
      for (let s = 0; s < b.batch; s++) {
        const L = b.length;
        check(Array.from(b.inputs.subarray(s * L, s * L + L)), Array.from(b.targets.subarray(s * L, s * L + L)), Array.from(b.mask!.subarray(s * L, s * L + L)));
        n++;
      }
    }
  }
  return n;
}

describe(`synthetic tasks: labels checked by independent brute force (seed ${seed})`, () => {
  it('parity: target = number of ones so far is odd; every position scored (or only the last)', () => {
    for (const scored of ['every', 'final'] as const) {
      const d = createDataset({ kind: 'synthetic', task: 'parity', length: 17, trainSize: 50, validSize: 20, seed, scored });
      expect(d.vocab).toBe(2);
      const n = eachSequence(d, (x, y, m) => {
        x.forEach((_, t) => {
          const ones = x.slice(0, t + 1).filter((v) => v === 1).length;
          expect(y[t]).toBe(ones % 2);
          expect(m[t]).toBe(scored === 'every' || t === 16 ? 1 : 0);
        });
        expect(x.every((v) => v === 0 || v === 1)).toBe(true);
      });
      expect(n).toBe(70);
    }
  });

  it('mqar: P pairs with distinct keys, then queries scored with the paired value', () => {
    const d = createDataset({ kind: 'synthetic', task: 'mqar', length: 23, pairs: 5, keys: 7, values: 6, trainSize: 40, validSize: 10, seed });
    expect(d.vocab).toBe(13);
    eachSequence(d, (x, y, m) => {
      const table = new Map<number, number>();
      for (let i = 0; i < 5; i++) {
        expect(x[2 * i]).toBeLessThan(7);
        expect(x[2 * i + 1]).toBeGreaterThanOrEqual(7);
        expect(table.has(x[2 * i]!)).toBe(false);
        table.set(x[2 * i]!, x[2 * i + 1]!);
      }
      for (let t = 0; t < 23; t++) {
        if (t < 10) expect(m[t]).toBe(0);
        else {
          expect(m[t]).toBe(1);
          expect(table.get(x[t]!)).toBe(y[t]);
        }
      }
    });
  });

  it('khop: target = the token reached by k hops of "go to the token after the previous occurrence", or NONE', () => {
    for (const hops of [1, 2, 3]) {
      const A = 3;
      const d = createDataset({ kind: 'synthetic', task: 'khop', length: 19, hops, alphabet: A, trainSize: 30, validSize: 10, seed });
      expect(d.vocab).toBe(A + 1);
      let defined = 0;
      let none = 0;
      eachSequence(d, (x, y, m) => {
        const s = x.join(',') + ',';
        for (let t = 0; t < 19; t++) {
          // Written differently from the generator: search backwards through the string of the prefix.
          let pos: number | null = t;
          for (let h = 0; h < hops && pos !== null; h++) {
            const prefix = x.slice(0, pos);
            const prev = prefix.lastIndexOf(x[pos]!);
            pos = prev < 0 ? null : prev + 1;
          }
          expect(y[t], `seq ${s} t=${t}`).toBe(pos === null ? A : x[pos]);
          expect(m[t]).toBe(1);
          if (pos === null) none++;
          else defined++;
        }
      });
      expect(defined).toBeGreaterThan(0);
      expect(none).toBeGreaterThan(0);
    }
  });

  it('keepnth: target = the n-th token, scored after it', () => {
    const d = createDataset({ kind: 'synthetic', task: 'keepnth', length: 12, n: 4, alphabet: 5, trainSize: 30, validSize: 10, seed });
    eachSequence(d, (x, y, m) => {
      for (let t = 0; t < 12; t++) {
        expect(m[t]).toBe(t >= 4 ? 1 : 0);
        if (t >= 3) expect(y[t]).toBe(x[3]);
      }
    });
  });

  it('presets: the paper\'s settings (L = 100, 10 000 training sequences) and seeded reproducibility', () => {
    const paper = createDataset({ kind: 'synthetic', task: 'parity', preset: 'paper' });
    expect(paper.length).toBe(100);
    expect(paper.train.size).toBe(10000);
    expect(paper.info.suggestedModel).toEqual({ layers: 1, width: 64, heads: 4 });
    const a = createDataset({ kind: 'synthetic', task: 'khop', seed: 3 });
    const b = createDataset({ kind: 'synthetic', task: 'khop', seed: 3 });
    const c = createDataset({ kind: 'synthetic', task: 'khop', seed: 4 });
    const first = (d: Dataset) => Array.from((d.train.batch([0, 1]) as TokenBatch).inputs);
    expect(first(a)).toEqual(first(b));
    expect(first(a)).not.toEqual(first(c));
    // train and valid come from different streams
    expect(Array.from((a.valid.batch([0]) as TokenBatch).inputs)).not.toEqual(Array.from((a.train.batch([0]) as TokenBatch).inputs));
  });

  it('refuses impossible settings by name', () => {
    expect(() => createDataset({ kind: 'synthetic', task: 'mqar', length: 10, pairs: 5 })).toThrow(/spec.length` must be more than 2·pairs = 10/);
    expect(() => createDataset({ kind: 'synthetic', task: 'mqar', pairs: 9, keys: 8 })).toThrow(/spec.pairs` must be at most spec.keys = 8/);
    expect(() => createDataset({ kind: 'synthetic', task: 'keepnth', length: 5, n: 5 })).toThrow(/spec.n/);
    expect(() => createDataset({ kind: 'synthetic', task: 'sorting' as never })).toThrow(/spec.task` must be one of parity, mqar, khop, keepnth/);
    expect(() => createDataset({ kind: 'synthetic', task: 'parity', lenght: 5 } as never)).toThrow(/unknown option `lenght`/);
  });
});

describe('deterministic batch order', () => {
  const d = createDataset({ kind: 'synthetic', task: 'parity', length: 4, trainSize: 10, validSize: 3, seed: 1 });
  const key = (b: TokenBatch) => Array.from(b.inputs).join('');
  it('each epoch visits a permutation (last partial batch dropped); same seed same order; another seed another order', () => {
    const ids = (s: number, seedOrder: number) => {
      const b = d.train.batchAt(s, 3, seedOrder) as TokenBatch;
      return Array.from({ length: 3 }, (_, i) => Array.from(b.inputs.subarray(i * 4, i * 4 + 4)).join(''));
    };
    expect(ids(0, 7)).toHaveLength(3);
    expect(d.train.batchesPerEpoch(3)).toBe(3);
    expect(key(d.train.batchAt(5, 3, 7) as TokenBatch)).toBe(key(d.train.batchAt(5, 3, 7) as TokenBatch));
    const orderA = Array.from({ length: 6 }, (_, s) => key(d.train.batchAt(s, 3, 7) as TokenBatch)).join('|');
    const orderB = Array.from({ length: 6 }, (_, s) => key(d.train.batchAt(s, 3, 8) as TokenBatch)).join('|');
    expect(orderA).not.toBe(orderB);
    // epochs differ from each other
    expect([0, 1, 2].map((s) => key(d.train.batchAt(s, 3, 7) as TokenBatch)).join()).not.toBe([3, 4, 5].map((s) => key(d.train.batchAt(s, 3, 7) as TokenBatch)).join());
    expect(() => d.train.batchAt(0, 11, 0)).toThrow(/batchSize` must be at most the 10 examples/);
  });
  it('an epoch draws every example index once', () => {
    // Use a dataset whose examples are distinguishable: a text file of distinct bytes.
    const path = join(dir, 'abc.txt');
    writeFileSync(path, Buffer.from(Array.from({ length: 101 }, (_, i) => i)));
    const t = createDataset({ kind: 'text', path, length: 5, validFraction: 0.2 });
    expect(t.train.size).toBe(15); // 80 bytes -> ⌊79 / 5⌋ windows
    const firsts: number[] = [];
    for (let s = 0; s < 5; s++) {
      const b = t.train.batchAt(s, 3, seed) as TokenBatch;
      for (let i = 0; i < 3; i++) firsts.push(b.inputs[i * 5]!);
    }
    expect([...firsts].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i * 5));
  });
});

describe('text', () => {
  it('Brown tags are stripped, quotes and punctuation re-attached, slashes inside words kept', () => {
    const tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc 1/2/cd (/( ok/jj )/) ./.\n\n\n\tIt's/pps+bez fine/jj ;/. Mr./np Pye/np !/.\n";
    expect(stripBrownTags(tagged)).toBe('The jury said "no evidence", and 1/2 (ok).\nIt\'s fine; Mr. Pye!\n');
  });
  it('the bundled Brown corpus: tag-free bytes, every 10th file held out, next-byte windows', () => {
    const d = createDataset({ kind: 'text', maxFiles: 20, length: 64 });
    expect(d.vocab).toBe(256);
    expect(d.name).toBe('brown');
    const b = d.train.batch([0, 1]) as TokenBatch;
    const text = Buffer.from(Uint8Array.from(b.inputs)).toString('latin1');
    expect(text).not.toMatch(/\/(at|nn|vbd|in)\b/);
    expect(text).toMatch(/^The Fulton County Grand Jury said Friday/);
    for (let i = 0; i < 63; i++) expect(b.targets[i]).toBe(b.inputs[i + 1]);
    expect(d.info.trainBytes as number).toBeGreaterThan(8 * (d.info.validBytes as number));
    const h = d.info.unigramEntropy as number;
    expect(h).toBeGreaterThan(2.5);
    expect(h).toBeLessThan(3.5);
    expect(d.describe()).toMatch(/unigram entropy/);
  });
  it('unigramEntropy is the entropy of the byte histogram', () => {
    expect(unigramEntropy(Uint8Array.from([1, 1, 2, 2]))).toBeCloseTo(Math.log(2), 15);
    expect(unigramEntropy(Uint8Array.from([7, 7, 7]))).toBe(0);
  });
  it('bad text files: empty, missing, a folder, too short', () => {
    writeFileSync(join(dir, 'empty.txt'), '');
    expect(() => createDataset({ kind: 'text', path: join(dir, 'empty.txt') })).toThrow(/empty\.txt: is empty\. Give a file with text in it\./);
    expect(() => createDataset({ kind: 'text', path: join(dir, 'none.txt') })).toThrow(/none\.txt: cannot be read \(ENOENT\)/);
    mkdirSync(join(dir, 'folder'), { recursive: true });
    expect(() => createDataset({ kind: 'text', path: join(dir, 'folder') })).toThrow(/is a folder/);
    writeFileSync(join(dir, 'short.txt'), 'hello world, this is short');
    expect(() => createDataset({ kind: 'text', path: join(dir, 'short.txt'), length: 30 })).toThrow(/too short for one window of length 30/);
  });
});

describe('CSV time series', () => {
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const rows = (n: number) => Array.from({ length: n }, (_, i) => `2020-01-${i},${i},${(i * 7) % 5},"${i % 3}"`).join('\n');

  it('the default (Seattle hourly normals): pressure, temperature, wind, standardised with training statistics only', () => {
    const d = createDataset({ kind: 'series', length: 32 });
    expect(d.kind).toBe('series');
    expect(d.inputFeatures).toBe(3);
    expect(d.outputFeatures).toBe(3);
    expect(d.info.inputColumns).toEqual(['pressure', 'temperature', 'wind']);
    // Over all training windows' first steps … simpler: the training rows have mean 0, std 1.
    const split = d.train as unknown as { inputRows: Float64Array; rowCount: number };
    for (let f = 0; f < 3; f++) {
      let m = 0;
      let s = 0;
      for (let r = 0; r < split.rowCount; r++) m += split.inputRows[r * 3 + f]!;
      m /= split.rowCount;
      for (let r = 0; r < split.rowCount; r++) s += (split.inputRows[r * 3 + f]! - m) ** 2;
      expect(Math.abs(m)).toBeLessThan(1e-9); // pressure ≈ 1017 ± 0.7: cancellation costs ~1e-12
      expect(Math.sqrt(s / split.rowCount)).toBeCloseTo(1, 12);
    }
    const b = d.train.batch([0]) as SeriesBatch;
    expect(b.inputs).toBeInstanceOf(Float32Array);
    // next-step targets: target row t = input row t + 1
    for (let t = 0; t < 31; t++) for (let f = 0; f < 3; f++) expect(b.targets[t * 3 + f]).toBe(b.inputs[(t + 1) * 3 + f]);
  });

  it('chosen columns, a quoted column, a target subset; valid is standardised with the TRAIN statistics', () => {
    const p = write('ok.csv', `date,a,b,c\n${rows(40)}\n`);
    const d = createDataset({ kind: 'series', path: p, columns: ['a', 'c'], targetColumns: ['b'], length: 4, validFraction: 0.25, dtype: 'float64' });
    expect(d.inputFeatures).toBe(2);
    expect(d.outputFeatures).toBe(1);
    const scale = (d.info.scale as Record<string, { mean: number; std: number }>).a!;
    expect(scale.mean).toBeCloseTo(14.5, 12); // rows 0..29
    const v = d.valid.batch([0]) as SeriesBatch;
    expect(v.inputs[0]).toBeCloseTo((30 - 14.5) / scale.std, 12);
  });

  it('one-line errors: missing column, ragged row, empty, header only, non-numeric value, too short', () => {
    const expectDataError = (fn: () => unknown, message: RegExp) => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ParascanError);
      expect((err as ParascanError).code).toBe('INVALID_DATA');
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    };
    const good = write('good.csv', `date,a,b,c\n${rows(40)}\n`);
    expectDataError(() => createDataset({ kind: 'series', path: good, columns: ['a', 'temperature'], length: 4 }), /good\.csv: has no column `temperature` \(asked for in spec\.columns\); its columns are date, a, b, c\. Fix the column name\./);
    const ragged = write('ragged.csv', `date,a,b,c\n2020,1,2,3\n2020,1,2\n2020,1,2,3\n`);
    expectDataError(() => createDataset({ kind: 'series', path: ragged, length: 1 }), /ragged\.csv line 3: has 3 fields but the header has 4 \(date, a, b, c\)\. Fix or remove that row/);
    expectDataError(() => createDataset({ kind: 'series', path: write('empty.csv', '\n  \n'), length: 1 }), /empty\.csv: is empty/);
    expectDataError(() => createDataset({ kind: 'series', path: write('header.csv', 'a,b\n'), length: 1 }), /header\.csv: has a header \(a, b\) but no data rows/);
    const bad = write('bad.csv', `date,a,b,c\n${rows(5)}\n2020,1,n/a,3\n${rows(5)}\n`);
    expectDataError(() => createDataset({ kind: 'series', path: bad, length: 1 }), /bad\.csv line 7 column 3 \(`b`\): holds "n\/a", not a finite number\. Fix the value, remove the row, or leave the column out of `columns`\./);
    const blank = write('blank.csv', `date,a,b,c\n${rows(5)}\n2020,1,,3\n`);
    expectDataError(() => createDataset({ kind: 'series', path: blank, length: 1 }), /blank\.csv line 7 column 3 \(`b`\): is empty, not a finite number/);
    expectDataError(() => createDataset({ kind: 'series', path: good, length: 10 }), /good\.csv: has 40 data rows: 36 for training and 4 for validation, but a window of length 10 needs 11 rows in each\. Use a shorter sequence length \(at most 3\)/);
    expectDataError(() => createDataset({ kind: 'series', path: join(dir, 'missing.csv') }), /missing\.csv: cannot be read \(ENOENT\)/);
    expectDataError(() => createDataset({ kind: 'series', path: write('open.csv', 'a,b\n1,"2\n') }), /open\.csv line 2: a quoted field is never closed/);
  });

  it('parseCsv: quotes with commas and doubled quotes, CRLF, blank lines skipped, line numbers kept', () => {
    const t = parseCsv('x,"y, z"\r\n\r\n1,"say ""hi"""\r\n2,3', 'mem');
    expect(t.header).toEqual(['x', 'y, z']);
    expect(t.rows).toEqual([
      { line: 3, fields: ['1', 'say "hi"'] },
      { line: 4, fields: ['2', '3'] },
    ]);
  });
});
