/**
 * Smaller models for the edge: `quantize(model, { dtype })`.
 *
 * - `int8`: recurrent (`weight_ih`, `weight_hh`) and dense weights become int8
 *   with symmetric scales, one per output row (`perChannel`, the default) or
 *   one per matrix. They stay int8 in wasm memory and the step kernels run on
 *   them directly (`crate/src/quant.rs`: integer dot products against an
 *   int16 copy of each activation row); embeddings, biases and normalisation
 *   stay f32. A quarter of the f32 weight bytes, in memory and on disk.
 * - `f16`: every parameter is rounded to half precision and stored as F16
 *   (half the file). WebAssembly has no f16 arithmetic, so the weights are
 *   widened to f32 when loaded and run on the f32 kernels.
 *
 * A `QuantizedModel` is for inference: `predict`, `session()` (streaming,
 * `generate`), `save()` (safetensors with I8 / F16 tensors, readable by the
 * Python `safetensors` package) and `loadQuantizedModel`. int8 models run
 * through the streaming kernels; `predict` runs a bidirectional or
 * `goBackwards` layer's backward direction over each sample's reversed steps
 * (a session of such a model is refused: a stream cannot see the future).
 */
import { FormatError, ShapeError, ValueError } from '../errors.js';
import {
  f16ToF32,
  f32ToF16,
  type ReadLimits,
  readSafetensors,
  type TensorToWrite,
  toFloat32,
  writeSafetensors,
} from '../format/safetensors.js';
import type { Int8Packer, Layer, SequenceSplit } from '../layers/base.js';
import { layerFromConfig } from '../layers/index.js';
import { flipped } from '../ops/sequence.js';
import { runtime } from '../runtime/init.js';
import { WasmArray } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';
import { Tensor, type TensorLike, tensor } from '../tensor.js';
import type { SequentialConfig } from './config.js';
import { loadModel } from './load.js';
import { FORMAT, FORMAT_VERSION } from './model-file.js';
import { Sequential } from './sequential.js';
import { Session, type SessionOptions, type StreamSource } from './session.js';

export type QuantDtype = 'int8' | 'f16';

export interface QuantizeOptions {
  dtype: QuantDtype;
  /** int8: one scale per output row (default true) or one per matrix. */
  perChannel?: boolean;
}

/** An int8 matrix as stored in the file: row-major values and their scales. */
interface Q8Matrix {
  shape: [number, number];
  q: Int8Array;
  /** `[rows]` (per channel) or `[1]` */
  scales: Float32Array;
}

/** Quantise a trained model (the model itself is left as it was). */
export function quantize(model: Sequential, opts: QuantizeOptions): QuantizedModel {
  if (!opts || (opts.dtype !== 'int8' && opts.dtype !== 'f16'))
    throw new ValueError(`quantize: dtype must be 'int8' or 'f16'; got ${JSON.stringify(opts?.dtype)}`);
  const perChannel = opts.perChannel ?? true;
  const arena = model.arena;
  const params = arena.named(arena.params);
  const config: SequentialConfig = { ...model.toConfig(), compile: null };
  const meta = { ...model.metadata };
  if (opts.dtype === 'f16') {
    const inner = new Sequential(config.layers.map(layerFromConfig), { name: config.name });
    inner.build(config.inputShape, { initialize: false });
    inner.setWeights(Object.fromEntries(params.map((p) => [p.name, Float32Array.from(p.data, f16ToF32Exact)])));
    return QuantizedModel.f16(inner, meta);
  }
  const { core, heap } = runtime();
  const f32: Record<string, Float32Array> = {};
  const q8: Record<string, Q8Matrix> = {};
  for (const l of model.layers) {
    for (const p of l.params) {
      const name = `${l.name}.${p.name}`;
      if (!p.matrix) {
        f32[name] = params.find((s) => s.name === name)!.data;
        continue;
      }
      const [rows, k] = p.shape as [number, number];
      const q = new WasmArray(heap, Math.ceil((rows * k) / 4), 'i32');
      const s = new WasmArray(heap, rows);
      try {
        checkStatus('quantize', core.q8_quantize(rows, k, arena.ptr(l, p.name), perChannel, q.ptr, s.ptr));
        q8[name] = {
          shape: [rows, k],
          q: new Int8Array(heap.memory.buffer, q.ptr, rows * k).slice(),
          scales: s.toFloat32Array(0, perChannel ? rows : 1),
        };
      } finally {
        q.free();
        s.free();
      }
    }
  }
  return QuantizedModel.int8(config, f32, q8, perChannel, meta);
}

