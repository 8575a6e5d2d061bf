/**
 * Streaming inference: `model.session()` runs a model one time step at a time
 * with its recurrent state carried between calls — for text generation, live
 * sensors, or an edge function that keeps a conversation's state between
 * requests (`session.state` is plain JSON).
 *
 * The session compiles the model into a step program (`crate/src/stream.rs`):
 * every buffer is allocated once, and `step()` is one wasm call that runs every
 * layer, returning a view of the output buffer. Recurrent layers multiply
 * `[x, h]` by one packed weight per step (a single GEMV at batch 1); the
 * packing is redone only after the model's weights change.
 */
import { ShapeError, ValueError } from '../errors.js';
import { Dense } from '../layers/dense.js';
import { Dropout } from '../layers/dropout.js';
import { Embedding } from '../layers/embedding.js';
import { LastStep } from '../layers/last-step.js';
import { LayerNormalization } from '../layers/layer-norm.js';
import { Recurrent } from '../layers/recurrent.js';
import { runtime } from '../runtime/init.js';
import { WasmArray } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';
import type { Layer } from '../layers/base.js';

const RECORD = 16;
const OP = { EMBED: 1, DENSE: 2, RECUR: 3, LNORM: 4, RECUR_Q8: 5, DENSE_Q8: 6 };
const ACT: Record<string, number> = { linear: 0, relu: 1, tanh: 2, sigmoid: 3, softmax: 4 };
const GATE: Record<string, number> = { sigmoid: 0, hardSigmoid: 1, hardSigmoid6: 2 };

/**
 * @internal What a session needs from a model: its layers, where each f32
 * parameter lives in wasm memory, and (for quantised models) the int8
 * weights. `Sequential` and `QuantizedModel` provide it.
 */
export interface StreamSource {
  readonly layers: readonly Layer[];
  /** True once the model's memory is freed: a session then refuses to run (its records point into that memory). */
  readonly isDisposed: boolean;
  /** Changes whenever the f32 weights change (sessions re-pack then). */
  readonly weightsVersion: number;
  /** The input shape without the batch dimension. */
  streamInputShape(): (number | null)[];
  /** Byte pointer of an f32 parameter. */
  paramPtr(layer: Layer, name: string): number;
  /** int8 weights of a dense layer (packed bytes, per-row scales), or null for f32. */
  q8Dense(layer: Dense): { q: number; scales: number } | null;
  /** Pointer to the six-word int8 descriptor of a recurrent layer, or null for f32. */
  q8Recurrent(layer: Recurrent): number | null;
}

export interface SessionOptions {
  /** Sequences stepped together (default 1). */
  batchSize?: number;
}

/** A session's recurrent state, as plain JSON. */
export interface SessionState {
  format: 'recurrent-wasm-state';
  version: 1;
  batchSize: number;
  layers: { name: string; h: number[]; c?: number[] }[];
}

interface RecurrentSlot {
  layer: Recurrent;
  cell: number;
  inF: number;
  /** f32 layers: the packed step weight (re-packed when the weights change); int8: null */
  packed: WasmArray | null;
  h: WasmArray;
  c: WasmArray | null;
}

export class Session {
  readonly batchSize: number;
  /** Features per step of the input (ids: 1). */
  readonly inputSize: number;
  /** Features per step of the output. */
  readonly outputSize: number;
  readonly inputIsIds: boolean;
  private readonly bufs: WasmArray[] = [];
  /** @internal */
  readonly program: WasmArray;
  /** @internal */
  readonly records: number;
  /** @internal */
  readonly apack: WasmArray;
  /** @internal the step's input buffer `[batchSize, inputSize]` */
  readonly input: WasmArray;
  /** @internal the step's output buffer `[batchSize, outputSize]` */
  readonly output: WasmArray;
  private readonly slots: RecurrentSlot[] = [];
  private readonly vocab: number;
  private packedVersion = -1;
  private outView: Float32Array | null = null;
  /** Holds a `step(number)` argument (no array per step). */
  private readonly one = new Float64Array(1);
  private inView: Float32Array | Int32Array | null = null;
  private disposed = false;

