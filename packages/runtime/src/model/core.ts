import type { Kernels } from '@quant/kernels';
import type { AnyArchitecturePlugin, BaseHyperparameters } from '@quant/plugin-api';
import type { KVLayout } from './kv-layout.js';
import type { KvPool } from './kv-pool.js';
import type { Scheduler } from './scheduler.js';
import type { LoadedWeights } from './weights.js';

/** What sessions share with their model (internal). */
export interface ModelCore {
  kernels: Kernels;
  plugin: AnyArchitecturePlugin;
  hparams: BaseHyperparameters;
  weights: LoadedWeights;
  architectureOptions: Readonly<Record<string, unknown>>;
  /** The sessions' KV cache shape. */
  kv: KVLayout;
  /** Model layer → cache layer, when some layers keep no KV. */
  layerMap: Int32Array | undefined;
  /** KV caches of disposed sessions, for new sessions of the same shape. */
  kvPool: KvPool;
  /** Runs every session's evaluations (continuous batching). */
  scheduler: Scheduler;
  /** Throws DISPOSED when the model was disposed. */
  assertAlive(): void;
  /** The model's GGUF and architecture (saved sessions name the model they belong to). */
  file?: import('@quant/gguf').GGUFFile;
  architecture?: string;
}
