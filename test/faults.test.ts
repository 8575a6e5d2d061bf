// Faults that must never leave the process in a bad state: wasm memory grown
// to its 4 GiB limit (in a child process: it takes the whole address space),
// and objects that hold pointers into a model after that model is disposed.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { Random, Sequential, ValueError, layers, quantize, tensor } from '../ts/index.js';
import { runtime } from '../ts/runtime/init.js';
import { WasmArray } from '../ts/runtime/memory.js';
import { LayerCall } from '../ts/layers/base.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const dist = `file://${join(root, 'dist')}/`;

beforeAll(async () => {
  await initForTests();
});

describe('wasm memory at its 4 GiB limit', () => {
  // one run per memory kind: the plain build's own memory and the threaded
  // build's shared one (helpers running)
  for (const opts of [{ simd: 'simd128' }, { simd: 'simd128', threads: 2 }]) {
    it(`every kernel still runs after memory reached 65,536 pages (${JSON.stringify(opts)})`, async () => {
      const { stdout } = await run(process.execPath, [join(root, 'test/runtimes/memory-4gib.mjs'), dist, JSON.stringify(opts)], {
        timeout: 110_000,
        maxBuffer: 1 << 24,
      });
      const r = JSON.parse(stdout.trim().split('\n').pop()!);
      expect(r.peak).toBe(2 ** 32);
      expect(r.threads).toBe(opts.threads ?? 1);
      expect(r.out.matmul).toEqual([19, 22, 43, 50]);
      for (const k of ['predict', 'fit', 'step', 'int8']) {
        expect(r.out[k].length, k).toBeGreaterThan(0);
        for (const v of r.out[k]) expect(Number.isFinite(v), k).toBe(true);
      }
    });
  }
});

describe('objects that point into a disposed model', () => {
  const build = (seed: number) => {
    const m = new Sequential([layers.lstm({ units: 6, returnSequences: true, inputShape: [null, 3] }), layers.dense({ units: 2 })], {
      seed,
    });
    m.build();
    return m;
  };

  it('a session refuses to step, reset or give its state once its model is disposed', () => {
    const m = build(1);
    const s = m.session();
    s.step([0.1, 0.2, 0.3]);
    m.dispose();
    // a second model may now reuse the freed regions: the session must not read them
    const other = build(2);
    for (const use of [() => s.step([0.1, 0.2, 0.3]), () => s.reset(), () => s.state]) {
      expect(use).toThrow(ValueError);
      expect(use).toThrow(/model was disposed/);
    }
    s.dispose();
    other.dispose();
  });

  it('an int8 or f16 session refuses to step once its quantised model is disposed', () => {
    const m = build(3);
    for (const dtype of ['int8', 'f16'] as const) {
      const q = quantize(m, { dtype });
      const s = q.session();
      s.step([0.5, -0.5, 0.25]);
      q.dispose();
      const other = quantize(build(4), { dtype });
      expect(() => s.step([0.5, -0.5, 0.25])).toThrow(/model was disposed/);
      s.dispose();
      other.dispose();
    }
    m.dispose();
  });

  it("a disposed model's layers refuse to run instead of reading freed parameters", () => {
    const m = build(5);
    const [lstm, dense] = m.layers;
    m.dispose();
    const x = tensor(new Float32Array(2 * 4 * 3), [2, 4, 3]);
    expect(() => m.predict(x)).toThrow(/dispose/);
    const buf = new WasmArray(runtime().heap, 2 * 4 * 6);
    const act = { buf, shape: [2, 4, 6], lengths: null, lengthsBuf: null };
    for (const l of [lstm, dense]) {
      const call = new LayerCall();
      expect(() => l.forward(act, { training: false, rng: new Random(0) }, call)).toThrow(ValueError);
      call.dispose();
    }
    buf.free();
  });
});