  constructor(
    private readonly model: StreamSource,
    opts: SessionOptions = {},
  ) {
    const B = opts.batchSize ?? 1;
    if (!Number.isInteger(B) || B < 1) throw new ValueError(`session: batchSize must be a positive integer; got ${B}`);
    this.batchSize = B;
    const { heap, core } = runtime();
    const alloc = (n: number, kind: 'f32' | 'i32' = 'f32') => {
      const w = new WasmArray(heap, Math.max(n, 1), kind);
      this.bufs.push(w);
      return w;
    };
    const layers = model.layers;
    const first = layers[0];
    this.inputIsIds = first instanceof Embedding;
    const inShape = model.streamInputShape();
    let F = this.inputIsIds ? 1 : (inShape[inShape.length - 1] as number);
    if (!this.inputIsIds && inShape.length !== 2)
      throw new ShapeError(`session: the model input must be [time, features]; got [${inShape}]`);
    this.inputSize = F;
    this.input = alloc(B * F, this.inputIsIds ? 'i32' : 'f32');
    this.vocab = this.inputIsIds ? (first as Embedding).inputDim : 0;
    let cur = this.input;
    const recs: number[][] = [];
    let maxK = 1;
    let maxAct = 0; // longest row the int8 records quantise (their activation scratch is patched in below)
    for (const l of layers) {
      if (l instanceof Dropout || l instanceof LastStep) continue;
      const off = (name: string) => model.paramPtr(l, name);
      if (l instanceof Embedding) {
        const out = alloc(B * l.outputDim);
        recs.push([OP.EMBED, cur.ptr, off('weight'), l.inputDim, l.outputDim, out.ptr]);
        cur = out;
        F = l.outputDim;
      } else if (l instanceof Dense) {
        const out = alloc(B * l.units);
        const q = model.q8Dense(l);
        if (q) {
          recs.push([OP.DENSE_Q8, cur.ptr, q.q, q.scales, l.useBias ? off('bias') : 0, F, l.units, ACT[l.activation], out.ptr, 0]);
          maxAct = Math.max(maxAct, F);
        } else {
          recs.push([OP.DENSE, cur.ptr, off('weight'), l.useBias ? off('bias') : 0, F, l.units, ACT[l.activation], out.ptr]);
        }
        cur = out;
        F = l.units;
      } else if (l instanceof LayerNormalization) {
        const out = alloc(B * F);
        const eps = new Uint32Array(new Float32Array([l.epsilon]).buffer)[0];
        recs.push([OP.LNORM, cur.ptr, off('weight'), off('bias'), F, eps, alloc(B * 2).ptr, out.ptr]);
        cur = out;
      } else if (l instanceof Recurrent) {
        if (l.directions !== 1) throw new ValueError(`session: ${l.name} is bidirectional; a stream cannot see the future`);
        if (l.goBackwards) throw new ValueError(`session: ${l.name} runs backwards in time (goBackwards); a stream cannot`);
        const H = l.units;
        const cellCode =
          l.cell === 'rnn' ? (l.args.activation === 'relu' ? 1 : 0) : l.cell === 'lstm' ? 2 : (l.args.resetAfter ?? true) ? 3 : 4;
        const G = { rnn: 1, lstm: 4, gru: 3 }[l.cell];
        const cols = cellCode === 3 ? 4 * H : G * H;
        const desc = model.q8Recurrent(l);
        const packed = desc === null ? alloc(core.stream_packed_len(cellCode, F, H)) : null;
        const h = alloc(B * H);
        const c = l.cell === 'lstm' ? alloc(B * H) : null;
        const xh = alloc(B * (F + H));
        const z = alloc(B * cols);
        const out = alloc(B * H);
        const gate = GATE[l.args.recurrentActivation ?? 'sigmoid'];
        const [bIh, bHh] = [off('bias_ih_l0'), off('bias_hh_l0')];
        if (desc === null) {
          recs.push([OP.RECUR, cellCode, gate, cur.ptr, F, H, packed!.ptr, bIh, bHh, h.ptr, c ? c.ptr : 0, xh.ptr, z.ptr, out.ptr]);
        } else {
          const zh = alloc(B * G * H);
          recs.push([OP.RECUR_Q8, cellCode, gate, cur.ptr, F, H, desc, bIh, bHh, h.ptr, c ? c.ptr : 0, xh.ptr, z.ptr, out.ptr, zh.ptr, 0]);
          maxAct = Math.max(maxAct, F, H);
        }
        this.slots.push({ layer: l, cell: cellCode, inF: F, packed, h, c });
        maxK = Math.max(maxK, F + H);
        cur = out;
        F = H;
      } else {
        throw new ValueError(`session: layer ${l.name} (${l.className}) cannot be streamed`);
      }
    }
    // one activation scratch (every row of the batch, quantised) shared by the
    // int8 records: they run one after another
    if (maxAct > 0) {
      const a16 = alloc(core.q8_act_scratch_len(B, maxAct) / 4);
      for (const r of recs) {
        if (r[0] === OP.DENSE_Q8) r[9] = a16.ptr;
        if (r[0] === OP.RECUR_Q8) r[15] = a16.ptr;
      }
    }
    this.output = cur;
    this.outputSize = F;
    this.records = recs.length;
    this.program = alloc(recs.length * RECORD, 'i32');
    const pv = new Uint32Array(this.program.viewI32().buffer, this.program.ptr, recs.length * RECORD);
    recs.forEach((r, k) => pv.set(r, k * RECORD));
    this.apack = alloc((B + 5) * maxK);
    this.repack();
  }

