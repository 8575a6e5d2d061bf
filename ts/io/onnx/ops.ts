/**
 * The ONNX operators the importer evaluates besides the recurrent nodes —
 * what `torch.onnx.export` wraps around an Embedding → LSTM/GRU/RNN → Linear
 * model (shape arithmetic, Gather, Transpose, Slice, MatMul/Gemm, softmaxes)
 * plus common elementwise ops. Semantics from onnx `docs/Operators.md`
 * (opset ≥ 13 forms; the older attribute forms of Squeeze/Unsqueeze/Slice are
 * accepted too). Values are host tensors: float32, or integers held exactly in
 * a Float64Array (int64/int32/bool).
 */
import { FormatError } from '../../errors.js';
import { matmul } from '../../ops/gemm.js';

export type Kind = 'float' | 'int';

export interface HostTensor {
  kind: Kind;
  shape: number[];
  data: Float32Array | Float64Array;
}

export type Attrs = Map<string, unknown>;

export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function floatT(shape: number[], data?: Float32Array): HostTensor {
  return { kind: 'float', shape, data: data ?? new Float32Array(size(shape)) };
}

export function intT(shape: number[], data?: ArrayLike<number>): HostTensor {
  return { kind: 'int', shape, data: data ? Float64Array.from(data) : new Float64Array(size(shape)) };
}

