// The special-token rules of llama.cpp's vocab loader, applied in its order: auto-detect EOT / EOM /
// FIM tokens by text (marking them control), mark "unused" control tokens, build the end-of-generation
// set (with its gpt-oss / solar-open / gemma4 exceptions), collect the tokens the partitioner matches,
// and set per-token lstrip / rstrip by model name (Phi-3's rules).

import { TokenAttr } from './attributes.js';
import {
  EOG_TEXTS,
  EOM_TEXTS,
  EOT_TEXTS,
  FIM_MID_TEXTS,
  FIM_PAD_TEXTS,
  FIM_PRE_TEXTS,
  FIM_REP_TEXTS,
  FIM_SEP_TEXTS,
  FIM_SUF_TEXTS,
} from './special-texts.js';
import { stringToBinary } from './utf8.js';
import type { SpecialToken, Vocab, VocabSpec } from './vocab.js';

export function applySpecialRules(
  v: Vocab,
  spec: VocabSpec,
): { eogIds: Set<number>; specialTokens: SpecialToken[] } {
  const attrs = v.attrs;
  const texts = v.tokens;
  const textToId = v.textToId;
  const n = v.size;
  const pre = v.pre;
  const markControl = (id: number): void => {
    attrs[id] = attrs[id]! | TokenAttr.CONTROL;
  };
  // auto-detect EOT/EOM/FIM tokens by text. llama.cpp walks an unordered map, so when a vocab has
  // several candidates its pick depends on hash order; we take the first text in list order
  // (e.g. Phi-3's "<|end|>" before "<|endoftext|>", which is what llama.cpp picks there too).
  const detect = (current: number | null, texts: ReadonlySet<string>): number | null => {
    if (current !== null) return current;
    for (const t of texts) {
      const id = textToId.get(t);
      if (id !== undefined) {
        markControl(id);
        return id;
      }
    }
    return null;
  };
  v.eot = detect(v.eot, EOT_TEXTS);
  v.eom = detect(v.eom, EOM_TEXTS);
  v.fimPre = detect(v.fimPre, FIM_PRE_TEXTS);
  v.fimSuf = detect(v.fimSuf, FIM_SUF_TEXTS);
  v.fimMid = detect(v.fimMid, FIM_MID_TEXTS);
  v.fimPad = detect(v.fimPad, FIM_PAD_TEXTS);
  v.fimRep = detect(v.fimRep, FIM_REP_TEXTS);
  v.fimSep = detect(v.fimSep, FIM_SEP_TEXTS);

  // control tokens whose text says "unused" are unused
  for (let id = 0; id < n; id++) {
    const a = attrs[id]!;
    if ((a & TokenAttr.CONTROL) !== 0 && (a & TokenAttr.UNUSED) === 0 && texts[id]!.includes('unused')) {
      attrs[id] = a | TokenAttr.UNUSED;
    }
  }

  // end-of-generation set
  const eog = new Set<number>();
  if (v.fimPad !== null) eog.add(v.fimPad);
  if (v.fimRep !== null) eog.add(v.fimRep);
  if (v.fimSep !== null) eog.add(v.fimSep);
  for (let id = 0; id < n; id++) {
    const t = texts[id]!;
    if (textToId.get(t) !== id) continue;
    if (EOG_TEXTS.has(t)) {
      eog.add(id);
      markControl(id);
    }
  }
  for (let id = 0; id < n; id++) {
    const t = texts[id]!;
    if (
      textToId.get(t) === id &&
      (t === '<|channel|>' || t === '<|message|>' || t === '<|start|>' || t === '<|constrain|>')
    ) {
      attrs[id] = TokenAttr.USER_DEFINED;
    }
  }
  if (v.eos !== null) eog.add(v.eos);
  if (v.eot !== null) eog.add(v.eot);
  if (v.eom !== null) eog.add(v.eom);
  {
    let hasReturn = false;
    let hasCall = false;
    let hasFlush = false;
    let endId = -1;
    for (const id of eog) {
      const t = texts[id];
      if (t === '<|return|>') hasReturn = true;
      else if (t === '<|call|>' || t === '<|calls|>') hasCall = true;
      else if (t === '<|flush|>') hasFlush = true;
      else if (t === '<|end|>') endId = id;
    }
    if (endId >= 0 && ((hasReturn && hasCall) || (hasCall && hasFlush))) {
      eog.delete(endId);
      attrs[endId] = TokenAttr.USER_DEFINED;
    }
  }
  {
    let hasToolResponse = false;
    let sId = -1;
    for (const id of eog) {
      const t = texts[id];
      if (t === '<|tool_response>') hasToolResponse = true;
      else if (t === '</s>') sId = id;
    }
    if (hasToolResponse && sId >= 0) {
      eog.delete(sId);
      attrs[sId] = TokenAttr.NORMAL;
    }
  }

  // special tokens cache (control, user-defined, unknown), longest first
  const specialIds: number[] = [];
  for (let id = 0; id < n; id++) {
    if ((attrs[id]! & (TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN)) !== 0)
      specialIds.push(id);
  }

  // per-token lstrip/rstrip attributes, keyed on the model name as llama.cpp does
  const name = (spec.modelName ?? '').toLowerCase();
  const arch = spec.architecture ?? '';
  const setAttr = (id: number | undefined, bit: number, on: boolean): void => {
    if (id === undefined) return;
    attrs[id] = on ? attrs[id]! | bit : attrs[id]! & ~bit;
  };
  if (
    ['jina-v2-de', 'jina-v2-es', 'jina-v2-code'].some((s) => pre.includes(s)) ||
    ['nomic-bert-moe', 'jina-bert-v3'].some((s) => arch.includes(s))
  ) {
    setAttr(textToId.get('<mask>'), TokenAttr.LSTRIP, true);
  } else if (name.includes('phi-3') || name.includes('phi3')) {
    for (const id of specialIds) setAttr(id, TokenAttr.RSTRIP, true);
    setAttr(textToId.get('</s>'), TokenAttr.RSTRIP, true);
    for (const t of ['<unk>', '<s>', '<|endoftext|>']) setAttr(textToId.get(t), TokenAttr.RSTRIP, false);
  } else if (name.includes('modern-bert')) {
    setAttr(textToId.get('[MASK]'), TokenAttr.LSTRIP, true);
  }

  const special: SpecialToken[] = specialIds.map((id) => ({
    id,
    bin: stringToBinary(texts[id]!),
    attr: 0,
  }));
  special.sort((a, b) => b.bin.length - a.bin.length || a.id - b.id);
  for (const s of special) s.attr = attrs[s.id]!;
  return { eogIds: eog, specialTokens: special };
}
