/**
 * `importOnnx(bytes)`: run an ONNX model whose recurrent parts are `LSTM`,
 * `GRU` or `RNN` nodes — with the usual nodes `torch.onnx.export` puts around
 * them — on the SIMD kernels. The protobuf is decoded by `proto.ts` (a small
 * codec checked against onnx.proto), sizes are checked before any data is read, and graphs with operators outside the
 * supported set are refused with the list of them.
 */
import { FormatError, RecurrentWasmError } from '../../errors.js';
import { Tensor, tensor, type TensorLike } from '../../tensor.js';
import { f16ToF32 } from '../../format/safetensors.js';
import {
  AttributeProto_AttributeType as AT,
  ModelProtoDesc,
  TensorProto_DataLocation,
  decode,
  TensorProto_DataType as DT,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../../format/onnx-proto.js';
import { OPS, intT, type Attrs, type HostTensor, type Kind } from './ops.js';
import { OnnxRecurrent } from './recurrent.js';

const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);

export interface OnnxImportOptions {
  /** Refuse tensors with more elements than this (default 2^28). */
  maxElements?: number;
}

export interface OnnxValueInfo {
  name: string;
  kind: Kind;
  /** dimensions; strings for symbolic ones */
  shape: (number | string)[];
}

function num(v: bigint | number, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new FormatError(`ONNX: ${what} ${String(v)} is not a safe integer`);
  return n;
}

const ELEM: Partial<Record<DT, { kind: Kind; bytes: number }>> = {
  [DT.FLOAT]: { kind: 'float', bytes: 4 },
  [DT.DOUBLE]: { kind: 'float', bytes: 8 },
  [DT.FLOAT16]: { kind: 'float', bytes: 2 },
  [DT.INT64]: { kind: 'int', bytes: 8 },
  [DT.INT32]: { kind: 'int', bytes: 4 },
  [DT.INT8]: { kind: 'int', bytes: 1 },
  [DT.UINT8]: { kind: 'int', bytes: 1 },
  [DT.BOOL]: { kind: 'int', bytes: 1 },
};

/** A TensorProto (initializer or attribute) as a host tensor. */
export function tensorFromProto(t: TensorProto, maxElements: number): HostTensor {
  const name = t.name || '(unnamed)';
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL)
    throw new FormatError(`ONNX: tensor "${name}" uses external data, which is not supported`);
  const spec = ELEM[t.dataType as DT];
  if (!spec) throw new FormatError(`ONNX: tensor "${name}" has unsupported data type ${DT[t.dataType] ?? t.dataType}`);
  const shape = t.dims.map((d) => num(d, `dimension of "${name}"`));
  let n = 1;
  for (const d of shape) {
    if (d < 0) throw new FormatError(`ONNX: tensor "${name}" has a negative dimension`);
    n *= d;
    if (n > maxElements) throw new FormatError(`ONNX: tensor "${name}" has more than ${maxElements} elements`);
  }
  const raw = t.rawData;
  if (raw.byteLength > 0) {
    if (raw.byteLength !== n * spec.bytes)
      throw new FormatError(
        `ONNX: tensor "${name}" holds ${raw.byteLength} bytes; [${shape}] of ${DT[t.dataType]} needs ${n * spec.bytes}`,
      );
  } else {
    const count = (
      t.dataType === DT.FLOAT ? t.floatData : t.dataType === DT.DOUBLE ? t.doubleData : t.dataType === DT.INT64 ? t.int64Data : t.int32Data
    ).length;
    if (count !== n) throw new FormatError(`ONNX: tensor "${name}" has ${count} values; [${shape}] needs ${n}`);
  }
  const out = spec.kind === 'float' ? new Float32Array(n) : new Float64Array(n);
  if (raw.byteLength > 0) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) {
      switch (t.dataType) {
        case DT.FLOAT:
          out[i] = dv.getFloat32(4 * i, true);
          break;
        case DT.DOUBLE:
          out[i] = dv.getFloat64(8 * i, true);
          break;
        case DT.FLOAT16:
          out[i] = f16ToF32(dv.getUint16(2 * i, true));
          break;
        case DT.INT64:
          out[i] = Number(dv.getBigInt64(8 * i, true));
          break;
        case DT.INT32:
          out[i] = dv.getInt32(4 * i, true);
          break;
        case DT.INT8:
          out[i] = dv.getInt8(i);
          break;
        default:
          out[i] = dv.getUint8(i);
      }
    }
  } else {
    const src: ArrayLike<number | bigint> =
      t.dataType === DT.FLOAT ? t.floatData : t.dataType === DT.DOUBLE ? t.doubleData : t.dataType === DT.INT64 ? t.int64Data : t.int32Data;
    for (let i = 0; i < n; i++) out[i] = t.dataType === DT.FLOAT16 ? f16ToF32(Number(src[i])) : Number(src[i]);
  }
  return { kind: spec.kind, shape, data: out };
}