/** f32 → nearest f16 → f32 (what an F16 file holds). */
const f16ToF32Exact = (v: number) => f16ToF32(f32ToF16(v));

export class QuantizedModel implements StreamSource {
  readonly name: string;
  readonly layers: Layer[];
  /** Free-form string metadata, saved as with `Sequential` (e.g. the tokenizer). */
  metadata: Record<string, string>;
  readonly weightsVersion = 0;
  private readonly inputShape: (number | null)[];
  private readonly owned: WasmArray[] = [];
  private readonly f32 = new Map<string, WasmArray>();
  /** each layer's int8 weights, as its `int8Weights` packed them */
  private readonly int8s = new Map<Layer, unknown>();
  private disposed = false;

  private constructor(
    readonly dtype: QuantDtype,
    readonly perChannel: boolean,
    private readonly config: SequentialConfig,
    /** f16: the model on f32 kernels (weights rounded to f16) */
    private readonly inner: Sequential | null,
    /** int8: the stored matrices (for save) */
    private readonly q8: Record<string, Q8Matrix>,
    metadata: Record<string, string>,
  ) {
    this.name = config.name;
    this.metadata = metadata;
    this.inputShape = [...config.inputShape];
    if (inner) {
      this.layers = inner.layers;
      return;
    }
    this.layers = config.layers.map(layerFromConfig);
    let shape: (number | null)[] = [...config.inputShape];
    for (const l of this.layers) {
      shape = l.build(shape);
    }
  }

  /** @internal an f16 model around `inner`, an f32 model whose weights are f16 values */
  static f16(inner: Sequential, metadata: Record<string, string>): QuantizedModel {
    return new QuantizedModel('f16', false, { ...inner.toConfig(), compile: null }, inner, {}, metadata);
  }

  /** @internal */
  static int8(
    config: SequentialConfig,
    f32: Record<string, Float32Array>,
    q8: Record<string, Q8Matrix>,
    perChannel: boolean,
    metadata: Record<string, string>,
  ): QuantizedModel {
    const m = new QuantizedModel('int8', perChannel, config, null, q8, metadata);
    m.place(f32);
    return m;
  }

