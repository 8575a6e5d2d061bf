/**
 * `model.toOnnx()`: a Sequential as an ONNX graph (opset 17) that runs in
 * onnxruntime (node, web) and in `importOnnx`.
 *
 * - Input `x`: float `[batch, time, features]` (or `[batch, features]`), int64
 *   ids `[batch, time]` when the model starts with an embedding; output `y`.
 * - Recurrent layers become one `LSTM`/`GRU`/`RNN` node each (layout 0 between
 *   Transposes: onnxruntime refuses layout 1), weights reordered to ONNX gate
 *   order (LSTM i,o,f,c; GRU z,r,h with `linear_before_reset` 1 for PyTorch's
 *   cell, 0 for the reset-before cell), `B = [b_ih, b_hh]`; hard-sigmoid gates
 *   as `HardSigmoid` with their (α, β).
 * - `maskZero` lengths become `sequence_lens` (computed from the ids), so
 *   padded steps behave as in our kernels; `goBackwards` becomes
 *   `direction="reverse"` plus a `ReverseSequence` of the outputs.
 * - Dense → MatMul + Add (+ activation); LayerNormalization → LayerNormalization;
 *   Dropout → nothing; LastStep → Slice + Squeeze (not with masking).
 */
import { FormatError } from '../../errors.js';
import { Dense } from '../../layers/dense.js';
import { Dropout } from '../../layers/dropout.js';
import { Embedding } from '../../layers/embedding.js';
import { LastStep } from '../../layers/last-step.js';
import { LayerNormalization } from '../../layers/layer-norm.js';
import { Recurrent } from '../../layers/recurrent.js';
import type { Sequential } from '../../model/sequential.js';
import type { Tensor } from '../../tensor.js';
import {
  AttributeProto_AttributeType as AT,
  ModelProtoDesc,
  TensorProto_DataType as DT,
  encode,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.js';

const OPSET = 17;

type AttrVal = number | string | number[] | string[] | { floats: number[] };

class GraphBuilder {
  nodes: NodeProto[] = [];
  inits: TensorProto[] = [];
  private n = 0;

  name(base: string): string {
    return `${base}_${this.n++}`;
  }

  init(name: string, dims: number[], data: Float32Array | number[], type: DT = DT.FLOAT): string {
    const bytes =
      type === DT.FLOAT
        ? new Uint8Array(Float32Array.from(data).buffer)
        : type === DT.INT64
          ? new Uint8Array(BigInt64Array.from((data as number[]).map((v) => BigInt(v))).buffer)
          : new Uint8Array(Int32Array.from(data).buffer);
    this.inits.push({ name, dims: dims.map(BigInt), dataType: type, rawData: bytes } as TensorProto);
    return name;
  }

  ints(name: string, values: number[]): string {
    return this.init(this.name(name), [values.length], values, DT.INT64);
  }

  node(op: string, inputs: string[], nOut = 1, attrs: Record<string, AttrVal> = {}, base = op): string[] {
    const outs = Array.from({ length: nOut }, (_, i) => this.name(`${base}_out${i}`));
    const attribute: AttributeProto[] = Object.entries(attrs).map(([k, v]) => attr(k, v));
    this.nodes.push({ opType: op, input: inputs, output: outs, name: this.name(base), attribute } as NodeProto);
    return outs;
  }
}

function attr(name: string, v: AttrVal): AttributeProto {
  const a = (x: Partial<AttributeProto>) => x as AttributeProto;
  if (typeof v === 'number') return Number.isInteger(v) ? a({ name, type: AT.INT, i: BigInt(v) }) : a({ name, type: AT.FLOAT, f: v });
  if (typeof v === 'string') return a({ name, type: AT.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v) && v.every((x) => typeof x === 'string'))
    return a({ name, type: AT.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) });
  if (Array.isArray(v)) return a({ name, type: AT.INTS, ints: (v as number[]).map(BigInt) });
  return a({ name, type: AT.FLOATS, floats: v.floats });
}

function valueInfo(name: string, elem: DT, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      value: {
        case: 'tensorType',
        value: {
          elemType: elem,
          shape: {
            dim: dims.map((d) => ({
              value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d },
            })),
          },
        },
      },
    },
  } as ValueInfoProto;
}

/** Reorder gate blocks of `src` ([G·H, cols]) to ONNX order: target block k ← ours block perm[k]. */
function onnxGates(src: Float32Array, G: number, H: number, cols: number, perm: number[]): Float32Array {
  const out = new Float32Array(src.length);
  for (let k = 0; k < G; k++) out.set(src.subarray(perm[k] * H * cols, (perm[k] + 1) * H * cols), k * H * cols);
  return out;
}

