/**
 * Reading a model file (`model-file.ts` defines the format): the config
 * rebuilds the layers through the layer registry, the tensors are checked
 * against the shapes the config implies, and a saved compile (optimizer,
 * step count and state) resumes training exactly.
 */
import { FormatError } from '../errors.js';
import { type ReadLimits, readSafetensors, toFloat32 } from '../format/safetensors.js';
import { layerFromConfig } from '../layers/index.js';
import type { ModelConfig } from './config.js';
import { FORMAT, FORMAT_VERSION, fromSparse } from './model-file.js';
import { optimizerFromConfig } from './optimizers.js';
import { Sequential } from './sequential.js';

/** Load a model saved with `model.save()`. */
export function loadModel(bytes: Uint8Array | ArrayBuffer, limits: ReadLimits = {}): Sequential {
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
  if (config?.class !== 'Sequential' || !Array.isArray(config.layers))
    throw new FormatError('model file: the config does not describe a Sequential model');
  let model: Sequential;
  try {
    model = new Sequential(config.layers.map(layerFromConfig), { name: config.name });
    model.build(config.inputShape, { initialize: false });
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
      model.compile({ optimizer: opt, loss: config.compile.loss as never, metrics: config.compile.metrics as never });
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
