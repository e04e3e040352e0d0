/** An open-addressing hash map (left id, right id) → merge rank, in typed arrays (no boxed keys). */
export class PairTable {
  private readonly keysL: Int32Array;
  private readonly keysR: Int32Array;
  private readonly vals: Int32Array;
  private readonly mask: number;
  size = 0;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.keysL = new Int32Array(cap).fill(-1);
    this.keysR = new Int32Array(cap);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(l: number, r: number): number {
    let h = Math.imul(l, 0x9e3779b1) ^ Math.imul(r, 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Insert unless present; returns false when the pair was already there (first occurrence wins). */
  add(l: number, r: number, rank: number): boolean {
    let i = this.slot(l, r);
    for (;;) {
      const k = this.keysL[i]!;
      if (k === -1) {
        this.keysL[i] = l;
        this.keysR[i] = r;
        this.vals[i] = rank;
        this.size++;
        return true;
      }
      if (k === l && this.keysR[i] === r) return false;
      i = (i + 1) & this.mask;
    }
  }

  /** The rank, or -1. */
  get(l: number, r: number): number {
    let i = this.slot(l, r);
    for (;;) {
      const k = this.keysL[i]!;
      if (k === -1) return -1;
      if (k === l && this.keysR[i] === r) return this.vals[i]!;
      i = (i + 1) & this.mask;
    }
  }
}
