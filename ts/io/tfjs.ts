/**
 * Import a Keras / TensorFlow.js layers model: `model.json` (the Keras
 * topology + `weightsManifest`) and the weight shards, as written by
 * `@tensorflow/tfjs` `model.save()` and by the tensorflowjs converter.
 *
 * The topology and the weight shards are read here; each layer kind maps its
 * Keras config and weights onto ours (`LayerKind.keras`, with the porting
 * notes beside the mapping). Weights bind by layer name and role (kernel /
 * recurrent_kernel / bias / embeddings / gamma / beta), not by the
 * process-dependent full names. What cannot be computed exactly is refused
 * with the layer named.
 */
import { FormatError } from '../errors.js';
import { input, type Layer, type SymbolicTensor } from '../layers/base.js';
import { kerasMapping } from '../layers/index.js';
import type { GateActivation } from '../ops/recurrent.js';
import { type Model, model } from '../model/model.js';
import { Sequential } from '../model/sequential.js';
import { f16ToF32 } from '../format/safetensors.js';

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number };
}

interface KerasLayer {
  class_name: string;
  config: Record<string, unknown>;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint16: 2, uint8: 1, bool: 1 };

/** Decode the weight groups: each group's shards concatenated, entries read in order. */
function decodeWeights(
  manifest: { paths: string[]; weights: ManifestEntry[] }[],
  shards: ArrayBuffer[],
): { name: string; shape: number[]; data: Float32Array }[] {
  const total = manifest.reduce((a, g) => a + (Array.isArray(g?.paths) ? g.paths.length : 0), 0);
  if (shards.length !== total) throw new FormatError(`importTfjs: the manifest lists ${total} weight file(s); got ${shards.length}`);
  const out: { name: string; shape: number[]; data: Float32Array }[] = [];
  let shard = 0;
  for (const g of manifest) {
    if (!g || !Array.isArray(g.paths) || !Array.isArray(g.weights)) throw new FormatError('importTfjs: malformed weightsManifest group');
    const parts = shards.slice(shard, shard + g.paths.length);
    shard += g.paths.length;
    const size = parts.reduce((a, p) => a + p.byteLength, 0);
    const buf = new Uint8Array(size);
    let o = 0;
    for (const p of parts) {
      buf.set(new Uint8Array(p), o);
      o += p.byteLength;
    }
    const dv = new DataView(buf.buffer);
    let at = 0;
    for (const e of g.weights) {
      if (!e || typeof e.name !== 'string' || !Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
        throw new FormatError(`importTfjs: malformed manifest entry ${JSON.stringify(e)?.slice(0, 100)}`);
      }
      const n = e.shape.reduce((a, b) => a * b, 1);
      if (n > 0x7fff_ffff) throw new FormatError(`importTfjs: "${e.name}" is too large`);
      const q = e.quantization;
      const stored = q ? q.dtype : e.dtype;
      const bytes = DTYPE_BYTES[stored];
      if (!bytes || !['float32', 'int32'].includes(e.dtype))
        throw new FormatError(`importTfjs: "${e.name}" has unsupported dtype ${stored}`);
      if (at + n * bytes > size) throw new FormatError(`importTfjs: "${e.name}" runs past the end of its weight data (${size} bytes)`);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const p = at + i * bytes;
        let v: number;
        if (!q) v = e.dtype === 'int32' ? dv.getInt32(p, true) : dv.getFloat32(p, true);
        else if (q.dtype === 'float16') v = f16ToF32(dv.getUint16(p, true));
        else v = (q.dtype === 'uint8' ? dv.getUint8(p) : dv.getUint16(p, true)) * (q.scale ?? 1) + (q.min ?? 0);
        data[i] = v;
      }
      at += n * bytes;
      out.push({ name: e.name, shape: e.shape, data });
    }
    if (at !== size) throw new FormatError(`importTfjs: the weight data has ${size - at} bytes more than the manifest describes`);
  }
  return out;
}

