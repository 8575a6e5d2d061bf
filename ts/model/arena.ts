/**
 * A model's parameters in one wasm region, with the gradients and the
 * optimizer's state (`s1`, `s2`) in regions of the same layout, so one core
 * call updates every parameter (llm.c's flat buffers). Layers are bound to
 * their offsets; everything else addresses a parameter by its key,
 * `<layer>.<param>` (PyTorch names).
 */
import { ShapeError, ValueError, fmtShape } from '../errors.js';
import type { Layer, ParamSpec } from '../layers/base.js';
import { HYPER_FIELDS } from '../runtime/contract.js';
import { runtime } from '../runtime/init.js';
import { WasmArray } from '../runtime/memory.js';
import { type Tensor, type TensorLike, tensor } from '../tensor.js';
import type { Random } from '../util/random.js';

/** A named copy of a region's tensor. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The optimizer's state regions. */
export type Slot = 's1' | 's2';

const size = (p: ParamSpec) => p.shape.reduce((a, b) => a * b, 1);

export class ParamArena {
  /** Floats of each region. */
  readonly total: number;
  readonly params: WasmArray;
  readonly grads: WasmArray;
  /** Optimizer state, allocated when an optimizer needs it. */
  private slots: Record<Slot, WasmArray | null> = { s1: null, s2: null };
  /** The optimizer's hyper-parameter block and the loss kernel's status word. */
  readonly hyper: WasmArray;
  readonly status: WasmArray;
  private readonly byKey = new Map<string, { layer: Layer; spec: ParamSpec }>();

  /** Lay out every layer's parameters in declaration order (each spec's `offset` is set) and allocate the regions. */
  constructor(private readonly layers: readonly Layer[]) {
    let total = 0;
    for (const l of layers) {
      for (const p of l.params) {
        p.offset = total;
        total += size(p);
        this.byKey.set(`${l.name}.${p.name}`, { layer: l, spec: p });
      }
    }
    this.total = total;
    const { heap } = runtime();
    this.params = new WasmArray(heap, total);
    this.grads = new WasmArray(heap, total);
    this.hyper = new WasmArray(heap, HYPER_FIELDS.length);
    this.status = new WasmArray(heap, 1, 'i32');
  }

  /** Run every parameter's initialiser (before binding: binding allocates, which may detach a view). */
  initialize(rng: Random): void {
    const view = this.params.view();
    for (const l of this.layers) for (const p of l.params) p.init(rng, (i, v) => (view[p.offset + i] = v));
  }

  /** Bind each layer to its parameters and gradients. */
  bind(): void {
    for (const l of this.layers) l.bind({ params: this.params.ptr, grads: this.grads.ptr });
  }

  /** Every parameter: its key, layer and spec. */
  entries(): IterableIterator<[string, { layer: Layer; spec: ParamSpec }]> {
    return this.byKey.entries();
  }

  /** Offset (floats) of a layer's parameter. */
  offset(layer: Layer, name: string): number {
    const e = this.byKey.get(`${layer.name}.${name}`);
    if (!e || e.layer !== layer) throw new ValueError(`internal: ${layer.name} has no parameter ${name}`);
    return e.spec.offset;
  }

  /** Byte pointer of a layer's parameter. */
  ptr(layer: Layer, name: string): number {
    return this.params.ptr + this.offset(layer, name) * 4;
  }

  /** Copies of every tensor of `region` by key (`prefix` prepended). */
  named(region: WasmArray, prefix = ''): NamedArray[] {
    const v = region.view();
    const out: NamedArray[] = [];
    for (const [key, { spec }] of this.byKey)
      out.push({ name: `${prefix}${key}`, shape: spec.shape, data: v.slice(spec.offset, spec.offset + size(spec)) });
    return out;
  }

