import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Physical CPU cores (Linux: distinct (physical id, core id) pairs in /proc/cpuinfo), else logical CPUs. */
export function physicalCores(): number {
  const logical = availableParallelism();
  if (process.platform === 'linux') {
    try {
      const text = readFileSync('/proc/cpuinfo', 'utf8');
      const cores = new Set<string>();
      let phys = '0';
      for (const line of text.split('\n')) {
        const m = /^(physical id|core id)\s*:\s*(\d+)/.exec(line);
        if (!m) continue;
        if (m[1] === 'physical id') phys = m[2] ?? '0';
        else cores.add(`${phys}:${m[2]}`);
      }
      if (cores.size > 0) return Math.max(1, Math.min(cores.size, logical));
    } catch {
      // fall through
    }
  }
  return Math.max(1, logical);
}
