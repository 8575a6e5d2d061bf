/** The JSON that rebuilds a model: saved in its file's metadata, and what `toConfig()` returns. */
import type { DType, Shape } from '../layers/base.js';
import type { LayerConfig } from '../layers/index.js';

export type { LayerConfig };

/** What `compile` chose, as saved (per output when there are several). */
export interface CompileConfig {
  loss: string | string[];
  metrics: string[] | string[][];
  lossWeights?: number[];
  optimizer: Record<string, unknown>;
}

/** A chain of layers (`Sequential`). */
export interface SequentialConfig {
  class: 'Sequential';
  name: string;
  inputShape: Shape;
  layers: LayerConfig[];
  compile: CompileConfig | null;
}

/** A tensor of a graph: a model input, or an output of a node (by their indices). */
export type TensorRef = { input: number } | { node: number; output: number };

/** A graph of layers (`Model`): each layer once, and its applications in topological order. */
export interface GraphConfig {
  class: 'Model';
  name: string;
  inputs: { name: string; shape: Shape; dtype: DType }[];
  layers: LayerConfig[];
  /** Each application: which layer, on which tensors. */
  nodes: { layer: number; inputs: TensorRef[] }[];
  outputs: TensorRef[];
  compile: CompileConfig | null;
}

export type ModelConfig = SequentialConfig | GraphConfig;
