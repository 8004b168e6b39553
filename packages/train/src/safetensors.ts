/**
 * Reading and writing the safetensors format (the layout Hugging Face's `safetensors` library reads):
 *
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  UTF-8 JSON: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
 *                            "__metadata__": { "<key>": "<string value>", ... } }
 *              padded with spaces so the data starts 8-byte aligned
 *   [...]      the data: every tensor's bytes, little-endian, row-major, at [8 + N + begin, 8 + N + end)
 *
 * The reference reader insists that the tensors tile the data section exactly (no gaps, no overlap,
 * nothing after the last one); the writer lays them out that way and `decodeSafetensors` refuses any
 * file that does not. A sha256 of the data and of the tensor table is kept in the metadata under
 * `parascan.sha256`, so a flipped byte in the data is refused too.
 *
 * Writes are atomic: a temporary file in the same folder, fsync, read back and verified, then renamed
 * over the target (and the folder fsynced). Any failure leaves the previous file as it was.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, openSync, closeSync, fsyncSync, mkdirSync, readFileSync, writeSync, renameSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { dataError, invalidArgument, describeValue } from '@parascan/core';

export type SafetensorsDtype = 'F64' | 'F32' | 'I64' | 'I32' | 'U8';

export type TensorData = Float64Array | Float32Array | Int32Array | Uint8Array | BigInt64Array;

export interface Tensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export interface SafetensorsFile {
  /** In file order. */
  readonly tensors: Map<string, Tensor>;
  readonly metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, I64: 8, I32: 4, U8: 1 };
/** The metadata key holding the checksum. */
export const CHECKSUM_KEY = 'parascan.sha256';
/** Headers beyond this are refused as corrupt rather than parsed (the reference reader's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function dtypeOfArray(data: TensorData): SafetensorsDtype {
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Uint8Array) return 'U8';
  if (data instanceof BigInt64Array) return 'I64';
  throw invalidArgument('encodeSafetensors', 'tensor data', 'a Float64Array, Float32Array, Int32Array, Uint8Array or BigInt64Array', describeValue(data));
}

function viewOf(dtype: SafetensorsDtype, buffer: ArrayBuffer, offset: number, length: number): TensorData {
  switch (dtype) {
    case 'F64':
      return new Float64Array(buffer, offset, length);
    case 'F32':
      return new Float32Array(buffer, offset, length);
    case 'I32':
      return new Int32Array(buffer, offset, length);
    case 'U8':
      return new Uint8Array(buffer, offset, length);
    case 'I64':
      return new BigInt64Array(buffer, offset, length);
  }
}

// Typed arrays use the platform's byte order; safetensors is little-endian. Every platform Node
// supports for this project (x86-64, arm64) is little-endian; refuse to run silently wrong elsewhere.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function checkEndianness(op: string): void {
  if (!LITTLE_ENDIAN) throw invalidArgument(op, 'platform', 'little-endian', 'a big-endian platform');
}

/**
 * The checksum: sha256 over the tensor table (name, dtype, shape, offsets; in data order, which JSON
 * key order cannot disturb) and the data bytes.
 */
function checksum(table: readonly [string, SafetensorsDtype, readonly number[], number, number][], data: Uint8Array): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(table));
  hash.update(data);
  return hash.digest('hex');
}

