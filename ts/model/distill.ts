/**
 * Knowledge distillation: `distill({ teacher, student, x, y, temperature, alpha })`
 * trains a (smaller) student on the teacher's softened outputs plus the hard
 * labels, with the loss of Hinton et al. (2015):
 *
 * ```text
 * L = α·τ²·KL(softmax(z_t/τ) ‖ softmax(z_s/τ)) + (1 − α)·CE(y, softmax(z_s))
 * ```
 *
 * The teacher's probabilities are computed once (`teacher.predict`) and
 * softened as `p^(1/τ)` renormalised (= `softmax(z_t/τ)`); the loss and its
 * gradient run in the core next to the student's fused softmax
 * (`crate/src/loss.rs`, `DistillLogits`). Classification heads only: the
 * teacher and the student end with a softmax over the same classes, and `y`
 * holds class indices (per sample, or per step for sequence outputs).
 */
import { ShapeError, ValueError } from '../errors.js';
import { Tensor, tensor, type TensorLike } from '../tensor.js';
import type { Callback } from './callbacks.js';
import { DISTILLATION } from './losses.js';
import type { OptimizerLike } from './optimizers.js';
import type { History, Sequential } from './sequential.js';

export interface DistillOptions {
  /** A trained model with a softmax output (`Sequential` or `QuantizedModel`). */
  teacher: { predict(x: TensorLike, args?: { batchSize?: number }): Tensor };
  /** The model to train; its last layer must be a dense softmax over the same classes. */
  student: Sequential;
  x: TensorLike;
  /** Class indices: `[N]` or `[N, T]` like the outputs without their class axis. */
  y: TensorLike;
  /** τ > 0 (default 2): higher spreads the teacher's probability over more classes. */
  temperature?: number;
  /** Weight of the soft (teacher) term, in [0, 1] (default 0.5). */
  alpha?: number;
  optimizer?: OptimizerLike;
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  seed?: number;
  callbacks?: Callback[];
}

/** Train `student` on `teacher`'s softened outputs and the labels; returns the training history. */
export async function distill(o: DistillOptions): Promise<History> {
  const tau = o.temperature ?? 2;
  const alpha = o.alpha ?? 0.5;
  if (!(tau > 0 && Number.isFinite(tau))) throw new ValueError(`distill: temperature must be > 0; got ${tau}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new ValueError(`distill: alpha must be in [0, 1]; got ${alpha}`);
  const last = o.student.layers[o.student.layers.length - 1];
  if (last?.outputActivation !== 'softmax') throw new ValueError('distill: the student must end with a dense softmax layer');
  const x = o.x instanceof Tensor ? o.x : tensor(o.x);
  if (!o.student.built) o.student.build(o.student.layers[0].inputShape ?? x.shape.slice(1));
  const classes = last.outputShape![last.outputShape!.length - 1];
  const probs = o.teacher.predict(x, { batchSize: o.batchSize ?? 32 });
  const n = probs.shape[probs.shape.length - 1];
  if (classes !== n) throw new ShapeError(`distill: the teacher outputs ${n} classes but the student ${classes}`);
  const labels = o.y instanceof Tensor ? o.y : tensor(o.y, undefined, 'int32');
  const rows = probs.size / n;
  if (labels.size !== rows)
    throw new ShapeError(`distill: y holds ${labels.size} labels; the teacher's outputs have ${rows} rows of ${n} classes`);
  const target = new Float32Array(rows * (n + 3));
  const p = probs.data;
  for (let r = 0; r < rows; r++) {
    const c = labels.data[r];
    if (!(Number.isInteger(c) && c >= 0 && c < n)) throw new ValueError(`distill: label ${c} at ${r} is not a class index in [0, ${n})`);
    // softmax(z/τ) from softmax(z): p^(1/τ), renormalised (in f64, from the largest)
    let max = 0;
    for (let j = 0; j < n; j++) max = Math.max(max, p[r * n + j]);
    let sum = 0;
    const o0 = r * (n + 3);
    for (let j = 0; j < n; j++) {
      const v = p[r * n + j] > 0 ? (p[r * n + j] / max) ** (1 / tau) : 0;
      target[o0 + j] = v;
      sum += v;
    }
    for (let j = 0; j < n; j++) target[o0 + j] /= sum;
    target[o0 + n] = c;
    target[o0 + n + 1] = tau;
    target[o0 + n + 2] = alpha;
  }
  const y = new Tensor(target, [...probs.shape.slice(0, -1), n + 3]);
  o.student.compile({ optimizer: o.optimizer ?? 'adam', loss: DISTILLATION as never });
  return o.student.fit(x, y, {
    epochs: o.epochs ?? 1,
    batchSize: o.batchSize ?? 32,
    shuffle: o.shuffle ?? true,
    seed: o.seed,
    callbacks: o.callbacks,
  });
}
