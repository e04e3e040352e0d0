/**
 * Candidate filters over token ids sorted by logit (descending). Each takes and returns a prefix
 * length of that order, as llama.cpp's samplers shrink their candidate arrays.
 */

/** Ids of the `k` largest logits (all when k ≤ 0 or k ≥ n), sorted by logit descending (ties: lower id first). */
export function sortedCandidates(logits: Float32Array, k: number): Int32Array {
  const n = logits.length;
  const cmp = (a: number, b: number) => (logits[b] as number) - (logits[a] as number) || a - b;
  if (k <= 0 || k >= n) {
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) ids[i] = i;
    return ids.sort(cmp);
  }
  // Min-heap of the k best so far (heap[0] = worst kept).
  const heap = new Int32Array(k);
  let size = 0;
  const worse = (a: number, b: number) => cmp(a, b) > 0; // a ranks after b
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(heap[l] as number, heap[m] as number)) m = l;
      if (r < size && worse(heap[r] as number, heap[m] as number)) m = r;
      if (m === i) return;
      const t = heap[i] as number;
      heap[i] = heap[m] as number;
      heap[m] = t;
      i = m;
    }
  };
  for (let id = 0; id < n; id++) {
    if (size < k) {
      heap[size] = id;
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i] as number, heap[p] as number)) break;
        const t = heap[i] as number;
        heap[i] = heap[p] as number;
        heap[p] = t;
        i = p;
      }
    } else if (worse(heap[0] as number, id)) {
      heap[0] = id;
      siftDown(0);
    }
  }
  return heap.sort(cmp);
}

/** Softmax of the logits of `ids[0..count)` (with temperature `t`), as float64. */
export function softmaxOf(logits: Float32Array, ids: Int32Array, count: number, t = 1): Float64Array {
  const p = new Float64Array(count);
  if (count === 0) return p;
  const max = (logits[ids[0] as number] as number) / t;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const e = Math.exp((logits[ids[i] as number] as number) / t - max);
    p[i] = e;
    sum += e;
  }
  for (let i = 0; i < count; i++) p[i] = (p[i] as number) / sum;
  return p;
}

/** Top-p (nucleus): the shortest prefix whose probability mass reaches p (at least 1). */
export function topPCount(logits: Float32Array, ids: Int32Array, count: number, p: number): number {
  if (p >= 1 || count <= 1) return count;
  const probs = softmaxOf(logits, ids, count);
  let cum = 0;
  for (let i = 0; i < count; i++) {
    cum += probs[i] as number;
    if (cum >= p) return i + 1;
  }
  return count;
}

/** Min-p: keep tokens whose probability is at least minP × the top probability (at least 1). */
export function minPCount(logits: Float32Array, ids: Int32Array, count: number, minP: number): number {
  if (minP <= 0 || count <= 1) return count;
  const threshold = (logits[ids[0] as number] as number) + Math.log(minP);
  let keep = 1;
  while (keep < count && (logits[ids[keep] as number] as number) >= threshold) keep++;
  return keep;
}