/** Serialises tensors (in the map's order) and string metadata; adds the checksum to the metadata. */
export function encodeSafetensors(tensors: ReadonlyMap<string, { shape: readonly number[]; data: TensorData }>, metadata: Record<string, string> = {}): Uint8Array {
  const op = 'encodeSafetensors';
  checkEndianness(op);
  const table: [string, SafetensorsDtype, readonly number[], number, number][] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__' || name.length === 0) throw invalidArgument(op, 'tensors', 'non-empty names other than `__metadata__`', `the name ${JSON.stringify(name)}`);
    const dtype = dtypeOfArray(t.data);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count !== t.data.length) {
      throw invalidArgument(op, `tensors[${name}]`, `data whose length is the product of its shape [${t.shape.join(', ')}]`, `length ${t.data.length}`);
    }
    const bytes = count * BYTES[dtype];
    table.push([name, dtype, [...t.shape], offset, offset + bytes]);
    offset += bytes;
  }
  const data = new Uint8Array(offset);
  let i = 0;
  for (const t of tensors.values()) {
    const [, , , begin, end] = table[i++]!;
    data.set(new Uint8Array(t.data.buffer, t.data.byteOffset, end - begin), begin);
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw invalidArgument(op, `metadata.${key}`, 'a string (safetensors metadata is a string map)', describeValue(value));
  }
  const header: Record<string, unknown> = { __metadata__: { ...metadata, [CHECKSUM_KEY]: checksum(table, data) } };
  for (const [name, dtype, shape, begin, end] of table) header[name] = { dtype, shape, data_offsets: [begin, end] };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  if (padded > json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/**
 * Parses and validates a safetensors image. Refuses (INVALID_DATA, naming `source` and what is wrong):
 * a file shorter than its header, a header length out of range, JSON that does not parse or is not an
 * object, an unknown dtype, a bad shape, offsets out of range / overlapping / leaving gaps, metadata
 * values that are not strings, and a checksum that does not match (when the file has one; `requireChecksum`
 * makes a missing one an error too). Tensors are copied out (aligned, independent of `bytes`).
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data', requireChecksum = false): SafetensorsFile {
  const op = 'readSafetensors';
  checkEndianness(op);
  const fail = (problem: string, fix = 'The file is truncated or corrupted; use another checkpoint.') => dataError(op, source, problem, fix);
  if (bytes.length < 8) throw fail(`${bytes.length} bytes is too short to be a safetensors file (the 8-byte header length alone is missing)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength < 2n || headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw fail(`the header length field says ${headerLength} bytes but the file has ${bytes.length - 8} bytes after it`);
  }
  const n = Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8'));
  } catch (err) {
    throw fail(`the ${n}-byte JSON header does not parse (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('the JSON header is not an object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: [string, SafetensorsDtype, number[], number, number][] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('`__metadata__` is not a string map');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw fail(`metadata \`${k}\` is ${describeValue(v)}, not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) throw fail(`tensor \`${name}\` has no {dtype, shape, data_offsets} entry`);
    const dtype = info.dtype;
    if (typeof dtype !== 'string' || !(dtype in BYTES)) {
      throw fail(`tensor \`${name}\` has dtype ${JSON.stringify(dtype)}; parascan reads ${Object.keys(BYTES).join(', ')}`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail(`tensor \`${name}\` has shape ${JSON.stringify(shape)}; expected a list of non-negative integers`);
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0) || offsets[0] > offsets[1]) {
      throw fail(`tensor \`${name}\` has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) throw fail(`tensor \`${name}\` ends at data byte ${end} but the data section has only ${dataLength} bytes`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const size = BYTES[dtype as SafetensorsDtype];
    if ((end - begin) !== count * size) {
      throw fail(`tensor \`${name}\` spans ${end - begin} bytes but ${dtype} [${(shape as number[]).join(', ')}] needs ${count * size}`);
    }
    entries.push([name, dtype as SafetensorsDtype, shape as number[], begin, end]);
  }
  // The data must be tiled exactly, as the reference reader requires.
  const byOffset = [...entries].sort((a, b) => a[3] - b[3] || a[4] - b[4]);
  let cursor = 0;
  for (const [name, , , begin, end] of byOffset) {
    if (begin !== cursor) throw fail(`tensor \`${name}\` starts at data byte ${begin} but the previous tensor ends at ${cursor} (gap or overlap)`);
    cursor = end;
  }
  if (cursor !== dataLength) throw fail(`the tensors cover ${cursor} bytes of data but the data section has ${dataLength} (trailing bytes or a truncated file)`);
  const data = bytes.subarray(dataStart);
  const stored = metadata[CHECKSUM_KEY];
  if (stored !== undefined) {
    const actual = checksum(byOffset, data);
    if (actual !== stored) throw fail(`checksum mismatch (stored sha256 ${stored.slice(0, 12)}…, computed ${actual.slice(0, 12)}…): the data or the tensor table was altered`);
  } else if (requireChecksum) {
    throw fail(`no \`${CHECKSUM_KEY}\` checksum in the metadata`, 'It was not written by parascan, or its header was altered; use another checkpoint.');
  }
  const tensors = new Map<string, Tensor>();
  for (const [name, dtype, shape, begin, end] of byOffset) {
    // Copy into a fresh, aligned buffer: the data section's offsets need not be aligned to the element size.
    const copy = new ArrayBuffer(end - begin);
    new Uint8Array(copy).set(data.subarray(begin, end));
    tensors.set(name, { dtype, shape, data: viewOf(dtype, copy, 0, (end - begin) / BYTES[dtype]) });
  }
  return { tensors, metadata };
}

export interface WriteOptions {
  /**
   * Test hook: called with the temporary file's path after it is written and synced, before it is
   * verified and renamed (tests corrupt it here to prove the previous file survives).
   */
  beforeRename?: (tempPath: string) => void;
}

/**
 * Writes atomically: temp file beside `path`, fsync, read back and decode (checksum included), rename
 * over `path`, fsync the folder. On any failure the temp file is removed and `path` is untouched.
 * The folder is created when missing (a checkpoint path like `run/model.safetensors` just works).
 */
export function writeSafetensorsFile(path: string, tensors: ReadonlyMap<string, { shape: readonly number[]; data: TensorData }>, metadata: Record<string, string> = {}, options: WriteOptions = {}): void {
  const image = encodeSafetensors(tensors, metadata);
  mkdirSync(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, 'wx', 0o644);
    try {
      let written = 0;
      while (written < image.length) written += writeSync(fd, image, written, image.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    options.beforeRename?.(temp);
    decodeSafetensors(readFileSync(temp), `${temp} (just written for ${path})`, true);
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  // Make the rename itself durable; not every file system lets a directory be opened for fsync.
  try {
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    /* best effort */
  }
}

/** Reads and validates a safetensors file (see `decodeSafetensors`). */
export async function readSafetensorsFile(path: string, requireChecksum = false): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(path);
  } catch (err) {
    throw dataError('readSafetensors', path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'Check the path.', err);
  }
  return decodeSafetensors(bytes, path, requireChecksum);
}