function attrValue(a: AttributeProto, maxElements: number): unknown {
  switch (a.type) {
    case AT.FLOAT:
      return a.f;
    case AT.INT:
      return num(a.i, `attribute ${a.name}`);
    case AT.STRING:
      return new TextDecoder().decode(a.s);
    case AT.TENSOR:
      return a.t ? tensorFromProto(a.t, maxElements) : undefined;
    case AT.FLOATS:
      return [...a.floats];
    case AT.INTS:
      return a.ints.map((v) => num(v, `attribute ${a.name}`));
    case AT.STRINGS:
      return a.strings.map((s) => new TextDecoder().decode(s));
    default:
      throw new FormatError(`ONNX: attribute "${a.name}" has unsupported type ${AT[a.type] ?? a.type}`);
  }
}

function attrsOf(n: NodeProto, maxElements: number): Attrs {
  const m: Attrs = new Map();
  for (const a of n.attribute) m.set(a.name, attrValue(a, maxElements));
  return m;
}

export class OnnxModel {
  readonly inputs: OnnxValueInfo[];
  readonly outputs: string[];
  readonly opset: number;
  private readonly proto: ModelProto;
  private readonly consts = new Map<string, HostTensor>();
  private readonly recurrent = new Map<NodeProto, OnnxRecurrent>();
  private readonly attrs = new Map<NodeProto, Attrs>();

  constructor(bytes: Uint8Array, opts: OnnxImportOptions = {}) {
    const maxElements = opts.maxElements ?? 2 ** 28;
    let m: ModelProto;
    try {
      m = decode<ModelProto>(ModelProtoDesc, bytes);
    } catch (e) {
      throw new FormatError(`ONNX: the file is not a valid ONNX protobuf (${(e as Error).message})`);
    }
    const g = m.graph;
    if (!g || g.node.length === 0) throw new FormatError('ONNX: the model has no graph (or an empty one)');
    this.proto = m;
    const opsets = m.opsetImport.filter((o) => o.domain === '' || o.domain === 'ai.onnx');
    this.opset = opsets.length ? num(opsets[0].version, 'opset') : 1;
    const unsupported = new Map<string, number>();
    for (const n of g.node) {
      const known = (n.domain === '' || n.domain === 'ai.onnx') && (n.opType in OPS || n.opType === 'Constant' || RECURRENT.has(n.opType));
      if (!known) {
        const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
        unsupported.set(key, (unsupported.get(key) ?? 0) + 1);
      }
    }
    if (unsupported.size) {
      throw new FormatError(
        `ONNX: unsupported operators: ${[...unsupported].map(([k, c]) => `${k} (${c} node${c > 1 ? 's' : ''})`).join(', ')}`,
      );
    }
    for (const t of g.initializer) this.consts.set(t.name, tensorFromProto(t, maxElements));
    const initNames = new Set(g.initializer.map((t) => t.name));
    this.inputs = g.input
      .filter((v) => !initNames.has(v.name))
      .map((v) => {
        const tt = v.type?.value.case === 'tensorType' ? v.type.value.value : undefined;
        const spec = ELEM[(tt?.elemType ?? DT.FLOAT) as DT];
        if (!spec) throw new FormatError(`ONNX: input "${v.name}" has unsupported element type ${tt?.elemType}`);
        const shape = (tt?.shape?.dim ?? []).map((d) =>
          d.value.case === 'dimValue' ? num(d.value.value, 'input dimension') : d.value.case === 'dimParam' ? d.value.value : '?',
        );
        return { name: v.name, kind: spec.kind, shape };
      });
    this.outputs = g.output.map((v) => v.name);
    for (const n of g.node) {
      const a = attrsOf(n, maxElements);
      this.attrs.set(n, a);
      if (n.opType === 'Constant') {
        const v =
          a.get('value') ??
          (a.has('value_float')
            ? { kind: 'float', shape: [], data: Float32Array.of(a.get('value_float') as number) }
            : a.has('value_int')
              ? intT([], [a.get('value_int') as number])
              : a.has('value_ints')
                ? intT([(a.get('value_ints') as number[]).length], a.get('value_ints') as number[])
                : a.has('value_floats')
                  ? {
                      kind: 'float',
                      shape: [(a.get('value_floats') as number[]).length],
                      data: Float32Array.from(a.get('value_floats') as number[]),
                    }
                  : undefined);
        if (!v) throw new FormatError(`ONNX: Constant node "${n.name}" has no supported value attribute`);
        this.consts.set(n.output[0], v as HostTensor);
      } else if (RECURRENT.has(n.opType)) {
        const get = (i: number, what: string) => {
          const nm = n.input[i];
          if (!nm) return undefined;
          const t = this.consts.get(nm);
          if (!t) throw new FormatError(`ONNX ${n.opType} node "${n.name}": ${what} must be an initializer or a Constant`);
          return t;
        };
        const W = get(1, 'W');
        const R = get(2, 'R');
        if (!W || !R) throw new FormatError(`ONNX ${n.opType} node "${n.name}": W and R are required`);
        this.recurrent.set(n, new OnnxRecurrent(n.opType as 'LSTM', a, W, R, get(3, 'B'), !!n.input[7], n.name || n.output[0]));
      }
    }
  }

