/**
 * Loss names (Keras) and how they map onto the core's loss kernels. When the
 * model's last layer is a dense sigmoid/softmax and the loss is the matching
 * cross-entropy, the activation is fused into the loss (stable for any
 * logits): the layer emits logits while training and evaluating.
 */
import { ValueError } from '../errors.js';
import { Loss } from '../runtime/contract.js';

export type LossName =
  | 'mse'
  | 'meanSquaredError'
  | 'mae'
  | 'meanAbsoluteError'
  | 'binaryCrossentropy'
  | 'categoricalCrossentropy'
  | 'sparseCategoricalCrossentropy';

const CANON: Record<LossName, 'mse' | 'mae' | 'bce' | 'cce' | 'scce'> = {
  mse: 'mse',
  meanSquaredError: 'mse',
  mae: 'mae',
  meanAbsoluteError: 'mae',
  binaryCrossentropy: 'bce',
  categoricalCrossentropy: 'cce',
  sparseCategoricalCrossentropy: 'scce',
};

export interface ResolvedLoss {
  name: LossName;
  /** the core's loss kernel */
  kind: Loss;
  sparse: boolean;
  /** the last layer emits logits and the activation is inside the loss */
  fused: 'sigmoid' | 'softmax' | null;
  canonical: 'mse' | 'mae' | 'bce' | 'cce' | 'scce' | 'distill';
  /** f32 target values per row of `n` outputs */
  targetWidth(n: number): number;
}

/**
 * @internal The distillation loss (`distill()` compiles students with it):
 * target rows `[teacher probabilities at τ (n), class, τ, α]`.
 */
export const DISTILLATION = 'distillation';

export function resolveLoss(name: unknown, lastActivation: string | null): ResolvedLoss {
  const width = (n: number) => n;
  if (name === DISTILLATION) {
    if (lastActivation !== 'softmax') throw new ValueError('distillation: the student must end with a dense softmax layer');
    return {
      name: name as LossName,
      canonical: 'distill',
      kind: Loss.DistillLogits,
      sparse: false,
      fused: 'softmax',
      targetWidth: (n) => n + 3,
    };
  }
  if (typeof name !== 'string' || !(name in CANON)) {
    throw new ValueError(`unknown loss ${JSON.stringify(name)}; expected one of ${Object.keys(CANON).join(', ')}`);
  }
  const c = CANON[name as LossName];
  const base = { name: name as LossName, canonical: c, targetWidth: c === 'scce' ? () => 1 : width };
  switch (c) {
    case 'mse':
      return { ...base, kind: Loss.Mse, sparse: false, fused: null };
    case 'mae':
      return { ...base, kind: Loss.Mae, sparse: false, fused: null };
    case 'bce':
      return lastActivation === 'sigmoid'
        ? { ...base, kind: Loss.BceLogits, sparse: false, fused: 'sigmoid' }
        : { ...base, kind: Loss.Bce, sparse: false, fused: null };
    case 'cce':
      return lastActivation === 'softmax'
        ? { ...base, kind: Loss.CceLogits, sparse: false, fused: 'softmax' }
        : { ...base, kind: Loss.Cce, sparse: false, fused: null };
    case 'scce':
      return lastActivation === 'softmax'
        ? { ...base, kind: Loss.SparseCceLogits, sparse: true, fused: 'softmax' }
        : { ...base, kind: Loss.SparseCce, sparse: true, fused: null };
  }
}
