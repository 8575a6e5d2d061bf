/**
 * `ModelWorker`: train and run models off the main thread, so a page never
 * freezes while a model trains. Works with a browser `Worker` (module worker
 * on the package's `dist/worker.js`) or a Node `worker_threads.Worker`.
 *
 *   const w = new ModelWorker(new Worker(new URL('recurrent-wasm/worker', import.meta.url), { type: 'module' }));
 *   const { model, history } = await w.fit(model, x, y, { epochs: 20 }, { onProgress, signal });
 *
 * The model travels as its saved bytes (with optimizer state), so the trained
 * model comes back exactly as the worker left it; `signal.abort()` stops
 * training after the current batch and returns what was trained so far.
 */
import { InitError, RecurrentWasmError, ValueError } from '../errors.js';
import { loadModel } from '../model/load.js';
import { runtime } from '../runtime/init.js';
import type { Model } from '../model/model.js';
import type { History } from '../model/training.js';
import { Tensor, tensor, type TensorLike } from '../tensor.js';
import type { Port, Reply, Request, WireFitArgs } from './protocol.js';

type AnyWorker = {
  postMessage(msg: unknown, transfer?: Transferable[]): void;
  addEventListener?: (t: 'message', f: (e: { data: unknown }) => void) => void;
  on?: (t: 'message', f: (d: unknown) => void) => void;
  terminate(): unknown;
};

function portOf(w: AnyWorker): Port {
  return {
    post: (m, t) => w.postMessage(m, t),
    listen: (f) => {
      if (w.addEventListener) w.addEventListener('message', (e) => f(e.data));
      else if (w.on) w.on('message', f);
      else throw new InitError('ModelWorker: expected a Web Worker or a worker_threads.Worker');
    },
  };
}

export interface FitProgress {
  epoch: number;
  batch: number | null;
  logs: Record<string, number>;
}

let modelKeys = 0;
const keyOf = new WeakMap<Model, string>();

export class ModelWorker {
  private readonly port: Port;
  private next = 1;
  /**
   * The models this worker holds a copy of (predict), by key, with the
   * weights version sent; least recently used first.
   */
  private readonly sent = new Map<string, number>();
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; progress?: (p: FitProgress) => void }>();
  private readonly threads: number | 'auto' | undefined;
  private readonly maxModels: number;
  /** a model garbage-collected here releases its copy there */
  private readonly collected =
    typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<string>((key) => this.forget([key])) : null;
  private terminated = false;
  private cached = 0;

  /**
   * @param opts.threads threads the worker's core uses (`init({ threads })`
   *   inside the worker: helpers started from the worker; the same numbers)
   * @param opts.maxModels models the worker keeps for `predict` (default 4);
   *   beyond that the least recently used copy is dropped (and sent again if
   *   that model is used later). A model garbage-collected on this side, or
   *   passed to `release`, is dropped at once.
   */
  constructor(
    private readonly worker: AnyWorker,
    opts: { threads?: number | 'auto'; maxModels?: number } = {},
  ) {
    const max = opts.maxModels ?? 4;
    if (!Number.isInteger(max) || max < 1) throw new ValueError(`ModelWorker: maxModels must be a positive integer; got ${max}`);
    this.maxModels = max;
    this.threads = opts.threads;
    this.port = portOf(worker);
    this.port.listen((raw) => {
      const r = raw as Reply;
      const p = this.pending.get(r.id);
      if (!p) return;
      if (r.type === 'progress') p.progress?.({ epoch: r.epoch, batch: r.batch, logs: r.logs });
      else {
        this.pending.delete(r.id);
        p.resolve(r);
      }
    });
  }

  /** Train a copy of `model` in the worker; resolves with the trained model (compiled, optimizer state kept). */
  async fit(
    model: Model,
    x: TensorLike,
    y: TensorLike,
    args: WireFitArgs = {},
    opts: { onProgress?: (p: FitProgress) => void; progressEvery?: 'epoch' | 'batch'; signal?: AbortSignal } = {},
  ): Promise<{ model: Model; history: History; cancelled: boolean; threads: number }> {
    if (!model.isCompiled) throw new ValueError('ModelWorker.fit: compile the model first');
    const id = this.next++;
    const xt = tensor(x);
    const yt = tensor(y);
    const done = new Promise<Reply>((resolve) => this.pending.set(id, { resolve, progress: opts.onProgress }));
    const abort = () => this.port.post({ id, type: 'cancel' } satisfies Request);
    opts.signal?.addEventListener('abort', abort, { once: true });
    if (opts.signal?.aborted) abort();
    this.port.post({
      id,
      type: 'fit',
      simd: runtime().info.simd,
      threads: this.threads,
      model: model.save({ includeOptimizer: true }),
      x: { data: xt.data, shape: xt.shape },
      y: { data: yt.data, shape: yt.shape },
      args,
      progressEvery: opts.progressEvery ?? 'epoch',
    } satisfies Request);
    const r = await done;
    opts.signal?.removeEventListener('abort', abort);
    if (r.type === 'error') throw rebuild(r);
    if (r.type !== 'fit-done') throw new RecurrentWasmError(`ModelWorker: unexpected reply ${r.type}`);
    return { model: loadModel(r.model), history: r.history, cancelled: r.cancelled, threads: r.threads };
  }

  /**
   * `model.predict(x)` in the worker. The worker keeps a copy of the model:
   * it is sent with the first call and again only after its weights change.
   */
  async predict(model: Model, x: TensorLike, opts: { batchSize?: number } = {}): Promise<Tensor> {
    const id = this.next++;
    const xt = tensor(x);
    const done = new Promise<Reply>((resolve) => this.pending.set(id, { resolve }));
    let key = keyOf.get(model);
    if (!key) {
      key = `m${++modelKeys}`;
      keyOf.set(model, key);
    }
    const had = this.sent.get(key);
    const bytes = had === model.weightsVersion ? null : model.save();
    if (had === undefined) {
      // one registration per model: a model evicted and sent again is registered again
      this.collected?.unregister(model);
      this.collected?.register(model, key, model);
    }
    this.sent.delete(key); // most recently used last
    this.sent.set(key, model.weightsVersion);
    const release: string[] = [];
    for (const k of this.sent.keys()) if (this.sent.size - release.length > this.maxModels) release.push(k);
    for (const k of release) this.sent.delete(k);
    const data = xt.data.byteLength === xt.data.buffer.byteLength ? xt.data : xt.data.slice(); // send only this view's bytes
    this.port.post({
      id,
      type: 'predict',
      simd: runtime().info.simd,
      threads: this.threads,
      model: bytes,
      modelKey: key,
      x: { data, shape: xt.shape },
      batchSize: opts.batchSize,
      release,
    } satisfies Request);
    const r = await done;
    if (r.type === 'error') {
      this.sent.delete(key);
      throw rebuild(r);
    }
    if (r.type !== 'predict-done') throw new RecurrentWasmError(`ModelWorker: unexpected reply ${r.type}`);
    this.cached = r.cached;
    return new Tensor(r.y.data, r.y.shape);
  }

  /** Drop the worker's copy of `model` (kept by `predict`); a later `predict` sends it again. */
  release(model: Model): void {
    const key = keyOf.get(model);
    if (key !== undefined) {
      this.collected?.unregister(model);
      this.forget([key]);
    }
  }

  /** Models the worker held after the last `predict` (at most `maxModels`). */
  get cachedModels(): number {
    return this.cached;
  }

  private forget(keys: string[]): void {
    const held = keys.filter((k) => this.sent.delete(k));
    if (held.length && !this.terminated) this.port.post({ id: 0, type: 'release', keys: held } satisfies Request);
  }

  terminate(): void {
    this.terminated = true;
    this.worker.terminate();
    for (const p of this.pending.values()) p.resolve({ id: -1, type: 'error', name: 'Error', message: 'ModelWorker: terminated' });
    this.pending.clear();
  }
}

