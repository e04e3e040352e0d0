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

/**
 * Backends that must load (comma-separated in QUANT_REQUIRE_BACKENDS, set by .ci/run): a test run
 * there fails instead of silently skipping a backend whose build broke.
 */
function requiredBackends(): Set<string> {
  return new Set(
    (process.env.QUANT_REQUIRE_BACKENDS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** Probes every backend and logs the skipped ones (throws for a required one that does not load). */
export async function availableBackends(label: string): Promise<Record<Backend, boolean>> {
  const out = {} as Record<Backend, boolean>;
  const required = requiredBackends();
  for (const b of BACKENDS) {
    const why = await backendUnavailable(b);
    out[b] = why === undefined;
    if (why && required.has(b))
      throw new Error(
        `[${label}] the ${b} backend is required (QUANT_REQUIRE_BACKENDS) but does not load: ${why}`,
      );
    if (why)
      console.warn(`[${label}] skipping the ${b} backend: @quant/kernels reports it unavailable (${why})`);
  }
  return out;
}
