/**
 * A binary min-heap of merge candidates (key, left, right, size) ordered by key, then by left index —
 * the order llama.cpp's priority queues pop bigrams in (SPM: highest score first, so key = -score;
 * BPE: lowest rank first, so key = rank).
 */
export class BigramHeap {
  private key: Float64Array;
  private left: Int32Array;
  private right: Int32Array;
  private size_: Int32Array;
  private n = 0;

  constructor(capacity = 64) {
    this.key = new Float64Array(capacity);
    this.left = new Int32Array(capacity);
    this.right = new Int32Array(capacity);
    this.size_ = new Int32Array(capacity);
  }

  get length(): number {
    return this.n;
  }

  clear(): void {
    this.n = 0;
  }

  private less(i: number, j: number): boolean {
    const a = this.key[i]!;
    const b = this.key[j]!;
    return a < b || (a === b && this.left[i]! < this.left[j]!);
  }

  private swap(i: number, j: number): void {
    const k = this.key[i]!;
    this.key[i] = this.key[j]!;
    this.key[j] = k;
    const l = this.left[i]!;
    this.left[i] = this.left[j]!;
    this.left[j] = l;
    const r = this.right[i]!;
    this.right[i] = this.right[j]!;
    this.right[j] = r;
    const s = this.size_[i]!;
    this.size_[i] = this.size_[j]!;
    this.size_[j] = s;
  }

  push(key: number, left: number, right: number, size: number): void {
    if (this.n === this.key.length) {
      const cap = this.n * 2;
      const k = new Float64Array(cap);
      k.set(this.key);
      this.key = k;
      const l = new Int32Array(cap);
      l.set(this.left);
      this.left = l;
      const r = new Int32Array(cap);
      r.set(this.right);
      this.right = r;
      const s = new Int32Array(cap);
      s.set(this.size_);
      this.size_ = s;
    }
    let i = this.n++;
    this.key[i] = key;
    this.left[i] = left;
    this.right[i] = right;
    this.size_[i] = size;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Pop the top into `out` ([left, right, size, key as int32]); false when empty. */
  pop(out: Int32Array): boolean {
    if (this.n === 0) return false;
    out[0] = this.left[0]!;
    out[1] = this.right[0]!;
    out[2] = this.size_[0]!;
    if (out.length > 3) out[3] = this.key[0]!;
    const last = --this.n;
    if (last > 0) {
      this.key[0] = this.key[last]!;
      this.left[0] = this.left[last]!;
      this.right[0] = this.right[last]!;
      this.size_[0] = this.size_[last]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        const c = r < last && this.less(r, l) ? r : l;
        if (!this.less(c, i)) break;
        this.swap(c, i);
        i = c;
      }
    }
    return true;
  }
}