/**
 * `model.predict(x)` with the samples split between this thread and
 * `workers` (data parallelism: each worker runs its own wasm instance on its
 * share, while this thread computes the first share). With one worker on a
 * 2-core machine, batch inference takes about half the time. Each worker
 * keeps its copy of the model between calls. Results equal `model.predict`
 * up to float rounding: a sample's last bits depend on where it falls in the
 * GEMM's row tiles (the last short panel runs a one-row kernel), ≤ 1e-7
 * apart in the tests.
 */
export async function predictParallel(
  model: Model,
  x: TensorLike,
  workers: ModelWorker[],
  opts: { batchSize?: number } = {},
): Promise<Tensor> {
  const xt = x instanceof Tensor ? x : tensor(x);
  const n = xt.shape[0];
  const parts = Math.min(workers.length + 1, Math.max(1, n));
  const one = (t: Tensor | Tensor[]): Tensor => {
    if (Array.isArray(t)) throw new ValueError('predictParallel: models with several outputs are not supported');
    return t;
  };
  if (parts === 1) return one(model.predict(xt, opts));
  const per = xt.size / n;
  const bounds = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * n) / parts));
  const slice = (i: number) =>
    new Tensor(xt.data.slice(bounds[i] * per, bounds[i + 1] * per), [bounds[i + 1] - bounds[i], ...xt.shape.slice(1)]);
  // post the workers' shares first, then compute ours while they run
  const remote = workers.slice(0, parts - 1).map((w, i) => w.predict(model, slice(i + 1), opts));
  const local = one(model.predict(slice(0), opts));
  const outs = [local, ...(await Promise.all(remote))];
  const outPer = local.size / (bounds[1] - bounds[0]);
  const y = new Float32Array(n * outPer);
  for (const [i, t] of outs.entries()) y.set(t.data as Float32Array, bounds[i] * outPer);
  return new Tensor(y, [n, ...local.shape.slice(1)]);
}

function rebuild(r: { name: string; message: string }): Error {
  const e = new RecurrentWasmError(r.message);
  Object.defineProperty(e, 'name', { value: r.name });
  return e;
}
