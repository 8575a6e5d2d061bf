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
import type { Layer } from '../layers/base.js';
import { kerasMapping } from '../layers/index.js';
import type { GateActivation } from '../ops/recurrent.js';
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

/** Linear chain of layers from a Sequential or a chain-shaped functional Model. */
function layerList(topology: Record<string, unknown>): KerasLayer[] {
  const mt = (topology.model_config as Record<string, unknown> | undefined) ?? topology;
  const cls = mt.class_name;
  const cfg = mt.config as Record<string, unknown> | KerasLayer[];
  if (cls === 'Sequential') {
    const layers = Array.isArray(cfg) ? cfg : (cfg?.layers as KerasLayer[]);
    if (!Array.isArray(layers)) throw new FormatError('importTfjs: Sequential config has no layers');
    return layers;
  }
  if (cls === 'Model' || cls === 'Functional') {
    const layers = (cfg as Record<string, unknown>).layers as (KerasLayer & { inbound_nodes?: unknown[] })[];
    if (!Array.isArray(layers)) throw new FormatError('importTfjs: functional config has no layers');
    // accept a chain: each layer has at most one inbound layer, the previous one
    for (let i = 1; i < layers.length; i++) {
      const nodes = JSON.stringify(layers[i].inbound_nodes ?? []);
      const prev = String((layers[i - 1].config as Record<string, unknown>).name);
      if (!nodes.includes(`"${prev}"`))
        throw new FormatError(`importTfjs: functional models are imported only when they are a chain (layer ${i} does not follow ${prev})`);
    }
    return layers;
  }
  throw new FormatError(`importTfjs: unsupported model class ${JSON.stringify(cls)}`);
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
): Sequential {
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
): Sequential {
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
  const list = layerList(topo);

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
  const ours: Record<string, Float32Array> = {};
  for (const [li, kl] of list.entries()) {
    const cls = kl.class_name;
    const c = kl.config ?? {};
    const name = String(c.name ?? `layer_${li}`);
    const where = `layer ${name} (${cls})`;
    const shape = (c.batch_input_shape ?? c.batch_shape) as (number | null)[] | undefined;
    if (shape && !inputShape) inputShape = shape.slice(1);
    if (cls === 'InputLayer') continue;
    if (cls === 'Masking') throw new FormatError(`importTfjs: ${where}: Masking layers are not supported (use Embedding mask_zero)`);
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
    Object.assign(ours, r.weights);
    if (r.idsInput) {
      idsInput = true;
      inputShape ??= r.idsInput;
    }
  }
  if (!inputShape) throw new FormatError('importTfjs: the model does not declare its input shape (batch_input_shape)');
  if (layers.length === 0) throw new FormatError('importTfjs: no layers');
  const model = new Sequential(layers, { name: String((topo.config as Record<string, unknown>)?.name ?? 'tfjs') });
  try {
    model.build(idsInput ? inputShape.slice(0, 1) : inputShape, { initialize: false });
    model.setWeights(ours);
  } catch (e) {
    throw new FormatError(`importTfjs: ${(e as Error).message}`);
  }
  return model;
}