  /** Copy the f32 tensors into wasm memory and pack the int8 ones for the kernels. */
  private place(f32: Record<string, Float32Array>): void {
    const { core, heap } = runtime();
    const own = (n: number, kind: 'f32' | 'i32' = 'f32') => {
      const w = new WasmArray(heap, Math.max(1, n), kind);
      this.owned.push(w);
      return w;
    };
    const need = (name: string) => {
      const v = f32[name];
      if (!v) throw new FormatError(`quantized model: tensor "${name}" is missing`);
      return v;
    };
    /** Pack rows [r0, r1) of an int8 matrix; returns [packed bytes, per-row scales]. */
    const pack = (m: Q8Matrix, r0: number, r1: number): [number, number] => {
      const k = m.shape[1];
      const rows = r1 - r0;
      const packed = own(core.q8_packed_len(k, rows) / 4, 'i32');
      const raw = new WasmArray(heap, Math.ceil((rows * k) / 4), 'i32');
      try {
        new Int8Array(heap.memory.buffer, raw.ptr, rows * k).set(m.q.subarray(r0 * k, r1 * k));
        checkStatus('q8 pack', core.q8_pack(k, rows, raw.ptr, packed.ptr));
      } finally {
        raw.free();
      }
      const s = own(rows);
      s.set(m.scales.length === 1 ? new Float32Array(rows).fill(m.scales[0]) : m.scales.subarray(r0, r1));
      return [packed.ptr, s.ptr];
    };
    for (const l of this.layers) {
      for (const p of l.params) {
        const name = `${l.name}.${p.name}`;
        const n = p.shape.reduce((a, b) => a * b, 1);
        if (p.matrix) {
          const m = this.q8[name];
          if (!m) throw new FormatError(`quantized model: int8 tensor "${name}" is missing`);
          if (m.shape[0] !== p.shape[0] || m.shape[1] !== p.shape[1])
            throw new FormatError(`quantized model: "${name}" has shape [${m.shape}]; the config needs [${p.shape}]`);
          continue;
        }
        const v = need(name);
        if (v.length !== n) throw new FormatError(`quantized model: "${name}" has ${v.length} values; the config needs ${n}`);
        for (let i = 0; i < v.length; i++)
          if (!Number.isFinite(v[i])) throw new FormatError(`quantized model: "${name}" contains ${v[i]} at ${i}`);
        this.f32.set(name, own(n).set(v));
      }
      const packer: Int8Packer = {
        pack: (param, r0 = 0, r1) => {
          const m = this.q8[`${l.name}.${param}`];
          if (!m) throw new ValueError(`internal: ${l.name} has no int8 matrix ${param}`);
          return pack(m, r0, r1 ?? m.shape[0]);
        },
        words: (values) => own(values.length, 'i32').set(values).ptr,
      };
      const w = l.int8Weights(packer);
      if (w === null && l.params.some((p) => p.matrix))
        throw new ValueError(`quantize: layer ${l.name} (${l.className}) has no int8 kernel`);
      if (w !== null) this.int8s.set(l, w);
    }
  }

  // ------------------------------------------------------------ StreamSource

  /** True after `dispose()` (sessions of this model then refuse to run). */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal */
  streamInputShape(): (number | null)[] {
    return [...this.inputShape];
  }

  /** @internal */
  paramPtr(layer: Layer, name: string): number {
    if (this.inner) return this.inner.paramPtr(layer, name);
    const w = this.f32.get(`${layer.name}.${name}`);
    if (!w) throw new ValueError(`internal: ${layer.name} has no f32 parameter ${name}`);
    return w.ptr;
  }

  /** @internal */
  int8(layer: Layer): unknown {
    return this.int8s.get(layer) ?? null;
  }

  // ------------------------------------------------------------------ public

  /** A streaming session (one time step per call), as `Sequential.session`. */
  session(opts: SessionOptions = {}): Session {
    this.alive();
    return this.inner ? this.inner.session(opts) : new Session(this, opts);
  }

  /** The input shape without the batch dimension (`null` for free dimensions). */
  get builtInputShape(): (number | null)[] {
    return [...this.inputShape];
  }

  /** Parameters (each int8 value counts as one). */
  countParams(): number {
    return this.layers.reduce((a, l) => a + l.countParams(), 0);
  }

  /** Bytes of the weights as stored (int8 / f16 / f32 per tensor, scales included). */
  get weightBytes(): number {
    let n = 0;
    for (const l of this.layers) {
      for (const p of l.params) {
        const count = p.shape.reduce((a, b) => a * b, 1);
        const m = this.q8[`${l.name}.${p.name}`];
        n += this.dtype === 'f16' ? 2 * count : m ? count + 4 * m.scales.length : 4 * count;
      }
    }
    return n;
  }

