/**
 * Filled KV caches without hours of prefill, for ./phi35-mini.long-context.fixture.ts: a real
 * P-token state saved by each side is tiled to N tokens — cell i holds the K and V rows of cell
 * i mod P, at position i of the same sequence — and written back in that side's own state format,
 * which the side then loads through its public API (llama.cpp: llama_state_seq_load_file via
 * node-llama-cpp's sequence.loadStateFromFile; quant: model.restoreSession). Decode cost depends on
 * the number of cached rows and their type, not on their values, and the rows are real ones (real
 * activations, quantized by each side's own cache code).
 *
 * Both writers stream one layer at a time (a 32K-token q4_0 Phi-3.5 state is 3.6 GB).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { kvRowBytes } from '@quant/kernels';

/** Writes all of `b` to `fd`. */
function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

/** `rows` (P rows of `rowBytes`) repeated to `n` rows. */
function tileRows(rows: Uint8Array, rowBytes: number, n: number): Uint8Array {
  const p = rows.length / rowBytes;
  const out = new Uint8Array(n * rowBytes);
  for (let i = 0; i < n; i += p) out.set(rows.subarray(0, Math.min(p, n - i) * rowBytes), i * rowBytes);
  return out;
}

function tileTokens(tokens: Int32Array, n: number): Uint8Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = tokens[i % tokens.length] as number;
  return new Uint8Array(out.buffer);
}

/**
 * llama.cpp's sequence state file (llama-context.cpp state_seq_save_file, version 3, with one
 * unified KV cache as llama_kv_cache::state_write writes it for one sequence):
 *   magic 'ggsq' u32 · version u32 · n_token u32 · tokens i32[n_token] ·
 *   n_stream u32 (1) · cell_count u32 · per cell: pos i32, n_seq_id u32 (1), seq_id i32 ·
 *   v_trans u32 · n_layer u32 · per layer: k_type i32, k_row_bytes u64, K rows ·
 *   (v_trans = 0) per layer: v_type i32, v_row_bytes u64, V rows.
 * Anything else (a cell extension, an iSWA cache's second part, a transposed V) is refused.
 */
