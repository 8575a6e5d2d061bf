/**
 * The worker side of `ModelWorker`: load the model sent with each request,
 * train or predict, report progress, honour cancellation. Runs in a Web
 * Worker or a Node `worker_thread` (see `worker-entry.ts`).
 */
import { RecurrentWasmError } from '../errors.js';
import { loadModel } from '../model/load.js';
import type { Model } from '../model/model.js';
import { init, runtime } from '../runtime/init.js';
import { tensor } from '../tensor.js';
import type { Port, Reply, Request } from './protocol.js';

export function serveModelWorker(port: Port): void {
  const running = new Map<number, Model>();
  // models kept for predict requests that do not resend them (one per key;
  // replaced when resent, dropped when the client releases them)
  const cached = new Map<string, Model>();
  const release = (keys: string[]) => {
    for (const k of keys) {
      cached.get(k)?.dispose();
      cached.delete(k);
    }
  };
  let ready: Promise<unknown> | null = null;
  const reply = (r: Reply, transfer: Transferable[] = []) => port.post(r, transfer);
  port.listen(async (raw) => {
    const msg = raw as Request;
    if (msg.type === 'cancel') {
      const m = running.get(msg.id);
      if (m) m.stopTraining = true;
      return;
    }
    if (msg.type === 'release') {
      release(msg.keys);
      return;
    }
    try {
      // the first request chooses the build: the caller's, so both compute the
      // same numbers (threaded or not, which does not change them)
      ready ??= init({ simd: msg.simd, threads: msg.threads });
      await ready;
      if (msg.type === 'predict') {
        release(msg.release);
        let model = cached.get(msg.modelKey);
        if (msg.model) {
          model?.dispose();
          model = loadModel(msg.model);
          cached.set(msg.modelKey, model);
        }
        if (!model) throw new RecurrentWasmError(`ModelWorker: no model cached under ${msg.modelKey}`);
        const y = model.predict(tensor(msg.x.data, msg.x.shape), { batchSize: msg.batchSize });
        if (Array.isArray(y)) throw new RecurrentWasmError('ModelWorker: models with several outputs are not supported');
        reply({ id: msg.id, type: 'predict-done', y: { data: y.data, shape: y.shape }, cached: cached.size }, [y.data.buffer]);
        return;
      }
      const model = loadModel(msg.model);
      try {
        running.set(msg.id, model);
        let cancelled = false;
        const history = await model.fit(tensor(msg.x.data, msg.x.shape), tensor(msg.y.data, msg.y.shape), {
          yieldEveryMs: 10,
          ...msg.args,
          callbacks: [
            {
              onEpochEnd: (epoch, logs) => reply({ id: msg.id, type: 'progress', epoch, batch: null, logs }),
              onBatchEnd:
                msg.progressEvery === 'batch'
                  ? (batch, logs) => reply({ id: msg.id, type: 'progress', epoch: -1, batch, logs })
                  : undefined,
              onTrainEnd: () => {
                cancelled = model.stopTraining;
              },
            },
          ],
        });
        const bytes = model.save({ includeOptimizer: true });
        reply({ id: msg.id, type: 'fit-done', history, model: bytes, cancelled, threads: runtime().info.threads }, [bytes.buffer]);
      } finally {
        running.delete(msg.id);
        model.dispose();
      }
    } catch (e) {
      const err = e as Error;
      reply({ id: msg.id, type: 'error', name: err instanceof RecurrentWasmError ? err.name : 'Error', message: err.message });
    }
  });
}
