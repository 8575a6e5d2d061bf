/**
 * Training callbacks (Keras-style). Any hook may be async; `fit` awaits it.
 * Set `model.stopTraining = true` from a hook to stop after the current batch.
 */
import { ValueError } from '../errors.js';

export type Logs = Record<string, number>;

export interface Callback {
  onTrainBegin?(logs: Logs): void | Promise<void>;
  onTrainEnd?(logs: Logs): void | Promise<void>;
  onEpochBegin?(epoch: number, logs: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  onBatchBegin?(batch: number, logs: Logs): void | Promise<void>;
  onBatchEnd?(batch: number, logs: Logs): void | Promise<void>;
  /** Set by `fit` before training starts. */
  setModel?(model: CallbackModel): void;
}

/** What callbacks may touch on the model. */
export interface CallbackModel {
  stopTraining: boolean;
  getWeightsFlat(): Float32Array;
  setWeightsFlat(w: Float32Array): void;
}

export interface EarlyStoppingArgs {
  monitor?: string;
  minDelta?: number;
  patience?: number;
  mode?: 'auto' | 'min' | 'max';
  /** Put back the weights of the best epoch when stopping (and at the end). */
  restoreBestWeights?: boolean;
}

export class EarlyStopping implements Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly mode: 'min' | 'max';
  readonly restoreBestWeights: boolean;
  stoppedEpoch = -1;
  bestEpoch = -1;
  private best = Infinity;
  private wait = 0;
  private bestWeights: Float32Array | null = null;
  private model: CallbackModel | null = null;

  constructor(args: EarlyStoppingArgs = {}) {
    this.monitor = args.monitor ?? 'val_loss';
    this.minDelta = Math.abs(args.minDelta ?? 0);
    this.patience = args.patience ?? 0;
    const auto = /acc|auc|precision|recall|f1/.test(this.monitor) ? 'max' : 'min';
    this.mode = !args.mode || args.mode === 'auto' ? auto : args.mode;
    this.restoreBestWeights = args.restoreBestWeights ?? false;
  }

  setModel(m: CallbackModel): void {
    this.model = m;
  }

  onTrainBegin(): void {
    this.best = Infinity;
    this.wait = 0;
    this.stoppedEpoch = -1;
    this.bestEpoch = -1;
    this.bestWeights = null;
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const v = logs[this.monitor];
    if (v === undefined) {
      throw new ValueError(`earlyStopping: "${this.monitor}" is not in the logs (${Object.keys(logs).join(', ')})`);
    }
    const score = this.mode === 'min' ? v : -v;
    if (score < this.best - this.minDelta) {
      this.best = score;
      this.wait = 0;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights && this.model) this.bestWeights = this.model.getWeightsFlat();
      return;
    }
    this.wait++;
    if (this.wait > this.patience && this.model) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
    }
  }

  onTrainEnd(): void {
    if (this.restoreBestWeights && this.bestWeights && this.model) this.model.setWeightsFlat(this.bestWeights);
  }
}

export const callbacks = {
  earlyStopping: (args?: EarlyStoppingArgs) => new EarlyStopping(args),
};
