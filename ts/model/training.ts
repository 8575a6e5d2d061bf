/**
 * The training loop, evaluation and batch prediction over a network whose
 * parameters live in one arena, with any number of inputs and outputs (one
 * loss per output, weighted).
 *
 * One training step: batch → input buffers (one copy per sample) → the
 * network's forward (one wasm call per node) → each output's loss with its
 * gradient (one call each; sigmoid or softmax fused when they meet a
 * cross-entropy) → the network's backward (one call per node) → one
 * optimizer call per run of trainable parameters.
 */
import { ValueError } from '../errors.js';
import type { Activation, Buffers, StepInfo } from '../layers/base.js';
import { runtime } from '../runtime/init.js';
import type { WasmArray } from '../runtime/memory.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { Random } from '../util/random.js';
import type { ParamArena } from './arena.js';
import type { Callback, Logs } from './callbacks.js';
import { type Data, indices, inputBatch, positiveInt, shuffleInPlace, splitData, targetBatch } from './data.js';
import type { ResolvedLoss } from './losses.js';
import { type Metric, type MetricName, makeMetric, type TaskKind } from './metrics.js';
import type { Optimizer } from './optimizers.js';

export interface FitArgs {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Fraction of the data (taken from the end, before shuffling) held out for validation. */
  validationSplit?: number;
  validationData?: [unknown, unknown];
  callbacks?: Callback[];
  /** Seeds shuffling and dropout; the same seed gives bit-identical training in the same runtime. */
  seed?: number;
  /** What to do when the loss becomes NaN or infinite (default 'throw'). */
  onNanLoss?: 'throw' | 'skip' | 'stop';
  /** Print one line per epoch (default 0). */
  verbose?: 0 | 1;
  initialEpoch?: number;
  /** Yield to the event loop at least this often (ms) so pages stay responsive (default 50). */
  yieldEveryMs?: number;
}

export type { TensorLike };

export interface History {
  epoch: number[];
  history: Record<string, number[]>;
}

/** What the loop needs of a model: its forward and backward, its parameters, its buffers. */
export interface Network {
  readonly name: string;
  readonly arena: ParamArena;
  /** The model's reusable buffers (inputs, targets, loss gradients). */
  readonly bufs: Buffers;
  /** Set (e.g. by a callback) to stop `fit` after the current batch. */
  stopTraining: boolean;
  /** Whether a layer carries state between batches (batches then stay in order). */
  readonly stateful: boolean;
  /** The outputs for the inputs (one activation each, in order). */
  forward(xs: Activation[], step: StepInfo): Activation[];
  /** Backward from the outputs' gradients (null: an output without a loss); parameter gradients accumulate in the arena. */
  backward(dys: (WasmArray | null)[]): void;
  /** After the parameters changed: layers re-pack, sessions see a new version. */
  paramsChanged(): void;
  resetStates(): void;
  /** A callback's model (`Callback.setModel`). */
  readonly callbackTarget: unknown;
}

/** One output's part of `compile`: its loss, the loss's weight in the total, its metrics. */
export interface OutputTraining {
  /** The output's name (its layer's); history keys are `<name>_loss` etc. when there are several. */
  name: string;
  /** Which of the model's outputs (an output without a loss is computed but not trained, and has no entry). */
  index: number;
  loss: ResolvedLoss;
  weight: number;
  metricNames: MetricName[];
}

/** What `compile` chose: the optimizer and its step count, and per output its loss and metrics. */
export class Training {
  /** Optimizer steps taken (Adam's bias correction counts from 1). */
  step = 0;
  constructor(
    readonly optimizer: Optimizer,
    readonly outputs: OutputTraining[],
  ) {}

  /** The first output's loss (single-output models). */
  get loss(): ResolvedLoss {
    return this.outputs[0].loss;
  }

  task(o: OutputTraining): TaskKind {
    const c = o.loss.canonical;
    return c === 'bce' ? 'binary' : c === 'cce' ? 'categorical' : c === 'scce' ? 'sparse' : 'regression';
  }

