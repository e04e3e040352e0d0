/**
 * Finds stop strings in streamed text. Text that might be the start of a stop string is held back
 * until it is clear either way, so no stop string (or part of one) is ever emitted.
 */
export class StopStringMatcher {
  private readonly stops: string[];
  private pending = '';
  private done = false;

  constructor(stops: readonly string[] = []) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  get stopped(): boolean {
    return this.done;
  }

  /** Adds text; returns what can be emitted now and whether a stop string was reached. */
  push(text: string): { text: string; stopped: boolean } {
    if (this.done) return { text: '', stopped: true };
    this.pending += text;
    let first = -1;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
    if (first >= 0) {
      const out = this.pending.slice(0, first);
      this.pending = '';
      this.done = true;
      return { text: out, stopped: true };
    }
    // Hold back the longest suffix that is a proper prefix of some stop string.
    let hold = 0;
    for (const s of this.stops) {
      const max = Math.min(s.length - 1, this.pending.length);
      for (let len = max; len > hold; len--) {
        if (this.pending.endsWith(s.slice(0, len))) {
          hold = len;
          break;
        }
      }
    }
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { text: out, stopped: false };
  }

  /** At the end of generation: whatever was held back (no stop string completed). */
  flush(): string {
    const out = this.done ? '' : this.pending;
    this.pending = '';
    return out;
  }
}