  /**
   * Outputs for every sample: `[N, outputs]` for a model whose last recurrent
   * layer returns one step, `[N, T, outputs]` otherwise. int8: samples run
   * longest first in groups of `batchSize`, each group in one wasm call;
   * with `maskZero` a sample's state stops at its last real step (padding
   * must come last), and per-step outputs past it are zero.
   */
  predict(x: TensorLike, args: { batchSize?: number } = {}): Tensor {
    this.alive();
    if (this.inner) return this.inner.predict(x, args);
    const bs = args.batchSize ?? 32;
    if (!Number.isInteger(bs) || bs < 1) throw new ValueError(`predict: batchSize must be a positive integer; got ${bs}`);
    const first = this.layers[0];
    const ids = first.inputDType === 'int32';
    const t = x instanceof Tensor ? x : tensor(x, undefined, ids ? 'int32' : 'float32');
    const want = ids ? 2 : 3;
    if (t.rank !== want) throw new ShapeError(`predict: expected input [samples, time${ids ? '' : ', features'}]; got [${t.shape}]`);
    const [N, T] = t.shape;
    const F = ids ? 1 : t.shape[2];
    const fixedT = this.inputShape[0];
    if (typeof fixedT === 'number' && fixedT !== T) throw new ShapeError(`predict: the model takes ${fixedT} time steps; got ${T}`);
    if (!ids && F !== this.inputShape[this.inputShape.length - 1])
      throw new ShapeError(`predict: the model takes ${this.inputShape[this.inputShape.length - 1]} features per step; got ${F}`);
    if (N === 0 || T === 0) throw new ShapeError(`predict: empty input [${t.shape}]`);
    const data = t.data;
    const lengths = new Int32Array(N).fill(T);
    if (ids) {
      const V = first.vocabularySize;
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (!(Number.isInteger(v) && v >= 0 && v < V)) throw new ValueError(`predict: id ${v} at ${i} is outside [0, ${V})`);
      }
      if (first.masksPadding) {
        for (let n = 0; n < N; n++) {
          let len = T;
          for (let s = 0; s < T; s++) {
            if (data[n * T + s] === 0) {
              if (len === T) len = s;
            } else if (len < T) {
              throw new ValueError(
                `predict: maskZero needs padding after the real steps; sample ${n} has id ${data[n * T + s]} at step ${s} after padding at step ${len}`,
              );
            }
          }
          if (len === 0) throw new ValueError(`predict: sample ${n} is all padding`);
          lengths[n] = len;
        }
      }
    } else {
      for (let i = 0; i < data.length; i++)
        if (!Number.isFinite(data[i])) throw new ValueError(`predict: input contains ${data[i]} at ${i}`);
    }
    const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
    const B = Math.min(bs, N);
    const stages = this.stagesFor(B, T, F, ids);
    const { O, collapsed } = stages.reduce((a, st) => ({ O: st.outputSize, collapsed: a.collapsed || st.collapses }), {
      O: F,
      collapsed: false,
    });
    const rowOut = collapsed ? O : T * O;
    const out = new Float32Array(N * rowOut);
    try {
      for (let c0 = 0; c0 < N; c0 += B) {
        const rows = order.slice(c0, c0 + B);
        const b = rows.length;
        let x: Float32Array | Int32Array = ids ? new Int32Array(b * T * F) : new Float32Array(b * T * F);
        for (const [r, n] of rows.entries()) x.set(data.subarray(n * T * F, (n + 1) * T * F), r * T * F);
        let lens = Int32Array.from(rows, (n) => lengths[n]);
        for (const st of stages) {
          x = st.run(x, b, lens);
          if (st.collapses) lens = new Int32Array(b).fill(1);
        }
        for (const [r, n] of rows.entries()) out.set(x.subarray(r * rowOut, (r + 1) * rowOut), n * rowOut);
      }
    } catch (e) {
      this.dropStages();
      throw e;
    }
    return new Tensor(out, collapsed ? [N, O] : [N, T, O]);
  }

  /** The last `predict`'s stages, kept for the next call of the same shape:
   *  building the sessions was most of a short call (one 10-step sample,
   *  LSTM(64): 108 → 58 µs per call; bidirectional 192 → 102). */
  private kept: { key: string; stages: Stage[] } | null = null;

  private stagesFor(B: number, T: number, F: number, ids: boolean): Stage[] {
    const key = `${B} ${T} ${F} ${ids}`;
    if (this.kept?.key !== key) {
      this.dropStages();
      this.kept = { key, stages: this.stages(B, T, F, ids) };
    }
    return this.kept.stages;
  }

  private dropStages(): void {
    for (const st of this.kept?.stages ?? []) st.dispose();
    this.kept = null;
  }

  /**
   * How `predict` runs the layers on a chunk of up to `B` samples: all of them
   * in one streaming call, or — with a bidirectional or `goBackwards` layer,
   * which needs a sequence's end before its start — layer by layer: the
   * forward-in-time layers between such layers in one streaming call each,
   * and each such layer's backward direction as a forward pass over every
   * sample's steps reversed within its length (then reversed back, beside the
   * forward direction, for a bidirectional layer; Keras's `goBackwards`
   * returns them in processing order).
   */
  private stages(B: number, T: number, F: number, ids: boolean): Stage[] {
    // a layer collapses time when its output has fewer axes than its input
    const ranks = this.layers.map((l, i) => [
      i === 0 ? this.inputShape.length : this.layers[i - 1].outputShape!.length,
      l.outputShape!.length,
    ]);
    const collapses = (l: Layer) => {
      const [rin, rout] = ranks[this.layers.indexOf(l)];
      return rout < rin;
    };
    const splits = this.layers.map((l) => l.sequenceSplit());
    if (splits.every((sp) => sp === null)) return [new StreamRun(this, B, T, F, ids, this.layers.some(collapses)).stage()];
    const [stages, runs]: [Stage[], StreamRun[]] = [[], []];
    const run = (r: StreamRun) => {
      runs.push(r);
      return r;
    };
    let [t, f, seg] = [T, F, [] as Layer[]];
    const add = (st: Stage) => {
      stages.push(st);
      f = st.outputSize;
      if (st.collapses) t = 1;
    };
    const flush = () => {
      if (seg.length) add(run(new StreamRun(this.view(seg, [t, f]), B, t, f, ids && stages.length === 0, seg.some(collapses))).stage());
      seg = [];
    };
    try {
      this.layers.forEach((l, k) => {
        const split = splits[k];
        if (!split) {
          seg.push(l);
          return;
        }
        flush();
        const last = collapses(l);
        const passRun = (pass: Pass) => run(new StreamRun(this.view([pass.layer], [t, f], { layer: l, pass }), B, t, f, false, last));
        add(splitStage(split, passRun, t, f, last));
      });
      flush();
    } catch (e) {
      for (const r of runs) r.dispose();
      throw e;
    }
    return stages;
  }

  /** The model's `layers` as a stream source; with `split`, the first is one pass of that layer, on its weights. */
  private view(layers: Layer[], inShape: (number | null)[], split?: { layer: Layer; pass: Pass }): StreamSource {
    const pass = (l: Layer) => (split !== undefined && l === layers[0] ? split : null);
    const owner = this;
    return {
      layers,
      get isDisposed() {
        return owner.isDisposed;
      },
      weightsVersion: this.weightsVersion,
      streamInputShape: () => inShape,
      paramPtr: (l, name) => {
        const p = pass(l);
        return p ? this.paramPtr(p.layer, p.pass.param(name)) : this.paramPtr(l, name);
      },
      int8: (l) => {
        const p = pass(l);
        if (!p) return this.int8(l);
        const w = this.int8(p.layer);
        return w === null ? null : p.pass.int8(w);
      },
    };
  }

  /** The model as a safetensors file (I8 + F32 scales, or F16). */
  save(): Uint8Array {
    this.alive();
    const tensors: TensorToWrite[] = [];
    const src = this.inner ? this.inner.arena.named(this.inner.arena.params) : null;
    for (const l of this.layers) {
      for (const p of l.params) {
        const name = `${l.name}.${p.name}`;
        if (src) {
          const v = src.find((s) => s.name === name)!.data;
          const h = new Uint8Array(v.length * 2);
          const dv = new DataView(h.buffer);
          for (let i = 0; i < v.length; i++) dv.setUint16(2 * i, f32ToF16(v[i]), true);
          tensors.push({ name, dtype: 'F16', shape: p.shape, data: h });
          continue;
        }
        const m = this.q8[name];
        if (m) {
          tensors.push({ name, dtype: 'I8', shape: m.shape, data: new Uint8Array(m.q.buffer, m.q.byteOffset, m.q.byteLength) });
          tensors.push({ name: `${name}.scale`, dtype: 'F32', shape: [m.scales.length], data: m.scales });
        } else {
          tensors.push({ name, dtype: 'F32', shape: p.shape, data: this.f32.get(name)!.toFloat32Array() });
        }
      }
    }
    const metadata: Record<string, string> = {
      format: FORMAT,
      version: FORMAT_VERSION,
      config: JSON.stringify(this.config),
      quantization: JSON.stringify({
        dtype: this.dtype,
        ...(this.dtype === 'int8' ? { perChannel: this.perChannel, scheme: 'symmetric' } : {}),
      }),
    };
    for (const [k, v] of Object.entries(this.metadata)) metadata[`user.${k}`] = String(v);
    return writeSafetensors(tensors, metadata);
  }

  /** One line per layer: name, class, parameters and their storage. */
  summary(): string {
    const lines = this.layers.map((l) => {
      const kinds = l.params.map((p) => (this.dtype === 'f16' ? 'f16' : this.q8[`${l.name}.${p.name}`] ? 'int8' : 'f32'));
      return `${l.name} (${l.className}): ${l.countParams()} parameters${kinds.length ? ` [${[...new Set(kinds)].join(', ')}]` : ''}`;
    });
    return [`QuantizedModel "${this.name}" (${this.dtype})`, ...lines, `weights: ${this.weightBytes} bytes`].join('\n');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.dropStages();
    for (const w of this.owned) w.free();
    this.inner?.dispose();
  }

  private alive(): void {
    if (this.disposed) throw new ValueError(`${this.name}: used after dispose()`);
  }
}

