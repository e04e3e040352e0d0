/** Which kernel backends this machine can run; tests are parameterized over them. */
import { loadKernels } from '@quant/kernels';

export type Backend = 'native' | 'wasm';
export const BACKENDS: readonly Backend[] = ['native', 'wasm'];

const probes = new Map<Backend, Promise<string | undefined>>();

/** undefined when the backend loads, else why it cannot. */
export function backendUnavailable(b: Backend): Promise<string | undefined> {
  let p = probes.get(b);
  if (!p) {
    p = loadKernels({ backend: b, threads: 1 }).then(
      (k) => {
        k.dispose();
        return undefined;
      },
      (e: Error) => e.message || String(e),
    );
    probes.set(b, p);
  }
  return p;
}

/** Probes every backend and logs the skipped ones. */
export async function availableBackends(label: string): Promise<Record<Backend, boolean>> {
  const out = {} as Record<Backend, boolean>;
  for (const b of BACKENDS) {
    const why = await backendUnavailable(b);
    out[b] = why === undefined;
    if (why)
      console.warn(`[${label}] skipping the ${b} backend: @quant/kernels reports it unavailable (${why})`);
  }
  return out;
}