  /** Set parameters by key (all or some); shapes must match exactly and values be finite, else nothing changes. */
  set(weights: Record<string, TensorLike>): void {
    const staged: [string, number, Float32Array][] = [];
    for (const [name, value] of Object.entries(weights)) {
      const e = this.byKey.get(name);
      if (!e) throw new ValueError(`setWeights: no parameter "${name}" (have ${[...this.byKey.keys()].join(', ')})`);
      const p = e.spec;
      const t = tensor(value);
      if (t.size !== size(p) || (t.rank > 1 && fmtShape(t.shape) !== fmtShape(p.shape))) {
        throw new ShapeError(`setWeights: "${name}" expects shape ${fmtShape(p.shape)}; got ${fmtShape(t.shape)}`);
      }
      staged.push([name, p.offset, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data)]);
    }
    // Written first, then checked in wasm (a JIT-cold JavaScript loop over the
    // weights cost ~4 ms of loading a 1.3 MB model); restored if any is not finite.
    const v = this.params.view();
    const backup = staged.map(([, off, data]) => v.slice(off, off + data.length));
    for (const [, off, data] of staged) v.set(data, off);
    const { core } = runtime();
    for (const [name, off, data] of staged) {
      const bad = core.first_nonfinite(this.params.ptr + 4 * off, data.length);
      if (bad !== -1) {
        for (const [k, [, o]] of staged.entries()) v.set(backup[k], o);
        throw new ValueError(`setWeights: "${name}" contains ${data[bad]} at index ${bad}`);
      }
    }
  }

  /** Every parameter, flat in the arena's layout. */
  getFlat(): Float32Array {
    return this.params.view().slice();
  }

  setFlat(w: Float32Array): void {
    if (w.length !== this.total) throw new ShapeError(`setWeightsFlat: expected ${this.total} values; got ${w.length}`);
    this.params.view().set(w);
  }

  /** The optimizer's state region `slot`, if allocated. */
  slot(s: Slot): WasmArray | null {
    return this.slots[s];
  }

  /** Allocate the first `n` state regions (zeroed) where missing. */
  ensureSlots(n: number): void {
    const { heap } = runtime();
    if (n >= 1) this.slots.s1 ??= new WasmArray(heap, this.total);
    if (n >= 2) this.slots.s2 ??= new WasmArray(heap, this.total);
  }

  /** Free the optimizer state (a new optimizer starts from zero). */
  dropSlots(): void {
    for (const w of Object.values(this.slots)) w?.free();
    this.slots = { s1: null, s2: null };
  }

  /** The optimizer state by key, `optimizer.<slot>.<layer>.<param>`. */
  exportSlots(): NamedArray[] {
    const out: NamedArray[] = [];
    for (const s of ['s1', 's2'] as const) {
      const w = this.slots[s];
      if (w) out.push(...this.named(w, `optimizer.${s}.`));
    }
    return out;
  }

  /** Restore state saved by `exportSlots`: a slot present in `slots` must be whole. */
  importSlots(slots: { name: string; data: Float32Array }[]): void {
    const byName = new Map(slots.map((s) => [s.name, s.data]));
    const { heap } = runtime();
    for (const slot of ['s1', 's2'] as const) {
      const prefix = `optimizer.${slot}.`;
      if (![...byName.keys()].some((k) => k.startsWith(prefix))) continue;
      this.slots[slot] ??= new WasmArray(heap, this.total);
      const v = this.slots[slot].view();
      for (const [key, { spec }] of this.byKey) {
        const d = byName.get(`${prefix}${key}`);
        if (!d || d.length !== size(spec)) throw new ValueError(`optimizer state for ${key} is missing or has the wrong size`);
        v.set(d, spec.offset);
      }
    }
  }

  /** Contiguous `[offset, length]` runs of the trainable layers' parameters (frozen layers are skipped by the update). */
  trainableSegments(): [number, number][] {
    const segs: [number, number][] = [];
    for (const l of this.layers) {
      if (!l.trainable) continue;
      for (const p of l.params) {
        const last = segs[segs.length - 1];
        if (last && last[0] + last[1] === p.offset) last[1] += size(p);
        else segs.push([p.offset, size(p)]);
      }
    }
    return segs;
  }

  /** Add every regularised parameter's L1/L2 gradient; returns the penalty. */
  regularize(): number {
    const { core } = runtime();
    let loss = 0;
    for (const l of this.layers) {
      for (const p of l.params) {
        if (!p.regularizer) continue;
        loss += core.regularize(
          size(p),
          this.params.ptr + p.offset * 4,
          this.grads.ptr + p.offset * 4,
          p.regularizer.l1 ?? 0,
          p.regularizer.l2 ?? 0,
        );
      }
    }
    return loss;
  }

  /** Each parameter as a tensor, by key. */
  tensors(region: WasmArray, make: (data: Float32Array, shape: number[]) => Tensor): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const a of this.named(region)) out[a.name] = make(a.data, a.shape);
    return out;
  }

  /** Free every region. */
  free(): void {
    this.dropSlots();
    for (const w of [this.params, this.grads, this.hyper, this.status]) w.free();
  }
}