/** A reference to one output of one application of a layer: Keras' `[layer, node, tensor]`. */
interface Ref {
  layer: string;
  node: number;
  tensor: number;
}

/** One application of a layer: the tensors it reads (in order) and its call options. */
interface Application {
  inputs: Ref[];
  /** Keras call keywords that change what a layer computes (`use_causal_mask`, `return_attention_scores`). */
  options: Record<string, unknown>;
}

type KerasGraphLayer = KerasLayer & { applications: Application[] };

/** What the topology describes: a Sequential's layer list, or a functional graph. */
type Topology = { kind: 'sequential'; layers: KerasLayer[] } | { kind: 'graph'; layers: KerasGraphLayer[]; inputs: Ref[]; outputs: Ref[] };

function readTopology(topology: Record<string, unknown>): Topology {
  const mt = (topology.model_config as Record<string, unknown> | undefined) ?? topology;
  const cls = mt.class_name;
  const cfg = mt.config as Record<string, unknown> | KerasLayer[];
  if (cls === 'Sequential') {
    const layers = Array.isArray(cfg) ? cfg : (cfg?.layers as KerasLayer[]);
    if (!Array.isArray(layers)) throw new FormatError('importTfjs: Sequential config has no layers');
    return { kind: 'sequential', layers };
  }
  if (cls === 'Model' || cls === 'Functional') {
    const c = cfg as Record<string, unknown>;
    const layers = c.layers as (KerasLayer & { name?: string; inbound_nodes?: unknown[] })[];
    if (!Array.isArray(layers)) throw new FormatError('importTfjs: functional config has no layers');
    const refs = (v: unknown, what: string): Ref[] => {
      // Keras 3 writes one [name, node, tensor] for a single input or output
      const list = Array.isArray(v) && typeof v[0] === 'string' ? [v] : v;
      if (!Array.isArray(list)) throw new FormatError(`importTfjs: functional config: unreadable ${what}`);
      return list.map((r) => ref(r, what));
    };
    return {
      kind: 'graph',
      layers: layers.map((l) => ({
        ...l,
        applications: (l.inbound_nodes ?? []).map((n) => application(n, String(l.config?.name ?? l.name))),
      })),
      inputs: refs(c.input_layers, 'input_layers'),
      outputs: refs(c.output_layers, 'output_layers'),
    };
  }
  throw new FormatError(`importTfjs: unsupported model class ${JSON.stringify(cls)}`);
}

/** The graph with only the layers the outputs depend on (and the inputs), in the config's order. */
function needed(t: Extract<Topology, { kind: 'graph' }>): Extract<Topology, { kind: 'graph' }> {
  const byName = new Map(t.layers.map((l) => [String(l.config?.name ?? (l as { name?: string }).name), l]));
  const keep = new Set<string>();
  const visit = (name: string) => {
    if (keep.has(name)) return;
    keep.add(name);
    for (const a of byName.get(name)?.applications ?? []) for (const r of a.inputs) visit(r.layer);
  };
  for (const r of t.outputs) visit(r.layer);
  for (const r of t.inputs) keep.add(r.layer);
  return { ...t, layers: t.layers.filter((l) => keep.has(String(l.config?.name ?? (l as { name?: string }).name))) };
}

function ref(r: unknown, where: string): Ref {
  if (!Array.isArray(r) || typeof r[0] !== 'string' || !Number.isInteger(r[1]) || !Number.isInteger(r[2])) {
    throw new FormatError(`importTfjs: ${where}: unreadable tensor reference ${JSON.stringify(r)?.slice(0, 80)}`);
  }
  return { layer: r[0], node: r[1], tensor: r[2] };
}

/** Call keywords that change what a layer computes, in Keras' names. */
const OPTIONS = ['use_causal_mask', 'return_attention_scores'];

/**
 * One inbound node, in either writer's form: Keras 2 / TF.js `[[layer, node,
 * tensor, kwargs], …]` (a recurrent layer's initial states are extra
 * inputs), or Keras 3 `{ args, kwargs }` whose tensors are
 * `{ class_name: '__keras_tensor__', config: { keras_history } }` anywhere in
 * `args`, and `kwargs.initial_state` the states.
 */
