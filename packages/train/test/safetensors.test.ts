import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParascanError } from '@parascan/core';
import { testSeed } from '@parascan/core/testing';
import { Rng } from '@parascan/core';
import {
  AdamW,
  CHECKSUM_KEY,
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpoint,
  readSafetensorsFile,
  restoreModel,
  saveCheckpoint,
  writeSafetensorsFile,
  type TensorData,
} from '../src/index.js';
import { BigramModel, parameterBytes } from './helpers.js';

const seed = testSeed();
const dir = mkdtempSync(join(tmpdir(), 'parascan-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sampleTensors(rng: Rng): Map<string, { shape: number[]; data: TensorData }> {
  const f32 = new Float32Array(3 * 7);
  for (let i = 0; i < f32.length; i++) f32[i] = rng.normal();
  f32[0] = -0; // sign of zero, infinities, NaN and a subnormal must all survive
  f32[1] = Infinity;
  f32[2] = NaN;
  f32[3] = 1e-45;
  const f64 = new Float64Array(5);
  for (let i = 0; i < f64.length; i++) f64[i] = rng.normal() * 1e300;
  return new Map<string, { shape: number[]; data: TensorData }>([
    ['layers.0.cell.A', { shape: [3, 7], data: f32 }],
    ['odd.u8', { shape: [3], data: Uint8Array.from([1, 2, 255]) }], // 3 bytes: the following tensors start unaligned
    ['f64', { shape: [5], data: f64 }],
    ['ids', { shape: [2, 2], data: Int32Array.from([-1, 0, 2147483647, -2147483648]) }],
    ['steps', { shape: [3], data: BigInt64Array.from([-5n, 0n, 9007199254740991n]) }],
    ['scalar', { shape: [], data: Float32Array.from([42]) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

const bytesOf = (d: TensorData) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** An independent reader: just enough of the format to check what the writer produced. */
function minimalParse(file: Uint8Array) {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__?: Record<string, string> };
  return { n, header, data: file.subarray(8 + n) };
}

describe(`safetensors (seed ${seed})`, () => {
  it('save then load is bit-exact for every dtype (F32, F64, I32, I64, U8), including -0, ±Inf, NaN and subnormals', async () => {
    const tensors = sampleTensors(new Rng(seed));
    const path = join(dir, 'roundtrip.safetensors');
    writeSafetensorsFile(path, tensors, { note: 'hello' });
    const back = await readSafetensorsFile(path, true);
    expect([...back.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      const b = back.tensors.get(name)!;
      expect(b.shape).toEqual(t.shape);
      expect(bytesOf(b.data)).toEqual(bytesOf(t.data));
      expect(b.data.constructor).toBe(t.data.constructor);
    }
    expect(back.metadata.note).toBe('hello');
    expect(back.metadata[CHECKSUM_KEY]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('creates a missing folder for the file', async () => {
    const path = join(dir, 'not', 'yet', 'there.safetensors');
    writeSafetensorsFile(path, new Map([['w', { shape: [2], data: Float32Array.from([1, 2]) }]]));
    expect([...(await readSafetensorsFile(path, true)).tensors.keys()]).toEqual(['w']);
  });

  it('the file is what the format says: u64 LE header length, JSON header, 8-aligned data tiled exactly (independent parser)', () => {
    const tensors = sampleTensors(new Rng(seed + 1));
    const file = encodeSafetensors(tensors, { a: 'b' });
    const { n, header, data } = minimalParse(file);
    expect((8 + n) % 8).toBe(0);
    expect(header.__metadata__!.a).toBe('b');
    const dtypes: Record<string, [number, (v: DataView, o: number) => number]> = {
      F32: [4, (v, o) => v.getFloat32(o, true)],
      F64: [8, (v, o) => v.getFloat64(o, true)],
      I32: [4, (v, o) => v.getInt32(o, true)],
      U8: [1, (v, o) => v.getUint8(o)],
      I64: [8, (v, o) => Number(v.getBigInt64(o, true))],
    };
    let covered = 0;
    for (const [name, t] of tensors) {
      const h = header[name]!;
      expect(h.shape).toEqual(t.shape);
      const [size, read] = dtypes[h.dtype]!;
      expect(h.data_offsets[1] - h.data_offsets[0]).toBe(t.data.length * size);
      const view = new DataView(data.buffer, data.byteOffset + h.data_offsets[0], h.data_offsets[1] - h.data_offsets[0]);
      for (let i = 0; i < t.data.length; i++) expect(Object.is(read(view, i * size), Number(t.data[i]))).toBe(true);
      covered += h.data_offsets[1] - h.data_offsets[0];
    }
    expect(covered).toBe(data.length);
  });

  // A second, cross-language reader: Python + numpy doing what `safetensors.numpy.load_file` does
  // (torch and safetensors are not installed here). Skipped without python3/numpy.
  const python = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  it.skipIf(python.status !== 0)('Python/numpy reads the tensors and metadata back (little-endian, exact)', () => {
    const tensors = sampleTensors(new Rng(seed + 3));
    const path = join(dir, 'python.safetensors');
    writeSafetensorsFile(path, tensors, { who: 'parascan' });
    const script = [
      'import json, struct, sys, numpy as np',
      'raw = open(sys.argv[1], "rb").read()',
      '(n,) = struct.unpack("<Q", raw[:8])',
      'header = json.loads(raw[8:8 + n])',
      'data = raw[8 + n:]',
      'kinds = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1"}',
      'out = {"__metadata__": header.pop("__metadata__")}',
      'for name, h in header.items():',
      '    b, e = h["data_offsets"]',
      '    a = np.frombuffer(data[b:e], dtype=kinds[h["dtype"]]).reshape(h["shape"])',
      '    out[name] = {"shape": list(a.shape), "hex": a.tobytes().hex()}',
      'print(json.dumps(out))',
    ].join('\n');
    const r = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const parsed = JSON.parse(r.stdout) as Record<string, { shape: number[]; hex: string }> & { __metadata__: Record<string, string> };
    expect(parsed.__metadata__.who).toBe('parascan');
    for (const [name, t] of tensors) {
      expect(parsed[name]!.shape).toEqual(t.shape);
      expect(parsed[name]!.hex).toBe(Buffer.from(bytesOf(t.data)).toString('hex'));
    }
  });

  // Every corruption must be refused with INVALID_DATA and a message saying what is wrong.
  const good = () => encodeSafetensors(sampleTensors(new Rng(seed + 2)), {});
  const withHeader = (mutate: (h: Record<string, any>) => void, keepChecksum = true): Uint8Array => {
    const file = good();
    const { header, data } = minimalParse(file);
    mutate(header);
    if (!keepChecksum) delete header.__metadata__![CHECKSUM_KEY];
    const json = Buffer.from(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  };
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['empty file', () => new Uint8Array(0), /too short to be a safetensors file/],
    ['truncated in the header', () => good().subarray(0, 40), /header length field says \d+ bytes but the file has 32/],
    ['truncated in the data', () => good().subarray(0, good().length - 3), /trailing bytes or a truncated file|ends at data byte/],
    ['header length too large', () => { const f = good(); new DataView(f.buffer).setBigUint64(0, 1n << 40n, true); return f; }, /header length field says 1099511627776 bytes/],
    ['header length too small', () => { const f = good(); new DataView(f.buffer).setBigUint64(0, 1n, true); return f; }, /header length field says 1 bytes/],
    ['bad JSON', () => { const f = good(); f[9] = 0x7b; f[10] = 0x7b; return f; }, /JSON header does not parse/],
    ['offsets out of range', () => withHeader((h) => { h['f64'].data_offsets[1] += 1 << 20; }), /ends at data byte \d+ but the data section has only/],
    ['shape does not match the bytes', () => withHeader((h) => { h['layers.0.cell.A'].shape = [3, 8]; }), /spans 84 bytes but F32 \[3, 8\] needs 96/],
    ['dtype does not match the bytes', () => withHeader((h) => { h['layers.0.cell.A'].dtype = 'F64'; }), /spans 84 bytes but F64 \[3, 7\] needs 168/],
    ['unknown dtype', () => withHeader((h) => { h['ids'].dtype = 'Q7'; }), /has dtype "Q7"/],
    ['overlapping tensors', () => withHeader((h) => { h['ids'].data_offsets = [...h['layers.0.cell.A'].data_offsets]; h['ids'].shape = [21]; h['ids'].dtype = 'F32'; }), /gap or overlap/],
    ['consistent shape swap caught by the checksum', () => withHeader((h) => { h['layers.0.cell.A'].shape = [7, 3]; }), /checksum mismatch/],
    ['a flipped data byte', () => { const f = good(); f[f.length - 20] ^= 0x10; return f; }, /checksum mismatch/],
    ['non-string metadata', () => withHeader((h) => { h.__metadata__.x = 3; }), /metadata `x` is 3, not a string/],
  ];
  for (const [label, make, message] of cases) {
    it(`refuses: ${label}`, () => {
      let err: unknown;
      try {
        decodeSafetensors(make(), 'case.safetensors');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ParascanError);
      expect((err as ParascanError).code).toBe('INVALID_DATA');
      expect((err as Error).message).toMatch(/^readSafetensors: case\.safetensors: /);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toMatch(/\n/);
    });
  }
  it('a file without a checksum reads, unless one is required', () => {
    const file = withHeader(() => {}, false);
    expect(decodeSafetensors(file, 'x').tensors.size).toBe(7);
    expect(() => decodeSafetensors(file, 'x', true)).toThrow(/no `parascan.sha256` checksum/);
  });
});

describe(`checkpoints (seed ${seed})`, () => {
  it('model + optimiser state round-trip bit-exactly under the parameter names', async () => {
    const model = new BigramModel(5, 'float32', seed);
    const opt = new AdamW(model.parameters(), { lr: 0.1 });
    for (const p of model.parameters()) for (let i = 0; i < p.grad.length; i++) p.grad[i] = Math.sin(i + 1);
    opt.step();
    opt.step();
    const path = join(dir, 'model.safetensors');
    saveCheckpoint(path, model, { optimizer: opt, metadata: { run: 'test' } });
    const ck = await loadCheckpoint(path);
    expect([...ck.parameters.keys()]).toEqual(['logits.weight', 'logits.bias']);
    expect(ck.config).toEqual(model.config);
    expect(ck.optimizer!.step).toBe(2);
    expect(ck.metadata.run).toBe('test');
    const fresh = new BigramModel(5, 'float32', seed + 1);
    restoreModel(fresh, ck);
    expect(parameterBytes(fresh)).toEqual(parameterBytes(model));
    const state = opt.state();
    for (const name of ['logits.weight', 'logits.bias']) {
      expect(Array.from(ck.optimizer!.expAvg.get(name)!)).toEqual(Array.from(state.expAvg.get(name)!));
      expect(Array.from(ck.optimizer!.expAvgSq.get(name)!)).toEqual(Array.from(state.expAvgSq.get(name)!));
    }
    // PyTorch-facing layout: the parameters under their own names, the optimiser under a prefix.
    const { header } = minimalParse(readFileSync(path));
    expect(Object.keys(header).sort()).toEqual(['__metadata__', 'logits.bias', 'logits.weight', 'optimizer.exp_avg.logits.bias', 'optimizer.exp_avg.logits.weight', 'optimizer.exp_avg_sq.logits.bias', 'optimizer.exp_avg_sq.logits.weight']);
    expect(header['logits.weight']!.dtype).toBe('F32');
    expect(JSON.parse(header.__metadata__!['parascan.model_config']!)).toEqual(model.config);
  });

  it('a save that fails leaves the previous checkpoint intact and no temporary file behind', async () => {
    const model = new BigramModel(4, 'float64', seed);
    const path = join(dir, 'atomic.safetensors');
    saveCheckpoint(path, model);
    const before = readFileSync(path);
    for (const p of model.parameters()) p.data.fill(7);
    // Corrupt the freshly written temporary file before it would replace the checkpoint.
    expect(() => saveCheckpoint(path, model, { write: { beforeRename: (tmp) => writeFileSync(tmp, readFileSync(tmp).subarray(0, 50)) } })).toThrow(/readSafetensors: .*just written for .*atomic\.safetensors/);
    expect(() => saveCheckpoint(path, model, { write: { beforeRename: (tmp) => { const b = readFileSync(tmp); b[b.length - 1] ^= 1; writeFileSync(tmp, b); } } })).toThrow(/checksum mismatch/);
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.includes('atomic') && f.endsWith('.tmp'))).toEqual([]);
    const restored = new BigramModel(4, 'float64', seed + 5);
    restoreModel(restored, await loadCheckpoint(path));
    expect(Array.from(restored.parameters()[1]!.data)).not.toContain(7);
    // a save whose folder cannot exist (a file is in the way) fails cleanly too
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'not a folder');
    expect(() => saveCheckpoint(join(blocker, 'x.safetensors'), model)).toThrow(/ENOTDIR|EEXIST/);
  });

  it('loadCheckpoint refuses a corrupted file, a foreign file and a mismatched model with clear errors', async () => {
    const model = new BigramModel(3, 'float32', seed);
    const path = join(dir, 'c.safetensors');
    saveCheckpoint(path, model);
    const bytes = readFileSync(path);
    writeFileSync(join(dir, 'trunc.safetensors'), bytes.subarray(0, bytes.length - 1));
    await expect(loadCheckpoint(join(dir, 'trunc.safetensors'))).rejects.toThrow(/trunc\.safetensors: .*truncated/);
    writeFileSync(join(dir, 'foreign.safetensors'), encodeSafetensors(new Map([['w', { shape: [1], data: new Float32Array(1) }]])));
    await expect(loadCheckpoint(join(dir, 'foreign.safetensors'))).rejects.toThrow(/is not a parascan checkpoint/);
    await expect(loadCheckpoint(join(dir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors: cannot be read \(ENOENT\)/);
    const ck = await loadCheckpoint(path);
    expect(() => restoreModel(new BigramModel(4, 'float32'), ck)).toThrow(/tensor `logits.weight` has shape \[3, 3\] but the model's is \[4, 4\]/);
    expect(() => restoreModel(new BigramModel(3, 'float64'), ck)).toThrow(/holds float32 parameters but the model is float64/);
    expect(existsSync(path)).toBe(true);
  });
});