  /** Fresh metrics, per output; names prefixed with the output's when there are several. */
  metrics(): Metric[][] {
    const multi = this.outputs.length > 1;
    return this.outputs.map((o) =>
      o.metricNames.map((m) => {
        const metric = makeMetric(m, this.task(o));
        return multi ? prefixed(metric, `${o.name}_${metric.name}`) : metric;
      }),
    );
  }
}

function prefixed(m: Metric, name: string): Metric {
  return { name, update: (b) => m.update(b), result: () => m.result(), reset: () => m.reset() };
}

function forwardBatch(net: Network, xs: Tensor[], order: Int32Array, start: number, count: number, step: StepInfo): Activation[] {
  return net.forward(
    xs.map((x, i) => inputBatch(x, i, order, start, count, net.bufs)),
    step,
  );
}

/** One batch: forward, each output's loss, backward, and (with `update`) the optimizer step. */
export function trainBatch(
  net: Network,
  tr: Training,
  data: Data,
  order: Int32Array,
  start: number,
  count: number,
  rng: Random,
  update: boolean,
  metrics: Metric[][],
): { loss: number; losses: number[] } {
  const arena = net.arena;
  const { core } = runtime();
  arena.grads.view().fill(0);
  const outs = forwardBatch(net, data.xs, order, start, count, { training: true, rng });
  let loss = 0;
  const losses: number[] = [];
  const grads: (WasmArray | null)[] = outs.map(() => null);
  tr.outputs.forEach((o, i) => {
    const out = outs[o.index];
    const { tb, weights, rows, n } = targetBatch(data.ys[i], i, o.loss, order, start, count, out, net.bufs);
    const grad = net.bufs.get(`dloss${i}`, rows * n);
    const l = core.loss(o.loss.kind, rows, n, out.buf.ptr, tb.ptr, weights ? weights.ptr : 0, grad.ptr, arena.status.ptr);
    const st = arena.status.viewI32()[0];
    if (st !== 0) throw new ValueError(`${net.name}: the loss kernel refused its arguments (status ${st})`);
    if (o.weight !== 1) {
      const g = grad.view();
      for (let j = 0; j < rows * n; j++) g[j] *= o.weight;
    }
    updateMetrics(o, metrics[i], out, tb, weights, rows, n);
    losses.push(l);
    loss += o.weight * l;
    grads[o.index] = grad;
  });
  loss += arena.regularize();
  net.backward(grads);
  if (update && Number.isFinite(loss)) applyUpdate(net, tr);
  return { loss, losses };
}

function applyUpdate(net: Network, tr: Training): void {
  const arena = net.arena;
  const opt = tr.optimizer;
  const { core } = runtime();
  arena.ensureSlots(opt.stateBuffers);
  const [s1, s2] = [arena.slot('s1'), arena.slot('s2')];
  // frozen layers: their gradients are zeroed and the update skips them
  const segments = arena.trainableSegments();
  tr.step++;
  arena.hyper.view().set(opt.hyper(tr.step));
  for (const [off, len] of segments) {
    const norm = core.optimizer_step(
      opt.code,
      len,
      arena.params.ptr + off * 4,
      arena.grads.ptr + off * 4,
      s1 ? s1.ptr + off * 4 : 0,
      s2 ? s2.ptr + off * 4 : 0,
      arena.hyper.ptr,
    );
    if (Number.isNaN(norm) && len > 0) {
      const g = arena.grads.view().subarray(off, off + len);
      if (g.every((v) => Number.isFinite(v))) throw new ValueError(`${net.name}: the optimizer kernel refused its arguments`);
    }
  }
  net.paramsChanged();
}

function updateMetrics(
  o: OutputTraining,
  metrics: Metric[],
  out: Activation,
  tb: WasmArray,
  weights: WasmArray | null,
  rows: number,
  n: number,
): void {
  if (metrics.length === 0) return;
  const sparse = o.loss.sparse;
  const batch = {
    pred: out.buf.view().subarray(0, rows * n),
    targetF: sparse ? null : tb.view().subarray(0, rows * n),
    targetI: sparse ? tb.viewI32().subarray(0, rows) : null,
    rows,
    n,
    weights: weights ? weights.view().subarray(0, rows) : null,
    logits: o.loss.fused,
  };
  for (const m of metrics) m.update(batch);
}

