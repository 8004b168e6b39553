/**
 * The synthetic tasks of the ParaRNN evaluation (parity, MQAR, k-hop, keep-nth) as next-token tasks:
 * the model reads inputs[0..t] and predicts targets[t]; `mask` marks the scored positions. The exact
 * definitions (which the README repeats) are parascan's own; every sequence is drawn from a seeded PRNG.
 *
 * - parity:   x_t uniform in {0, 1};  target_t = (x_0 + … + x_t) mod 2.  Vocab 2.
 * - mqar:     positions 0..2P−1 hold P key/value pairs k_1 v_1 … k_P v_P (distinct keys from [0, K),
 *             values from [K, K+V)); every later position holds a query: one of the P keys, uniform.
 *             target at a query = the value paired with that key; only query positions are scored.
 *             Vocab K + V.
 * - khop:     x_t uniform in [0, A). find(i) = 1 + (the last p < i with x_p = x_i), undefined if x_i did
 *             not occur before; find^k = find applied k times (undefined if any application is).
 *             target_t = x[find^k(t)] when defined, else the token NONE = A. Vocab A + 1. (Sanford et
 *             al.'s k-hop induction heads.)
 * - keepnth:  x_t uniform in [0, A); target_t = x_{n−1} (the n-th token) at every t >= n−1; positions
 *             t < n−1 have target 0 and are never scored. Vocab A.
 *
 * `scored: 'every'` (default) scores every position that has a defined answer (for keepnth: t >= n);
 * `scored: 'final'` only the last position. MQAR always scores its query positions.
 */
import { Rng, invalidArgument, describeValue, checkKnownKeys, checkOptionsObject } from '@parascan/core';
import { TokenSequenceSplit } from './split.js';

export type SyntheticTaskName = 'parity' | 'mqar' | 'khop' | 'keepnth';
export const SYNTHETIC_TASKS: readonly SyntheticTaskName[] = ['parity', 'mqar', 'khop', 'keepnth'];

export interface SyntheticSpec {
  kind: 'synthetic';
  task: SyntheticTaskName;
  /** 'quick' (default): small, for fast runs; 'paper': L = 100, 10 000 training sequences (and the paper's model: 1 layer, d = 64, 4 heads). */
  preset?: 'quick' | 'paper';
  /** Sequence length L. */
  length?: number;
  /** Training sequences. */
  trainSize?: number;
  /** Validation sequences. */
  validSize?: number;
  /** Seed of the sequences (not of the data order). Default 0. */
  seed?: number;
  /** parity, khop, keepnth: which positions are scored. Default 'every'. */
  scored?: 'every' | 'final';
  /** mqar: key/value pairs per sequence. */
  pairs?: number;
  /** mqar: key tokens K. */
  keys?: number;
  /** mqar: value tokens V. */
  values?: number;
  /** khop: k. */
  hops?: number;
  /** khop, keepnth: alphabet size A. */
  alphabet?: number;
  /** keepnth: n (1-based position of the token to keep). */
  n?: number;
}

export interface TaskPreset {
  length: number;
  trainSize: number;
  validSize: number;
  pairs: number;
  keys: number;
  values: number;
  hops: number;
  alphabet: number;
  n: number;
  /** The model the preset is meant for. */
  model: { layers: number; width: number; heads: number };
}

/** Presets; the paper's: 1 layer, d = 64, 4 heads, L = 100, 10 000 training sequences. */
export const TASK_PRESETS: Readonly<Record<'quick' | 'paper', Readonly<TaskPreset>>> = {
  quick: { length: 20, trainSize: 2000, validSize: 256, pairs: 4, keys: 8, values: 8, hops: 2, alphabet: 4, n: 3, model: { layers: 1, width: 32, heads: 4 } },
  paper: { length: 100, trainSize: 10000, validSize: 1000, pairs: 16, keys: 64, values: 64, hops: 2, alphabet: 8, n: 10, model: { layers: 1, width: 64, heads: 4 } },
};

const SPEC_KEYS = ['kind', 'task', 'preset', 'length', 'trainSize', 'validSize', 'seed', 'scored', 'pairs', 'keys', 'values', 'hops', 'alphabet', 'n'];

export interface SyntheticData {
  readonly task: SyntheticTaskName;
  readonly vocab: number;
  readonly length: number;
  readonly settings: Readonly<Record<string, number | string>>;
  readonly train: TokenSequenceSplit;
  readonly valid: TokenSequenceSplit;
}

function positive(op: string, name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidArgument(op, name, `an integer >= ${min}`, describeValue(value));
  }
  return value;
}

interface Generated {
  inputs: Int32Array;
  targets: Int32Array;
  mask: Uint8Array;
}

/** Fills one sequence (offset `o` in the [N, L] arrays). */
type Generator = (rng: Rng, out: Generated, o: number) => void;