function application(n: unknown, layer: string): Application {
  const where = `layer ${layer}`;
  if (Array.isArray(n)) {
    const inputs = n.map((e) => ref(e, where));
    const kw = n.map((e) => (Array.isArray(e) && e[3] && typeof e[3] === 'object' ? (e[3] as Record<string, unknown>) : {}));
    const options = Object.fromEntries(kw.flatMap((k) => Object.entries(k)).filter(([k]) => OPTIONS.includes(k)));
    return { inputs, options };
  }
  if (n && typeof n === 'object' && 'args' in n) {
    const { args, kwargs = {} } = n as { args: unknown; kwargs?: Record<string, unknown> };
    const inputs: Ref[] = [];
    const collect = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === 'object' && (v as KerasLayer).class_name === '__keras_tensor__') {
        inputs.push(ref((v as { config: { keras_history: unknown } }).config.keras_history, where));
      }
    };
    collect(args);
    collect(kwargs.initial_state ?? []);
    const options = Object.fromEntries(Object.entries(kwargs).filter(([k]) => OPTIONS.includes(k)));
    return { inputs, options };
  }
  throw new FormatError(`importTfjs: ${where}: unreadable inbound node ${JSON.stringify(n)?.slice(0, 80)}`);
}

const snake = (s: string) => s.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);

function act(v: unknown, where: string): string {
  if (v === undefined || v === null) return 'linear';
  if (typeof v === 'string') return snake(v);
  if (typeof v === 'object' && typeof (v as KerasLayer).class_name === 'string')
    return snake((v as KerasLayer).class_name).replace(/^_/, '');
  throw new FormatError(`importTfjs: ${where}: unreadable activation ${JSON.stringify(v)}`);
}

export interface TfjsModelJson {
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: ManifestEntry[] }[];
  format?: string;
}

/**
 * Import a layers model. `weightData` is the concatenation of all shards, or
 * the shards in manifest order.
 */
export function importTfjs(
  modelJson: TfjsModelJson | string,
  weightData: ArrayBuffer | ArrayBufferView | (ArrayBuffer | ArrayBufferView)[],
): Model {
  try {
    return importTfjsUnchecked(modelJson, weightData);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`importTfjs: ${(e as Error).message}`);
  }
}

