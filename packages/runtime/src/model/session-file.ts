/**
 * Saved sessions: a session's tokens and its KV cache in its stored types, so a later process can
 * continue exactly where it stopped (identical logits) without evaluating the prefix again.
 *
 * File layout (little-endian):
 *   "QUANTSES" (8 bytes) · format version u32 · header length u32 · header (UTF-8 JSON) ·
 *   tokens (nTokens × i32) · for each cache layer: K rows [0, nTokens), then V rows, in the stored type.
 * The header names the model (architecture, a SHA-256 of its GGUF metadata and tensor table, the
 * KV shape), the context size, the cache types and rotation, nTokens, the payload's byte length and
 * its SHA-256. Files are written to a temporary file in the same directory, flushed and renamed into
 * place, so a crash never leaves a half-written file under the name.
 */
import type { GGUFFile } from '@quant/gguf';
import { type KVCache, type KVCacheTypes, kvRowBytes } from '@quant/kernels';
import { SessionFileError } from '../errors.js';
import type { KVLayout } from './kv-layout.js';
import { parseKvType } from './kv-type.js';

const MAGIC = 'QUANTSES';
/** The format version this build writes and reads. */
export const SESSION_FORMAT_VERSION = 1;
/** Largest header accepted (a real one is < 1 KiB). */
const MAX_HEADER = 1 << 20;

export interface SessionFileHeader {
  format: number;
  model: {
    architecture: string;
    hash: string;
    layers: number;
    kvHeads: number;
    headDim: number;
    nVocab: number;
  };
  contextSize: number;
  kvType: KVCacheTypes;
  rotation: { k: number; v: number };
  nTokens: number;
  payloadBytes: number;
  sha256: string;
}

type Crypto = typeof import('node:crypto');
type Fs = typeof import('node:fs/promises');

async function node(): Promise<{ crypto: Crypto; fs: Fs; path: typeof import('node:path') }> {
  // A separate module, so the browser build (dist/browser.js) swaps it for one without Node imports.
  return (await import('./node-modules.js')).nodeModules();
}

const json = (v: unknown) =>
  JSON.stringify(v, (_k, x) =>
    typeof x === 'bigint'
      ? `${x}n`
      : ArrayBuffer.isView(x)
        ? Array.from(x as unknown as ArrayLike<number>)
        : x,
  );

/** SHA-256 over the GGUF's metadata (keys and values) and tensor table (name, type, shape): the model's identity. */
export async function modelHash(file: GGUFFile): Promise<string> {
  const { crypto } = await node();
  const h = crypto.createHash('sha256');
  for (const key of Object.keys(file.metadata).sort()) h.update(`${key}=${json(file.metadata[key])}\n`);
  for (const t of file.tensors) h.update(`${t.name}:${t.type}:${t.shape.join('x')}\n`);
  return h.digest('hex');
}

export interface SaveInput {
  file: GGUFFile;
  architecture: string;
  kv: KVLayout;
  nVocab: number;
  contextSize: number;
  cache: KVCache;
  /** snapshotSession()'s result. */
  snapshot: Uint8Array[];
  tokens: readonly number[];
}

/**
 * The payload of a session file: its tokens, then each layer's K and V rows. Synchronous, so it
 * can run while no forward pass uses the kernels (readRows refuses during a run).
 */
export function snapshotSession(cache: KVCache, layers: number, tokens: readonly number[]): Uint8Array[] {
  const n = tokens.length;
  const parts: Uint8Array[] = [new Uint8Array(Int32Array.from(tokens).buffer)];
  for (let l = 0; l < layers; l++) parts.push(cache.readRows(l, 'k', n), cache.readRows(l, 'v', n));
  return parts;
}

