/**
 * Metrics, accumulated over an epoch (Keras semantics):
 * - `accuracy`: binary (threshold 0.5 per element), categorical (argmax of
 *   prediction = argmax of one-hot target) or sparse (argmax = class index),
 *   chosen by the loss;
 * - `precision`, `recall`, `f1`: per element at threshold 0.5 (binary, or
 *   one-hot targets of categorical models, micro-averaged);
 * - `auc`: exact ROC AUC over every element of the epoch (ties averaged);
 * - `mae`, `mse`.
 * Rows with weight 0 (padded steps) are skipped. Logit outputs (fused losses)
 * are turned into probabilities first.
 */
import { ValueError } from '../errors.js';

export type MetricName = 'accuracy' | 'acc' | 'precision' | 'recall' | 'f1' | 'auc' | 'mae' | 'mse';
export type TaskKind = 'regression' | 'binary' | 'categorical' | 'sparse';

export interface Batch {
  pred: Float32Array;
  targetF: Float32Array | null;
  targetI: Int32Array | null;
  rows: number;
  n: number;
  weights: Float32Array | null;
  /** 'sigmoid' | 'softmax' when `pred` holds logits */
  logits: 'sigmoid' | 'softmax' | null;
}

export interface Metric {
  readonly name: string;
  update(b: Batch): void;
  result(): number;
  reset(): void;
}

/** Probabilities of row `r` (converting logits). */
function probs(b: Batch, r: number, out: Float64Array): void {
  const { pred, n } = b;
  if (b.logits === 'softmax') {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, pred[r * n + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += out[j] = Math.exp(pred[r * n + j] - m);
    for (let j = 0; j < n; j++) out[j] /= s;
  } else if (b.logits === 'sigmoid') {
    for (let j = 0; j < n; j++) out[j] = 1 / (1 + Math.exp(-pred[r * n + j]));
  } else {
    for (let j = 0; j < n; j++) out[j] = pred[r * n + j];
  }
}

function target(b: Batch, r: number, j: number): number {
  if (b.targetI) return b.targetI[r] === j ? 1 : 0;
  return b.targetF![r * b.n + j];
}

function eachRow(b: Batch, f: (r: number, p: Float64Array) => void): void {
  const p = new Float64Array(b.n);
  for (let r = 0; r < b.rows; r++) {
    if (b.weights && b.weights[r] === 0) continue;
    probs(b, r, p);
    f(r, p);
  }
}

class Accuracy implements Metric {
  private hit = 0;
  private count = 0;
  constructor(
    readonly name: string,
    private readonly task: TaskKind,
  ) {}
  update(b: Batch): void {
    eachRow(b, (r, p) => {
      if (this.task === 'binary' || (this.task !== 'sparse' && b.n === 1)) {
        for (let j = 0; j < b.n; j++) {
          this.hit += (p[j] > 0.5 ? 1 : 0) === (target(b, r, j) > 0.5 ? 1 : 0) ? 1 : 0;
          this.count++;
        }
        return;
      }
      let bp = 0;
      let bt = 0;
      for (let j = 1; j < b.n; j++) {
        if (p[j] > p[bp]) bp = j;
        if (target(b, r, j) > target(b, r, bt)) bt = j;
      }
      this.hit += bp === bt ? 1 : 0;
      this.count++;
    });
  }
  result(): number {
    return this.count ? this.hit / this.count : 0;
  }
  reset(): void {
    this.hit = this.count = 0;
  }
}

class Confusion implements Metric {
  private tp = 0;
  private fp = 0;
  private fn = 0;
  constructor(
    readonly name: string,
    private readonly which: 'precision' | 'recall' | 'f1',
  ) {}
  update(b: Batch): void {
    eachRow(b, (r, p) => {
      for (let j = 0; j < b.n; j++) {
        const yp = p[j] > 0.5;
        const yt = target(b, r, j) > 0.5;
        if (yp && yt) this.tp++;
        else if (yp) this.fp++;
        else if (yt) this.fn++;
      }
    });
  }
  result(): number {
    const prec = this.tp + this.fp ? this.tp / (this.tp + this.fp) : 0;
    const rec = this.tp + this.fn ? this.tp / (this.tp + this.fn) : 0;
    if (this.which === 'precision') return prec;
    if (this.which === 'recall') return rec;
    return prec + rec ? (2 * prec * rec) / (prec + rec) : 0;
  }
  reset(): void {
    this.tp = this.fp = this.fn = 0;
  }
}

class Auc implements Metric {
  private scores: number[] = [];
  private labels: number[] = [];
  readonly name = 'auc';
  update(b: Batch): void {
    eachRow(b, (r, p) => {
      for (let j = 0; j < b.n; j++) {
        this.scores.push(p[j]);
        this.labels.push(target(b, r, j) > 0.5 ? 1 : 0);
      }
    });
  }
  /** Mann–Whitney U: P(score of a positive > score of a negative), ties counted ½. */
  result(): number {
    const n = this.scores.length;
    const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.scores[a] - this.scores[b]);
    let rankSum = 0;
    let pos = 0;
    let i = 0;
    while (i < n) {
      let j = i;
      while (j + 1 < n && this.scores[idx[j + 1]] === this.scores[idx[i]]) j++;
      const avgRank = (i + j) / 2 + 1;
      for (let k = i; k <= j; k++)
        if (this.labels[idx[k]]) {
          rankSum += avgRank;
          pos++;
        }
      i = j + 1;
    }
    const neg = n - pos;
    if (pos === 0 || neg === 0) return 0;
    return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
  }
  reset(): void {
    this.scores = [];
    this.labels = [];
  }
}

class ErrorMetric implements Metric {
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    private readonly squared: boolean,
  ) {}
  update(b: Batch): void {
    eachRow(b, (r, p) => {
      for (let j = 0; j < b.n; j++) {
        const d = p[j] - target(b, r, j);
        this.sum += this.squared ? d * d : Math.abs(d);
        this.count++;
      }
    });
  }
  result(): number {
    return this.count ? this.sum / this.count : 0;
  }
  reset(): void {
    this.sum = this.count = 0;
  }
}

export function makeMetric(name: unknown, task: TaskKind): Metric {
  switch (name) {
    case 'accuracy':
    case 'acc':
      if (task === 'regression')
        throw new ValueError(`metric "${name}" needs a classification loss (binary/categorical/sparse cross-entropy)`);
      return new Accuracy(name, task);
    case 'precision':
    case 'recall':
    case 'f1':
      if (task === 'regression') throw new ValueError(`metric "${name}" needs a classification loss`);
      return new Confusion(name, name);
    case 'auc':
      if (task === 'regression') throw new ValueError('metric "auc" needs a classification loss');
      return new Auc();
    case 'mae':
      return new ErrorMetric('mae', false);
    case 'mse':
      return new ErrorMetric('mse', true);
    default:
      throw new ValueError(`unknown metric ${JSON.stringify(name)}; expected accuracy, precision, recall, f1, auc, mae or mse`);
  }
}
