/**
 * Optimizers (Keras names and defaults) and learning-rate schedules. The
 * update itself is one wasm call over the model's flat parameter buffer
 * (`crate/src/optim.rs`), gradient clipping included.
 */
import { FormatError, ValueError } from '../errors.js';
import { HYPER_FIELDS, Optimizer as OptimizerCode } from '../runtime/contract.js';

/** Index of each hyper-parameter in the block the core reads (`optim::Hyper`). */
const H = Object.fromEntries(HYPER_FIELDS.map((f, i) => [f, i])) as Record<(typeof HYPER_FIELDS)[number], number>;

export type Schedule = (step: number) => number;

export interface OptimizerOptions {
  learningRate?: number | Schedule;
  /** Rescale all gradients so their global L2 norm is at most this. */
  clipNorm?: number;
  /** Clamp every gradient element to ±clipValue. */
  clipValue?: number;
}

export interface Optimizer {
  readonly kind: 'sgd' | 'adam' | 'adamw' | 'rmsprop';
  readonly code: number;
  readonly learningRate: number | Schedule;
  /** The hyper-parameter block of `optim::Hyper` for 1-based `step`. */
  hyper(step: number): Float32Array;
  /** State buffers the update needs (0, 1 or 2 of the parameter size). */
  readonly stateBuffers: number;
  getConfig(): Record<string, unknown>;
}

function positive(what: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!(typeof x === 'number' && Number.isFinite(x) && x >= 0))
    throw new ValueError(`${what} must be a finite number ≥ 0; got ${String(v)}`);
  return x;
}

function lrAt(lr: number | Schedule, step: number): number {
  const v = typeof lr === 'function' ? lr(step - 1) : lr;
  if (!(Number.isFinite(v) && v >= 0)) throw new ValueError(`learning rate at step ${step} is ${v}; it must be a finite number ≥ 0`);
  return v;
}

function make(
  kind: Optimizer['kind'],
  code: OptimizerCode,
  opts: OptimizerOptions,
  dfltLr: number,
  fields: {
    beta1?: number;
    beta2?: number;
    eps?: number;
    momentum?: number;
    rho?: number;
    weightDecay?: number;
    nesterov?: boolean;
    centered?: boolean;
  },
  stateBuffers: number,
  config: Record<string, unknown>,
): Optimizer {
  const learningRate = opts.learningRate ?? dfltLr;
  if (typeof learningRate !== 'function') positive(`${kind}: learningRate`, learningRate, dfltLr);
  const clipNorm = positive(`${kind}: clipNorm`, opts.clipNorm, 0);
  const clipValue = positive(`${kind}: clipValue`, opts.clipValue, 0);
  const h = new Float32Array(HYPER_FIELDS.length);
  return {
    kind,
    code,
    learningRate,
    stateBuffers,
    hyper(step: number) {
      h[H.lr] = lrAt(learningRate, step);
      h[H.beta1] = fields.beta1 ?? 0;
      h[H.beta2] = fields.beta2 ?? 0;
      h[H.eps] = fields.eps ?? 0;
      h[H.momentum] = fields.momentum ?? 0;
      h[H.rho] = fields.rho ?? 0;
      h[H.weight_decay] = fields.weightDecay ?? 0;
      h[H.step] = step;
      h[H.nesterov] = fields.nesterov ? 1 : 0;
      h[H.centered] = fields.centered ? 1 : 0;
      h[H.clip_norm] = clipNorm;
      h[H.clip_value] = clipValue;
      return h;
    },
    getConfig: () => ({ kind, learningRate: typeof learningRate === 'number' ? learningRate : 'schedule', clipNorm, clipValue, ...config }),
  };
}