/** Load a file written by `QuantizedModel.save()`. */
export function loadQuantizedModel(bytes: Uint8Array | ArrayBuffer, limits: ReadLimits = {}): QuantizedModel {
  const file = readSafetensors(bytes, limits);
  if (file.metadata.format !== FORMAT) throw new FormatError(`quantized model: not a ${FORMAT} model file`);
  let q: { dtype?: unknown; perChannel?: unknown };
  try {
    q = JSON.parse(file.metadata.quantization ?? 'null');
  } catch {
    throw new FormatError('quantized model: the quantization metadata is not valid JSON');
  }
  if (!q || (q.dtype !== 'int8' && q.dtype !== 'f16'))
    throw new FormatError('quantized model: the file is not quantised (load it with loadModel)');
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(file.metadata)) if (k.startsWith('user.')) metadata[k.slice(5)] = v;
  if (q.dtype === 'f16') {
    const inner = loadModel(bytes, limits); // F16 tensors widen to f32
    if (!(inner instanceof Sequential)) throw new FormatError('quantized model: only Sequential models are quantised');
    return QuantizedModel.f16(inner, metadata);
  }
  let config: SequentialConfig;
  try {
    config = JSON.parse(file.metadata.config ?? '');
  } catch {
    throw new FormatError('quantized model: the model config in the metadata is not valid JSON');
  }
  if (config?.class !== 'Sequential' || !Array.isArray(config.layers) || !Array.isArray(config.inputShape))
    throw new FormatError('quantized model: the config does not describe a Sequential model');
  const f32: Record<string, Float32Array> = {};
  const q8: Record<string, Q8Matrix> = {};
  for (const [name, t] of file.tensors) {
    if (name.endsWith('.scale')) continue;
    if (t.dtype === 'I8') {
      const s = file.tensors.get(`${name}.scale`);
      if (t.shape.length !== 2) throw new FormatError(`quantized model: "${name}" must be a matrix; got shape ${JSON.stringify(t.shape)}`);
      if (s?.dtype !== 'F32' || s.shape.length !== 1 || (s.shape[0] !== t.shape[0] && s.shape[0] !== 1)) {
        throw new FormatError(`quantized model: "${name}" needs an F32 "${name}.scale" of shape [${t.shape[0]}] or [1]`);
      }
      const scales = toFloat32(s, `${name}.scale`);
      for (const v of scales)
        if (!(v > 0 && Number.isFinite(v))) throw new FormatError(`quantized model: "${name}.scale" holds ${v}; scales must be positive`);
      q8[name] = { shape: [t.shape[0], t.shape[1]], q: new Int8Array(t.bytes.slice().buffer), scales };
    } else {
      f32[name] = toFloat32(t, name);
    }
  }
  try {
    return QuantizedModel.int8(config, f32, q8, q.perChannel !== false, metadata);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`quantized model: ${(e as Error).message}`);
  }
}

