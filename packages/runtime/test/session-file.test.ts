/**
 * Saved sessions: save → restore continues with identical logits (same model instance and a fresh
 * load), for f16, quantized and mixed caches; files of another model, another cache type or a newer
 * format are refused; truncated and corrupted files give SessionFileError, never a crash.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticPrompt, writeSyntheticLlama } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model, SessionFileError } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'quant-session-file-'));
const modelPath = join(dir, 'a.gguf');
const otherPath = join(dir, 'b.gguf');
const cfg = { nEmbd: 128, nLayers: 2, nHeads: 2, nKvHeads: 1, nFF: 256 } as const;

let model: Model;
beforeAll(async () => {
  await writeSyntheticLlama(modelPath, { ...cfg, seed: 71 });
  // another model: other weights and name (the identity is the GGUF header: metadata and tensor table)
  await writeSyntheticLlama(otherPath, { ...cfg, seed: 72, name: 'other-model' });
  model = await loadModel(modelPath, { threads: 1, contextSize: 128, batchSize: 16 });
});
afterAll(() => {
  model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const A = syntheticPrompt(3, 30);
const B = syntheticPrompt(4, 12).slice(1);

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SessionFileError);
    return (e as SessionFileError).reason;
  }
  return 'no error';
}

describe('session.save / model.restoreSession', () => {
  for (const kvType of ['f16', 'q4_0', { k: 'q8_0', v: 'f16' }] as const) {
    it(`${typeof kvType === 'string' ? kvType : 'k=q8_0,v=f16'}: the restored session continues with identical logits`, async () => {
      const s = model.createSession({ kvType });
      await s.evaluate(A);
      const file = join(dir, `s-${JSON.stringify(kvType).replace(/\W/g, '')}.qsession`);
      await s.save(file);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      const want = await s.evaluate(B, { allLogits: true });
      s.dispose();

      const r = await model.restoreSession(file);
      expect(r.tokens).toEqual(A);
      expect(r.kvType).toEqual(typeof kvType === 'string' ? { k: kvType, v: kvType } : kvType);
      expect(Array.from(await r.evaluate(B, { allLogits: true }))).toEqual(Array.from(want));
      r.dispose();

      const fresh = await loadModel(modelPath, { threads: 1, contextSize: 64, batchSize: 16 });
      try {
        const r2 = await fresh.restoreSession(file);
        expect(r2.contextSize).toBe(128);
        expect(Array.from(await r2.evaluate(B, { allLogits: true }))).toEqual(Array.from(want));
      } finally {
        fresh.dispose();
      }
    });
  }

  it('refuses another model, another cache type and a newer format version', async () => {
    const s = model.createSession({ kvType: 'q8_0' });
    await s.evaluate(A);
    const file = join(dir, 'refuse.qsession');
    await s.save(file);
    s.dispose();
    const other = await loadModel(otherPath, { threads: 1, contextSize: 128 });
    try {
      expect(await reasonOf(other.restoreSession(file))).toBe('MODEL_MISMATCH');
    } finally {
      other.dispose();
    }
    expect(await reasonOf(model.restoreSession(file, { kvType: 'f16' }))).toBe('MODEL_MISMATCH');
    const bytes = readFileSync(file);
    const newer = Buffer.from(bytes);
    newer.writeUInt32LE(2, 8);
    writeFileSync(join(dir, 'newer.qsession'), newer);
    expect(await reasonOf(model.restoreSession(join(dir, 'newer.qsession')))).toBe('VERSION');
    writeFileSync(join(dir, 'gguf.qsession'), readFileSync(modelPath).subarray(0, 4096));
    expect(await reasonOf(model.restoreSession(join(dir, 'gguf.qsession')))).toBe('NOT_A_SESSION');
    expect(await reasonOf(model.restoreSession(join(dir, 'missing.qsession')))).toBe('IO');
  });

  it('truncated or corrupted files are refused with SessionFileError (fuzzed cuts and flips)', async () => {
    const s = model.createSession({ kvType: 'q4_0' });
    await s.evaluate(A);
    const file = join(dir, 'fuzz.qsession');
    await s.save(file);
    s.dispose();
    const bytes = readFileSync(file);
    const hlen = bytes.readUInt32LE(12);
    const cuts = [
      0,
      3,
      8,
      15,
      16,
      16 + (hlen >> 1),
      16 + hlen,
      16 + hlen + 7,
      bytes.length >> 1,
      bytes.length - 1,
    ];
    for (let i = 0; i < 6; i++) cuts.push(Math.floor((((i * 7919) % 997) / 997) * bytes.length));
    const bad = join(dir, 'bad.qsession');
    for (const cut of cuts) {
      writeFileSync(bad, bytes.subarray(0, cut));
      const reason = await reasonOf(model.restoreSession(bad));
      expect(['TRUNCATED', 'CORRUPT', 'NOT_A_SESSION'], `cut at ${cut}: ${reason}`).toContain(reason);
    }
    for (const at of [16 + hlen + 2, 16 + hlen + 200, bytes.length - 3]) {
      const flipped = Buffer.from(bytes);
      flipped[at] = (flipped[at] as number) ^ 0x5a;
      writeFileSync(bad, flipped);
      expect(await reasonOf(model.restoreSession(bad)), `flip at ${at}`).toBe('CORRUPT');
    }
    const headerFlip = Buffer.from(bytes);
    headerFlip[16] = 0x5b; // '{' → '['
    writeFileSync(bad, headerFlip);
    expect(await reasonOf(model.restoreSession(bad))).toBe('CORRUPT');
    // the good file still restores after all that
    (await model.restoreSession(file)).dispose();
  });
});