export function createSyntheticData(spec: SyntheticSpec): SyntheticData {
  const op = 'createDataset';
  checkKnownKeys(op, 'spec', checkOptionsObject(op, 'spec', spec), SPEC_KEYS);
  const task = spec.task;
  if (!SYNTHETIC_TASKS.includes(task)) throw invalidArgument(op, 'spec.task', `one of ${SYNTHETIC_TASKS.join(', ')}`, describeValue(task));
  const presetName = spec.preset ?? 'quick';
  const preset = TASK_PRESETS[presetName];
  if (!preset) throw invalidArgument(op, 'spec.preset', "'quick' or 'paper'", describeValue(presetName));
  const L = positive(op, 'spec.length', spec.length ?? preset.length);
  const trainSize = positive(op, 'spec.trainSize', spec.trainSize ?? preset.trainSize);
  const validSize = positive(op, 'spec.validSize', spec.validSize ?? preset.validSize);
  const seed = spec.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw invalidArgument(op, 'spec.seed', 'a safe integer', describeValue(seed));
  const scored = spec.scored ?? 'every';
  if (scored !== 'every' && scored !== 'final') throw invalidArgument(op, 'spec.scored', "'every' or 'final'", describeValue(scored));
  const final = scored === 'final';
  let vocab: number;
  let settings: Record<string, number | string>;
  let gen: Generator;

  switch (task) {
    case 'parity': {
      vocab = 2;
      settings = { scored };
      gen = (rng, out, o) => {
        let parity = 0;
        for (let t = 0; t < L; t++) {
          const bit = rng.nextUint32() & 1;
          parity ^= bit;
          out.inputs[o + t] = bit;
          out.targets[o + t] = parity;
          out.mask[o + t] = !final || t === L - 1 ? 1 : 0;
        }
      };
      break;
    }
    case 'mqar': {
      const P = positive(op, 'spec.pairs', spec.pairs ?? preset.pairs);
      const K = positive(op, 'spec.keys', spec.keys ?? preset.keys);
      const V = positive(op, 'spec.values', spec.values ?? preset.values);
      if (P > K) throw invalidArgument(op, 'spec.pairs', `at most spec.keys = ${K} (keys are distinct)`, `${P}`);
      if (2 * P >= L) throw invalidArgument(op, 'spec.length', `more than 2·pairs = ${2 * P} (room for at least one query)`, `${L}`);
      vocab = K + V;
      settings = { pairs: P, keys: K, values: V };
      const keyPool = new Int32Array(K);
      const valueOf = new Int32Array(K);
      gen = (rng, out, o) => {
        for (let i = 0; i < K; i++) keyPool[i] = i;
        // Partial Fisher–Yates: the first P entries become P distinct keys.
        for (let i = 0; i < P; i++) {
          const j = i + Math.floor(rng.next() * (K - i));
          const t = keyPool[i]!;
          keyPool[i] = keyPool[j]!;
          keyPool[j] = t;
        }
        for (let i = 0; i < P; i++) {
          const key = keyPool[i]!;
          const value = K + Math.floor(rng.next() * V);
          valueOf[key] = value;
          out.inputs[o + 2 * i] = key;
          out.targets[o + 2 * i] = value; // the key's own value is next; not scored (it is not a query)
          out.inputs[o + 2 * i + 1] = value;
          out.targets[o + 2 * i + 1] = 0;
        }
        for (let t = 2 * P; t < L; t++) {
          const key = keyPool[Math.floor(rng.next() * P)]!;
          out.inputs[o + t] = key;
          out.targets[o + t] = valueOf[key]!;
          out.mask[o + t] = 1;
        }
      };
      break;
    }
    case 'khop': {
      const k = positive(op, 'spec.hops', spec.hops ?? preset.hops);
      const A = positive(op, 'spec.alphabet', spec.alphabet ?? preset.alphabet, 2);
      vocab = A + 1;
      settings = { hops: k, alphabet: A, none: A, scored };
      const last = new Int32Array(A);
      const find = new Int32Array(L);
      gen = (rng, out, o) => {
        last.fill(-1);
        for (let t = 0; t < L; t++) {
          const x = Math.floor(rng.next() * A);
          out.inputs[o + t] = x;
          find[t] = last[x]! < 0 ? -1 : last[x]! + 1;
          last[x] = t;
        }
        for (let t = 0; t < L; t++) {
          let p = t;
          for (let h = 0; h < k && p >= 0; h++) p = find[p]!;
          out.targets[o + t] = p >= 0 ? out.inputs[o + p]! : A;
          out.mask[o + t] = !final || t === L - 1 ? 1 : 0;
        }
      };
      break;
    }
    case 'keepnth': {
      const n = positive(op, 'spec.n', spec.n ?? preset.n);
      const A = positive(op, 'spec.alphabet', spec.alphabet ?? preset.alphabet, 2);
      if (n >= L) throw invalidArgument(op, 'spec.n', `less than spec.length = ${L} (a scored position must follow the n-th token)`, `${n}`);
      vocab = A;
      settings = { n, alphabet: A, scored };
      gen = (rng, out, o) => {
        for (let t = 0; t < L; t++) out.inputs[o + t] = Math.floor(rng.next() * A);
        const kept = out.inputs[o + n - 1]!;
        for (let t = 0; t < L; t++) {
          out.targets[o + t] = t >= n - 1 ? kept : 0;
          out.mask[o + t] = (final ? t === L - 1 : t >= n) ? 1 : 0;
        }
      };
      break;
    }
  }

  const root = new Rng(seed);
  const make = (name: 'train' | 'valid', count: number, rng: Rng): TokenSequenceSplit => {
    const out: Generated = { inputs: new Int32Array(count * L), targets: new Int32Array(count * L), mask: new Uint8Array(count * L) };
    for (let i = 0; i < count; i++) gen(rng, out, i * L);
    return new TokenSequenceSplit(name, L, out.inputs, out.targets, out.mask);
  };
  const trainRng = root.fork();
  const validRng = root.fork();
  return { task, vocab, length: L, settings: { preset: presetName, ...settings }, train: make('train', trainSize, trainRng), valid: make('valid', validSize, validRng) };
}
