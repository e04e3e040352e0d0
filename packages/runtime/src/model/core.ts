import type { Kernels } from '@quant/kernels';
import type { AnyArchitecturePlugin, BaseHyperparameters } from '@quant/plugin-api';
import type { LoadedWeights } from './weights.js';

/** What sessions share with their model (internal). */
export interface ModelCore {
  kernels: Kernels;
  plugin: AnyArchitecturePlugin;
  hparams: BaseHyperparameters;
  weights: LoadedWeights;
  architectureOptions: Readonly<Record<string, unknown>>;
  /** Throws DISPOSED when the model was disposed. */
  assertAlive(): void;
}