function importTfjsUnchecked(
  modelJson: TfjsModelJson | string,
  weightData: ArrayBuffer | ArrayBufferView | (ArrayBuffer | ArrayBufferView)[],
): Model {
  let mj: TfjsModelJson;
  try {
    mj = typeof modelJson === 'string' ? JSON.parse(modelJson) : modelJson;
  } catch {
    throw new FormatError('importTfjs: model.json is not valid JSON');
  }
  if (!mj || typeof mj !== 'object' || !mj.modelTopology || !Array.isArray(mj.weightsManifest)) {
    throw new FormatError('importTfjs: expected a layers-model model.json with modelTopology and weightsManifest');
  }
  if (mj.format && mj.format !== 'layers-model')
    throw new FormatError(`importTfjs: format "${mj.format}" is not a layers model (graph models are not supported)`);
  const toBuf = (b: ArrayBuffer | ArrayBufferView) =>
    b instanceof ArrayBuffer ? b : (b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  let shards = Array.isArray(weightData) ? weightData.map(toBuf) : [toBuf(weightData)];
  const nPaths = mj.weightsManifest.reduce((a, g) => a + (g?.paths?.length ?? 0), 0);
  if (!Array.isArray(weightData) && nPaths > 1) {
    // one concatenated buffer for several shards: split it by the groups' sizes
    const sizes = mj.weightsManifest.map((g) =>
      (g.weights ?? []).reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1) * (DTYPE_BYTES[e.quantization?.dtype ?? e.dtype] ?? 4), 0),
    );
    const all = new Uint8Array(shards[0]);
    shards = [];
    let o = 0;
    mj.weightsManifest.forEach((g, gi) => {
      shards.push(all.slice(o, o + sizes[gi]).buffer);
      for (let i = 1; i < g.paths.length; i++) shards.push(new ArrayBuffer(0));
      o += sizes[gi];
    });
  }
  const weights = decodeWeights(mj.weightsManifest, shards);
  const topo = mj.modelTopology;
  const kerasVersion = String(topo.keras_version ?? '');
  const keras3 = /^3\./.test(kerasVersion);
  const hardSigmoid: GateActivation = keras3 ? 'hardSigmoid6' : 'hardSigmoid';
  // a functional model keeps the layers its outputs need (a Keras 3 op layer
  // computing an explicit mask for a call's `mask` argument is not needed:
  // masks propagate from the layers that make them, here as in Keras)
  const read = readTopology(topo);
  const topology = read.kind === 'graph' ? needed(read) : read;
  const list: KerasLayer[] = topology.layers;

  // a weight belongs to the layer whose name is one of its path tokens
  // ('lstm_LSTM1/kernel', 'lstm/lstm_cell/kernel', 'sequential/lstm/lstm_cell/kernel')
  const byLayer = (layerName: string) => weights.filter((w) => w.name.split('/').includes(layerName));
  const role = (ws: { name: string; shape: number[]; data: Float32Array }[], r: string, where: string, sub?: string) => {
    const hit = ws.filter((w) => {
      const parts = w.name.split('/');
      return parts[parts.length - 1] === r && (sub === undefined || parts.some((p) => p.startsWith(sub)));
    });
    if (hit.length !== 1)
      throw new FormatError(`importTfjs: ${where}: expected one "${r}" weight${sub ? ` under ${sub}*` : ''}; found ${hit.length}`);
    return hit[0];
  };

  let inputShape: (number | null)[] | null = null;
  let idsInput = false;
  const layers: Layer[] = [];
  const byName = new Map<string, Layer>();
  const ours: Record<string, Float32Array> = {};
  for (const [li, kl] of list.entries()) {
    const cls = kl.class_name;
    const c = kl.config ?? {};
    const name = String(c.name ?? `layer_${li}`);
    const where = `layer ${name} (${cls})`;
    const shape = (c.batch_input_shape ?? c.batch_shape) as (number | null)[] | undefined;
    if (shape && !inputShape) inputShape = shape.slice(1);
    if (cls === 'InputLayer') continue;
    const mapping = kerasMapping(cls);
    if (!mapping) throw new FormatError(`importTfjs: ${where}: layer class "${cls}" is not supported`);
    const ws = byLayer(name);
    const r = mapping.import({
      className: cls,
      config: c,
      name,
      where,
      weight: (r, sub) => role(ws, r, where, sub),
      activation: (v, w = where) => act(v, w),
      hardSigmoid,
      inputShape,
      error: (m, w = where) => new FormatError(`importTfjs: ${w}: ${m}`),
      mapping: kerasMapping,
    });
    layers.push(r.layer);
    byName.set(name, r.layer);
    Object.assign(ours, r.weights);
    if (r.idsInput) {
      idsInput = true;
      inputShape ??= r.idsInput;
    }
  }
  if (layers.length === 0) throw new FormatError('importTfjs: no layers');
  const modelName = String((topo.config as Record<string, unknown>)?.name ?? 'tfjs');
  if (topology.kind === 'graph') return graphModel(topology, byName, ours, modelName);
  if (!inputShape) throw new FormatError('importTfjs: the model does not declare its input shape (batch_input_shape)');
  const model = new Sequential(layers, { name: modelName });
  try {
    model.build(idsInput ? inputShape.slice(0, 1) : inputShape, { initialize: false });
    model.setWeights(ours);
  } catch (e) {
    throw new FormatError(`importTfjs: ${(e as Error).message}`);
  }
  return model;
}

/**
 * A functional topology as a graph model: input layers become inputs (ids
 * where an embedding reads them), then each application of each layer is
 * made once every tensor it reads exists (a shared layer applied again keeps
 * its weights), and the output references pick the model's outputs.
 */
