/**
 * Import a PyTorch model from its `state_dict` saved with safetensors
 * (`safetensors.torch.save_file(model.state_dict(), path)`), for a module made
 * of `nn.Embedding`, `nn.RNN` / `nn.LSTM` / `nn.GRU` (any `num_layers`,
 * bidirectional, `batch_first` either way) and `nn.Linear`.
 *
 * Weights need no conversion: our layers use PyTorch's names, layouts, gate
 * orders and two biases. What a state dict does not say is given by `spec`
 * (or inferred):
 *
 * - module order: from `spec.layers`, or inferred as embedding → recurrent
 *   modules → linear modules chained by their sizes;
 * - `nn.RNN` non-linearity (`'tanh'` unless the spec says `'relu'`);
 * - what follows the last recurrent module: `head: 'sequence'` (default; every
 *   step, as `output`), `'last-step'` (`output[:, -1]`) or `'final-state'`
 *   (`h_n` of the last layer, directions concatenated — `torch.cat([h_n[-2],
 *   h_n[-1]], 1)` when bidirectional);
 * - activations after linear layers (none by default: PyTorch losses take logits).
 *
 * The imported model always takes **batch-first** input `[B, T, …]`: if the
 * PyTorch module used `batch_first=False`, transpose the data, not the weights.
 * `proj_size > 0` LSTMs are refused with a clear error.
 */
import { FormatError } from '../errors.js';
import type { Layer, TorchMapping, TorchModule } from '../layers/base.js';
import { type DenseActivation, torchMappings } from '../layers/index.js';
import { Sequential } from '../model/sequential.js';
import { readSafetensors, toFloat32, type ReadLimits, type SafeTensor } from '../format/safetensors.js';

export type PyTorchLayerSpec =
  | { module: string; type: 'embedding'; maskZero?: boolean }
  | { module: string; type: 'rnn' | 'lstm' | 'gru'; nonlinearity?: 'tanh' | 'relu' }
  | { module: string; type: 'linear'; activation?: DenseActivation };

export interface PyTorchSpec {
  /** Modules in call order (state-dict prefixes, e.g. `'encoder.lstm'`). */
  layers?: PyTorchLayerSpec[];
  /** What the model returns after the last recurrent module (see above). */
  head?: 'sequence' | 'last-step' | 'final-state';
  /** Sample shape without batch (default `[null]` for ids, `[null, input_size]` otherwise). */
  inputShape?: (number | null)[];
  limits?: ReadLimits;
}

function groupByModule(tensors: Map<string, SafeTensor>): Map<string, TorchModule> {
  const mods = new Map<string, TorchModule>();
  for (const [name, t] of tensors) {
    const dot = name.lastIndexOf('.');
    const prefix = dot < 0 ? '' : name.slice(0, dot);
    const param = name.slice(dot + 1);
    const m = mods.get(prefix) ?? { prefix, tensors: new Map() };
    m.tensors.set(param, t);
    mods.set(prefix, m);
  }
  return mods;
}

/** The mapping that recognises a module, and the spec type it reads it as. */
function detect(m: TorchModule): { mapping: TorchMapping; type: string } {
  for (const mapping of torchMappings()) {
    const type = mapping.detect(m);
    if (type) return { mapping, type };
  }
  throw new FormatError(
    `importPyTorch: cannot tell what module "${m.prefix}" is (tensors: ${[...m.tensors.keys()].join(', ')}); pass a spec`,
  );
}

