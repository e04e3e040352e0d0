import { describe, expect, it } from 'vitest';
import { StopStringMatcher } from '../src/generate/stop-strings.js';

function run(stops: string[], pieces: string[]) {
  const m = new StopStringMatcher(stops);
  let out = '';
  let stopped = false;
  for (const p of pieces) {
    const r = m.push(p);
    out += r.text;
    if (r.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) out += m.flush();
  return { out, stopped };
}

describe('StopStringMatcher', () => {
  it('stops at a stop string split across pieces and never emits any of it', () => {
    expect(run(['<|end|>'], ['Hello', ' wor', 'ld<|e', 'nd|>more'])).toEqual({
      out: 'Hello world',
      stopped: true,
    });
  });
  it('releases held-back text that turns out not to be a stop string', () => {
    const m = new StopStringMatcher(['STOP']);
    expect(m.push('abc ST')).toEqual({ text: 'abc ', stopped: false });
    expect(m.push('AR')).toEqual({ text: 'STAR', stopped: false });
    expect(m.flush()).toBe('');
  });
  it('picks the earliest of several stop strings', () => {
    expect(run(['\n\n', 'The end'], ['once. The end\n\nx'])).toEqual({ out: 'once. ', stopped: true });
  });
  it('flushes a held prefix at the end', () => {
    expect(run(['</s>'], ['abc</'])).toEqual({ out: 'abc</', stopped: false });
  });
  it('matches every split of random text the same as indexOf', () => {
    const text = 'the cat sat on the mat and the dog ran';
    for (const stop of ['the dog', 'at a', 'mat', 'zzz', 'n the']) {
      const idx = text.indexOf(stop);
      const want = idx < 0 ? text : text.slice(0, idx);
      for (let cut = 1; cut < 6; cut++) {
        const pieces: string[] = [];
        for (let i = 0; i < text.length; i += cut) pieces.push(text.slice(i, i + cut));
        expect(run([stop], pieces).out).toBe(want);
      }
    }
  });
});