// ONNX block k comes from our block: LSTM (i,o,f,c) ← ours (i,f,g,o); GRU (z,r,h) ← ours (r,z,n)
const TO_ONNX: Record<string, number[]> = { lstm: [0, 3, 1, 2], gru: [1, 0, 2], rnn: [0] };

export function exportOnnx(model: Sequential): Uint8Array {
  const weights = model.getWeights();
  const w = (layer: string, p: string): Tensor => {
    const t = weights[`${layer}.${p}`];
    if (!t) throw new FormatError(`toOnnx: missing weight ${layer}.${p}`);
    return t;
  };
  const g = new GraphBuilder();
  const first = model.layers[0];
  const ids = first instanceof Embedding;
  const cfg = model.toConfig();
  const inShape = cfg.inputShape;
  const input = valueInfo('x', ids ? DT.INT64 : DT.FLOAT, ['batch', ...inShape.map((d, i) => d ?? (i === 0 ? 'time' : `dim${i}`))]);
  let cur = 'x';
  let rank = inShape.length + 1;
  let lengths: string | null = null;
  for (const l of model.layers) {
    if (l instanceof Dropout) continue;
    if (l instanceof Embedding) {
      const W = w(l.name, 'weight');
      const table = g.init(`${l.name}.weight`, W.shape, W.data as Float32Array);
      if (l.maskZero) {
        const zero = g.init(g.name('zero'), [], [0], DT.INT64);
        const [eq] = g.node('Equal', [cur, zero]);
        const [nz] = g.node('Not', [eq]);
        const [as32] = g.node('Cast', [nz], 1, { to: DT.INT32 });
        [lengths] = g.node('ReduceSum', [as32, g.ints('axes', [1])], 1, { keepdims: 0 });
      }
      [cur] = g.node('Gather', [table, cur], 1, {}, l.name);
      rank = 3;
      continue;
    }
    if (l instanceof Dense) {
      const W = w(l.name, 'weight'); // [out, in]
      const [out, inn] = W.shape;
      const Wt = new Float32Array(out * inn);
      for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) Wt[i * out + o] = W.data[o * inn + i];
      [cur] = g.node('MatMul', [cur, g.init(`${l.name}.weight_t`, [inn, out], Wt)], 1, {}, l.name);
      if (l.useBias) [cur] = g.node('Add', [cur, g.init(`${l.name}.bias`, [out], w(l.name, 'bias').data as Float32Array)], 1, {}, l.name);
      const act = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid', softmax: 'Softmax', linear: null }[l.activation];
      if (act) [cur] = g.node(act, [cur], 1, act === 'Softmax' ? { axis: -1 } : {}, l.name);
      continue;
    }
    if (l instanceof LayerNormalization) {
      const s = w(l.name, 'weight');
      const b = w(l.name, 'bias');
      [cur] = g.node(
        'LayerNormalization',
        [cur, g.init(`${l.name}.weight`, s.shape, s.data as Float32Array), g.init(`${l.name}.bias`, b.shape, b.data as Float32Array)],
        1,
        { axis: -1, epsilon: l.epsilon },
        l.name,
      );
      continue;
    }
    if (l instanceof LastStep) {
      if (lengths) throw new FormatError(`toOnnx: ${l.name}: lastStep after masking is not exported`);
      const [sl] = g.node('Slice', [cur, g.ints('s', [-1]), g.ints('e', [2 ** 53 - 1]), g.ints('a', [1])], 1, {}, l.name);
      [cur] = g.node('Squeeze', [sl, g.ints('a', [1])], 1, {}, l.name);
      rank = 2;
      continue;
    }
    if (l instanceof Recurrent) {
      if (rank !== 3) throw new FormatError(`toOnnx: ${l.name}: needs a [batch, time, features] input`);
      const D = l.directions;
      const H = l.units;
      const cell = l.cell;
      const G = { rnn: 1, lstm: 4, gru: 3 }[cell];
      const perm = TO_ONNX[cell];
      const I = w(l.name, 'weight_ih_l0').shape[1];
      const Wd = new Float32Array(D * G * H * I);
      const Rd = new Float32Array(D * G * H * H);
      const Bd = new Float32Array(D * 2 * G * H);
      for (let d = 0; d < D; d++) {
        const sfx = d === 1 ? '_reverse' : '';
        Wd.set(onnxGates(w(l.name, `weight_ih_l0${sfx}`).data as Float32Array, G, H, I, perm), d * G * H * I);
        Rd.set(onnxGates(w(l.name, `weight_hh_l0${sfx}`).data as Float32Array, G, H, H, perm), d * G * H * H);
        Bd.set(onnxGates(w(l.name, `bias_ih_l0${sfx}`).data as Float32Array, G, H, 1, perm), d * 2 * G * H);
        Bd.set(onnxGates(w(l.name, `bias_hh_l0${sfx}`).data as Float32Array, G, H, 1, perm), d * 2 * G * H + G * H);
      }
      const attrs: Record<string, AttrVal> = {
        hidden_size: H,
        direction: D === 2 ? 'bidirectional' : l.goBackwards ? 'reverse' : 'forward',
      };
      const gate = (l.args.recurrentActivation ?? 'sigmoid') as string;
      if (cell === 'rnn') {
        if (l.args.activation === 'relu') attrs.activations = Array(D).fill('Relu');
      } else if (gate !== 'sigmoid') {
        const one = cell === 'lstm' ? ['HardSigmoid', 'Tanh', 'Tanh'] : ['HardSigmoid', 'Tanh'];
        attrs.activations = D === 2 ? [...one, ...one] : one;
        attrs.activation_alpha = { floats: Array(D).fill(gate === 'hardSigmoid6' ? 1 / 6 : 0.2) };
        attrs.activation_beta = { floats: Array(D).fill(0.5) };
      }
      if (cell === 'gru') attrs.linear_before_reset = (l.args.resetAfter ?? true) ? 1 : 0;
      const [tm] = g.node('Transpose', [cur], 1, { perm: [1, 0, 2] }, l.name);
      const op = { rnn: 'RNN', lstm: 'LSTM', gru: 'GRU' }[cell];
      const ins = [
        tm,
        g.init(`${l.name}.W`, [D, G * H, I], Wd),
        g.init(`${l.name}.R`, [D, G * H, H], Rd),
        g.init(`${l.name}.B`, [D, 2 * G * H], Bd),
        lengths ?? '',
      ];
      const [Y, Yh] = g.node(op, ins, 2, attrs, l.name);
      const merged = (src: string, steps: boolean): string => {
        // src: Y [T, D, N, H] or Y_h [D, N, H]; → [N, T, F] or [N, F]
        const dAxis = steps ? 1 : 0;
        const permOut = steps ? [2, 0, 1, 3] : [1, 0, 2];
        if (D === 1 || l.mergeMode === 'concat') {
          const [t] = g.node('Transpose', [src], 1, { perm: permOut }, l.name);
          const [r] = g.node('Reshape', [t, g.ints('shape', steps ? [0, 0, D * H] : [0, D * H])], 1, {}, l.name);
          return r;
        }
        const [f] = g.node('Slice', [src, g.ints('s', [0]), g.ints('e', [1]), g.ints('a', [dAxis])], 1, {}, l.name);
        const [b] = g.node('Slice', [src, g.ints('s', [1]), g.ints('e', [2]), g.ints('a', [dAxis])], 1, {}, l.name);
        let [m] = g.node(l.mergeMode === 'mul' ? 'Mul' : 'Add', [f, b], 1, {}, l.name);
        if (l.mergeMode === 'ave') [m] = g.node('Mul', [m, g.init(g.name('half'), [], [0.5])], 1, {}, l.name);
        const [t] = g.node('Transpose', [m], 1, { perm: permOut }, l.name);
        const [r] = g.node('Reshape', [t, g.ints('shape', steps ? [0, 0, H] : [0, H])], 1, {}, l.name);
        return r;
      };
      if (l.returnSequences) {
        cur = merged(Y, true);
        if (l.goBackwards) {
          // Keras order: output step s = the state after consuming x_{len−1} … x_{len−1−s}
          if (lengths) {
            [cur] = g.node(
              'ReverseSequence',
              [cur, g.node('Cast', [lengths], 1, { to: DT.INT64 })[0]],
              1,
              { batch_axis: 0, time_axis: 1 },
              l.name,
            );
          } else {
            [cur] = g.node(
              'Slice',
              [cur, g.ints('s', [-1]), g.ints('e', [-(2 ** 53 - 1)]), g.ints('a', [1]), g.ints('st', [-1])],
              1,
              {},
              l.name,
            );
          }
        }
      } else {
        cur = merged(Yh, false);
        rank = 2;
        lengths = null;
      }
      continue;
    }
    throw new FormatError(`toOnnx: layer ${l.name} (${l.className}) cannot be exported`);
  }
  const outName = 'y';
  g.node('Identity', [cur], 1, {}, 'output');
  g.nodes[g.nodes.length - 1].output = [outName];
  const model_: Partial<ModelProto> = {
    irVersion: 8n,
    producerName: 'recurrent-wasm',
    opsetImport: [{ domain: '', version: BigInt(OPSET) }],
    graph: {
      name: model.name,
      node: g.nodes,
      initializer: g.inits,
      input: [input],
      output: [{ name: outName, type: { value: { case: 'tensorType', value: { elemType: DT.FLOAT } } } } as ValueInfoProto],
    } as GraphProto,
  };
  return encode(ModelProtoDesc, model_);
}
