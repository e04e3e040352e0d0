/**
 * Saved sessions: a session's tokens and its KV cache in its stored types, so a later process can
 * continue exactly where it stopped (identical logits) without evaluating the prefix again.
 *
 * File layout (little-endian):
 *   "QUANTSES" (8 bytes) · format version u32 · header length u32 · header (UTF-8 JSON) ·
 *   tokens (nTokens × i32) · for each cache layer: K rows [0, nTokens), then V rows, in the stored type.
 *   An iq4_nlr K cache appends its state (KVCache.readState: per-layer channel smoothing scales).
 * The header names the model (architecture, a SHA-256 of its GGUF metadata and tensor table, the
 * KV shape), the context size, the cache types and rotation, nTokens, the payload's byte length and
 * its SHA-256. Files are written to a temporary file in the same directory, flushed and renamed into
 * place, so a crash never leaves a half-written file under the name. Reading checks the header and
 * tokens first, then streams the rows one layer at a time (a file can exceed what one read returns,
 * 2 GiB) and checks the SHA-256 after the last layer.
 */
import type { GGUFFile } from '@quant/gguf';
import { type KVCache, type KVCacheTypes, kvRowBytes, kvStateBytes } from '@quant/kernels';
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
  // an iq4_nlr K cache's smoothing scales (the rows are stored divided by them)
  const state = cache.readState();
  if (state.length) parts.push(state);
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

export interface OpenedSession {
  /** The checked header (kvType parsed). */
  header: SessionFileHeader;
  tokens: Int32Array;
  /**
   * Reads each layer's K and V rows in order and hands them to `sink` (one layer at a time, so a
   * session larger than memory allows twice — or than the 2 GiB a single read returns — restores),
   * then checks the payload's SHA-256: a mismatch is CORRUPT, after `sink` has seen the rows, so
   * the caller must not use them until this resolves. Closes the file.
   */
  readRows(
    sink: (layer: number, k: Uint8Array, v: Uint8Array) => void | Promise<void>,
    /** After the rows: the cache's state (an iq4_nlr K's smoothing scales), for KVCache.writeState. */
    onState?: (state: Uint8Array) => void | Promise<void>,
  ): Promise<void>;
  /** Closes the file without reading the rows. */
  close(): Promise<void>;
}

/**
 * Opens and checks a session file against the model: prefix, header, model identity, sizes and
 * tokens; the rows and the payload hash are read by `readRows()`. Every defect is a
 * SessionFileError: not a session file, a newer format, another model, a truncated or corrupted
 * file.
 */
export async function openSessionFile(path: string, m: ExpectedModel): Promise<OpenedSession> {
  const { crypto, fs } = await node();
  const io = (e: unknown, what: string) =>
    new SessionFileError(path, 'IO', `could not ${what} the session file: ${(e as Error).message}`, {
      cause: e,
    });
  let fh: Awaited<ReturnType<Fs['open']>>;
  let size: number;
  try {
    fh = await fs.open(path, 'r');
  } catch (e) {
    throw io(e, 'read');
  }
  const file = fh;
  /** Reads exactly `length` bytes at `position` (fewer only at the end of the file). */
  const readAt = async (position: number, length: number): Promise<Uint8Array> => {
    const b = new Uint8Array(length);
    let got = 0;
    try {
      while (got < length) {
        const { bytesRead } = await file.read(b, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (e) {
      throw io(e, 'read');
    }
    return got === length ? b : b.subarray(0, got);
  };
  try {
    try {
      size = (await file.stat()).size;
    } catch (e) {
      throw io(e, 'read');
    }
    const pre = await readAt(0, Math.min(16, size));
    if (pre.length < 16 || new TextDecoder().decode(pre.subarray(0, 8)) !== MAGIC)
      throw new SessionFileError(
        path,
        pre.length < 16 &&
          MAGIC.startsWith(new TextDecoder().decode(pre.subarray(0, Math.min(8, pre.length))))
          ? 'TRUNCATED'
          : 'NOT_A_SESSION',
        pre.length < 16
          ? `the file is ${pre.length} bytes, shorter than a session header`
          : 'not a quant session file (no QUANTSES signature)',
      );
    const dv = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
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
    if (16 + hlen > size)
      throw new SessionFileError(
        path,
        'TRUNCATED',
        `the file ends inside its header (${size} of ${16 + hlen} bytes)`,
      );
    let header: SessionFileHeader;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readAt(16, hlen)));
    } catch (e) {
      if (e instanceof SessionFileError) throw e;
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
    if (size - start < header.payloadBytes)
      throw new SessionFileError(
        path,
        'TRUNCATED',
        `the file is truncated: ${size - start} of ${header.payloadBytes} payload bytes present`,
      );
    if (size - start > header.payloadBytes)
      throw new SessionFileError(
        path,
        'CORRUPT',
        `${size - start - header.payloadBytes} unexpected bytes after the payload`,
      );
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
    const n = header.nTokens;
    const width = m.kv.kvHeads * m.kv.headDim;
    const kb = kvRowBytes(types.k, width) * n,
      vb = kvRowBytes(types.v, width) * n;
    const stateBytes = kvStateBytes(m.kv, types.k);
    if (n * 4 + m.kv.layers * (kb + vb) + stateBytes !== header.payloadBytes)
      throw new SessionFileError(
        path,
        'CORRUPT',
        'the payload length does not match the header (tokens, layers, cache types)',
      );
    const tokenBytes = await readAt(start, n * 4);
    const sha = crypto.createHash('sha256').update(tokenBytes);
    const tokens = new Int32Array(tokenBytes.slice().buffer);
    for (const t of tokens)
      if (t < 0 || t >= m.nVocab)
        throw new SessionFileError(path, 'CORRUPT', `token id ${t} is outside the vocabulary`);
    let used = false;
    return {
      header: { ...header, kvType: types },
      tokens,
      async readRows(sink, onState) {
        if (used) throw new SessionFileError(path, 'IO', 'the session file was already read');
        used = true;
        try {
          let at = start + n * 4;
          for (let l = 0; l < m.kv.layers; l++) {
            const k = await readAt(at, kb);
            const v = await readAt(at + kb, vb);
            if (k.length !== kb || v.length !== vb)
              throw new SessionFileError(path, 'TRUNCATED', 'the file shrank while it was read');
            sha.update(k).update(v);
            await sink(l, k, v);
            at += kb + vb;
          }
          if (stateBytes) {
            const st = await readAt(at, stateBytes);
            if (st.length !== stateBytes)
              throw new SessionFileError(path, 'TRUNCATED', 'the file shrank while it was read');
            sha.update(st);
            await onState?.(st);
          }
          if (sha.digest('hex') !== header.sha256)
            throw new SessionFileError(
              path,
              'CORRUPT',
              'the payload does not match its SHA-256: the file is corrupted',
            );
        } finally {
          await file.close().catch(() => {});
        }
      },
      close: () => file.close().catch(() => {}),
    };
  } catch (e) {
    await file.close().catch(() => {});
    throw e;
  }
}