function strides(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) throw new FormatError(`ONNX ${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

const ints = (t: HostTensor | undefined, op: string): number[] => {
  if (!t) throw new FormatError(`ONNX ${op}: missing input`);
  if (t.kind !== 'int') throw new FormatError(`ONNX ${op}: expected an integer tensor`);
  return Array.from(t.data);
};

/** Numpy-style broadcasting of two shapes. */
function broadcastShape(a: number[], b: number[], op: string): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new FormatError(`ONNX ${op}: shapes [${a}] and [${b}] do not broadcast`);
    out.push(Math.max(x, y));
  }
  return out;
}

/** Maps a flat index of `out` to the flat index of a tensor of shape `inp` broadcast to it. */
function indexer(out: number[], inp: number[]): (i: number) => number {
  if (size(inp) === size(out) && inp.length <= out.length && inp.every((d, k) => d === out[out.length - inp.length + k])) return (i) => i;
  if (size(inp) === 1) return () => 0;
  const so = strides(out);
  const si = strides(inp);
  const off = out.length - inp.length;
  return (i) => {
    let rem = i;
    let src = 0;
    for (let d = 0; d < out.length; d++) {
      const c = Math.floor(rem / so[d]);
      rem -= c * so[d];
      if (d >= off && inp[d - off] !== 1) src += c * si[d - off];
    }
    return src;
  };
}

function binary(op: string, a: HostTensor, b: HostTensor, f: (x: number, y: number) => number, outKind?: Kind): HostTensor {
  const shape = broadcastShape(a.shape, b.shape, op);
  const kind: Kind = outKind ?? (a.kind === 'float' || b.kind === 'float' ? 'float' : 'int');
  const n = size(shape);
  const out = kind === 'float' ? new Float32Array(n) : new Float64Array(n);
  const [ma, mb] = [indexer(shape, a.shape), indexer(shape, b.shape)];
  for (let i = 0; i < n; i++) out[i] = f(a.data[ma(i)], b.data[mb(i)]);
  return { kind, shape, data: out };
}

function unary(t: HostTensor, f: (x: number) => number): HostTensor {
  const out = t.kind === 'float' ? new Float32Array(t.data.length) : new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(t.data[i]);
  return { kind: t.kind, shape: [...t.shape], data: out };
}

export function transpose(t: HostTensor, perm: number[]): HostTensor {
  const r = t.shape.length;
  if (perm.length !== r) throw new FormatError(`ONNX Transpose: perm [${perm}] does not fit rank ${r}`);
  const shape = perm.map((p) => t.shape[p]);
  const out = t.kind === 'float' ? new Float32Array(t.data.length) : new Float64Array(t.data.length);
  const si = strides(t.shape);
  const so = strides(shape);
  const n = t.data.length;
  for (let i = 0; i < n; i++) {
    let rem = i;
    let src = 0;
    for (let d = 0; d < r; d++) {
      const c = Math.floor(rem / so[d]);
      rem -= c * so[d];
      src += c * si[perm[d]];
    }
    out[i] = t.data[src];
  }
  return { kind: t.kind, shape, data: out };
}

function softmax(t: HostTensor, axis: number, log: boolean): HostTensor {
  const a = normAxis(axis, t.shape.length, 'Softmax');
  const outer = size(t.shape.slice(0, a));
  const n = t.shape[a];
  const inner = size(t.shape.slice(a + 1));
  const out = new Float32Array(t.data.length);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let m = -Infinity;
      for (let j = 0; j < n; j++) m = Math.max(m, t.data[base + j * inner]);
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.exp(t.data[base + j * inner] - m);
      for (let j = 0; j < n; j++) {
        const v = t.data[base + j * inner] - m;
        out[base + j * inner] = log ? v - Math.log(s) : Math.exp(v) / s;
      }
    }
  return { kind: 'float', shape: [...t.shape], data: out };
}

/** `[..., M, K] × [..., K, N]` (2-D right operand broadcast), on the wasm SGEMM. */
function matmulT(a: HostTensor, b: HostTensor): HostTensor {
  if (a.kind !== 'float' || b.kind !== 'float') throw new FormatError('ONNX MatMul: integer matmul is not supported');
  if (a.shape.length < 2 || b.shape.length < 2) throw new FormatError('ONNX MatMul: 1-D operands are not supported');
  const K = a.shape[a.shape.length - 1];
  if (b.shape[b.shape.length - 2] !== K) throw new FormatError(`ONNX MatMul: [${a.shape}] × [${b.shape}] do not fit`);
  const N = b.shape[b.shape.length - 1];
  if (b.shape.length === 2) {
    const M = size(a.shape.slice(0, -1));
    const c = M && N && K ? matmul(a.data as Float32Array, b.data as Float32Array, M, K, N) : new Float32Array(M * N);
    return { kind: 'float', shape: [...a.shape.slice(0, -1), N], data: c };
  }
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2), 'MatMul');
  const M = a.shape[a.shape.length - 2];
  const nb = size(batch);
  const out = new Float32Array(nb * M * N);
  const aBatch = size(a.shape.slice(0, -2));
  const bBatch = size(b.shape.slice(0, -2));
  for (let i = 0; i < nb; i++) {
    const ai = aBatch === 1 ? 0 : i;
    const bi = bBatch === 1 ? 0 : i;
    const c = matmul(
      a.data.subarray(ai * M * K, (ai + 1) * M * K) as Float32Array,
      b.data.subarray(bi * K * N, (bi + 1) * K * N) as Float32Array,
      M,
      K,
      N,
    );
    out.set(c, i * M * N);
  }
  return { kind: 'float', shape: [...batch, M, N], data: out };
}

function slice(t: HostTensor, starts: number[], ends: number[], axes: number[] | null, steps: number[] | null): HostTensor {
  const r = t.shape.length;
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, r, 'Slice'));
  const st = steps ?? starts.map(() => 1);
  const begin = t.shape.map(() => 0);
  const step = t.shape.map(() => 1);
  const count = [...t.shape];
  ax.forEach((a, i) => {
    const dim = t.shape[a];
    const s = st[i];
    if (s === 0) throw new FormatError('ONNX Slice: step 0');
    let b = starts[i];
    let e = ends[i];
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    if (s > 0) {
      b = Math.min(Math.max(b, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
      count[a] = Math.max(0, Math.ceil((e - b) / s));
    } else {
      b = Math.min(Math.max(b, -1), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
      count[a] = Math.max(0, Math.ceil((e - b) / s));
    }
    begin[a] = b;
    step[a] = s;
  });
  const out = t.kind === 'float' ? new Float32Array(size(count)) : new Float64Array(size(count));
  const si = strides(t.shape);
  const so = strides(count);
  for (let i = 0; i < out.length; i++) {
    let rem = i;
    let src = 0;
    for (let d = 0; d < r; d++) {
      const c = Math.floor(rem / so[d]);
      rem -= c * so[d];
      src += (begin[d] + c * step[d]) * si[d];
    }
    out[i] = t.data[src];
  }
  return { kind: t.kind, shape: count, data: out };
}

function gather(data: HostTensor, idx: HostTensor, axis: number): HostTensor {
  const a = normAxis(axis, data.shape.length, 'Gather');
  const outer = size(data.shape.slice(0, a));
  const n = data.shape[a];
  const inner = size(data.shape.slice(a + 1));
  const ids = ints(idx, 'Gather');
  const shape = [...data.shape.slice(0, a), ...idx.shape, ...data.shape.slice(a + 1)];
  const out = data.kind === 'float' ? new Float32Array(size(shape)) : new Float64Array(size(shape));
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < ids.length; k++) {
      let j = ids[k];
      if (j < 0) j += n;
      if (!(j >= 0 && j < n)) throw new FormatError(`ONNX Gather: index ${ids[k]} out of range [${-n}, ${n})`);
      out.set(data.data.subarray((o * n + j) * inner, (o * n + j + 1) * inner), (o * ids.length + k) * inner);
    }
  return { kind: data.kind, shape, data: out };
}

function concat(ts: HostTensor[], axis: number): HostTensor {
  const r = ts[0].shape.length;
  const a = normAxis(axis, r, 'Concat');
  const kind = ts.some((t) => t.kind === 'float') ? 'float' : 'int';
  const shape = [...ts[0].shape];
  shape[a] = ts.reduce((s, t) => s + t.shape[a], 0);
  for (const t of ts) {
    if (t.shape.length !== r || t.shape.some((d, i) => i !== a && d !== shape[i])) throw new FormatError('ONNX Concat: shapes do not fit');
  }
  const outer = size(shape.slice(0, a));
  const inner = size(shape.slice(a + 1));
  const out = kind === 'float' ? new Float32Array(size(shape)) : new Float64Array(size(shape));
  let off = 0;
  for (const t of ts) {
    const w = t.shape[a] * inner;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * w, (o + 1) * w), o * shape[a] * inner + off);
    off += w;
  }
  return { kind, shape, data: out };
}

function reshape(t: HostTensor, target: number[], allowzero: boolean): HostTensor {
  const shape = target.map((d, i) => (d === 0 && !allowzero ? t.shape[i] : d));
  const neg = shape.indexOf(-1);
  if (neg >= 0) {
    const known = size(shape.filter((_d, i) => i !== neg));
    shape[neg] = known ? t.data.length / known : 0;
  }
  if (size(shape) !== t.data.length || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new FormatError(`ONNX Reshape: [${t.shape}] cannot become [${target}]`);
  }
  return { kind: t.kind, shape, data: t.data };
}

const TYPE_KIND: Record<number, Kind> = {
  1: 'float',
  10: 'float',
  11: 'float',
  16: 'float',
  2: 'int',
  3: 'int',
  4: 'int',
  5: 'int',
  6: 'int',
  7: 'int',
  9: 'int',
  12: 'int',
  13: 'int',
};

type OpFn = (inputs: (HostTensor | undefined)[], attrs: Attrs, opset: number) => HostTensor[];

const need = (t: HostTensor | undefined, op: string, i: number): HostTensor => {
  if (!t) throw new FormatError(`ONNX ${op}: input ${i} is missing`);
  return t;
};
const attrInt = (a: Attrs, k: string, d: number) => (a.has(k) ? Number(a.get(k)) : d);
const attrInts = (a: Attrs, k: string) => (a.has(k) ? (a.get(k) as number[]).map(Number) : null);

export const OPS: Record<string, OpFn> = {
  Identity: ([x]) => [need(x, 'Identity', 0)],
  Dropout: ([x]) => [need(x, 'Dropout', 0)],
  Add: ([a, b]) => [binary('Add', need(a, 'Add', 0), need(b, 'Add', 1), (x, y) => x + y)],
  Sub: ([a, b]) => [binary('Sub', need(a, 'Sub', 0), need(b, 'Sub', 1), (x, y) => x - y)],
  Mul: ([a, b]) => [binary('Mul', need(a, 'Mul', 0), need(b, 'Mul', 1), (x, y) => x * y)],
  Div: ([a, b]) => {
    const [x, y] = [need(a, 'Div', 0), need(b, 'Div', 1)];
    const integer = x.kind === 'int' && y.kind === 'int';
    return [binary('Div', x, y, integer ? (p, q) => Math.trunc(p / q) : (p, q) => p / q)];
  },
  Equal: ([a, b]) => [binary('Equal', need(a, 'Equal', 0), need(b, 'Equal', 1), (x, y) => (x === y ? 1 : 0), 'int')],
  Not: ([a]) => [unary(need(a, 'Not', 0), (x) => (x ? 0 : 1))],
  Where: ([c, a, b]) => {
    const cond = need(c, 'Where', 0);
    const x = need(a, 'Where', 1);
    const y = need(b, 'Where', 2);
    const shape = broadcastShape(broadcastShape(cond.shape, x.shape, 'Where'), y.shape, 'Where');
    const kind: Kind = x.kind === 'float' || y.kind === 'float' ? 'float' : 'int';
    const [mc, mx, my] = [indexer(shape, cond.shape), indexer(shape, x.shape), indexer(shape, y.shape)];
    const out = kind === 'float' ? new Float32Array(size(shape)) : new Float64Array(size(shape));
    for (let i = 0; i < out.length; i++) out[i] = cond.data[mc(i)] ? x.data[mx(i)] : y.data[my(i)];
    return [{ kind, shape, data: out }];
  },
  Relu: ([x]) => [unary(need(x, 'Relu', 0), (v) => Math.max(v, 0))],
  Tanh: ([x]) => [unary(need(x, 'Tanh', 0), Math.tanh)],
  Sigmoid: ([x]) => [unary(need(x, 'Sigmoid', 0), (v) => 1 / (1 + Math.exp(-v)))],
  Softmax: ([x], a, opset) => {
    if (opset < 13) throw new FormatError('ONNX Softmax: opset < 13 (coerced-2D semantics) is not supported');
    return [softmax(need(x, 'Softmax', 0), attrInt(a, 'axis', -1), false)];
  },
  LogSoftmax: ([x], a, opset) => {
    if (opset < 13) throw new FormatError('ONNX LogSoftmax: opset < 13 is not supported');
    return [softmax(need(x, 'LogSoftmax', 0), attrInt(a, 'axis', -1), true)];
  },
  MatMul: ([a, b]) => [matmulT(need(a, 'MatMul', 0), need(b, 'MatMul', 1))],
  Gemm: ([a, b, c], attrs) => {
    let A = need(a, 'Gemm', 0);
    let B = need(b, 'Gemm', 1);
    if (attrInt(attrs, 'transA', 0)) A = transpose(A, [1, 0]);
    if (attrInt(attrs, 'transB', 0)) B = transpose(B, [1, 0]);
    let y = matmulT(A, B);
    const alpha = attrs.has('alpha') ? Number(attrs.get('alpha')) : 1;
    const beta = attrs.has('beta') ? Number(attrs.get('beta')) : 1;
    if (alpha !== 1) y = unary(y, (v) => v * alpha);
    if (c && beta !== 0) y = binary('Gemm', y, c, (p, q) => p + beta * q);
    return [y];
  },
  Transpose: ([x], a) => {
    const t = need(x, 'Transpose', 0);
    return [transpose(t, attrInts(a, 'perm') ?? t.shape.map((_, i) => t.shape.length - 1 - i))];
  },
  Reshape: ([x, s], a) => [reshape(need(x, 'Reshape', 0), ints(s, 'Reshape'), attrInt(a, 'allowzero', 0) === 1)],
  Flatten: ([x], a) => {
    const t = need(x, 'Flatten', 0);
    const ax = attrInt(a, 'axis', 1);
    const k = ax < 0 ? ax + t.shape.length : ax;
    return [reshape(t, [size(t.shape.slice(0, k)), size(t.shape.slice(k))], true)];
  },
  Shape: ([x], a) => {
    const t = need(x, 'Shape', 0);
    const r = t.shape.length;
    let s = attrInt(a, 'start', 0);
    let e = a.has('end') ? attrInt(a, 'end', r) : r;
    if (s < 0) s += r;
    if (e < 0) e += r;
    const dims = t.shape.slice(Math.max(0, s), Math.min(r, e));
    return [intT([dims.length], dims)];
  },
  Size: ([x]) => [intT([], [need(x, 'Size', 0).data.length])],
  Gather: ([d, i], a) => [gather(need(d, 'Gather', 0), need(i, 'Gather', 1), attrInt(a, 'axis', 0))],
  Concat: (xs, a) => [
    concat(
      xs.map((x, i) => need(x, 'Concat', i)),
      attrInt(a, 'axis', 0),
    ),
  ],
  Unsqueeze: ([x, ax], a) => {
    const t = need(x, 'Unsqueeze', 0);
    const axes = ax ? ints(ax, 'Unsqueeze') : attrInts(a, 'axes');
    if (!axes) throw new FormatError('ONNX Unsqueeze: no axes');
    const r = t.shape.length + axes.length;
    const norm = axes.map((v) => normAxis(v, r, 'Unsqueeze')).sort((p, q) => p - q);
    const shape = [...t.shape];
    for (const v of norm) shape.splice(v, 0, 1);
    return [{ ...t, shape }];
  },
  Squeeze: ([x, ax], a) => {
    const t = need(x, 'Squeeze', 0);
    const axes = ax ? ints(ax, 'Squeeze') : attrInts(a, 'axes');
    const norm = axes
      ? axes.map((v) => normAxis(v, t.shape.length, 'Squeeze'))
      : t.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
    for (const v of norm) if (t.shape[v] !== 1) throw new FormatError(`ONNX Squeeze: dimension ${v} of [${t.shape}] is not 1`);
    return [{ ...t, shape: t.shape.filter((_, i) => !norm.includes(i)) }];
  },
  Slice: ([x, s, e, ax, st], a, opset) => {
    const t = need(x, 'Slice', 0);
    if (opset < 10) return [slice(t, attrInts(a, 'starts')!, attrInts(a, 'ends')!, attrInts(a, 'axes'), null)];
    return [slice(t, ints(s, 'Slice'), ints(e, 'Slice'), ax ? ints(ax, 'Slice') : null, st ? ints(st, 'Slice') : null)];
  },
  ConstantOfShape: ([s], a) => {
    const shape = ints(s, 'ConstantOfShape');
    const v = a.get('value') as HostTensor | undefined;
    const kind = v?.kind ?? 'float';
    const t = kind === 'float' ? floatT(shape) : intT(shape);
    if (v) t.data.fill(v.data[0]);
    return [t];
  },
  Expand: ([x, s]) => {
    const t = need(x, 'Expand', 0);
    const shape = broadcastShape(t.shape, ints(s, 'Expand'), 'Expand');
    const m = indexer(shape, t.shape);
    const out = t.kind === 'float' ? new Float32Array(size(shape)) : new Float64Array(size(shape));
    for (let i = 0; i < out.length; i++) out[i] = t.data[m(i)];
    return [{ kind: t.kind, shape, data: out }];
  },
  Cast: ([x], a) => {
    const t = need(x, 'Cast', 0);
    const to = attrInt(a, 'to', 1);
    const kind = TYPE_KIND[to];
    if (!kind) throw new FormatError(`ONNX Cast: unsupported target type ${to}`);
    if (kind === t.kind) return [t];
    if (kind === 'float') return [{ kind, shape: t.shape, data: Float32Array.from(t.data) }];
    return [{ kind, shape: t.shape, data: Float64Array.from(t.data, (v) => (to === 9 ? (v ? 1 : 0) : Math.trunc(v))) }];
  },
  LayerNormalization: ([x, sc, b], a) => {
    const t = need(x, 'LayerNormalization', 0);
    const scale = need(sc, 'LayerNormalization', 1);
    const axis = normAxis(attrInt(a, 'axis', -1), t.shape.length, 'LayerNormalization');
    const eps = a.has('epsilon') ? Number(a.get('epsilon')) : 1e-5;
    const n = size(t.shape.slice(axis));
    const rows = t.data.length / n;
    const out = new Float32Array(t.data.length);
    const sm = indexer(t.shape.slice(axis), scale.shape);
    const bm = b ? indexer(t.shape.slice(axis), b.shape) : null;
    for (let r = 0; r < rows; r++) {
      let mean = 0;
      for (let j = 0; j < n; j++) mean += t.data[r * n + j];
      mean /= n;
      let v = 0;
      for (let j = 0; j < n; j++) v += (t.data[r * n + j] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / n + eps);
      for (let j = 0; j < n; j++) out[r * n + j] = (t.data[r * n + j] - mean) * inv * scale.data[sm(j)] + (b && bm ? b.data[bm(j)] : 0);
    }
    return [{ kind: 'float', shape: [...t.shape], data: out }];
  },
  ReverseSequence: ([x, l], a) => {
    const t = need(x, 'ReverseSequence', 0);
    const lens = ints(l, 'ReverseSequence');
    const ba = attrInt(a, 'batch_axis', 1);
    const ta = attrInt(a, 'time_axis', 0);
    const out = t.kind === 'float' ? new Float32Array(t.data.length) : new Float64Array(t.data.length);
    const st = strides(t.shape);
    for (let i = 0; i < t.data.length; i++) {
      let rem = i;
      const c: number[] = [];
      for (let d = 0; d < t.shape.length; d++) {
        c.push(Math.floor(rem / st[d]));
        rem -= c[d] * st[d];
      }
      const len = lens[c[ba]];
      if (c[ta] < len) c[ta] = len - 1 - c[ta];
      out[i] = t.data[c.reduce((s2, v, d) => s2 + v * st[d], 0)];
    }
    return [{ kind: t.kind, shape: [...t.shape], data: out }];
  },
  ReduceSum: ([x, ax], a) => {
    const t = need(x, 'ReduceSum', 0);
    const axes = (ax ? ints(ax, 'ReduceSum') : (attrInts(a, 'axes') ?? t.shape.map((_, i) => i))).map((v) =>
      normAxis(v, t.shape.length, 'ReduceSum'),
    );
    const keep = attrInt(a, 'keepdims', 1) === 1;
    const outShapeKeep = t.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const out = t.kind === 'float' ? new Float32Array(size(outShapeKeep)) : new Float64Array(size(outShapeKeep));
    const si = strides(t.shape);
    const so = strides(outShapeKeep);
    for (let i = 0; i < t.data.length; i++) {
      let rem = i;
      let dst = 0;
      for (let d = 0; d < t.shape.length; d++) {
        const c = Math.floor(rem / si[d]);
        rem -= c * si[d];
        if (!axes.includes(d)) dst += c * so[d];
      }
      out[dst] += t.data[i];
    }
    return [{ kind: t.kind, shape: keep ? outShapeKeep : t.shape.filter((_, i) => !axes.includes(i)), data: out }];
  },
};