/** Loss (total, and per output when there are several) and metrics over a data set, in batches (no updates). */
export function evaluateData(net: Network, tr: Training, data: Data, batchSize: number): Record<string, number> {
  const { core } = runtime();
  const metrics = tr.metrics();
  const order = indices(data.n);
  const sums = tr.outputs.map(() => ({ loss: 0, w: 0 }));
  for (let start = 0; start < data.n; start += batchSize) {
    const count = Math.min(batchSize, data.n - start);
    const outs = forwardBatch(net, data.xs, order, start, count, { training: false, rng: new Random(0) });
    tr.outputs.forEach((o, i) => {
      const out = outs[o.index];
      const { tb, weights, rows, n } = targetBatch(data.ys[i], i, o.loss, order, start, count, out, net.bufs);
      const l = core.loss(o.loss.kind, rows, n, out.buf.ptr, tb.ptr, weights ? weights.ptr : 0, 0, net.arena.status.ptr);
      const w = weights
        ? weights
            .view()
            .subarray(0, rows)
            .reduce((a, b) => a + b, 0)
        : rows;
      sums[i].loss += l * w;
      sums[i].w += w;
      updateMetrics(o, metrics[i], out, tb, weights, rows, n);
    });
  }
  const per = sums.map((s) => (s.w ? s.loss / s.w : NaN));
  const res: Record<string, number> = { loss: per.reduce((a, l, i) => a + tr.outputs[i].weight * l, 0) };
  if (tr.outputs.length > 1) for (const [i, o] of tr.outputs.entries()) res[`${o.name}_loss`] = per[i];
  for (const ms of metrics) for (const m of ms) res[m.name] = m.result();
  return res;
}

/** Outputs for every sample of `xs`, one tensor `[N, ...outputShape]` per output. */
export function predictData(net: Network, xs: Tensor[], batchSize: number): Tensor[] {
  const n = xs[0].shape[0];
  let outs: { data: Float32Array; per: number; shape: number[] }[] | null = null;
  const order = indices(n);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const acts = forwardBatch(net, xs, order, start, count, { training: false, rng: new Random(0) });
    outs ??= acts.map((a) => {
      const shape = a.shape.slice(1);
      const per = shape.reduce((x, y) => x * y, 1);
      return { data: new Float32Array(n * per), per, shape };
    });
    acts.forEach((a, i) => {
      const o = outs![i];
      o.data.set(a.buf.view().subarray(0, count * o.per), start * o.per);
    });
  }
  return (outs ?? []).map((o) => new Tensor(o.data, [n, ...o.shape]));
}

/** `fit`'s loop settings, checked (before the validation data is). */
export interface FitPlan {
  epochs: number;
  batchSize: number;
  onNan: 'throw' | 'skip' | 'stop';
  shuffle: boolean;
}

export function fitPlan(net: Network, args: FitArgs): FitPlan {
  const epochs = positiveInt('fit: epochs', args.epochs ?? 1, 0);
  const batchSize = positiveInt('fit: batchSize', args.batchSize ?? 32, 1);
  const onNan = args.onNanLoss ?? 'throw';
  if (!['throw', 'skip', 'stop'].includes(onNan)) throw new ValueError(`fit: onNanLoss must be 'throw', 'skip' or 'stop'`);
  const shuffle = args.shuffle ?? !net.stateful;
  if (net.stateful && shuffle) throw new ValueError(`${net.name}: a stateful model needs fit({ shuffle: false }) so batches stay in order`);
  return { epochs, batchSize, onNan, shuffle };
}

/**
 * Train over `data` (checked) as `plan` says, validating on `val` or on a
 * split of `data`, with callbacks, NaN handling and periodic yields to the
 * event loop. `seedRng` seeds shuffling and dropout when `args.seed` is absent.
 */
