/**
 * Magnitude pruning: `prune(model, { sparsity, schedule })`.
 *
 * The recurrent (`weight_ih`, `weight_hh`) and dense weight matrices each keep
 * their largest-magnitude entries; the rest are set to zero and held there by
 * a mask. Without a schedule the model is pruned at once (one shot, e.g.
 * after training); with one, the sparsity rises during training along the
 * cubic schedule of Zhu & Gupta (2017, "To prune, or not to prune"):
 *
 * ```text
 * s(t) = s_final · (1 − (1 − (t − t0) / (t1 − t0))³)   for t0 ≤ t ≤ t1, updated every `frequency` steps
 * ```
 *
 * The returned `Pruner` is a `fit` callback: after every optimizer step it
 * multiplies the weights by the masks again, so training (momentum included)
 * never revives a pruned weight. `model.save({ sparse: true })` then stores
 * each pruned matrix as a bitmask plus its non-zero values, so the file
 * shrinks with the sparsity.
 */
import { ValueError } from '../errors.js';
import type { Layer } from '../layers/base.js';
import type { Callback } from './callbacks.js';
import type { Sequential } from './sequential.js';

export interface PruneSchedule {
  /** Optimizer step at which pruning starts (default 0). */
  startStep?: number;
  /** Step at which the final sparsity is reached. */
  endStep: number;
  /** Steps between mask updates (default 100). */
  frequency?: number;
}

export interface PruneOptions {
  /** Fraction of zeros in each pruned matrix, in [0, 1). */
  sparsity: number;
  /** Gradual pruning during training; without it the model is pruned at once. */
  schedule?: PruneSchedule;
}

interface Target {
  name: string;
  layer: Layer;
  param: string;
  /** elements of the matrix */
  size: number;
  mask: Uint8Array | null;
}

export class Pruner implements Callback {
  private readonly targets: Target[] = [];
  private step = 0;
  private current = 0;

  constructor(
    private readonly model: Sequential,
    readonly finalSparsity: number,
    private readonly schedule: PruneSchedule | null,
  ) {
    // the layers' weight matrices (`ParamSpec.matrix`), not biases, norms or embeddings
    for (const [name, { layer, spec }] of model.arena.entries()) {
      if (spec.matrix) this.targets.push({ name, layer, param: spec.name, size: spec.shape.reduce((a, b) => a * b, 1), mask: null });
    }
    if (!this.targets.length) throw new ValueError(`prune: ${model.name} has no recurrent or dense weight matrices`);
    if (!schedule) this.update(finalSparsity);
    else if ((schedule.startStep ?? 0) === 0) this.update(this.target(0));
  }

  /** The sparsity the schedule asks for after `t` optimizer steps. */
  target(t: number): number {
    if (!this.schedule) return this.finalSparsity;
    const t0 = this.schedule.startStep ?? 0;
    const t1 = this.schedule.endStep;
    if (t < t0) return 0;
    if (t >= t1) return this.finalSparsity;
    const r = 1 - (t - t0) / (t1 - t0);
    return this.finalSparsity * (1 - r * r * r);
  }

  /** `fit` callback: after each step, update the masks when the schedule says so, then re-apply them. */
  onBatchEnd(): void {
    this.step++;
    const s = this.schedule;
    if (s) {
      const t0 = s.startStep ?? 0;
      const due = this.step >= t0 && this.step <= s.endStep && ((this.step - t0) % (s.frequency ?? 100) === 0 || this.step === s.endStep);
      if (due) {
        this.update(this.target(this.step));
        return;
      }
    }
    this.apply();
  }

  /** Re-compute every mask for `sparsity` from the current magnitudes (pruned weights stay pruned), and apply. */
  update(sparsity: number): void {
    if (!(sparsity >= 0 && sparsity < 1)) throw new ValueError(`prune: sparsity must be in [0, 1); got ${sparsity}`);
    const w = this.model.arena.params.view();
    for (const t of this.targets) {
      const off = this.model.arena.offset(t.layer, t.param);
      const n = t.size;
      const k = Math.floor(sparsity * n);
      const mask = new Uint8Array(n).fill(1);
      if (k > 0) {
        // the k smallest magnitudes (ties broken by position, so exactly k) are
        // pruned; weights pruned before sort first
        const abs = new Float32Array(n);
        for (let i = 0; i < n; i++) abs[i] = t.mask && !t.mask[i] ? -1 : Math.abs(w[off + i]);
        const sorted = Array.from({ length: n }, (_, i) => i).sort((a, b) => abs[a] - abs[b] || a - b);
        for (let i = 0; i < k; i++) mask[sorted[i]] = 0;
      }
      t.mask = mask;
    }
    this.current = sparsity;
    this.apply();
  }

  /** Zero every masked weight (after anything that may have changed them). */
  apply(): void {
    const w = this.model.arena.params.view();
    for (const t of this.targets) {
      if (!t.mask) continue;
      const off = this.model.arena.offset(t.layer, t.param);
      const m = t.mask;
      for (let i = 0; i < m.length; i++) if (!m[i]) w[off + i] = 0;
    }
    this.model.markWeightsChanged();
  }

  /** The sparsity the masks currently enforce. */
  get sparsity(): number {
    return this.current;
  }

  /** Measured fraction of zeros in each pruned matrix. */
  report(): Record<string, number> {
    const w = this.model.arena.params.view();
    const out: Record<string, number> = {};
    for (const t of this.targets) {
      const off = this.model.arena.offset(t.layer, t.param);
      let z = 0;
      for (let i = 0; i < t.size; i++) if (w[off + i] === 0) z++;
      out[t.name] = z / t.size;
    }
    return out;
  }
}

/**
 * Prune a model's weight matrices by magnitude. Pass the returned `Pruner` to
 * `fit({ callbacks })` to keep the pruned weights at zero while training (and
 * to follow `schedule` when given).
 */
export function prune(model: Sequential, opts: PruneOptions): Pruner {
  if (!opts || !(opts.sparsity >= 0 && opts.sparsity < 1)) throw new ValueError(`prune: sparsity must be in [0, 1); got ${opts?.sparsity}`);
  const s = opts.schedule;
  if (s) {
    const t0 = s.startStep ?? 0;
    if (!(Number.isInteger(t0) && t0 >= 0 && Number.isInteger(s.endStep) && s.endStep > t0))
      throw new ValueError(`prune: schedule needs integers 0 ≤ startStep < endStep; got ${t0}, ${s.endStep}`);
    if (s.frequency !== undefined && !(Number.isInteger(s.frequency) && s.frequency >= 1))
      throw new ValueError(`prune: schedule.frequency must be a positive integer; got ${s.frequency}`);
  }
  model.build();
  return new Pruner(model, opts.sparsity, s ?? null);
}
