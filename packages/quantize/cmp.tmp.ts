import { readGgufFileInfo } from 'node-llama-cpp';
import { planTensors } from './src/plan.js';
const dir = '/work/shared/models/';
const pairs: [string, string, any][] = [];
for (const a of ['llama', 'phi3']) for (const [suf, t] of [['q4_k_m','Q4_K_M'],['q5_k_m','Q5_K_M'],['q6_k','Q6_K'],['q3_k_m','Q3_K_M'],['q2_k','Q2_K'],['q8_0','Q8_0']]) pairs.push([`stories260K-${a}-pad256-f32.gguf`, `stories260K-${a}-pad256-${suf}.gguf`, t]);
for (const [t, f] of [['Q4_0','stories260K-llama-ff192-q4_0.gguf'],['Q8_0','stories260K-llama-ff192-q8_0.gguf'],['Q8_0','stories260K-phi3-ff192-q8_0.gguf']]) pairs.push([f, f, t]);
const fs = await import('node:fs');
for (const [src, dst, type] of pairs) {
  if (!fs.existsSync(dir + dst)) { console.log('missing', dst); continue; }
  const s = await readGgufFileInfo(dir + src, { readTensorInfo: true });
  const d = await readGgufFileInfo(dir + dst, { readTensorInfo: true });
  const md: any = s.metadata; const arch = md.general.architecture; const h = md[arch];
  const facts = { arch, nLayer: h.block_count, nHead: h.attention.head_count, nHeadKv: h.attention.head_count_kv ?? h.attention.head_count, nExpert: h.expert_count ?? 0, is70B: false };
  const tensors = s.fullTensorInfo!.map((t) => ({ name: t.name, type: src === dst ? (t.dimensions.length > 1 ? 0 : t.ggmlType) : t.ggmlType, shape: t.dimensions.map(Number) }));
  const plan = planTensors(facts, tensors, { type });
  const want = new Map(d.fullTensorInfo!.map((t) => [t.name, t.ggmlType]));
  const order = d.fullTensorInfo!.map((t) => t.name).join(',') === plan.tensors.map((t) => t.name).join(',');
  const bad = plan.tensors.filter((t) => want.get(t.name) !== t.targetType).map((t) => `${t.name} ours ${t.targetTypeName} theirs ${want.get(t.name)}`);
  console.log(dst, type, 'order', order, 'mismatches', bad.length, bad.slice(0, 5), 'ftype', (d.metadata as any).general.file_type, plan.ftype);
}
