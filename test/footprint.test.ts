// Footprint budgets (bench/footprint.mjs measures; README reports):
// - each wasm build ≤ 72 KB gzip (now 62.5–66.3 KB, the threaded ones the
//   larger; was 64 KB before the graph layers' kernels — convolution, pooling,
//   merges, attention — added ~15 KB raw; onnxruntime-web's wasm is ~200× that);
// - JS entry ≤ 100 KB gzip (now ~63 KB, a good part of it the ONNX schema and
//   protobuf codec; tfjs' tf.min.js alone is over 250 KB gzip);
// - cold start in Node (import + init + load a 1.3 MB model + first step) ≤ 400
//   ms median — a loose ceiling on a shared 2-core machine (measured ~130 ms);
//   the benchmarks track the real figure.
import { describe, expect, it } from 'vitest';
import { coldStart, sizes } from '../bench/footprint.mjs';

describe('footprint', () => {
  it('bundle sizes stay within budget', () => {
    const s = sizes() as Record<string, { raw: number; gzip: number }>;
    expect(s['recurrent_core_bg.wasm'].gzip).toBeLessThan(72 * 1024);
    expect(s['recurrent_core_relaxed_bg.wasm'].gzip).toBeLessThan(72 * 1024);
    for (const f of ['recurrent_core_mt_bg.wasm', 'recurrent_core_mt_relaxed_bg.wasm']) if (s[f]) expect(s[f].gzip).toBeLessThan(72 * 1024);
    expect(s['index.js'].gzip).toBeLessThan(100 * 1024);
  });
  it('cold start (import, init, load a 1.3 MB model, first step) stays within budget', async () => {
    const c = (await coldStart(5)) as { sinceScriptStart: number; modelBytes: number };
    expect(c.modelBytes).toBeGreaterThan(1_000_000);
    expect(c.sinceScriptStart).toBeLessThan(400);
  });
});