/** Writes a session file atomically (temporary file + fsync + rename). */
export async function writeSessionFile(path: string, s: SaveInput): Promise<void> {
  const { crypto, fs, path: p } = await node();
  const n = s.tokens.length;
  const parts = s.snapshot;
  const sha = crypto.createHash('sha256');
  let payloadBytes = 0;
  for (const b of parts) {
    sha.update(b);
    payloadBytes += b.length;
  }
  const header: SessionFileHeader = {
    format: SESSION_FORMAT_VERSION,
    model: {
      architecture: s.architecture,
      hash: await modelHash(s.file),
      layers: s.kv.layers,
      kvHeads: s.kv.kvHeads,
      headDim: s.kv.headDim,
      nVocab: s.nVocab,
    },
    contextSize: s.contextSize,
    kvType: { k: s.cache.types.k, v: s.cache.types.v },
    rotation: { k: s.cache.rotation.k, v: s.cache.rotation.v },
    nTokens: n,
    payloadBytes,
    sha256: sha.digest('hex'),
  };
  const hb = new TextEncoder().encode(JSON.stringify(header));
  const pre = new Uint8Array(16);
  pre.set(new TextEncoder().encode(MAGIC));
  const dv = new DataView(pre.buffer);
  dv.setUint32(8, SESSION_FORMAT_VERSION, true);
  dv.setUint32(12, hb.length, true);
  const abs = p.resolve(path);
  const tmp = p.join(
    p.dirname(abs),
    `.${p.basename(abs)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`,
  );
  let fh: Awaited<ReturnType<Fs['open']>> | undefined;
  try {
    fh = await fs.open(tmp, 'wx');
    for (const b of [pre, hb, ...parts]) {
      let off = 0;
      while (off < b.length) off += (await fh.write(b, off, b.length - off)).bytesWritten;
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, abs);
  } catch (e) {
    await fh?.close().catch(() => {});
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw new SessionFileError(path, 'IO', `could not write the session file: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

export interface ExpectedModel {
  file: GGUFFile;
  architecture: string;
  kv: KVLayout;
  nVocab: number;
}

export interface ReadSession {
  header: SessionFileHeader;
  tokens: Int32Array;
  /** K and V row bytes per layer. */
  rows: { k: Uint8Array; v: Uint8Array }[];
}

/**
 * Reads and checks a session file against the model. Every defect is a SessionFileError: not a
 * session file, a newer format, another model, a truncated or corrupted payload.
 */
export async function readSessionFile(path: string, m: ExpectedModel): Promise<ReadSession> {
  const { crypto, fs } = await node();
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(path));
  } catch (e) {
    throw new SessionFileError(path, 'IO', `could not read the session file: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC)
    throw new SessionFileError(
      path,
      bytes.length < 16 &&
        MAGIC.startsWith(new TextDecoder().decode(bytes.subarray(0, Math.min(8, bytes.length))))
        ? 'TRUNCATED'
        : 'NOT_A_SESSION',
      bytes.length < 16
        ? `the file is ${bytes.length} bytes, shorter than a session header`
        : 'not a quant session file (no QUANTSES signature)',
    );
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version > SESSION_FORMAT_VERSION)
    throw new SessionFileError(
      path,
      'VERSION',
      `session format version ${version} is newer than this build reads (${SESSION_FORMAT_VERSION}); update @quant/runtime or save the session again`,
    );
  if (version < 1) throw new SessionFileError(path, 'CORRUPT', `invalid session format version ${version}`);
  const hlen = dv.getUint32(12, true);
  if (hlen > MAX_HEADER)
    throw new SessionFileError(path, 'CORRUPT', `header length ${hlen} is not plausible`);
  if (16 + hlen > bytes.length)
    throw new SessionFileError(
      path,
      'TRUNCATED',
      `the file ends inside its header (${bytes.length} of ${16 + hlen} bytes)`,
    );
  let header: SessionFileHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + hlen)));
  } catch (e) {
    throw new SessionFileError(path, 'CORRUPT', `the header is not valid JSON (${(e as Error).message})`, {
      cause: e,
    });
  }
  const int = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (
    !header ||
    typeof header !== 'object' ||
    header.format !== version ||
    !header.model ||
    typeof header.model.hash !== 'string' ||
    !int(header.nTokens) ||
    !int(header.contextSize) ||
    !int(header.payloadBytes) ||
    typeof header.sha256 !== 'string' ||
    !header.kvType ||
    !header.rotation
  )
    throw new SessionFileError(path, 'CORRUPT', 'the header lacks fields a session file has');
  const hash = await modelHash(m.file);
  const want = {
    architecture: m.architecture,
    hash,
    layers: m.kv.layers,
    kvHeads: m.kv.kvHeads,
    headDim: m.kv.headDim,
    nVocab: m.nVocab,
  };
  for (const [k, v] of Object.entries(want))
    if ((header.model as unknown as Record<string, unknown>)[k] !== v)
      throw new SessionFileError(
        path,
        'MODEL_MISMATCH',
        `the session was saved with another model (${k}: file ${json((header.model as unknown as Record<string, unknown>)[k])}, this model ${json(v)}); restore it with the model that saved it`,
      );
  if (header.nTokens > header.contextSize)
    throw new SessionFileError(
      path,
      'CORRUPT',
      `${header.nTokens} tokens in a ${header.contextSize}-token context`,
    );
  const start = 16 + hlen;
  if (bytes.length - start < header.payloadBytes)
    throw new SessionFileError(
      path,
      'TRUNCATED',
      `the file is truncated: ${bytes.length - start} of ${header.payloadBytes} payload bytes present`,
    );
  if (bytes.length - start > header.payloadBytes)
    throw new SessionFileError(
      path,
      'CORRUPT',
      `${bytes.length - start - header.payloadBytes} unexpected bytes after the payload`,
    );
  const payload = bytes.subarray(start);
  if (crypto.createHash('sha256').update(payload).digest('hex') !== header.sha256)
    throw new SessionFileError(
      path,
      'CORRUPT',
      'the payload does not match its SHA-256: the file is corrupted',
    );
  const n = header.nTokens;
  const tokens = new Int32Array(payload.slice(0, n * 4).buffer);
  for (const t of tokens)
    if (t < 0 || t >= m.nVocab)
      throw new SessionFileError(path, 'CORRUPT', `token id ${t} is outside the vocabulary`);
  let types: KVCacheTypes;
  try {
    types = parseKvType(header.kvType, 'kvType');
  } catch {
    throw new SessionFileError(
      path,
      'CORRUPT',
      `unknown KV cache types ${json(header.kvType)} in the header`,
    );
  }
  const width = m.kv.kvHeads * m.kv.headDim;
  const kb = kvRowBytes(types.k, width) * n,
    vb = kvRowBytes(types.v, width) * n;
  if (n * 4 + m.kv.layers * (kb + vb) !== payload.length)
    throw new SessionFileError(
      path,
      'CORRUPT',
      'the payload length does not match the header (tokens, layers, cache types)',
    );
  const rows: { k: Uint8Array; v: Uint8Array }[] = [];
  let at = n * 4;
  for (let l = 0; l < m.kv.layers; l++) {
    rows.push({ k: payload.subarray(at, at + kb), v: payload.subarray(at + kb, at + kb + vb) });
    at += kb + vb;
  }
  return { header: { ...header, kvType: types }, tokens, rows };
}