/** Infer the module order: by stage (embedding → recurrent modules → linear heads), each stage chained by sizes. */
function inferOrder(mods: Map<string, TorchModule>): PyTorchLayerSpec[] {
  const found = [...mods.values()].map((m) => ({ m, ...detect(m) }));
  const stages = [...new Set(found.map((f) => f.mapping.stage))].sort((a, b) => a - b);
  const order: PyTorchLayerSpec[] = [];
  let width: number | null = null;
  for (const stage of stages) {
    const left = found.filter((f) => f.mapping.stage === stage);
    const what = left[0].type === 'linear' || left[0].type === 'embedding' ? left[0].type : 'recurrent';
    const inSize = (f: (typeof found)[number]) => f.mapping.sizes(f.m).in;
    while (left.length) {
      const i: number = width === null ? (left.length === 1 ? 0 : -1) : left.findIndex((f) => inSize(f) === width);
      if (i < 0) throw new FormatError(`importPyTorch: cannot order the ${what} modules by their sizes; pass spec.layers`);
      const f: (typeof found)[number] = left.splice(i, 1)[0];
      if (width !== null && left.some((o) => inSize(o) === width)) {
        throw new FormatError(`importPyTorch: ambiguous order of the ${what} modules; pass spec.layers`);
      }
      order.push({ module: f.m.prefix, type: f.type } as PyTorchLayerSpec);
      width = f.mapping.sizes(f.m).out;
    }
  }
  return order;
}

export function importPyTorch(bytes: Uint8Array | ArrayBuffer, spec: PyTorchSpec = {}): Sequential {
  try {
    return importPyTorchUnchecked(bytes, spec);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`importPyTorch: ${(e as Error).message}`);
  }
}

function importPyTorchUnchecked(bytes: Uint8Array | ArrayBuffer, spec: PyTorchSpec): Sequential {
  const file = readSafetensors(bytes, spec.limits);
  const mods = groupByModule(file.tensors);
  const order = spec.layers ?? inferOrder(mods);
  const mappings = torchMappings();
  const used = new Set<string>();
  const layers: Layer[] = [];
  const weights: Record<string, Float32Array> = {};
  let lastRecurrentIndex = -1;
  order.forEach((l, i) => {
    if (['rnn', 'lstm', 'gru'].includes(l.type)) lastRecurrentIndex = i;
  });
  const head = spec.head ?? 'sequence';
  let idsInput = false;
  let firstInput: number | null = null;
  const safeName = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_') || 'module';
  const error = (message: string) => new FormatError(`importPyTorch: ${message}`);
  order.forEach((l, i) => {
    const m = mods.get(l.module);
    if (!m) throw error(`no tensors for module "${l.module}" (modules: ${[...mods.keys()].join(', ')})`);
    const mapping = mappings.find((t) => t.types.includes(l.type));
    if (!mapping) throw error(`unknown module type ${JSON.stringify(l.type)} for "${l.module}"`);
    used.add(l.module);
    const take = (param: string, want: number[]): Float32Array => {
      const t = m.tensors.get(param);
      if (!t) throw error(`"${m.prefix}.${param}" is missing`);
      if (JSON.stringify(t.shape) !== JSON.stringify(want)) {
        throw error(`"${m.prefix}.${param}" has shape ${JSON.stringify(t.shape)}; expected ${JSON.stringify(want)}`);
      }
      return toFloat32(t, `${m.prefix}.${param}`);
    };
    const r = mapping.import({
      module: m,
      spec: l,
      name: safeName(l.module),
      first: i === 0,
      lastRecurrent: i === lastRecurrentIndex,
      head,
      take,
      error,
    });
    layers.push(...r.layers);
    Object.assign(weights, r.weights);
    if (r.idsInput) idsInput = true;
    if (i === 0 && r.inputSize !== undefined) firstInput = r.inputSize;
  });
  const unused = [...mods.keys()].filter((k) => !used.has(k));
  if (unused.length) throw new FormatError(`importPyTorch: modules not used by the spec: ${unused.join(', ')}`);
  if (layers.length === 0) throw new FormatError('importPyTorch: the file has no tensors');
  const inputShape = spec.inputShape ?? (idsInput ? [null] : [null, firstInput]);
  const model = new Sequential(layers, { name: 'pytorch' });
  try {
    model.build(inputShape, { initialize: false });
    model.setWeights(weights);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`importPyTorch: ${(e as Error).message}`);
  }
  return model;
}
