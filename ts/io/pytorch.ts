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
import { Dense, type DenseActivation } from '../layers/dense.js';
import { Embedding } from '../layers/embedding.js';
import { LastStep } from '../layers/last-step.js';
import { Recurrent } from '../layers/recurrent.js';
import type { Layer } from '../layers/base.js';
import { Sequential } from '../model/sequential.js';
import { readSafetensors, toFloat32, type ReadLimits, type SafeTensor } from './safetensors.js';

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

interface Module {
  prefix: string;
  tensors: Map<string, SafeTensor>;
}

function groupByModule(tensors: Map<string, SafeTensor>): Map<string, Module> {
  const mods = new Map<string, Module>();
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

interface RecurrentInfo {
  cell: 'rnn' | 'lstm' | 'gru';
  inputSize: number;
  hidden: number;
  numLayers: number;
  bidirectional: boolean;
}

function recurrentInfo(m: Module): RecurrentInfo {
  const w0 = m.tensors.get('weight_ih_l0');
  const h0 = m.tensors.get('weight_hh_l0');
  if (!w0 || !h0 || w0.shape.length !== 2 || h0.shape.length !== 2)
    throw new FormatError(`importPyTorch: "${m.prefix}" lacks 2-D weight_ih_l0 / weight_hh_l0`);
  if ([...m.tensors.keys()].some((k) => k.startsWith('weight_hr'))) {
    throw new FormatError(`importPyTorch: "${m.prefix}" is an LSTM with proj_size > 0 (weight_hr_l*), which is not supported`);
  }
  const hidden = h0.shape[1];
  const G = h0.shape[0] / hidden;
  const cell = G === 4 ? 'lstm' : G === 3 ? 'gru' : G === 1 ? 'rnn' : null;
  if (!cell || !Number.isInteger(G))
    throw new FormatError(`importPyTorch: "${m.prefix}".weight_hh_l0 has shape ${JSON.stringify(h0.shape)}: not an RNN, GRU or LSTM`);
  let numLayers = 0;
  while (m.tensors.has(`weight_ih_l${numLayers}`)) numLayers++;
  const bidirectional = m.tensors.has('weight_ih_l0_reverse');
  for (const k of m.tensors.keys()) {
    const mm = /^(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$/.exec(k);
    if (!mm || Number(mm[3]) >= numLayers || (mm[4] && !bidirectional))
      throw new FormatError(`importPyTorch: unexpected tensor "${m.prefix}.${k}"`);
  }
  if (!m.tensors.has('bias_ih_l0')) throw new FormatError(`importPyTorch: "${m.prefix}" has bias=False, which is not supported`);
  return { cell, inputSize: w0.shape[1], hidden, numLayers, bidirectional };
}

function kindOf(m: Module): 'recurrent' | 'linear' | 'embedding' {
  if (m.tensors.has('weight_ih_l0')) return 'recurrent';
  const w = m.tensors.get('weight');
  if (w && w.shape.length === 2 && m.tensors.has('bias') && m.tensors.size === 2) return 'linear';
  if (w && w.shape.length === 2 && m.tensors.size === 1) return 'embedding';
  throw new FormatError(
    `importPyTorch: cannot tell what module "${m.prefix}" is (tensors: ${[...m.tensors.keys()].join(', ')}); pass a spec`,
  );
}

/** Infer the module order: embedding, recurrent modules chained by sizes, then linears chained by sizes. */
function inferOrder(mods: Map<string, Module>): PyTorchLayerSpec[] {
  const all = [...mods.values()];
  const emb = all.filter((m) => kindOf(m) === 'embedding');
  const rec = all.filter((m) => kindOf(m) === 'recurrent');
  const lin = all.filter((m) => kindOf(m) === 'linear');
  if (emb.length > 1) throw new FormatError('importPyTorch: several embeddings; pass spec.layers');
  const order: PyTorchLayerSpec[] = [];
  let width: number | null = null;
  if (emb.length) {
    order.push({ module: emb[0].prefix, type: 'embedding' });
    width = emb[0].tensors.get('weight')!.shape[1];
  }
  const chain = <T extends Module>(pool: T[], inSize: (m: T) => number, outSize: (m: T) => number, what: string, push: (m: T) => void) => {
    const left = [...pool];
    while (left.length) {
      const i = width === null ? (left.length === 1 ? 0 : -1) : left.findIndex((m) => inSize(m) === width);
      if (i < 0) throw new FormatError(`importPyTorch: cannot order the ${what} modules by their sizes; pass spec.layers`);
      const [m] = left.splice(i, 1);
      if (left.length && left.filter((o) => inSize(o) === width).length > 0 && width !== null) {
        throw new FormatError(`importPyTorch: ambiguous order of the ${what} modules; pass spec.layers`);
      }
      push(m);
      width = outSize(m);
    }
  };
  chain(
    rec,
    (m) => recurrentInfo(m).inputSize,
    (m) => {
      const r = recurrentInfo(m);
      return r.hidden * (r.bidirectional ? 2 : 1);
    },
    'recurrent',
    (m) => order.push({ module: m.prefix, type: recurrentInfo(m).cell }),
  );
  chain(
    lin,
    (m) => m.tensors.get('weight')!.shape[1],
    (m) => m.tensors.get('weight')!.shape[0],
    'linear',
    (m) => order.push({ module: m.prefix, type: 'linear' }),
  );
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
  const take = (m: Module, param: string, want: number[]): Float32Array => {
    const t = m.tensors.get(param);
    if (!t) throw new FormatError(`importPyTorch: "${m.prefix}.${param}" is missing`);
    if (JSON.stringify(t.shape) !== JSON.stringify(want)) {
      throw new FormatError(`importPyTorch: "${m.prefix}.${param}" has shape ${JSON.stringify(t.shape)}; expected ${JSON.stringify(want)}`);
    }
    return toFloat32(t, `${m.prefix}.${param}`);
  };
  order.forEach((l, i) => {
    const m = mods.get(l.module);
    if (!m) throw new FormatError(`importPyTorch: no tensors for module "${l.module}" (modules: ${[...mods.keys()].join(', ')})`);
    used.add(l.module);
    const name = safeName(l.module);
    if (l.type === 'embedding') {
      if (i !== 0) throw new FormatError('importPyTorch: an embedding must come first');
      const w = m.tensors.get('weight');
      if (w?.shape.length !== 2) throw new FormatError(`importPyTorch: "${l.module}.weight" must be [num_embeddings, embedding_dim]`);
      layers.push(new Embedding({ name, inputDim: w.shape[0], outputDim: w.shape[1], maskZero: l.maskZero }));
      weights[`${name}.weight`] = take(m, 'weight', w.shape);
      idsInput = true;
      return;
    }
    if (l.type === 'linear') {
      const w = m.tensors.get('weight');
      if (w?.shape.length !== 2) throw new FormatError(`importPyTorch: "${l.module}.weight" must be [out, in]`);
      const [out, inn] = w.shape;
      layers.push(new Dense({ name, units: out, activation: l.activation ?? 'linear' }));
      weights[`${name}.weight`] = take(m, 'weight', [out, inn]);
      weights[`${name}.bias`] = take(m, 'bias', [out]);
      if (i === 0) firstInput = inn;
      return;
    }
    const r = recurrentInfo(m);
    if (r.cell !== l.type)
      throw new FormatError(`importPyTorch: "${l.module}" holds ${r.cell.toUpperCase()} weights, not ${l.type.toUpperCase()}`);
    if (i === 0) firstInput = r.inputSize;
    const D = r.bidirectional ? 2 : 1;
    const G = { rnn: 1, lstm: 4, gru: 3 }[r.cell] * r.hidden;
    for (let k = 0; k < r.numLayers; k++) {
      const lname = r.numLayers > 1 ? `${name}_l${k}` : name;
      const isLast = i === lastRecurrentIndex && k === r.numLayers - 1;
      const args = {
        name: lname,
        units: r.hidden,
        returnSequences: !(isLast && head === 'final-state'),
        ...(l.type === 'rnn' && l.nonlinearity === 'relu' ? { activation: 'relu' as const } : {}),
      };
      const inner = new Recurrent(r.cell, args);
      layers.push(r.bidirectional ? new Recurrent(r.cell, inner.args, { mergeMode: 'concat', name: lname }) : inner);
      const inSize = k === 0 ? r.inputSize : D * r.hidden;
      for (const sfx of r.bidirectional ? ['', '_reverse'] : ['']) {
        weights[`${lname}.weight_ih_l0${sfx}`] = take(m, `weight_ih_l${k}${sfx}`, [G, inSize]);
        weights[`${lname}.weight_hh_l0${sfx}`] = take(m, `weight_hh_l${k}${sfx}`, [G, r.hidden]);
        weights[`${lname}.bias_ih_l0${sfx}`] = take(m, `bias_ih_l${k}${sfx}`, [G]);
        weights[`${lname}.bias_hh_l0${sfx}`] = take(m, `bias_hh_l${k}${sfx}`, [G]);
      }
      if (isLast && head === 'last-step') layers.push(new LastStep({ name: `${lname}_last_step` }));
    }
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