export const optimizers = {
  /** SGD with optional (Nesterov) momentum; Keras default learning rate 0.01. */
  sgd(o: OptimizerOptions & { momentum?: number; nesterov?: boolean } = {}): Optimizer {
    const momentum = positive('sgd: momentum', o.momentum, 0);
    return make('sgd', OptimizerCode.Sgd, o, 0.01, { momentum, nesterov: o.nesterov }, momentum > 0 ? 1 : 0, {
      momentum,
      nesterov: !!o.nesterov,
    });
  },
  /** Adam (Keras: learning rate 0.001, β1 0.9, β2 0.999, ε 1e-7). */
  adam(o: OptimizerOptions & { beta1?: number; beta2?: number; epsilon?: number } = {}): Optimizer {
    const f = {
      beta1: positive('adam: beta1', o.beta1, 0.9),
      beta2: positive('adam: beta2', o.beta2, 0.999),
      eps: positive('adam: epsilon', o.epsilon, 1e-7),
    };
    return make('adam', OptimizerCode.Adam, o, 0.001, f, 2, f);
  },
  /** AdamW: Adam with decoupled weight decay (Keras default 0.004). */
  adamw(o: OptimizerOptions & { beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number } = {}): Optimizer {
    const f = {
      beta1: positive('adamw: beta1', o.beta1, 0.9),
      beta2: positive('adamw: beta2', o.beta2, 0.999),
      eps: positive('adamw: epsilon', o.epsilon, 1e-7),
      weightDecay: positive('adamw: weightDecay', o.weightDecay, 0.004),
    };
    return make('adamw', OptimizerCode.AdamW, o, 0.001, f, 2, f);
  },
  /** RMSprop (Keras: learning rate 0.001, ρ 0.9, ε 1e-7). */
  rmsprop(o: OptimizerOptions & { rho?: number; momentum?: number; epsilon?: number; centered?: boolean } = {}): Optimizer {
    const f = {
      rho: positive('rmsprop: rho', o.rho, 0.9),
      momentum: positive('rmsprop: momentum', o.momentum, 0),
      eps: positive('rmsprop: epsilon', o.epsilon, 1e-7),
      centered: !!o.centered,
    };
    if (f.centered && f.momentum > 0) throw new ValueError('rmsprop: centered with momentum is not supported');
    return make('rmsprop', OptimizerCode.RmsProp, o, 0.001, f, 1 + (f.centered || f.momentum > 0 ? 1 : 0), f);
  },
};

export type OptimizerLike = Optimizer | 'sgd' | 'adam' | 'adamw' | 'rmsprop';

export function resolveOptimizer(o: OptimizerLike): Optimizer {
  if (typeof o === 'string') {
    const f = optimizers[o as keyof typeof optimizers];
    if (!f) throw new ValueError(`unknown optimizer "${o}"; expected sgd, adam, adamw or rmsprop (or optimizers.x({...}))`);
    return f();
  }
  if (!o || typeof o.hyper !== 'function') throw new ValueError('optimizer must be a name or an optimizers.x({...}) object');
  return o;
}

/** Learning-rate schedules (Keras definitions); `step` counts from 0. */
export const schedules = {
  exponentialDecay({
    initialLearningRate,
    decaySteps,
    decayRate,
    staircase = false,
  }: {
    initialLearningRate: number;
    decaySteps: number;
    decayRate: number;
    staircase?: boolean;
  }): Schedule {
    return (step) => {
      const p = step / decaySteps;
      return initialLearningRate * decayRate ** (staircase ? Math.floor(p) : p);
    };
  },
  cosineDecay({
    initialLearningRate,
    decaySteps,
    alpha = 0,
  }: {
    initialLearningRate: number;
    decaySteps: number;
    alpha?: number;
  }): Schedule {
    return (step) => {
      const s = Math.min(step, decaySteps);
      const cos = 0.5 * (1 + Math.cos((Math.PI * s) / decaySteps));
      return initialLearningRate * ((1 - alpha) * cos + alpha);
    };
  },
  piecewiseConstant({ boundaries, values }: { boundaries: number[]; values: number[] }): Schedule {
    if (values.length !== boundaries.length + 1) throw new ValueError('piecewiseConstant: values must have one more entry than boundaries');
    return (step) => {
      let i = 0;
      while (i < boundaries.length && step > boundaries[i]) i++;
      return values[i];
    };
  },
};

/** The optimizer a saved `getConfig()` describes; null for a learning-rate schedule (a function is not serialisable). */
export function optimizerFromConfig(c: Record<string, unknown>): Optimizer | null {
  if (typeof c.learningRate !== 'number') return null;
  const common = {
    learningRate: c.learningRate,
    clipNorm: (c.clipNorm as number) || undefined,
    clipValue: (c.clipValue as number) || undefined,
  };
  switch (c.kind) {
    case 'sgd':
      return optimizers.sgd({ ...common, momentum: c.momentum as number, nesterov: c.nesterov as boolean });
    case 'adam':
      return optimizers.adam({ ...common, beta1: c.beta1 as number, beta2: c.beta2 as number, epsilon: c.eps as number });
    case 'adamw':
      return optimizers.adamw({
        ...common,
        beta1: c.beta1 as number,
        beta2: c.beta2 as number,
        epsilon: c.eps as number,
        weightDecay: c.weightDecay as number,
      });
    case 'rmsprop':
      return optimizers.rmsprop({
        ...common,
        rho: c.rho as number,
        momentum: c.momentum as number,
        epsilon: c.eps as number,
        centered: c.centered as boolean,
      });
    default:
      throw new FormatError(`model file: unknown optimizer ${JSON.stringify(c.kind)}`);
  }
}