function graphModel(
  t: Extract<Topology, { kind: 'graph' }>,
  layers: Map<string, Layer>,
  weights: Record<string, Float32Array>,
  name: string,
): Model {
  const made = new Map<string, SymbolicTensor[]>();
  const key = (layer: string, node: number) => `${layer}\u0000${node}`;
  const get = (r: Ref, where: string): SymbolicTensor | undefined => {
    const outs = made.get(key(r.layer, r.node));
    if (outs && !outs[r.tensor])
      throw new FormatError(`importTfjs: ${where} reads output ${r.tensor} of ${r.layer}, which has ${outs.length}`);
    return outs?.[r.tensor];
  };
  const readers = (layer: string) => t.layers.filter((l) => l.applications.some((a) => a.inputs.some((r) => r.layer === layer)));
  for (const l of t.layers) {
    if (l.class_name !== 'InputLayer') continue;
    const c = l.config ?? {};
    const lname = String(c.name ?? (l as { name?: string }).name);
    const shape = (c.batch_input_shape ?? c.batch_shape) as (number | null)[] | undefined;
    if (!Array.isArray(shape)) throw new FormatError(`importTfjs: input ${lname} has no batch_input_shape`);
    const ids = c.dtype === 'int32' || readers(lname).some((r) => layers.get(String(r.config?.name))?.inputDType === 'int32');
    made.set(key(lname, 0), [input({ shape: ids ? shape.slice(1, 2) : shape.slice(1), dtype: ids ? 'int32' : 'float32', name: lname })]);
  }
  // applications in an order where every input exists: repeat passes until none is left
  const pending = t.layers.flatMap((l) => (l.class_name === 'InputLayer' ? [] : l.applications.map((a, node) => ({ l, a, node }))));
  while (pending.length) {
    const before = pending.length;
    for (let i = 0; i < pending.length; i++) {
      const { l, a, node } = pending[i];
      const lname = String(l.config?.name);
      const where = `layer ${lname} (${l.class_name})`;
      if (node > 0 && !made.has(key(lname, node - 1))) continue;
      const xs = a.inputs.map((r) => get(r, where));
      if (xs.some((x) => !x)) continue;
      const layer = layers.get(lname)!;
      const opts: Record<string, boolean> = {};
      if (a.options.use_causal_mask !== undefined) opts.useCausalMask = !!a.options.use_causal_mask;
      if (a.options.return_attention_scores !== undefined) opts.returnAttentionScores = !!a.options.return_attention_scores;
      let out: SymbolicTensor | SymbolicTensor[];
      try {
        const arg = xs.length === 1 && layer.arity[1] === 1 ? xs[0]! : (xs as SymbolicTensor[]);
        out = Object.keys(opts).length
          ? (layer as Layer & { apply(x: unknown, o: unknown): SymbolicTensor[] }).apply(arg, opts)
          : layer.apply(arg);
      } catch (e) {
        throw new FormatError(`importTfjs: ${where}: ${(e as Error).message}`);
      }
      made.set(key(lname, node), Array.isArray(out) ? out : [out]);
      pending.splice(i--, 1);
    }
    if (pending.length === before) {
      const { l } = pending[0];
      throw new FormatError(`importTfjs: layer ${String(l.config?.name)} reads a tensor no layer makes (or the graph has a cycle)`);
    }
  }
  const pick = (refs: Ref[], what: string) =>
    refs.map((r) => {
      const x = get(r, what);
      if (!x) throw new FormatError(`importTfjs: ${what} names ${r.layer}, which the graph does not make`);
      return x;
    });
  const m = model({ inputs: pick(t.inputs, 'input_layers'), outputs: pick(t.outputs, 'output_layers'), name, initialize: false });
  try {
    m.setWeights(weights);
  } catch (e) {
    m.dispose();
    throw new FormatError(`importTfjs: ${(e as Error).message}`);
  }
  return m;
}
