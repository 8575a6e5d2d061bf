/**
 * The model file: a safetensors container whose `__metadata__` holds the model
 * config (a JSON string, as safetensors metadata values must be strings), so
 * the weights also open with the Python `safetensors` package.
 *
 * Tensors: every parameter as `<layer>.<param>` (float32, PyTorch layouts);
 * with `includeOptimizer`, the optimizer state as `optimizer.<slot>.<layer>.<param>`
 * and its step count in the metadata, so training resumes exactly.
 *
 * This file defines the format and writes it; `load.ts` reads it (it builds a
 * `Sequential`, which writes through this file).
 */
import { FormatError, ValueError } from '../errors.js';
import { type TensorToWrite, writeSafetensors } from '../format/safetensors.js';
import type { ParamArena } from './arena.js';
import type { ModelConfig } from './config.js';

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

/** The dense tensor of `n` elements from `toSparse`'s mask and values. */
export function fromSparse(n: number, mask: Uint8Array, values: Float32Array, name: string): Float32Array {
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

/** What writing a model file reads of a model. */
export interface SavableModel {
  readonly name: string;
  readonly metadata: Record<string, string>;
  readonly isCompiled: boolean;
  readonly optimizerStep: number;
  readonly arena: ParamArena;
  toConfig(): ModelConfig;
}

/** The model as a safetensors file (`model.save()`; `loadModel` reads it). */
export function saveModel(model: SavableModel, opts: SaveOptions = {}): Uint8Array {
  const config = model.toConfig();
  const arena = model.arena;
  if (opts.includeOptimizer && !model.isCompiled)
    throw new ValueError(`${model.name}: save({ includeOptimizer: true }) needs a compiled model`);
  const tensors: TensorToWrite[] = [];
  const sparse: string[] = [];
  for (const p of arena.named(arena.params)) {
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
    config: JSON.stringify(config),
  };
  if (sparse.length) metadata.sparse = JSON.stringify(sparse);
  for (const [k, v] of Object.entries(model.metadata)) {
    if (typeof v !== 'string') throw new ValueError(`save: metadata "${k}" must be a string; got ${typeof v}`);
    metadata[`user.${k}`] = v;
  }
  if (opts.includeOptimizer) {
    metadata.optimizer_step = String(model.optimizerStep);
    for (const s of arena.exportSlots()) tensors.push({ name: s.name, dtype: 'F32', shape: s.shape, data: s.data });
  }
  return writeSafetensors(tensors, metadata);
}
