/** The JSON that rebuilds a model: saved in its file's metadata, and what `toConfig()` returns. */
import type { LayerConfig } from '../layers/index.js';

export type { LayerConfig };

export interface ModelConfig {
  class: 'Sequential';
  name: string;
  inputShape: (number | null)[];
  layers: LayerConfig[];
  compile: { loss: string; metrics: string[]; optimizer: Record<string, unknown> } | null;
}