export function tileLlamaState(src: string, dst: string, n: number): void {
  const b = readFileSync(src);
  let at = 0;
  const u32 = () => {
    const v = b.readUInt32LE(at);
    at += 4;
    return v;
  };
  const fail = (what: string): never => {
    throw new Error(`tileLlamaState: ${src} is not the expected llama.cpp sequence state (${what})`);
  };
  if (u32() !== 0x67677371) fail('magic is not ggsq');
  if (u32() !== 3) fail('state version is not 3');
  const nTok = u32();
  const tokens = new Int32Array(b.buffer.slice(b.byteOffset + at, b.byteOffset + at + nTok * 4));
  at += nTok * 4;
  if (u32() !== 1) fail('n_stream is not 1');
  const p = u32();
  if (p !== nTok) fail(`${p} cells for ${nTok} tokens`);
  for (let i = 0; i < p; i++) {
    const pos = b.readInt32LE(at),
      nSeq = b.readUInt32LE(at + 4),
      seqId = b.readInt32LE(at + 8);
    if (pos !== i || nSeq !== 1 || seqId !== 0) fail(`cell ${i}: pos ${pos}, ${nSeq} sequences, id ${seqId}`);
    at += 12;
  }
  const vTrans = u32();
  if (vTrans !== 0) fail('V is transposed (flash attention off?)');
  const nLayer = u32();
  type Part = { type: number; rowBytes: number; rows: Uint8Array };
  const part = (): Part => {
    const type = b.readInt32LE(at);
    const rowBytes = Number(b.readBigUInt64LE(at + 4));
    at += 12;
    const rows = b.subarray(at, at + p * rowBytes);
    at += p * rowBytes;
    return { type, rowBytes, rows };
  };
  const k = Array.from({ length: nLayer }, part);
  const v = Array.from({ length: nLayer }, part);
  if (at !== b.length) fail(`${b.length - at} bytes after the last V layer`);

  const fd = openSync(dst, 'w');
  try {
    const head = Buffer.alloc(12);
    head.writeUInt32LE(0x67677371, 0);
    head.writeUInt32LE(3, 4);
    head.writeUInt32LE(n, 8);
    writeAll(fd, head);
    writeAll(fd, tileTokens(tokens, n));
    const meta = Buffer.alloc(8 + n * 12);
    meta.writeUInt32LE(1, 0);
    meta.writeUInt32LE(n, 4);
    for (let i = 0; i < n; i++) {
      meta.writeInt32LE(i, 8 + i * 12);
      meta.writeUInt32LE(1, 12 + i * 12);
      meta.writeInt32LE(0, 16 + i * 12);
    }
    writeAll(fd, meta);
    const dims = Buffer.alloc(8);
    dims.writeUInt32LE(0, 0);
    dims.writeUInt32LE(nLayer, 4);
    writeAll(fd, dims);
    for (const x of [...k, ...v]) {
      const h = Buffer.alloc(12);
      h.writeInt32LE(x.type, 0);
      h.writeBigUInt64LE(BigInt(x.rowBytes), 4);
      writeAll(fd, h);
      writeAll(fd, tileRows(x.rows, x.rowBytes, n));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * quant's session file (@quant/runtime session-file.ts, format 1): "QUANTSES" · version u32 ·
 * header length u32 · JSON header · tokens i32[nTokens] · per layer K rows then V rows. The tiled
 * file keeps the header's model identity, cache types and rotation and sets nTokens, contextSize,
 * payloadBytes and the payload's SHA-256, which restoreSession checks.
 */
export function tileQuantSession(src: string, dst: string, n: number, contextSize: number): void {
  const b = readFileSync(src);
  if (b.subarray(0, 8).toString('latin1') !== 'QUANTSES' || b.readUInt32LE(8) !== 1)
    throw new Error(`tileQuantSession: ${src} is not a format-1 quant session file`);
  const hlen = b.readUInt32LE(12);
  const header = JSON.parse(b.subarray(16, 16 + hlen).toString('utf8'));
  const p: number = header.nTokens;
  const layers: number = header.model.layers;
  const start = 16 + hlen;
  const tokens = new Int32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + start + p * 4));
  const rowsBytes = (b.length - start - p * 4) / layers; // K + V rows of one layer
  const kvRow = rowsBytes / p;
  const kRow = kvRowBytes(header.kvType.k, header.model.kvHeads * header.model.headDim);
  const vRow = kvRow - kRow;
  const layer = (l: number) => {
    const base = start + p * 4 + l * rowsBytes;
    return {
      k: tileRows(b.subarray(base, base + p * kRow), kRow, n),
      v: tileRows(b.subarray(base + p * kRow, base + rowsBytes), vRow, n),
    };
  };
  const tok = tileTokens(tokens, n);
  const sha = createHash('sha256').update(tok);
  for (let l = 0; l < layers; l++) {
    const { k, v } = layer(l);
    sha.update(k).update(v);
  }
  const out = {
    ...header,
    contextSize,
    nTokens: n,
    payloadBytes: n * 4 + layers * n * kvRow,
    sha256: sha.digest('hex'),
  };
  const hb = Buffer.from(JSON.stringify(out), 'utf8');
  const pre = Buffer.alloc(16);
  pre.write('QUANTSES', 0, 'latin1');
  pre.writeUInt32LE(1, 8);
  pre.writeUInt32LE(hb.length, 12);
  const fd = openSync(dst, 'w');
  try {
    writeAll(fd, pre);
    writeAll(fd, hb);
    writeAll(fd, tok);
    for (let l = 0; l < layers; l++) {
      const { k, v } = layer(l);
      writeAll(fd, k);
      writeAll(fd, v);
    }
  } finally {
    closeSync(fd);
  }
}