  /** Run the graph; feeds by input name (tensors or nested arrays). */
  run(feeds: Record<string, TensorLike>): Record<string, Tensor> {
    const values = new Map<string, HostTensor>(this.consts);
    for (const inp of this.inputs) {
      const f = feeds[inp.name];
      if (f === undefined)
        throw new FormatError(`ONNX run: input "${inp.name}" is missing (inputs: ${this.inputs.map((i) => i.name).join(', ')})`);
      const t = tensor(f);
      if (t.rank !== inp.shape.length)
        throw new FormatError(`ONNX run: input "${inp.name}" must have rank ${inp.shape.length}; got [${t.shape}]`);
      inp.shape.forEach((d, i) => {
        if (typeof d === 'number' && d !== t.shape[i])
          throw new FormatError(`ONNX run: input "${inp.name}" dimension ${i} must be ${d}; got ${t.shape[i]}`);
      });
      for (let i = 0; i < t.data.length; i++) {
        if (!Number.isFinite(t.data[i])) throw new FormatError(`ONNX run: input "${inp.name}" contains ${t.data[i]} at ${i}`);
        if (inp.kind === 'int' && !Number.isInteger(t.data[i])) throw new FormatError(`ONNX run: input "${inp.name}" must hold integers`);
      }
      values.set(
        inp.name,
        inp.kind === 'float'
          ? { kind: 'float', shape: t.shape, data: Float32Array.from(t.data) }
          : { kind: 'int', shape: t.shape, data: Float64Array.from(t.data) },
      );
    }
    for (const n of this.proto.graph!.node) {
      if (n.opType === 'Constant') continue;
      const ins = n.input.map((nm) => {
        if (!nm) return undefined;
        const v = values.get(nm);
        if (!v) throw new FormatError(`ONNX: node "${n.name}" (${n.opType}) reads "${nm}", which no earlier node produced`);
        return v;
      });
      let outs: HostTensor[];
      try {
        const rec = this.recurrent.get(n);
        outs = rec ? rec.run(ins[0]!, ins[4], ins[5], ins[6]) : OPS[n.opType](ins, this.attrs.get(n)!, this.opset);
      } catch (e) {
        if (e instanceof FormatError) throw e;
        throw new FormatError(`ONNX: node "${n.name}" (${n.opType}) failed: ${(e as Error).message}`);
      }
      if (!Array.isArray(outs)) throw new FormatError(`ONNX: node "${n.name}" (${n.opType}) produced no outputs`);
      n.output.forEach((nm, i) => {
        if (nm && outs[i]) values.set(nm, outs[i]);
      });
    }
    const res: Record<string, Tensor> = {};
    for (const o of this.outputs) {
      const v = values.get(o);
      if (!v) throw new FormatError(`ONNX: output "${o}" was not produced`);
      res[o] = new Tensor(v.kind === 'float' ? (v.data as Float32Array) : Int32Array.from(v.data), v.shape);
    }
    return res;
  }

  /** Single input, single output: `run({ [input]: x })[output]`. */
  predict(x: TensorLike): Tensor {
    if (this.inputs.length !== 1 || this.outputs.length !== 1) {
      throw new FormatError(`ONNX predict: the model has ${this.inputs.length} inputs and ${this.outputs.length} outputs; use run(feeds)`);
    }
    return this.run({ [this.inputs[0].name]: x })[this.outputs[0]];
  }

  /** The operators the graph uses, with counts. */
  operators(): Record<string, number> {
    const c: Record<string, number> = {};
    for (const n of this.proto.graph!.node) c[n.opType] = (c[n.opType] ?? 0) + 1;
    return c;
  }

  dispose(): void {
    for (const r of this.recurrent.values()) r.dispose();
    this.recurrent.clear();
  }
}

export function importOnnx(bytes: Uint8Array | ArrayBuffer, opts: OnnxImportOptions = {}): OnnxModel {
  const b = bytes instanceof Uint8Array ? bytes : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : null;
  if (!b) throw new FormatError('importOnnx: expected bytes (Uint8Array or ArrayBuffer)');
  try {
    return new OnnxModel(b, opts);
  } catch (e) {
    if (e instanceof RecurrentWasmError) throw e instanceof FormatError ? e : new FormatError(`ONNX: ${e.message}`);
    throw new FormatError(`ONNX: the model cannot be loaded: ${(e as Error).message}`);
  }
}
