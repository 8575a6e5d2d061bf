/**
 * `model.toOnnx()`: a model as an ONNX graph (opset 17) that runs in
 * onnxruntime (node, web) and in `importOnnx`. Input `x`: float
 * `[batch, time, features]` (or `[batch, features]`), int64 ids
 * `[batch, time]` when the first layer takes ids; output `y`. Each layer
 * writes its own nodes (`Layer.toOnnx`); this file holds the graph being
 * written and its encoding.
 */
import type { Layer, LayerNode, OnnxAttr, OnnxBuilder, OnnxType, OnnxValue, SymbolicTensor } from '../layers/base.js';
import type { Tensor } from '../tensor.js';
import {
  AttributeProto_AttributeType as AT,
  type AttributeProto,
  TensorProto_DataType as DT,
  encode,
  type GraphProto,
  type ModelProto,
  ModelProtoDesc,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../format/onnx-proto.js';
import { FormatError } from '../errors.js';

const OPSET = 17;

const DTYPE: Readonly<Record<OnnxType, DT>> = { float: DT.FLOAT, int64: DT.INT64, int32: DT.INT32 };

/** What exporting reads of a model: its graph and its weights. */
export interface ExportableModel {
  readonly name: string;
  readonly inputs: readonly SymbolicTensor[];
  readonly outputs: readonly SymbolicTensor[];
  /** The graph's nodes in topological order. */
  readonly nodes: readonly LayerNode[];
  getWeights(): Record<string, Tensor>;
}

/** The graph being written; `forLayer` gives a layer its view (its weights by name, nodes named after it). */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private n = 0;

  constructor(private readonly weights: Record<string, Tensor>) {}

  name(base: string): string {
    return `${base}_${this.n++}`;
  }

  init(name: string, dims: number[], data: ArrayLike<number>, type: OnnxType = 'float'): string {
    const bytes =
      type === 'float'
        ? new Uint8Array(Float32Array.from(data).buffer)
        : type === 'int64'
          ? new Uint8Array(BigInt64Array.from(Array.from(data, (v) => BigInt(v))).buffer)
          : new Uint8Array(Int32Array.from(data).buffer);
    this.inits.push({ name, dims: dims.map(BigInt), dataType: DTYPE[type], rawData: bytes } as TensorProto);
    return name;
  }

  node(op: string, inputs: string[], nOut: number, attrs: Record<string, OnnxAttr>, base: string): string[] {
    const outs = Array.from({ length: nOut }, (_, i) => this.name(`${base}_out${i}`));
    const attribute: AttributeProto[] = Object.entries(attrs).map(([k, v]) => attr(k, v));
    this.nodes.push({ opType: op, input: inputs, output: outs, name: this.name(base), attribute } as NodeProto);
    return outs;
  }

  forLayer(l: Layer): OnnxBuilder {
    return {
      weight: (p) => {
        const t = this.weights[`${l.name}.${p}`];
        if (!t) throw new FormatError(`toOnnx: missing weight ${l.name}.${p}`);
        return { shape: t.shape, data: t.data as Float32Array };
      },
      init: (name, dims, data, type) => this.init(name, dims, data, type),
      ints: (base, values) => this.init(this.name(base), [values.length], values, 'int64'),
      node: (op, inputs, outputs = 1, attrs = {}) => this.node(op, inputs, outputs, attrs, l.name),
      name: (base) => this.name(base),
      dtype: (t) => DTYPE[t],
      validSteps: (x, lengths) => {
        const node = (op: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}) => this.node(op, inputs, 1, attrs, l.name)[0];
        const int = (v: number) => this.init(this.name('i64'), [], [v], 'int64');
        const T = node('Gather', [node('Shape', [x]), int(1)], { axis: 0 });
        const steps = node('Range', [int(0), T, int(1)]);
        const lens = node('Unsqueeze', [node('Cast', [lengths], { to: DT.INT64 }), this.init(this.name('axes'), [1], [1], 'int64')]);
        return node('Less', [steps, lens]);
      },
    };
  }
}

function attr(name: string, v: OnnxAttr): AttributeProto {
  const a = (x: Partial<AttributeProto>) => x as AttributeProto;
  if (typeof v === 'number') return Number.isInteger(v) ? a({ name, type: AT.INT, i: BigInt(v) }) : a({ name, type: AT.FLOAT, f: v });
  if (typeof v === 'string') return a({ name, type: AT.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
    return a({ name, type: AT.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) });
  }
  if (Array.isArray(v)) return a({ name, type: AT.INTS, ints: (v as number[]).map(BigInt) });
  return a({ name, type: AT.FLOATS, floats: v.floats });
}

function valueInfo(name: string, elem: DT, dims: (number | string)[]): ValueInfoProto {
  const dim = dims.map((d) => ({
    value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d },
  }));
  return { name, type: { value: { case: 'tensorType', value: { elemType: elem, shape: { dim } } } } } as ValueInfoProto;
}

/**
 * The model as ONNX protobuf bytes. A single input is named `x` and a single
 * output `y` (a model with several: `x0`, `x1`, … and `y0`, `y1`, …).
 */
export function exportOnnx(model: ExportableModel): Uint8Array {
  const g = new GraphBuilder(model.getWeights());
  const value = new Map<SymbolicTensor, OnnxValue>();
  const inNames = model.inputs.length === 1 ? ['x'] : model.inputs.map((_, i) => `x${i}`);
  const inputs = model.inputs.map((t, i) => {
    value.set(t, { name: inNames[i], rank: t.shape.length + 1, lengths: null });
    const dims = ['batch', ...t.shape.map((d, k) => d ?? (k === 0 ? 'time' : `dim${k}`))];
    return valueInfo(inNames[i], t.dtype === 'int32' ? DT.INT64 : DT.FLOAT, dims);
  });
  for (const n of model.nodes) {
    const ys = n.layer.toOnnxAll(
      g.forLayer(n.layer),
      n.inputs.map((t) => value.get(t)!),
    );
    for (const [i, t] of n.outputs.entries()) value.set(t, ys[i]);
  }
  const outNames = model.outputs.length === 1 ? ['y'] : model.outputs.map((_, i) => `y${i}`);
  model.outputs.forEach((t, i) => {
    g.node('Identity', [value.get(t)!.name], 1, {}, 'output');
    g.nodes[g.nodes.length - 1].output = [outNames[i]];
  });
  const m: Partial<ModelProto> = {
    irVersion: 8n,
    producerName: 'recurrent-wasm',
    opsetImport: [{ domain: '', version: BigInt(OPSET) }],
    graph: {
      name: model.name,
      node: g.nodes,
      initializer: g.inits,
      input: inputs,
      output: outNames.map((name) => ({ name, type: { value: { case: 'tensorType', value: { elemType: DT.FLOAT } } } }) as ValueInfoProto),
    } as GraphProto,
  };
  return encode(ModelProtoDesc, m);
}