/** A part of `predict`: `[b, T, F]` rows (each sample's real steps first) to `[b, T, outputSize]`, or `[b, outputSize]` when it `collapses` time. */
interface Stage {
  readonly outputSize: number;
  readonly collapses: boolean;
  run(x: Float32Array | Int32Array, b: number, lens: Int32Array): Float32Array;
  dispose(): void;
}

/** A session over a stream source's layers, run over whole chunks with one `stream_run` call. */
class StreamRun {
  private readonly session: Session;
  private readonly xbuf: WasmArray;
  private readonly ybuf: WasmArray;
  private readonly active: WasmArray;
  readonly outputSize: number;

  constructor(
    source: StreamSource,
    B: number,
    private readonly T: number,
    private readonly F: number,
    ids: boolean,
    private readonly lastOnly: boolean,
  ) {
    const { heap } = runtime();
    this.session = new Session(source, { batchSize: B });
    this.outputSize = this.session.outputSize;
    this.xbuf = new WasmArray(heap, B * T * F, ids ? 'i32' : 'f32');
    this.ybuf = new WasmArray(heap, lastOnly ? B * this.outputSize : B * T * this.outputSize);
    this.active = new WasmArray(heap, T, 'i32');
  }

  stage(): Stage {
    return {
      outputSize: this.outputSize,
      collapses: this.lastOnly,
      run: (x, b, lens) => this.run(x, b, lens),
      dispose: () => this.dispose(),
    };
  }

