// Foundation: loading the core, memory views across growth, and a real SIMD
// kernel (the packed SGEMM) checked against a plain TypeScript product.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { InitError, ShapeError, ValueError, hasSimd128, init, matmul, memoryStats } from '../ts/index.js';
import { runtime } from '../ts/runtime/init.js';
import { WasmArray } from '../ts/runtime/memory.js';
import { Random } from '../ts/util/random.js';

function plainMatmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      for (let j = 0; j < n; j++) c[i * n + j] += av * b[p * n + j];
    }
  return c;
}

function randomArray(n: number, rng: Random): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

describe('before init', () => {
  it('a kernel used before init() says so', () => {
    expect(() => matmul([1], [1], 1, 1, 1)).toThrow(InitError);
    expect(() => matmul([1], [1], 1, 1, 1)).toThrow(/call `await init\(\)` first/);
  });
  it('wrong arguments to init() are clear errors', async () => {
    await expect(init(42 as never)).rejects.toThrow(/options object/);
    await expect(init({ module: new Uint8Array(4) } as never)).rejects.toThrow(/must be a WebAssembly.Module/);
    await expect(init({ bytes: 'abc' } as never)).rejects.toThrow(/ArrayBuffer or typed array/);
    await expect(init({ wasm: 1 } as never)).rejects.toThrow(/unknown option "wasm"/);
    await expect(init({ bytes: new Uint8Array(8), url: 'x' })).rejects.toThrow(/only one of/);
    await expect(init({ bytes: new Uint8Array([0, 1, 2, 3]) })).rejects.toThrow(InitError);
  });
});

describe('runtime', () => {
  beforeAll(async () => {
    await init();
  });

  it('loads the SIMD build; a second init() is a no-op returning the same info', async () => {
    expect(hasSimd128()).toBe(true);
    const first = await init();
    expect(['simd128', 'relaxed']).toContain(first.simd);
    expect(first.source).toBe('file');
    const again = await init({ bytes: readFileSync(new URL('../ts/wasm/recurrent_core_bg.wasm', import.meta.url)) });
    expect(again).toEqual(first);
    expect(runtime().core.simd_level()).toBeGreaterThanOrEqual(1);
  });

  it('GEMM of odd sizes (7×13 · 13×5) matches a plain TypeScript product', () => {
    const rng = new Random(1);
    const [m, k, n] = [7, 13, 5];
    const a = randomArray(m * k, rng);
    const b = randomArray(k * n, rng);
    const c = matmul(a, b, m, k, n);
    const want = plainMatmul(a, b, m, k, n);
    for (let i = 0; i < m * n; i++) expect(Math.abs(c[i] - want[i])).toBeLessThan(1e-5);
  });

  it('GEMM 64×256 · 256×1024 (blocking over k and n) matches a plain product', () => {
    const rng = new Random(2);
    const [m, k, n] = [64, 256, 1024];
    const a = randomArray(m * k, rng);
    const b = randomArray(k * n, rng);
    const c = matmul(a, b, m, k, n);
    const want = plainMatmul(a, b, m, k, n);
    let worst = 0;
    for (let i = 0; i < m * n; i++) worst = Math.max(worst, Math.abs(c[i] - want[i]) / (1 + Math.abs(want[i])));
    expect(worst).toBeLessThan(2e-5);
  });

  it('GEMM over a sweep of edge sizes (tails of the 4×8 tile and of the 256-deep k blocks)', () => {
    const rng = new Random(3);
    for (const [m, k, n] of [
      [1, 1, 1],
      [1, 300, 33],
      [3, 257, 9],
      [5, 8, 31],
      [33, 17, 65],
      [65, 520, 7],
    ]) {
      const a = randomArray(m * k, rng);
      const b = randomArray(k * n, rng);
      const c = matmul(a, b, m, k, n);
      const want = plainMatmul(a, b, m, k, n);
      for (let i = 0; i < m * n; i++) expect(Math.abs(c[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
    }
  });

  it('re-takes memory views after the memory grows between two calls', () => {
    const { heap } = runtime();
    const a = new WasmArray(heap, 16).set(Float32Array.from({ length: 16 }, (_, i) => i + 0.5));
    const before = heap.byteLength;
    const oldView = a.view();
    // Force growth: allocate more than the current memory holds.
    const big = new WasmArray(heap, before / 4 + 1024);
    expect(heap.byteLength).toBeGreaterThan(before);
    expect(oldView.length).toBe(0); // the old view is detached by growth
    expect(Array.from(a.view())).toEqual(Array.from({ length: 16 }, (_, i) => i + 0.5));
    // and kernels still see consistent memory through fresh views
    const c = matmul([1, 2, 3, 4], [5, 6, 7, 8], 2, 2, 2);
    expect(Array.from(c)).toEqual([19, 22, 43, 50]);
    big.free();
    a.free();
    expect(memoryStats().wasmBytes).toBe(heap.byteLength);
  });

  it('rejects bad GEMM arguments before any kernel runs', () => {
    expect(() => matmul([1, 2, 3], [1, 2], 2, 2, 1)).toThrow(ShapeError);
    expect(() => matmul([1, 2, 3], [1, 2], 2, 2, 1)).toThrow(/expected 4 numbers \(\[2, 2\]\); got 3/);
    expect(() => matmul([1, NaN, 3, 4], [1, 2], 2, 2, 1)).toThrow(ValueError);
    expect(() => matmul([1], [1], 0, 1, 1)).toThrow(/integer ≥ 1/);
    expect(() => matmul([1], [1], 1.5, 1, 1)).toThrow(ValueError);
  });

  it('the ABI refuses regions outside memory instead of trapping', () => {
    const { core, heap } = runtime();
    const end = heap.byteLength;
    expect(core.sgemm(2, 2, 2, end - 8, 2, 1, 16, 2, 1, 64, 2, false)).toBe(3);
    const c = new WasmArray(heap, 4);
    expect(core.sgemm(2, 2, 2, c.ptr, 2, 1, 16, 2, 1, c.ptr, 2, false)).toBe(4); // C overlaps A
    c.free();
  });
});
