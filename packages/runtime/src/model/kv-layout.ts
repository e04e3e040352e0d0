import type { AnyArchitecturePlugin, BaseHyperparameters, LayerMemory } from '@quant/plugin-api';
import { QuantRuntimeError } from '../errors.js';

/** How a model's sessions lay out their KV cache (from the plugin's `memory()` description). */
export interface KVLayout {
  /** Cache layers per session (layers that keep KV). */
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Model layer → cache layer (-1: no KV); undefined when every layer keeps KV. */
  layerMap: Int32Array | undefined;
}

/**
 * Reads the plugin's per-layer memory description (default: every layer keeps `nKvHeads` ×
 * `headDim`). Layers without memory take no cache; layers with memory must share one shape.
 */
export function kvLayout(
  plugin: AnyArchitecturePlugin,
  hparams: BaseHyperparameters,
  where: string,
): KVLayout {
  if (!plugin.memory) {
    return {
      layers: hparams.nLayers,
      kvHeads: hparams.nKvHeads,
      headDim: hparams.headDim,
      layerMap: undefined,
    };
  }
  const desc = plugin.memory(hparams);
  const list = desc?.layers;
  if (!Array.isArray(list) || list.length !== hparams.nLayers) {
    throw new QuantRuntimeError(
      'LOAD_FAILED',
      `Plugin "${plugin.name}": memory() must describe ${hparams.nLayers} layers (one entry per layer, null for none), got ${Array.isArray(list) ? list.length : typeof list} (${where}).`,
    );
  }
  let shape: LayerMemory | undefined;
  const map = new Int32Array(list.length).fill(-1);
  let layers = 0;
  list.forEach((m, il) => {
    if (m === null) return;
    const ok = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
    if (!m || !ok(m.kvHeads) || !ok(m.headDim)) {
      throw new QuantRuntimeError(
        'LOAD_FAILED',
        `Plugin "${plugin.name}": memory().layers[${il}] needs positive integer kvHeads and headDim (${where}).`,
      );
    }
    if (shape && (m.kvHeads !== shape.kvHeads || m.headDim !== shape.headDim)) {
      throw new QuantRuntimeError(
        'LOAD_FAILED',
        `Plugin "${plugin.name}": layer ${il} keeps ${m.kvHeads}×${m.headDim} KV but an earlier layer ${shape.kvHeads}×${shape.headDim}; ` +
          `quant's KV cache holds one shape per model today (${where}).`,
      );
    }
    shape ??= m;
    map[il] = layers++;
  });
  if (!shape) return { layers: 1, kvHeads: 1, headDim: 1, layerMap: map };
  const identity = layers === list.length;
  return { layers, kvHeads: shape.kvHeads, headDim: shape.headDim, layerMap: identity ? undefined : map };
}