  /** `b` rows sorted by length, longest first; per-step outputs past a row's length stay zero. */
  run(x: Float32Array | Int32Array, b: number, lens: Int32Array): Float32Array {
    const { core } = runtime();
    const { session: s, T, F } = this;
    (x instanceof Int32Array ? this.xbuf.viewI32() : this.xbuf.view()).set(x.subarray(0, b * T * F));
    const av = this.active.viewI32();
    for (let t = 0, k = b; t < T; t++) {
      while (k > 0 && lens[k - 1] <= t) k--;
      av[t] = k;
    }
    this.ybuf.view().fill(0);
    s.reset();
    checkStatus(
      'predict',
      core.stream_run(
        s.program.ptr,
        s.records,
        b,
        T,
        this.active.ptr,
        this.xbuf.ptr,
        s.input.ptr,
        F,
        s.output.ptr,
        this.outputSize,
        this.ybuf.ptr,
        this.lastOnly,
        s.apack.ptr,
        s.apack.length,
      ),
    );
    return this.ybuf.toFloat32Array(0, b * (this.lastOnly ? 1 : T) * this.outputSize);
  }

  dispose(): void {
    for (const w of [this.xbuf, this.ybuf, this.active]) w.free();
    this.session.dispose();
  }
}

type Pass = SequenceSplit['passes'][number];

/**
 * A layer that reads a sequence's end before its start, on `[b, T, F]` rows:
 * each pass one streaming run (over each row's steps reversed within its
 * length when the pass says so), the outputs merged as the layer says.
 */
function splitStage(split: SequenceSplit, passRun: (p: Pass) => StreamRun, T: number, F: number, last: boolean): Stage {
  const runs = split.passes.map((p) => ({ p, r: passRun(p) }));
  return {
    outputSize: split.features,
    collapses: last,
    run: (x, b, lens) => {
      const outs = runs.map(({ p, r }) => {
        const y = r.run(p.reversed ? flipped(x as Float32Array, b, T, F, lens) : x, b, lens);
        return p.flipBack ? flipped(y, b, T, r.outputSize, lens) : y;
      });
      return split.merge(outs, outs[0].length / runs[0].r.outputSize);
    },
    dispose: () => {
      for (const { r } of runs) r.dispose();
    },
  };
}