export async function fitData(
  net: Network,
  tr: Training,
  data: Data,
  val: Data | null,
  args: FitArgs,
  plan: FitPlan,
  seedRng: Random,
): Promise<History> {
  const { epochs, batchSize, onNan, shuffle } = plan;
  const stateful = net.stateful;
  if (!val && args.validationSplit) {
    const s = args.validationSplit;
    if (!(s > 0 && s < 1)) throw new ValueError(`fit: validationSplit must be in (0, 1); got ${s}`);
    const nVal = Math.floor(data.n * s);
    if (nVal < 1 || nVal >= data.n) throw new ValueError(`fit: validationSplit ${s} of ${data.n} samples leaves an empty part`);
    [data, val] = splitData(data, data.n - nVal);
  }
  const rng = new Random(args.seed ?? seedRng.nextU32());
  const cbs = args.callbacks ?? [];
  for (const c of cbs) c.setModel?.(net.callbackTarget as never);
  const history: History = { epoch: [], history: {} };
  const yieldMs = args.yieldEveryMs ?? 50;
  let lastYield = now();
  net.stopTraining = false;
  for (const c of cbs) await c.onTrainBegin?.({});
  const metrics = tr.metrics();
  const multi = tr.outputs.length > 1;
  for (let epoch = args.initialEpoch ?? 0; epoch < epochs && !net.stopTraining; epoch++) {
    if (stateful) net.resetStates();
    for (const c of cbs) await c.onEpochBegin?.(epoch, {});
    const order = indices(data.n);
    if (shuffle) shuffleInPlace(order, rng);
    for (const ms of metrics) for (const m of ms) m.reset();
    let lossSum = 0;
    const perSum = tr.outputs.map(() => 0);
    let seen = 0;
    const batches = Math.ceil(data.n / batchSize);
    for (let bi = 0; bi < batches && !net.stopTraining; bi++) {
      for (const c of cbs) await c.onBatchBegin?.(bi, { batch: bi, size: Math.min(batchSize, data.n - bi * batchSize) });
      const start = bi * batchSize;
      const count = Math.min(batchSize, data.n - start);
      const r = trainBatch(net, tr, data, order, start, count, rng, true, metrics);
      if (!Number.isFinite(r.loss)) {
        if (onNan === 'throw') {
          throw new ValueError(
            `${net.name}: the loss became ${r.loss} at epoch ${epoch + 1}, batch ${bi + 1}; lower the learning rate, clip gradients (clipNorm) or check the data (use fit({ onNanLoss: 'skip' | 'stop' }) to continue or stop instead)`,
          );
        }
        if (onNan === 'stop') {
          net.stopTraining = true;
          break;
        }
      } else {
        lossSum += r.loss * count;
        for (const [i, l] of r.losses.entries()) perSum[i] += l * count;
        seen += count;
      }
      for (const c of cbs) await c.onBatchEnd?.(bi, { batch: bi, size: count, loss: r.loss });
      if (now() - lastYield > yieldMs) {
        await yieldToEventLoop();
        lastYield = now();
      }
    }
    const logs: Logs = { loss: seen ? lossSum / seen : NaN };
    if (multi) for (const [i, o] of tr.outputs.entries()) logs[`${o.name}_loss`] = seen ? perSum[i] / seen : NaN;
    for (const ms of metrics) for (const m of ms) logs[m.name] = m.result();
    if (val) {
      const v = evaluateData(net, tr, val, batchSize);
      for (const [k, value] of Object.entries(v)) logs[`val_${k}`] = value;
    }
    history.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) {
      history.history[k] ??= [];
      history.history[k].push(v);
    }
    if (args.verbose) {
      console.log(
        `epoch ${epoch + 1}/${epochs} ${Object.entries(logs)
          .map(([k, v]) => `${k}=${v.toFixed(4)}`)
          .join(' ')}`,
      );
    }
    for (const c of cbs) await c.onEpochEnd?.(epoch, logs);
  }
  for (const c of cbs) await c.onTrainEnd?.({});
  return history;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  return new Promise((r) => (g.setImmediate ? g.setImmediate(r) : setTimeout(r, 0)));
}
