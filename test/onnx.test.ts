// ONNX: graphs exported by real PyTorch (torch.onnx.export, dynamo=False) and
// hand-built LSTM/GRU/RNN nodes (scripts/make-onnx-fixtures.py) run through
// importOnnx and match onnxruntime-node on the same inputs within 1e-5;
// unsupported attributes and operators are refused with their names.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { FormatError, Random, importOnnx, tensor } from '../ts/index.js';
import { expectClose } from './helpers/compare.js';

const dir = new URL('./fixtures/onnx/', import.meta.url);
interface Case {
  name: string;
  input: { name: string; dtype: 'int64' | 'float32'; shape: number[]; vocab?: number | null };
  seqLens?: number[] | null;
  expectError?: string | null;
  layout?: number;
  sameAs?: string | null;
}

beforeAll(async () => {
  await initForTests();
});

/** Run a model file in onnxruntime-node and in ours on the same feeds; compare every output. */
async function compareWithOrt(
  bytes: Uint8Array,
  feeds: Record<string, { dtype: 'int64' | 'int32' | 'float32'; shape: number[]; data: number[] }>,
  label: string,
) {
  const session = await ort.InferenceSession.create(bytes);
  const ortFeeds: Record<string, ort.Tensor> = {};
  const ourFeeds: Record<string, ReturnType<typeof tensor>> = {};
  for (const [name, f] of Object.entries(feeds)) {
    const data =
      f.dtype === 'int64'
        ? BigInt64Array.from(f.data.map(BigInt))
        : f.dtype === 'int32'
          ? Int32Array.from(f.data)
          : Float32Array.from(f.data);
    ortFeeds[name] = new ort.Tensor(f.dtype, data, f.shape);
    ourFeeds[name] = f.dtype === 'float32' ? tensor(Float32Array.from(f.data), f.shape) : tensor(Int32Array.from(f.data), f.shape);
  }
  const want = await session.run(ortFeeds);
  const model = importOnnx(bytes);
  const got = model.run(ourFeeds);
  for (const name of session.outputNames) {
    expect(got[name].shape, `${label} ${name} shape`).toEqual(want[name].dims.map(Number));
    expectClose(`${label} ${name}`, got[name].data, want[name].data as Float32Array, 1e-5, 1e-5);
  }
  model.dispose();
  await session.release();
}

describe('importOnnx matches onnxruntime-node', () => {
  const { cases } = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: Case[] };
  for (const c of cases) {
    it(c.expectError ? `${c.name}: refused (${c.expectError})` : c.name, async () => {
      const bytes = new Uint8Array(readFileSync(new URL(`${c.name}.onnx`, dir)));
      if (c.expectError) {
        expect(() => importOnnx(bytes)).toThrow(FormatError);
        expect(() => importOnnx(bytes)).toThrow(new RegExp(c.expectError));
        return;
      }
      const rng = new Random(c.name.length);
      const n = c.input.shape.reduce((a, b) => a * b, 1);
      const data =
        c.input.dtype === 'int64'
          ? Array.from({ length: n }, () => rng.int(c.input.vocab!))
          : Array.from({ length: n }, () => rng.uniform(-1.5, 1.5));
      const feeds: Parameters<typeof compareWithOrt>[1] = { [c.input.name]: { dtype: c.input.dtype, shape: c.input.shape, data } };
      if (c.seqLens) feeds.L = { dtype: 'int32', shape: [c.seqLens.length], data: c.seqLens };
      if (c.sameAs) {
        // layout 1 (batch-first) against onnxruntime on the layout-0 twin with the same weights
        const [N, T, I] = c.input.shape;
        const tm = new Array<number>(n);
        for (let b = 0; b < N; b++)
          for (let t = 0; t < T; t++) for (let i = 0; i < I; i++) tm[(t * N + b) * I + i] = data[(b * T + t) * I + i];
        const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(new URL(`${c.sameAs}.onnx`, dir))));
        const want = await session.run({ X: new ort.Tensor('float32', Float32Array.from(tm), [T, N, I]) });
        const got = importOnnx(bytes).run({ X: tensor(Float32Array.from(data), c.input.shape) });
        const back = (o: ort.Tensor, perm: number[]) => {
          const dims = o.dims.map(Number);
          const src = o.data as Float32Array;
          const outDims = perm.map((p) => dims[p]);
          const out = new Float32Array(src.length);
          const st = (d: number[]) => d.map((_, i) => d.slice(i + 1).reduce((a, x) => a * x, 1));
          const si = st(dims);
          const so = st(outDims);
          for (let k = 0; k < src.length; k++) {
            let rem = k;
            let s2 = 0;
            for (let d = 0; d < outDims.length; d++) {
              const q = Math.floor(rem / so[d]);
              rem -= q * so[d];
              s2 += q * si[perm[d]];
            }
            out[k] = src[s2];
          }
          return out;
        };
        expectClose(`${c.name} Y`, got.Y.data, back(want.Y, [2, 0, 1, 3]), 1e-5, 1e-5); // [T,D,N,H] → [N,T,D,H]
        expectClose(`${c.name} Y_h`, got.Y_h.data, back(want.Y_h, [1, 0, 2]), 1e-5, 1e-5); // [D,N,H] → [N,D,H]
        await session.release();
        return;
      }
      await compareWithOrt(bytes, feeds, c.name);
      // exported models take any batch and length: run again with another shape
      if (c.name.startsWith('torch_')) {
        const shape = [c.input.shape[0] + 2, c.input.shape[1] + 3, ...c.input.shape.slice(2)];
        const m = shape.reduce((a, b) => a * b, 1);
        const d2 =
          c.input.dtype === 'int64'
            ? Array.from({ length: m }, () => rng.int(c.input.vocab!))
            : Array.from({ length: m }, () => rng.uniform(-1, 1));
        await compareWithOrt(bytes, { [c.input.name]: { dtype: c.input.dtype, shape, data: d2 } }, `${c.name} (B+2, T+3)`);
      }
    });
  }

  it('unsupported operators are listed', async () => {
    const { default: onnxBytes } = { default: readFileSync(new URL('torch_rnn_tanh.onnx', dir)) };
    // rename one op type in the protobuf bytes (same length) to make it unknown
    const s = Buffer.from(onnxBytes).toString('latin1').replaceAll('MatMul', 'MatMux');
    expect(() => importOnnx(new Uint8Array(Buffer.from(s, 'latin1')))).toThrow(/unsupported operators: MatMux \(\d+ nodes?\)/);
    expect(() => importOnnx(new Uint8Array([1, 2, 3, 4, 5]))).toThrow(FormatError);
  });
});
