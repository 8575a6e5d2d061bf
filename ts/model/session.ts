/**
 * Streaming inference: `model.session()` runs a model one time step at a time
 * with its recurrent state carried between calls — for text generation, live
 * sensors, or an edge function that keeps a conversation's state between
 * requests (`session.state` is plain JSON).
 *
 * The session compiles the model's graph into a step program
 * (`crate/src/program.rs`): each node writes its records (`Layer.streamAll`)
 * in graph order, every buffer is allocated once, and `step()` is one wasm
 * call that runs every node, returning a view of the output buffer. Weights a
 * layer packs for its step are re-packed only after the model's weights
 * change. A graph streams where it is causal: a node that needs a later step
 * (a bidirectional layer, attention over the stream's own steps) refuses,
 * naming itself.
 *
 * A decoder's session (`decode`) also holds fixed values — tensors computed
 * once from the encoder's inputs and constant while it steps (the encoder's
 * outputs for attention, its final states as initial states).
 */
import { ShapeError, ValueError } from '../errors.js';
import { type Layer, LayerNode, type StreamContext, type StreamValue, SymbolicTensor } from '../layers/base.js';
import { runtime } from '../runtime/init.js';
import { WasmArray } from '../runtime/memory.js';
import { ProgramBuilder } from '../runtime/program.js';
import { checkStatus } from '../runtime/status.js';

/** @internal A graph to step: its inputs, its nodes (each after those it reads), its outputs. */
export interface StreamGraph {
  readonly inputs: readonly SymbolicTensor[];
  readonly nodes: readonly LayerNode[];
  readonly outputs: readonly SymbolicTensor[];
}

/**
 * @internal What a session needs from a model: its graph (or a chain of
 * layers), where each f32 parameter lives in wasm memory, and (for quantised
 * models) each layer's int8 weights. `Model` and `QuantizedModel` provide it.
 */
export interface StreamSource {
  /** The graph; without it, `layers` applied in a chain to one input of `streamInputShape()`. */
  streamGraph?(): StreamGraph;
  readonly layers: readonly Layer[];
  /** True once the model's memory is freed: a session then refuses to run (its records point into that memory). */
  readonly isDisposed: boolean;
  /** Changes whenever the f32 weights change (sessions re-pack then). */
  readonly weightsVersion: number;
  /** The input shape without the batch dimension. */
  streamInputShape(): (number | null)[];
  /** Byte pointer of an f32 parameter. */
  paramPtr(layer: Layer, name: string): number;
  /** What the layer's `int8Weights` returned when the model was quantised, or null for f32 weights. */
  int8(layer: Layer): unknown;
}

export interface SessionOptions {
  /** Sequences stepped together (default 1). */
  batchSize?: number;
}

/** @internal A decoder session's fixed values and which outputs it steps to. */
export interface FixedValues {
  /** Tensors constant while stepping, `[batchSize, …]` in wasm memory (the session does not own them). */
  values: ReadonlyMap<SymbolicTensor, StreamValue>;
  /** The outputs to compute (default: the graph's). */
  outputs?: readonly SymbolicTensor[];
}

/** The chain a layer list is: one input of `shape`, each layer applied to the previous output (nodes not recorded on the layers). */
function chainGraph(layers: readonly Layer[], shape: (number | null)[]): StreamGraph {
  const first = layers[0];
  let t = new SymbolicTensor(shape, first.inputDType, null, 0, 'input');
  const inputs = [t];
  const nodes: LayerNode[] = [];
  for (const l of layers) {
    const n = new LayerNode(l, [t], [[null, null]]);
    nodes.push(n);
    t = n.outputs[0];
  }
  return { inputs, nodes, outputs: [t] };
}

/** A session's recurrent state, as plain JSON. */
export interface SessionState {
  format: 'recurrent-wasm-state';
  version: 1;
  batchSize: number;
  /** Each stateful layer's buffers by name, `[batchSize · units]` each: `h`, and `c` for an LSTM. */
  layers: { name: string; h: number[]; c?: number[] }[];
}

