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
import { loadModel } from '../io/model-file.js';
import { runtime } from '../runtime/init.js';
import type { History, Sequential } from '../model/sequential.js';
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

export class ModelWorker {
  private readonly port: Port;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; progress?: (p: FitProgress) => void }>();

  constructor(private readonly worker: AnyWorker) {
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
    model: Sequential,
    x: TensorLike,
    y: TensorLike,
    args: WireFitArgs = {},
    opts: { onProgress?: (p: FitProgress) => void; progressEvery?: 'epoch' | 'batch'; signal?: AbortSignal } = {},
  ): Promise<{ model: Sequential; history: History; cancelled: boolean }> {
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
    return { model: loadModel(r.model), history: r.history, cancelled: r.cancelled };
  }

  /** `model.predict(x)` in the worker. */
  async predict(model: Sequential, x: TensorLike, opts: { batchSize?: number } = {}): Promise<Tensor> {
    const id = this.next++;
    const xt = tensor(x);
    const done = new Promise<Reply>((resolve) => this.pending.set(id, { resolve }));
    this.port.post({ id, type: 'predict', simd: runtime().info.simd, model: model.save(), x: { data: xt.data, shape: xt.shape }, batchSize: opts.batchSize } satisfies Request);
    const r = await done;
    if (r.type === 'error') throw rebuild(r);
    if (r.type !== 'predict-done') throw new RecurrentWasmError(`ModelWorker: unexpected reply ${r.type}`);
    return new Tensor(r.y.data, r.y.shape);
  }

  terminate(): void {
    this.worker.terminate();
    for (const p of this.pending.values()) p.resolve({ id: -1, type: 'error', name: 'Error', message: 'ModelWorker: terminated' });
    this.pending.clear();
  }
}

function rebuild(r: { name: string; message: string }): Error {
  const e = new RecurrentWasmError(r.message);
  Object.defineProperty(e, 'name', { value: r.name });
  return e;
}
