/**
 * The training loop, evaluation and batch prediction over a network of
 * layers whose parameters live in one arena.
 *
 * One training step: batch → input buffer (one copy) → the network's forward
 * (one wasm call per layer) → loss with its gradient (one call; sigmoid or
 * softmax fused when they meet a cross-entropy) → the network's backward (one
 * call per layer) → one optimizer call per run of trainable parameters.
 */
import { ValueError } from '../errors.js';
import type { Activation, Buffers, StepInfo } from '../layers/base.js';
import { runtime } from '../runtime/init.js';
import type { WasmArray } from '../runtime/memory.js';
import { Tensor } from '../tensor.js';
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
  validationData?: [import('../tensor.js').TensorLike, import('../tensor.js').TensorLike];
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

export interface History {
  epoch: number[];
  history: Record<string, number[]>;
}

/** What the loop needs of a model: its layers' forward and backward, its parameters, its buffers. */
export interface Network {
  readonly name: string;
  readonly arena: ParamArena;
  /** The model's reusable buffers (input, targets, loss gradient). */
  readonly bufs: Buffers;
  /** Set (e.g. by a callback) to stop `fit` after the current batch. */
  stopTraining: boolean;
  /** Whether a layer carries state between batches (batches then stay in order). */
  readonly stateful: boolean;
  forward(x: Activation, step: StepInfo): Activation;
  /** Backward from the gradient of the network's output; parameter gradients accumulate in the arena. */
  backward(dy: WasmArray): void;
  /** After the parameters changed: layers re-pack, sessions see a new version. */
  paramsChanged(): void;
  resetStates(): void;
  /** A callback's model (`Callback.setModel`). */
  readonly callbackTarget: unknown;
}

/** What `compile` chose: the loss, the optimizer and its step count, the metrics. */
export class Training {
  /** Optimizer steps taken (Adam's bias correction counts from 1). */
  step = 0;
  constructor(
    readonly loss: ResolvedLoss,
    readonly optimizer: Optimizer,
    readonly metricNames: MetricName[],
  ) {}

  get task(): TaskKind {
    const c = this.loss.canonical;
    return c === 'bce' ? 'binary' : c === 'cce' ? 'categorical' : c === 'scce' ? 'sparse' : 'regression';
  }

  metrics(): Metric[] {
    return this.metricNames.map((m) => makeMetric(m, this.task));
  }
}

function forwardBatch(net: Network, x: Tensor, order: Int32Array, start: number, count: number, step: StepInfo): Activation {
  return net.forward(inputBatch(x, order, start, count, net.bufs), step);
}

/** One batch: forward, loss, backward, and (with `update`) the optimizer step. */
export function trainBatch(
  net: Network,
  tr: Training,
  data: Data,
  order: Int32Array,
  start: number,
  count: number,
  rng: Random,
  update: boolean,
  metrics: Metric[],
): { loss: number } {
  const arena = net.arena;
  const { core } = runtime();
  arena.grads.view().fill(0);
  const out = forwardBatch(net, data.x, order, start, count, { training: true, rng });
  const { tb, weights, rows, n } = targetBatch(data.y, tr.loss, order, start, count, out, net.bufs);
  const grad = net.bufs.get('dloss', rows * n);
  let loss = core.loss(tr.loss.kind, rows, n, out.buf.ptr, tb.ptr, weights ? weights.ptr : 0, grad.ptr, arena.status.ptr);
  const st = arena.status.viewI32()[0];
  if (st !== 0) throw new ValueError(`${net.name}: the loss kernel refused its arguments (status ${st})`);
  updateMetrics(tr, metrics, out, tb, weights, rows, n);
  loss += arena.regularize();
  net.backward(grad);
  if (update && Number.isFinite(loss)) applyUpdate(net, tr);
  return { loss };
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
  tr: Training,
  metrics: Metric[],
  out: Activation,
  tb: WasmArray,
  weights: WasmArray | null,
  rows: number,
  n: number,
): void {
  if (metrics.length === 0) return;
  const sparse = tr.loss.sparse;
  const batch = {
    pred: out.buf.view().subarray(0, rows * n),
    targetF: sparse ? null : tb.view().subarray(0, rows * n),
    targetI: sparse ? tb.viewI32().subarray(0, rows) : null,
    rows,
    n,
    weights: weights ? weights.view().subarray(0, rows) : null,
    logits: tr.loss.fused,
  };
  for (const m of metrics) m.update(batch);
}

/** Loss and metrics over a data set, in batches (no updates). */
export function evaluateData(net: Network, tr: Training, data: Data, batchSize: number): Record<string, number> {
  const { core } = runtime();
  const metrics = tr.metrics();
  const order = indices(data.n);
  let lossSum = 0;
  let wsum = 0;
  for (let start = 0; start < data.n; start += batchSize) {
    const count = Math.min(batchSize, data.n - start);
    const out = forwardBatch(net, data.x, order, start, count, { training: false, rng: new Random(0) });
    const { tb, weights, rows, n } = targetBatch(data.y, tr.loss, order, start, count, out, net.bufs);
    const l = core.loss(tr.loss.kind, rows, n, out.buf.ptr, tb.ptr, weights ? weights.ptr : 0, 0, net.arena.status.ptr);
    const w = weights
      ? weights
          .view()
          .subarray(0, rows)
          .reduce((a, b) => a + b, 0)
      : rows;
    lossSum += l * w;
    wsum += w;
    updateMetrics(tr, metrics, out, tb, weights, rows, n);
  }
  const res: Record<string, number> = { loss: wsum ? lossSum / wsum : NaN };
  for (const m of metrics) res[m.name] = m.result();
  return res;
}

/** Outputs for every sample of `x`, as one tensor `[N, ...outputShape]`. */
export function predictData(net: Network, x: Tensor, batchSize: number): Tensor {
  const n = x.shape[0];
  let out: Float32Array | null = null;
  let outSample = 0;
  let outShape: number[] = [];
  const order = indices(n);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const act = forwardBatch(net, x, order, start, count, { training: false, rng: new Random(0) });
    if (!out) {
      outShape = act.shape.slice(1);
      outSample = outShape.reduce((a, b) => a * b, 1);
      out = new Float32Array(n * outSample);
    }
    out.set(act.buf.view().subarray(0, count * outSample), start * outSample);
  }
  return new Tensor(out ?? new Float32Array(0), [n, ...outShape]);
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
  for (let epoch = args.initialEpoch ?? 0; epoch < epochs && !net.stopTraining; epoch++) {
    if (stateful) net.resetStates();
    for (const c of cbs) await c.onEpochBegin?.(epoch, {});
    const order = indices(data.n);
    if (shuffle) shuffleInPlace(order, rng);
    for (const m of metrics) m.reset();
    let lossSum = 0;
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
        seen += count;
      }
      for (const c of cbs) await c.onBatchEnd?.(bi, { batch: bi, size: count, loss: r.loss });
      if (now() - lastYield > yieldMs) {
        await yieldToEventLoop();
        lastYield = now();
      }
    }
    const logs: Logs = { loss: seen ? lossSum / seen : NaN };
    for (const m of metrics) logs[m.name] = m.result();
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