  /**
   * Feed one time step: `x` holds `batchSize × inputSize` numbers (ids for
   * embedding models; a number works at batch 1). Returns the output of this
   * step, `[batchSize, outputSize]`, as a view that stays valid until the next
   * call (copy it to keep it).
   */
  step(x: ArrayLike<number> | number): Float32Array {
    this.alive();
    const B = this.batchSize;
    const n = B * this.inputSize;
    this.views();
    const inp = this.inView!;
    const xs: ArrayLike<number> = typeof x === 'number' ? ((this.one[0] = x), this.one) : x;
    if (!xs || xs.length !== n) {
      throw new ShapeError(
        `session.step: expected ${n} values (${B} × ${this.inputSize}); got ${typeof x === 'number' ? 'one number' : x?.length}`,
      );
    }
    if (this.inputIsIds) {
      for (let i = 0; i < n; i++) {
        const v = xs[i];
        if (!(Number.isInteger(v) && v >= 0 && v < this.vocab)) throw new ValueError(`session.step: id ${v} is outside [0, ${this.vocab})`);
        inp[i] = v;
      }
    } else {
      if (xs instanceof Float32Array) inp.set(xs);
      else for (let i = 0; i < n; i++) inp[i] = xs[i];
      // v · 0 is 0 for every finite v and NaN for ±∞ and NaN (checked after
      // the f32 conversion, so 1e39 is refused too): one pass without branches
      let probe = 0;
      for (let i = 0; i < n; i++) probe += inp[i] * 0;
      if (probe !== 0) {
        const i = inp.findIndex((v) => !Number.isFinite(v));
        throw new ValueError(`session.step: input contains ${inp[i]} at ${i}`);
      }
    }
    if (this.packedVersion !== this.model.weightsVersion) this.repack();
    checkStatus('stream step', runtime().core.stream_step(this.program.ptr, this.records, B, this.apack.ptr, this.apack.length));
    this.views();
    return this.outView!;
  }

  /** Zero every recurrent state. */
  reset(): void {
    this.alive();
    for (const s of this.slots) {
      s.h.view().fill(0);
      s.c?.view().fill(0);
    }
  }

  /** The recurrent state as plain JSON (serialisable; set it back with `session.state = …`). */
  get state(): SessionState {
    this.alive();
    return {
      format: 'recurrent-wasm-state',
      version: 1,
      batchSize: this.batchSize,
      layers: this.slots.map((s) => ({ name: s.layer.name, h: Array.from(s.h.view()), ...(s.c ? { c: Array.from(s.c.view()) } : {}) })),
    };
  }

  set state(st: SessionState) {
    this.alive();
    if (!st || typeof st !== 'object' || st.format !== 'recurrent-wasm-state' || st.version !== 1 || !Array.isArray(st.layers)) {
      throw new ValueError('session.state: not a recurrent-wasm session state');
    }
    if (st.batchSize !== this.batchSize)
      throw new ShapeError(`session.state: batch size ${st.batchSize}; this session has ${this.batchSize}`);
    if (st.layers.length !== this.slots.length)
      throw new ShapeError(`session.state: ${st.layers.length} recurrent layers; the model has ${this.slots.length}`);
    const staged: [WasmArray, Float32Array][] = [];
    st.layers.forEach((l, k) => {
      const s = this.slots[k];
      if (l?.name !== s.layer.name) throw new ShapeError(`session.state: layer ${k} is "${l?.name}"; the model's is "${s.layer.name}"`);
      const want = this.batchSize * s.layer.units;
      for (const [key, buf] of [
        ['h', s.h],
        ['c', s.c],
      ] as const) {
        if (!buf) continue;
        const v = (l as Record<string, unknown>)[key];
        if (!Array.isArray(v) || v.length !== want) throw new ShapeError(`session.state: ${s.layer.name}.${key} must hold ${want} numbers`);
        const f = Float32Array.from(v as number[]);
        for (let i = 0; i < f.length; i++)
          if (!Number.isFinite(f[i])) throw new ValueError(`session.state: ${s.layer.name}.${key} contains ${f[i]} at ${i}`);
        staged.push([buf, f]);
      }
    });
    for (const [buf, f] of staged) buf.view().set(f);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.bufs) b.free();
  }

  private repack(): void {
    const { core } = runtime();
    for (const s of this.slots) {
      if (s.packed)
        checkStatus(
          'stream pack',
          core.stream_pack(s.cell, s.inF, s.layer.units, this.model.paramPtr(s.layer, 'weight_ih_l0'), s.packed.ptr),
        );
    }
    this.packedVersion = this.model.weightsVersion;
    this.outView = null;
  }

  /**
   * (Re)make the input and output views. A view stays valid until memory
   * grows: an unshared buffer is then detached (its views read length 0); a
   * shared one keeps its memory, so its views stay right. Checking the length
   * instead of `memory.buffer` saves a call into V8's C++ API per step.
   */
  private views(): void {
    if (this.outView?.length) return;
    this.outView = this.output.view().subarray(0, this.batchSize * this.outputSize);
    this.inView = this.inputIsIds
      ? this.input.viewI32().subarray(0, this.batchSize)
      : this.input.view().subarray(0, this.batchSize * this.inputSize);
  }

  private alive(): void {
    if (this.disposed) throw new ValueError('session: used after dispose()');
    // the program's records point into the model's parameters (and int8
    // weights): once those are freed they may hold another model's data
    if (this.model.isDisposed) throw new ValueError('session: its model was disposed; a session cannot outlive its model');
  }
}
