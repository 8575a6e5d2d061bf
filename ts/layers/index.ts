/**
 * The layer kinds: the one list a new kind joins, the `layers` namespace of
 * Keras-style factories built from it, and the registry by class name that
 * loaders and importers use (as tfjs-layers' `registerClass` /
 * `deserialize`).
 */
import { FormatError } from '../errors.js';
import type { KerasMapping, Layer, LayerKind, TorchMapping } from './base.js';
import { denseKind } from './dense.js';
import { dropoutKind } from './dropout.js';
import { embeddingKind } from './embedding.js';
import { lastStepKind } from './last-step.js';
import { layerNormKind } from './layer-norm.js';
import { recurrentKind } from './recurrent.js';

/** Every layer kind, one line each. */
const KINDS = [denseKind, dropoutKind, embeddingKind, lastStepKind, layerNormKind, recurrentKind] as const;

type Factories<K> = K extends { factories: infer F } ? F : never;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** Keras-style factories: `layers.dense({ units })`, `layers.lstm({ units, returnSequences })`, … */
export const layers = Object.freeze(Object.assign({}, ...KINDS.map((k) => k.factories))) as UnionToIntersection<
  Factories<(typeof KINDS)[number]>
>;

const byClass = new Map<string, LayerKind>();
for (const k of KINDS as readonly LayerKind[]) for (const c of k.classNames) byClass.set(c, k);

/** A layer's saved form: its class name and `getConfig()`. */
export interface LayerConfig {
  className: string;
  config: Record<string, unknown>;
}

/** Rebuild a layer from its `className` and `getConfig()`. */
export function layerFromConfig(c: LayerConfig): Layer {
  const kind = byClass.get(c?.className);
  if (!kind) throw new FormatError(`model file: unknown layer class ${JSON.stringify(c?.className)}`);
  return kind.fromConfig(c.className, { ...(c.config ?? {}) });
}

/** The kind that reads Keras class `className`, or undefined. */
export function kerasMapping(className: string): KerasMapping | undefined {
  for (const k of KINDS as readonly LayerKind[]) if (k.keras?.classNames.includes(className)) return k.keras;
  return undefined;
}

/** Every kind's PyTorch mapping. */
export function torchMappings(): TorchMapping[] {
  return (KINDS as readonly LayerKind[]).flatMap((k) => (k.torch ? [k.torch] : []));
}

export { Layer, type Shape, type Activation, type LayerArgs, type Regularizer } from './base.js';
export { Dense, type DenseArgs, type DenseActivation } from './dense.js';
export { Dropout, type DropoutArgs } from './dropout.js';
export { Embedding, type EmbeddingArgs } from './embedding.js';
export { LastStep } from './last-step.js';
export { LayerNormalization, type LayerNormArgs } from './layer-norm.js';
export { Recurrent, type RecurrentArgs, type MergeMode, type BidirectionalArgs } from './recurrent.js';
