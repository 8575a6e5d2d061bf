// Off the main thread: ModelWorker trains in a Node worker_thread (the same
// dist/worker.js a page starts as a module worker) with progress events and
// cancellation, bit-identical to training in-process with the same seed, while
// the main thread stays responsive. And the built bundles contain no eval or
// new Function (forbidden by strict CSP pages and by Workers).
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dist = new URL('../dist/', import.meta.url);
// the built package (what users get), not the sources
type Lib = typeof import('../ts/index.js');
let lib: Lib;
let worker: InstanceType<Lib['ModelWorker']>;
let nodeWorker: Worker;

beforeAll(async () => {
  lib = (await import(new URL('index.js', dist).href)) as Lib;
  await lib.init({ simd: 'simd128' });
  nodeWorker = new Worker(new URL('worker.js', dist));
  worker = new lib.ModelWorker(nodeWorker as never);
});
afterAll(() => worker?.terminate());

function data(n: number) {
  const rng = new lib.Random(9);
  const x = new Float32Array(n * 8 * 3).map(() => rng.uniform(-1, 1));
  const y = new Float32Array(n).map((_, i) => Math.tanh(x[i * 24] + x[i * 24 + 12]));
  return [lib.tensor(x, [n, 8, 3]), lib.tensor(y, [n, 1])] as const;
}
const makeModel = () => {
  const m = new lib.Sequential([lib.layers.lstm({ units: 16, inputShape: [8, 3] }), lib.layers.dense({ units: 1 })], { seed: 4 });
  m.compile({ optimizer: 'adam', loss: 'mse' });
  return m;
};

