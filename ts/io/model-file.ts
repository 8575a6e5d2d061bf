/**
 * The model file: a safetensors container whose `__metadata__` holds the model
 * config (a JSON string, as safetensors metadata values must be strings), so
 * the weights also open with the Python `safetensors` package.
 *
 * Tensors: every parameter as `<layer>.<param>` (float32, PyTorch layouts);
 * with `includeOptimizer`, the optimizer state as `optimizer.<slot>.<layer>.<param>`
 * and its step count in the metadata, so training resumes exactly.
 */
import { FormatError, ValueError } from '../errors.js';
import { Dense } from '../layers/dense.js';
import { Dropout } from '../layers/dropout.js';
import { Embedding } from '../layers/embedding.js';
import { LayerNormalization } from '../layers/layer-norm.js';
import { LastStep } from '../layers/last-step.js';
import { Recurrent, type MergeMode, type RecurrentArgs } from '../layers/recurrent.js';
import type { Layer } from '../layers/base.js';
import { optimizers, type Optimizer } from '../model/optimizers.js';
import { Sequential } from '../model/sequential.js';
import { readSafetensors, toFloat32, writeSafetensors, type ReadLimits, type TensorToWrite } from './safetensors.js';

export const FORMAT = 'recurrent-wasm';
export const FORMAT_VERSION = '1';

export interface SaveOptions {
  /** Also store the optimizer state (to resume training exactly). */
  includeOptimizer?: boolean;
  /**
   * Store each parameter with at least a quarter zeros (e.g. after `prune`) as
   * `<name>.mask` (U8 bitmask of the non-zeros, little bit first) and
   * `<name>.values` (F32, the non-zeros in order): the file shrinks with the
   * sparsity. `loadModel` restores the dense tensors exactly.
   */
  sparse?: boolean;
}

/** Split a tensor into a bitmask of its non-zeros and their values (null if under a quarter zeros). */
function toSparse(data: Float32Array): { mask: Uint8Array; values: Float32Array } | null {
  let nz = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) nz++;
  if (nz > data.length * 0.75) return null;
  const mask = new Uint8Array(Math.ceil(data.length / 8));
  const values = new Float32Array(nz);
  let k = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0) {
      mask[i >> 3] |= 1 << (i & 7);
      values[k++] = data[i];
    }
  }
  return { mask, values };
}

function fromSparse(n: number, mask: Uint8Array, values: Float32Array, name: string): Float32Array {
  if (mask.length !== Math.ceil(n / 8))
    throw new FormatError(`model file: "${name}.mask" has ${mask.length} bytes; ${n} elements need ${Math.ceil(n / 8)}`);
  const out = new Float32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i >> 3] & (1 << (i & 7))) {
      if (k >= values.length)
        throw new FormatError(`model file: "${name}.mask" marks more non-zeros than "${name}.values" holds (${values.length})`);
      out[i] = values[k++];
    }
  }
  if (k !== values.length) throw new FormatError(`model file: "${name}.values" holds ${values.length} values; the mask marks ${k}`);
  return out;
}

export interface LayerConfig {
  className: string;
  config: Record<string, unknown>;
}

export interface ModelConfig {
  class: 'Sequential';
  name: string;
  inputShape: (number | null)[];
  layers: LayerConfig[];
  compile: { loss: string; metrics: string[]; optimizer: Record<string, unknown> } | null;
}

/** Rebuild a layer from its `getConfig()`. */
export function layerFromConfig(c: LayerConfig): Layer {
  const cfg = { ...(c.config ?? {}) } as Record<string, unknown>;
  switch (c.className) {
    case 'Dense':
      return new Dense(cfg as never);
    case 'Embedding':
      return new Embedding(cfg as never);
    case 'Dropout':
      return new Dropout(cfg as never);
    case 'LayerNormalization':
      return new LayerNormalization(cfg as never);
    case 'LastStep':
      return new LastStep(cfg as never);
    case 'SimpleRNN':
    case 'LSTM':
    case 'GRU':
    case 'Bidirectional': {
      const cell = cfg.cell as 'rnn' | 'lstm' | 'gru';
      if (!['rnn', 'lstm', 'gru'].includes(cell))
        throw new FormatError(`model file: layer ${String(cfg.name)} has unknown cell ${JSON.stringify(cell)}`);
      const { cell: _c, bidirectional, mergeMode, ...args } = cfg;
      void _c;
      if (bidirectional)
        return new Recurrent(cell, args as unknown as RecurrentArgs, { mergeMode: mergeMode as MergeMode, name: args.name as string });
      return new Recurrent(cell, args as unknown as RecurrentArgs);
    }
    default:
      throw new FormatError(`model file: unknown layer class ${JSON.stringify(c.className)}`);
  }
}

