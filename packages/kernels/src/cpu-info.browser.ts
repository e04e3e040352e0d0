/** Browser build of ./cpu-info.ts: logical CPUs as the browser reports them (no /proc, no node:os). */
export function physicalCores(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n >= 1 ? n : 1;
}