describe('ModelWorker (Node worker_threads)', () => {
  it('predictParallel splits a batch with a worker: equal to predict, and the model is sent only when it changed', async () => {
    const m = makeModel();
    const [x] = data(37);
    const posted: unknown[] = [];
    const spy = {
      postMessage: (msg: unknown, t?: Transferable[]) => {
        posted.push(msg);
        nodeWorker.postMessage(msg, t as never);
      },
      on: nodeWorker.on.bind(nodeWorker),
      terminate: () => 0,
    };
    const w = new lib.ModelWorker(spy as never);
    const a = m.predict(x);
    const b = await lib.predictParallel(m, x, [w]);
    expect(b.shape).toEqual(a.shape);
    // equal up to float rounding: a row's last bits depend on its place in the GEMM's row tiles
    const close = (p: ArrayLike<number>, q: ArrayLike<number>) => {
      expect(p.length).toBe(q.length);
      for (let i = 0; i < p.length; i++) expect(Math.abs(p[i] - q[i])).toBeLessThan(1e-6);
    };
    close(b.data, a.data);
    await lib.predictParallel(m, x, [w]);
    const [y] = data(64);
    await m.fit(x, lib.tensor(new Float32Array(37), [37, 1]), { epochs: 1, batchSize: 16 });
    close((await lib.predictParallel(m, y, [w])).data, m.predict(y).data);
    const sentModel = posted.map((p) => (p as { model: unknown }).model !== null);
    expect(sentModel).toEqual([true, false, true]); // first call, unchanged, after training
    expect((posted[0] as { x: { shape: number[] } }).x.shape).toEqual([18, 8, 3]); // the worker's share
    // a single sample: no split
    expect(Array.from((await lib.predictParallel(m, lib.tensor(x.data.slice(0, 24), [1, 8, 3]), [w])).data)).toEqual(
      Array.from(m.predict(lib.tensor(x.data.slice(0, 24), [1, 8, 3])).data),
    );
    expect(posted.length).toBe(3);
  });

  it('keeps at most maxModels copies for predict: the least recently used is dropped, and sent again when used', async () => {
    const posted: { model?: unknown; release?: string[]; keys?: string[]; type: string }[] = [];
    const own = new Worker(new URL('worker.js', dist)); // a worker holding no model yet
    const spy = {
      postMessage: (msg: never, t?: Transferable[]) => {
        posted.push(msg);
        own.postMessage(msg, t as never);
      },
      on: own.on.bind(own),
      terminate: () => own.terminate(),
    };
    expect(() => new lib.ModelWorker(spy as never, { maxModels: 0 })).toThrow(/maxModels must be a positive integer/);
    const w = new lib.ModelWorker(spy as never, { maxModels: 2 });
    const [x] = data(3);
    const ms = [4, 5, 6].map(
      (seed) => new lib.Sequential([lib.layers.lstm({ units: 16, inputShape: [8, 3] }), lib.layers.dense({ units: 1 })], { seed }),
    );
    const ask = async (m: (typeof ms)[number]) => {
      const y = await w.predict(m, x);
      expect(Array.from(y.data)).toEqual(Array.from(m.predict(x).data)); // the worker used this model's copy
      const p = posted[posted.length - 1];
      return { sent: p.model !== null, release: p.release, cached: w.cachedModels };
    };
    expect(await ask(ms[0])).toEqual({ sent: true, release: [], cached: 1 });
    expect(await ask(ms[1])).toEqual({ sent: true, release: [], cached: 2 });
    expect(await ask(ms[0])).toEqual({ sent: false, release: [], cached: 2 }); // ms[0] now most recent
    const third = await ask(ms[2]);
    expect(third).toMatchObject({ sent: true, cached: 2 });
    expect(third.release).toHaveLength(1); // ms[1], the least recently used
    expect(await ask(ms[0])).toEqual({ sent: false, release: [], cached: 2 });
    expect(await ask(ms[1])).toMatchObject({ sent: true, cached: 2 }); // dropped before: sent again
    w.release(ms[1]);
    expect(posted[posted.length - 1]).toMatchObject({ type: 'release' });
    expect(posted[posted.length - 1].keys).toHaveLength(1);
    expect(await ask(ms[1])).toMatchObject({ sent: true, cached: 2 });
    for (const m of ms) w.release(m);
    expect(await ask(ms[2])).toEqual({ sent: true, release: [], cached: 1 }); // all released, then one sent
    w.terminate();
  });

  it('a model garbage-collected on this side releases its copy in the worker', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(new URL('runtimes/worker-gc.mjs', import.meta.url)), dist.href], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ before: 2, after: 1 });
  });

  it('trains with progress events and returns the same model as training in-process', async () => {
    const [x, y] = data(128);
    const events: { epoch: number; loss: number }[] = [];
    // main-thread responsiveness while the worker trains
    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 5);
    const { model, history, cancelled } = await worker.fit(
      makeModel(),
      x,
      y,
      { epochs: 6, batchSize: 16, seed: 3 },
      { onProgress: (p) => events.push({ epoch: p.epoch, loss: p.logs.loss }) },
    );
    clearInterval(timer);
    expect(cancelled).toBe(false);
    expect(events.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(events.map((e) => e.loss)).toEqual(history.history.loss);
    const local = makeModel();
    await local.fit(x, y, { epochs: 6, batchSize: 16, seed: 3 });
    expect(Buffer.from(model.getWeightsFlat().buffer).equals(Buffer.from(local.getWeightsFlat().buffer))).toBe(true);
    expect(worstGap).toBeLessThan(200);
    const p = await worker.predict(model, x);
    expect(Array.from(p.data)).toEqual(Array.from(local.predict(x).data));
    model.dispose();
    local.dispose();
  });

  it('a ModelWorker with threads: 2 (helpers started from the worker) trains the same model', async () => {
    const w = new lib.ModelWorker(new Worker(new URL('worker.js', dist)) as never, { threads: 2 });
    try {
      const [x, y] = data(64);
      const wide = () => {
        const m = new lib.Sequential([lib.layers.lstm({ units: 96, inputShape: [8, 3] }), lib.layers.dense({ units: 1 })], { seed: 4 });
        m.compile({ optimizer: 'adam', loss: 'mse' });
        return m;
      };
      const { model, threads } = await w.fit(wide(), x, y, { epochs: 2, batchSize: 32, seed: 3 });
      expect(threads).toBe(2);
      const local = wide();
      await local.fit(x, y, { epochs: 2, batchSize: 32, seed: 3 });
      expect(Buffer.from(model.getWeightsFlat().buffer).equals(Buffer.from(local.getWeightsFlat().buffer))).toBe(true);
      model.dispose();
      local.dispose();
    } finally {
      w.terminate();
    }
  });

  it('cancels on abort after the current batch and returns the partly trained model', async () => {
    const [x, y] = data(256);
    const ctl = new AbortController();
    const seen: number[] = [];
    const r = await worker.fit(
      makeModel(),
      x,
      y,
      { epochs: 500, batchSize: 8 },
      {
        progressEvery: 'batch',
        onProgress: (p) => {
          seen.push(p.batch ?? -1);
          if (seen.length === 3) ctl.abort();
        },
        signal: ctl.signal,
      },
    );
    expect(r.cancelled).toBe(true);
    expect(r.history.epoch.length).toBeLessThan(100);
    expect((r.model.predict(x) as InstanceType<Lib['Tensor']>).shape).toEqual([256, 1]);
    r.model.dispose();
  });

  it('a graph model (convolution, attention, merge) trains in a worker as in-process and predicts there', async () => {
    const L = lib.layers;
    const make = () => {
      const x = lib.input({ shape: [8, 3] });
      const c = L.conv1d({ name: 'conv', filters: 6, kernelSize: 3, padding: 'causal' }).apply(x) as never;
      const a = L.multiHeadAttention({ name: 'mha', numHeads: 2, keyDim: 3 }).apply([c, c]) as never;
      const out = L.dense({ name: 'out', units: 1 }).apply(L.globalAveragePooling1d().apply(L.add().apply([a, c])) as never) as never;
      const m = lib.model({ inputs: x, outputs: out, seed: 6 });
      m.compile({ optimizer: 'adam', loss: 'mse' });
      return m;
    };
    const [x, y] = data(40);
    const { model } = await worker.fit(make(), x, y, { epochs: 2, batchSize: 16, seed: 3 });
    const local = make();
    await local.fit(x, y, { epochs: 2, batchSize: 16, seed: 3 });
    expect(Array.from(model.getWeightsFlat())).toEqual(Array.from(local.getWeightsFlat()));
    const there = await worker.predict(model, x);
    expect(Array.from(there.data)).toEqual(Array.from((local.predict(x) as InstanceType<Lib['Tensor']>).data));
    model.dispose();
    local.dispose();
  });

  it('errors in the worker come back as errors with their name', async () => {
    const [x] = data(4);
    await expect(worker.fit(makeModel(), x, lib.tensor(new Float32Array(8), [4, 2]), { epochs: 1 })).rejects.toThrow(
      /ShapeError|y must have samples of shape \[1\]/,
    );
  });
});

describe('no eval', () => {
  it('the built bundles contain no eval( or new Function / Function( constructor', () => {
    for (const f of readdirSync(dist).filter((n) => /\.(c?js)$/.test(n))) {
      const src = readFileSync(new URL(f, dist), 'utf8');
      expect(src, f).not.toMatch(/\beval\s*\(/);
      expect(src, f).not.toMatch(/\bnew\s+Function\s*\(/);
      expect(src, f).not.toMatch(/[^.\w]Function\s*\(\s*['"`]/);
    }
  });
});