export function optimizerFromConfig(c: Record<string, unknown>): Optimizer | null {
  if (typeof c.learningRate !== 'number') return null; // a schedule (a function) is not serialisable
  const common = {
    learningRate: c.learningRate,
    clipNorm: (c.clipNorm as number) || undefined,
    clipValue: (c.clipValue as number) || undefined,
  };
  switch (c.kind) {
    case 'sgd':
      return optimizers.sgd({ ...common, momentum: c.momentum as number, nesterov: c.nesterov as boolean });
    case 'adam':
      return optimizers.adam({ ...common, beta1: c.beta1 as number, beta2: c.beta2 as number, epsilon: c.eps as number });
    case 'adamw':
      return optimizers.adamw({
        ...common,
        beta1: c.beta1 as number,
        beta2: c.beta2 as number,
        epsilon: c.eps as number,
        weightDecay: c.weightDecay as number,
      });
    case 'rmsprop':
      return optimizers.rmsprop({
        ...common,
        rho: c.rho as number,
        momentum: c.momentum as number,
        epsilon: c.eps as number,
        centered: c.centered as boolean,
      });
    default:
      throw new FormatError(`model file: unknown optimizer ${JSON.stringify(c.kind)}`);
  }
}

export function saveModel(model: Sequential, opts: SaveOptions = {}): Uint8Array {
  const state = model.exportState(opts.includeOptimizer ?? false);
  const tensors: TensorToWrite[] = [];
  const sparse: string[] = [];
  for (const p of state.params) {
    const sp = opts.sparse ? toSparse(p.data) : null;
    if (!sp) {
      tensors.push({ name: p.name, dtype: 'F32', shape: p.shape, data: p.data });
      continue;
    }
    sparse.push(p.name);
    tensors.push({ name: `${p.name}.mask`, dtype: 'U8', shape: [sp.mask.length], data: sp.mask });
    tensors.push({ name: `${p.name}.values`, dtype: 'F32', shape: [sp.values.length], data: sp.values });
  }
  const metadata: Record<string, string> = {
    format: FORMAT,
    version: FORMAT_VERSION,
    config: JSON.stringify(state.config),
  };
  if (sparse.length) metadata.sparse = JSON.stringify(sparse);
  for (const [k, v] of Object.entries(model.metadata)) {
    if (typeof v !== 'string') throw new ValueError(`save: metadata "${k}" must be a string; got ${typeof v}`);
    metadata[`user.${k}`] = v;
  }
  if (state.optimizer) {
    metadata.optimizer_step = String(state.optimizer.step);
    for (const s of state.optimizer.slots) tensors.push({ name: s.name, dtype: 'F32', shape: s.shape, data: s.data });
  }
  return writeSafetensors(tensors, metadata);
}

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
        model.importOptimizerState(step, slots);
      }
    }
  }
  return model;
}

/** Write `model.save()` to a file atomically (write to a temporary file, then rename). */
export async function saveModelFile(model: Sequential, path: string, opts: SaveOptions = {}): Promise<void> {
  const fs = await nodeFs();
  const bytes = saveModel(model, opts);
  const tmp = `${path}.tmp-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  await fs.writeFile(tmp, bytes);
  await fs.rename(tmp, path);
}

export async function loadModelFile(path: string, limits: ReadLimits = {}): Promise<Sequential> {
  const fs = await nodeFs();
  return loadModel(new Uint8Array(await fs.readFile(path)), limits);
}

type Fs = {
  readFile(p: string): Promise<Uint8Array>;
  writeFile(p: string, d: Uint8Array): Promise<void>;
  rename(a: string, b: string): Promise<void>;
};

async function nodeFs(): Promise<Fs> {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fromBuiltin = (proc?.getBuiltinModule?.('node:fs') as { promises: Fs } | undefined)?.promises;
  if (fromBuiltin) return fromBuiltin;
  try {
    return (await import(/* @vite-ignore */ ['node', 'fs/promises'].join(':'))) as Fs;
  } catch {
    throw new ValueError('file helpers need a runtime with a file system (Node, Deno, Bun); use model.save() / loadModel(bytes) elsewhere');
  }
}
