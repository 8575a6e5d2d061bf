/**
 * The layer kinds: the one list a new kind joins, the `layers` namespace of
 * Keras-style factories built from it, and the registry by class name that
 * loaders and importers use (as tfjs-layers' `registerClass` /
 * `deserialize`).
 */
import { FormatError } from '../errors.js';
import { attentionKind } from './attention.js';
import type { KerasMapping, Layer, LayerKind, TorchMapping } from './base.js';
import { conv1dKind } from './conv1d.js';
import { denseKind } from './dense.js';
import { dropoutKind } from './dropout.js';
import { embeddingKind } from './embedding.js';
import { lastStepKind } from './last-step.js';
import { layerNormKind } from './layer-norm.js';
import { maskingKind } from './masking.js';
import { mergeKind } from './merge.js';
import { multiHeadAttentionKind } from './multi-head-attention.js';
import { poolingKind } from './pooling.js';
import { recurrentKind } from './recurrent.js';
import { repeatVectorKind } from './repeat-vector.js';
import { timeDistributedKind } from './time-distributed.js';

/** Every layer kind, one line each. */
const KINDS = [
  attentionKind,
  conv1dKind,
  denseKind,
  dropoutKind,
  embeddingKind,
  lastStepKind,
  layerNormKind,
  maskingKind,
  mergeKind,
  multiHeadAttentionKind,
  poolingKind,
  recurrentKind,
  repeatVectorKind,
  timeDistributedKind,
] as const;

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
  return kind.fromConfig(c.className, { ...(c.config ?? {}) }, { fromConfig: layerFromConfig });
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

export { Layer, type Shape, type Activation, type LayerArgs, type Regularizer, input, SymbolicTensor, type DType } from './base.js';
export { AdditiveAttention, type AdditiveAttentionArgs, Attention, type AttentionArgs, type AttentionCallArgs } from './attention.js';
export { Conv1d, type Conv1dArgs, type ConvActivation, type ConvPadding } from './conv1d.js';
export { Dense, type DenseArgs, type DenseActivation } from './dense.js';
export { Dropout, type DropoutArgs } from './dropout.js';
export { Embedding, type EmbeddingArgs } from './embedding.js';
export { LastStep } from './last-step.js';
export { LayerNormalization, type LayerNormArgs } from './layer-norm.js';
export { Masking, type MaskingArgs } from './masking.js';
export { Concatenate, type ConcatenateArgs, Merge, type MergeArgs } from './merge.js';
export { MultiHeadAttention, type MultiHeadAttentionArgs } from './multi-head-attention.js';
export { GlobalPooling1d, Pooling1d, type Pooling1dArgs } from './pooling.js';
export { RepeatVector, type RepeatVectorArgs } from './repeat-vector.js';
export { TimeDistributed, type TimeDistributedArgs } from './time-distributed.js';
export { Recurrent, type RecurrentArgs, type MergeMode, type BidirectionalArgs } from './recurrent.js';