/** State a layer carries between steps, by name (`h`, `c`), and what `reset` starts it from (zeros when absent). */
interface StateSlot {
  layer: Layer;
  buffers: Readonly<Record<string, WasmArray>>;
  initial?: Readonly<Record<string, WasmArray>>;
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
  /** @internal the step's output buffer `[batchSize, outputSize]` (the first output's) */
  readonly output: WasmArray;
  /** @internal every output's buffer and features per row */
  readonly outputs: readonly StreamValue[];
  private readonly slots: StateSlot[] = [];
  private readonly packs: (() => void)[] = [];
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
    fixed?: FixedValues,
  ) {
    const B = opts.batchSize ?? 1;
    if (!Number.isInteger(B) || B < 1) throw new ValueError(`session: batchSize must be a positive integer; got ${B}`);
    this.batchSize = B;
    const graph = model.streamGraph ? model.streamGraph() : chainGraph(model.layers, model.streamInputShape());
    const values = new Map<SymbolicTensor, StreamValue>(fixed?.values ?? []);
    const outs = fixed?.outputs ?? graph.outputs;
    // the inputs the outputs need, the walk back stopping at fixed values
    const needed = new Set<SymbolicTensor>();
    const walk = (t: SymbolicTensor) => {
      if (values.has(t) || needed.has(t)) return;
      needed.add(t);
      for (const x of t.node?.inputs ?? []) walk(x);
    };
    for (const t of outs) walk(t);
    const stepped = graph.inputs.filter((t) => needed.has(t));
    if (stepped.length !== 1) {
      throw new ValueError(
        `session: a session steps one input; the model has ${stepped.length} (${stepped.map((t) => t.name).join(', ')})`,
      );
    }
    const inT = stepped[0];
    const reader = graph.nodes.find((n) => n.inputs.includes(inT))?.layer;
    this.inputIsIds = inT.dtype === 'int32';
    if (!this.inputIsIds && inT.shape.length !== 2) {
      throw new ShapeError(`session: the model input must be [time, features]; got [${inT.shape}]`);
    }
    this.inputSize = this.inputIsIds ? 1 : (inT.shape[inT.shape.length - 1] as number);
    this.vocab = reader ? reader.vocabularySize : 0;
    try {
      this.input = this.alloc(B * this.inputSize, this.inputIsIds ? 'i32' : 'f32');
      const program = new ProgramBuilder();
      let maxK = 1;
      values.set(inT, { buf: this.input, features: this.inputSize });
      // tensors whose value changes every step (the rest are fixed)
      const live = new Set<SymbolicTensor>([inT]);
      for (const n of graph.nodes) {
        if (!n.inputs.some((t) => live.has(t))) continue; // fixed: computed before stepping, or not needed
        const missing = n.inputs.find((t) => !values.has(t));
        if (missing) {
          throw new ValueError(`session: ${n.layer.name} reads ${missing.name}, which neither this step nor a fixed value provides`);
        }
        const l = n.layer;
        const ctx: StreamContext = {
          batch: B,
          alloc: (k, kind) => this.alloc(k, kind),
          param: (name) => model.paramPtr(l, name),
          int8: model.int8(l),
          record: (kind, fields) => program.add(kind, fields),
          shared: (key, bytes) => program.shared(key, bytes),
          packDepth: (k) => {
            maxK = Math.max(maxK, k);
          },
          state: (buffers, initial) => this.slots.push({ layer: l, buffers, initial }),
          onWeights: (pack) => this.packs.push(pack),
        };
        const ys = l.streamAll(
          ctx,
          n.inputs.map((t) => values.get(t)!),
        );
        n.outputs.forEach((t, i) => {
          values.set(t, ys[i]);
          live.add(t);
        });
      }
      this.outputs = outs.map((t) => {
        const v = values.get(t);
        if (!v || !live.has(t)) throw new ValueError(`session: output ${t.name} does not depend on the stepped input`);
        return v;
      });
      this.output = this.outputs[0].buf;
      this.outputSize = this.outputs[0].features;
      this.records = program.length;
      const words = program.encode((bytes) => this.alloc(Math.ceil(bytes / 4)).ptr);
      this.program = this.alloc(words.length, 'i32');
      new Uint32Array(this.program.viewI32().buffer, this.program.ptr, words.length).set(words);
      this.apack = this.alloc((B + 5) * maxK);
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.repack();
    this.reset();
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
    let xs: ArrayLike<number>;
    if (typeof x === 'number') {
      this.one[0] = x;
      xs = this.one;
    } else {
      xs = x;
    }
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

  /**
   * @internal One step on the ids already in the input buffer (a decoder's
   * previous tokens, from its own output: in range by construction, and the
   * core checks them again); returns the first output's view.
   */
  stepIds(): Float32Array {
    this.alive();
    if (this.packedVersion !== this.model.weightsVersion) this.repack();
    checkStatus(
      'stream step',
      runtime().core.stream_step(this.program.ptr, this.records, this.batchSize, this.apack.ptr, this.apack.length),
    );
    this.views();
    return this.outView!;
  }

  /** Every recurrent state back to zero (or to its fixed initial state). */
  reset(): void {
    this.alive();
    for (const s of this.slots) {
      for (const [k, b] of Object.entries(s.buffers)) {
        const init = s.initial?.[k];
        if (init) b.view().set(init.view().subarray(0, b.length));
        else b.view().fill(0);
      }
    }
  }

  /**
   * @internal Reorder the rows of every state: row `r` takes what row
   * `from[r]` held (a beam search keeping its best hypotheses).
   */
  gatherRows(from: ArrayLike<number>): void {
    this.alive();
    const B = this.batchSize;
    if (from.length !== B) throw new ShapeError(`session: ${from.length} rows to gather; the session has ${B}`);
    for (const s of this.slots) {
      for (const b of Object.values(s.buffers)) {
        const v = b.view();
        const w = b.length / B;
        const old = v.slice(0, b.length);
        for (let r = 0; r < B; r++) {
          const src = from[r];
          if (!(Number.isInteger(src) && src >= 0 && src < B)) throw new ValueError(`session: row ${src} is outside [0, ${B})`);
          v.set(old.subarray(src * w, (src + 1) * w), r * w);
        }
      }
    }
  }

  /** The recurrent state as plain JSON (serialisable; set it back with `session.state = …`). */
  get state(): SessionState {
    this.alive();
    return {
      format: 'recurrent-wasm-state',
      version: 1,
      batchSize: this.batchSize,
      layers: this.slots.map(
        (s) =>
          ({
            name: s.layer.name,
            ...Object.fromEntries(Object.entries(s.buffers).map(([k, b]) => [k, Array.from(b.view())])),
          }) as SessionState['layers'][number],
      ),
    };
  }

  set state(st: SessionState) {
    this.alive();
    if (st?.format !== 'recurrent-wasm-state' || st.version !== 1 || !Array.isArray(st.layers)) {
      throw new ValueError('session.state: not a recurrent-wasm session state');
    }
    if (st.batchSize !== this.batchSize)
      throw new ShapeError(`session.state: batch size ${st.batchSize}; this session has ${this.batchSize}`);
    if (st.layers.length !== this.slots.length) {
      throw new ShapeError(`session.state: ${st.layers.length} recurrent layers; the model has ${this.slots.length}`);
    }
    const staged: [WasmArray, Float32Array][] = [];
    st.layers.forEach((l, k) => {
      const s = this.slots[k];
      const name = s.layer.name;
      if (l?.name !== name) throw new ShapeError(`session.state: layer ${k} is "${l?.name}"; the model's is "${name}"`);
      for (const [key, buf] of Object.entries(s.buffers)) {
        const want = buf.length;
        const v = (l as Record<string, unknown>)[key];
        if (!Array.isArray(v) || v.length !== want) throw new ShapeError(`session.state: ${name}.${key} must hold ${want} numbers`);
        const f = Float32Array.from(v as number[]);
        for (let i = 0; i < f.length; i++)
          if (!Number.isFinite(f[i])) throw new ValueError(`session.state: ${name}.${key} contains ${f[i]} at ${i}`);
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

  private alloc(n: number, kind: 'f32' | 'i32' = 'f32'): WasmArray {
    const w = new WasmArray(runtime().heap, Math.max(n, 1), kind);
    this.bufs.push(w);
    return w;
  }

  private repack(): void {
    for (const pack of this.packs) pack();
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
