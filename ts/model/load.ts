/**
 * Reading a model file (`model-file.ts` defines the format): the config
 * rebuilds the layers through the layer registry, the tensors are checked
 * against the shapes the config implies, and a saved compile (optimizer,
 * step count and state) resumes training exactly.
 */
import { FormatError } from '../errors.js';
import { type ReadLimits, readSafetensors, toFloat32 } from '../format/safetensors.js';
import { layerFromConfig } from '../layers/index.js';
import { input, type SymbolicTensor } from '../layers/base.js';
import type { GraphConfig, ModelConfig, TensorRef } from './config.js';
import { Model } from './model.js';
import { FORMAT, FORMAT_VERSION, fromSparse } from './model-file.js';
import { optimizerFromConfig } from './optimizers.js';
import { Sequential } from './sequential.js';

/**
 * Load a model saved with `model.save()`: a `Sequential` for a chain, a
 * graph `Model` otherwise (`instanceof Sequential` tells them apart).
 */
export function loadModel(bytes: Uint8Array | ArrayBuffer, limits: ReadLimits = {}): Model {
  const file = readSafetensors(bytes, limits);
  if (file.metadata.format !== FORMAT) {
    throw new FormatError(
      `model file: not a ${FORMAT} model (metadata format is ${JSON.stringify(file.metadata.format ?? null)}); use importPyTorch for plain state dicts`,
    );
  }
  if (file.metadata.version !== FORMAT_VERSION)
    throw new FormatError(`model file: unsupported version ${JSON.stringify(file.metadata.version)}`);
  if (/"dtype"\s*:\s*"int8"/.test(file.metadata.quantization ?? '')) {
    throw new FormatError('model file: the weights are int8-quantised; load the file with loadQuantizedModel (inference only)');
  }
  let config: ModelConfig;
  try {
    config = JSON.parse(file.metadata.config ?? '');
  } catch {
    throw new FormatError('model file: the model config in the metadata is not valid JSON');
  }
  if ((config?.class !== 'Sequential' && config?.class !== 'Model') || !Array.isArray(config.layers)) {
    throw new FormatError('model file: the config does not describe a Sequential or graph model');
  }
  let model: Model;
  try {
    if (config.class === 'Sequential') {
      const seq = new Sequential(config.layers.map(layerFromConfig), { name: config.name });
      seq.build(config.inputShape, { initialize: false });
      model = seq;
    } else {
      model = graphFromConfig(config);
    }
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`model file: the config does not build: ${(e as Error).message}`);
  }
  const weights: Record<string, Float32Array> = {};
  let sparse: unknown = [];
  try {
    sparse = JSON.parse(file.metadata.sparse ?? '[]');
  } catch {
    throw new FormatError('model file: the "sparse" metadata is not valid JSON');
  }
  if (!Array.isArray(sparse)) throw new FormatError('model file: the "sparse" metadata must list tensor names');
  for (const [name, shape] of Object.entries(model.weightShapes())) {
    if (sparse.includes(name)) {
      const m = file.tensors.get(`${name}.mask`);
      const v = file.tensors.get(`${name}.values`);
      if (m?.dtype !== 'U8' || !v || v.dtype !== 'F32')
        throw new FormatError(`model file: sparse "${name}" needs a U8 "${name}.mask" and an F32 "${name}.values"`);
      weights[name] = fromSparse(
        shape.reduce((a, b) => a * b, 1),
        m.bytes,
        toFloat32(v, `${name}.values`),
        name,
      );
      continue;
    }
    const t = file.tensors.get(name);
    if (!t) throw new FormatError(`model file: tensor "${name}" is missing`);
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16')
      throw new FormatError(`model file: "${name}" has dtype ${t.dtype}; expected F32`);
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) {
      throw new FormatError(`model file: "${name}" has shape ${JSON.stringify(t.shape)}; the config needs ${JSON.stringify(shape)}`);
    }
    weights[name] = toFloat32(t, name);
  }
  try {
    model.setWeights(weights);
  } catch (e) {
    throw new FormatError(`model file: ${(e as Error).message}`);
  }
  for (const [k, v] of Object.entries(file.metadata)) if (k.startsWith('user.')) model.metadata[k.slice(5)] = v;
  if (config.compile) {
    const opt = optimizerFromConfig(config.compile.optimizer);
    if (opt) {
      const c = config.compile;
      model.compile({
        optimizer: opt,
        loss: c.loss as never,
        metrics: c.metrics as never,
        ...(c.lossWeights ? { lossWeights: c.lossWeights } : {}),
      });
      const step = Number(file.metadata.optimizer_step ?? NaN);
      if (Number.isInteger(step) && step >= 0) {
        const slots: { name: string; data: Float32Array }[] = [];
        for (const [name, t] of file.tensors) if (name.startsWith('optimizer.')) slots.push({ name, data: toFloat32(t, name) });
        model.arena.importSlots(slots);
        model.optimizerStep = step;
      }
    }
  }
  return model;
}

/** A graph model from its config: inputs, each layer rebuilt once, its applications in order (parameters left at zero). */
function graphFromConfig(c: GraphConfig): Model {
  if (!Array.isArray(c.inputs) || !Array.isArray(c.nodes) || !Array.isArray(c.outputs)) {
    throw new FormatError('model file: a graph config needs inputs, nodes and outputs');
  }
  const inputs = c.inputs.map((i) => input({ shape: i.shape, dtype: i.dtype, name: i.name }));
  const layers = c.layers.map(layerFromConfig);
  const outs: SymbolicTensor[][] = [];
  const tensor = (r: TensorRef, where: string): SymbolicTensor => {
    const t = 'input' in r ? inputs[r.input] : outs[r.node]?.[r.output];
    if (!t) throw new FormatError(`model file: ${where} refers to ${JSON.stringify(r)}, which is not an earlier tensor`);
    return t;
  };
  c.nodes.forEach((n, k) => {
    const layer = layers[n.layer];
    if (!layer || !Array.isArray(n.inputs))
      throw new FormatError(`model file: node ${k} names layer ${JSON.stringify(n.layer)}, which is not in the config`);
    const y = layer.apply(n.inputs.map((r) => tensor(r, `node ${k}`)));
    outs.push(Array.isArray(y) ? y : [y]);
  });
  return new Model({ inputs, outputs: c.outputs.map((r) => tensor(r, 'an output')), name: c.name, initialize: false });
}
