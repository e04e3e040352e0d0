/**
 * Repetition, frequency and presence penalties, in place, as llama.cpp applies them: for every
 * distinct token among the last `lastN` of `history` seen `count` times,
 * logit = logit > 0 ? logit / repeat : logit * repeat; then logit -= count·frequency + presence.
 */
export function applyPenalties(
  logits: Float32Array,
  history: ArrayLike<number>,
  lastN: number,
  repeat: number,
  frequency: number,
  presence: number,
): void {
  if (repeat === 1 && frequency === 0 && presence === 0) return;
  const n = lastN < 0 ? history.length : Math.min(lastN, history.length);
  if (n === 0) return;
  const counts = new Map<number, number>();
  for (let i = history.length - n; i < history.length; i++) {
    const t = history[i] as number;
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  for (const [t, count] of counts) {
    if (t < 0 || t >= logits.length) continue;
    let l = logits[t] as number;
    l = l > 0 ? l / repeat : l * repeat;
    l -= count * frequency + presence;
    logits[t] = l;
  }
}
