/**
 * The ONNX protobuf messages this library reads and writes, and a small
 * schema-driven codec for them: the wire format (varints, fixed32/64,
 * length-delimited fields, tags, skipping) is read and written by
 * @bufbuild/protobuf's `BinaryReader` / `BinaryWriter` (its `wire` module
 * alone, bundled); the tables below map field numbers to names and types.
 * Packed and unpacked repeated scalars are both accepted; unknown fields are
 * skipped.
 *
 * Field numbers and types are those of proto/onnx.proto (onnx 1.23.2);
 * test/onnx-proto.test.ts checks every entry of the tables below against that
 * file. Messages and fields the importer does not use (training info,
 * functions, sparse tensors, sharding) are skipped as unknown fields.
 *
 * Why not protobuf-es's generated code and registry: they were 96 KB of the
 * 260 KB bundle and booted descriptors at import, ~12 ms of every cold start
 * for users who never touch ONNX. Decoded messages have protobuf-es's shape (camelCase names, proto2
 * defaults, `bigint` for 64-bit integers, oneofs as `{ case, value }`), so the
 * importer and exporter read them the same way.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

export enum AttributeProto_AttributeType {
  UNDEFINED = 0,
  FLOAT = 1,
  INT = 2,
  STRING = 3,
  TENSOR = 4,
  GRAPH = 5,
  SPARSE_TENSOR = 11,
  TYPE_PROTO = 13,
  FLOATS = 6,
  INTS = 7,
  STRINGS = 8,
  TENSORS = 9,
  GRAPHS = 10,
  SPARSE_TENSORS = 12,
  TYPE_PROTOS = 14,
}
export enum TensorProto_DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
}
export enum TensorProto_DataLocation {
  DEFAULT = 0,
  EXTERNAL = 1,
}

export interface StringStringEntryProto {
  key: string;
  value: string;
}
export interface OperatorSetIdProto {
  domain: string;
  version: bigint;
}
export interface TensorProto {
  dims: bigint[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  stringData: Uint8Array[];
  int64Data: bigint[];
  name: string;
  docString: string;
  rawData: Uint8Array;
  externalData: StringStringEntryProto[];
  dataLocation: TensorProto_DataLocation;
  doubleData: number[];
  uint64Data: bigint[];
}
export interface TensorShapeProto_Dimension {
  value: { case: 'dimValue'; value: bigint } | { case: 'dimParam'; value: string } | { case: undefined; value?: undefined };
  denotation: string;
}
export interface TensorShapeProto {
  dim: TensorShapeProto_Dimension[];
}
export interface TypeProto_Tensor {
  elemType: number;
  shape?: TensorShapeProto;
}
export interface TypeProto {
  value: { case: 'tensorType'; value: TypeProto_Tensor } | { case: 'other'; value: number } | { case: undefined; value?: undefined };
  denotation: string;
}
export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  docString: string;
}
export interface AttributeProto {
  name: string;
  refAttrName: string;
  docString: string;
  type: AttributeProto_AttributeType;
  f: number;
  i: bigint;
  s: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats: number[];
  ints: bigint[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
}
export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  overload: string;
  attribute: AttributeProto[];
  docString: string;
}
export interface GraphProto {
  node: NodeProto[];
  name: string;
  initializer: TensorProto[];
  docString: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  metadataProps: StringStringEntryProto[];
}
export interface ModelProto {
  irVersion: bigint;
  opsetImport: OperatorSetIdProto[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: bigint;
  docString: string;
  graph?: GraphProto;
  metadataProps: StringStringEntryProto[];
}

// ------------------------------------------------------------------ schema

type Scalar = 'string' | 'bytes' | 'int64' | 'uint64' | 'int32' | 'float' | 'double';
export interface FieldDesc {
  no: number;
  /** camelCase, as protobuf-es names it */
  name: string;
  /** the name in onnx.proto */
  proto: string;
  kind: Scalar | 'message';
  repeated?: boolean;
  message?: () => MessageDesc;
  /** member of this oneof (by its camelCase name) */
  oneof?: string;
}
export interface MessageDesc {
  name: string;
  fields: FieldDesc[];
  byNo: Map<number, FieldDesc>;
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
type Spec = [no: number, proto: string, kind: Scalar | (() => MessageDesc), flags?: 'repeated' | `oneof:${string}`];
function message(name: string, specs: Spec[]): MessageDesc {
  const fields = specs.map(
    ([no, proto, kind, flag]): FieldDesc => ({
      no,
      name: camel(proto),
      proto,
      kind: typeof kind === 'function' ? 'message' : kind,
      ...(typeof kind === 'function' ? { message: kind } : {}),
      ...(flag === 'repeated' ? { repeated: true } : {}),
      ...(flag?.startsWith('oneof:') ? { oneof: flag.slice(6) } : {}),
    }),
  );
  return { name, fields, byNo: new Map(fields.map((f) => [f.no, f])) };
}

export const StringStringEntryProtoDesc: MessageDesc = message('StringStringEntryProto', [
  [1, 'key', 'string'],
  [2, 'value', 'string'],
]);
export const OperatorSetIdProtoDesc: MessageDesc = message('OperatorSetIdProto', [
  [1, 'domain', 'string'],
  [2, 'version', 'int64'],
]);
export const TensorProtoDesc: MessageDesc = message('TensorProto', [
  [1, 'dims', 'int64', 'repeated'],
  [2, 'data_type', 'int32'],
  [4, 'float_data', 'float', 'repeated'],
  [5, 'int32_data', 'int32', 'repeated'],
  [6, 'string_data', 'bytes', 'repeated'],
  [7, 'int64_data', 'int64', 'repeated'],
  [8, 'name', 'string'],
  [12, 'doc_string', 'string'],
  [9, 'raw_data', 'bytes'],
  [13, 'external_data', () => StringStringEntryProtoDesc, 'repeated'],
  [14, 'data_location', 'int32'],
  [10, 'double_data', 'double', 'repeated'],
  [11, 'uint64_data', 'uint64', 'repeated'],
]);
export const TensorShapeProto_DimensionDesc: MessageDesc = message('TensorShapeProto.Dimension', [
  [1, 'dim_value', 'int64', 'oneof:value'],
  [2, 'dim_param', 'string', 'oneof:value'],
  [3, 'denotation', 'string'],
]);
export const TensorShapeProtoDesc: MessageDesc = message('TensorShapeProto', [
  [1, 'dim', () => TensorShapeProto_DimensionDesc, 'repeated'],
]);
export const TypeProto_TensorDesc: MessageDesc = message('TypeProto.Tensor', [
  [1, 'elem_type', 'int32'],
  [2, 'shape', () => TensorShapeProtoDesc],
]);
export const TypeProtoDesc: MessageDesc = message('TypeProto', [
  [1, 'tensor_type', () => TypeProto_TensorDesc, 'oneof:value'],
  [6, 'denotation', 'string'],
]);
/** TypeProto's other oneof members (sequence, map, optional, sparse, opaque): recorded as `{ case: 'other', value: field number }`. */
const TYPE_OTHER = new Set([4, 5, 7, 8, 9]);
export const ValueInfoProtoDesc: MessageDesc = message('ValueInfoProto', [
  [1, 'name', 'string'],
  [2, 'type', () => TypeProtoDesc],
  [3, 'doc_string', 'string'],
]);
export const AttributeProtoDesc: MessageDesc = message('AttributeProto', [
  [1, 'name', 'string'],
  [21, 'ref_attr_name', 'string'],
  [13, 'doc_string', 'string'],
  [20, 'type', 'int32'],
  [2, 'f', 'float'],
  [3, 'i', 'int64'],
  [4, 's', 'bytes'],
  [5, 't', () => TensorProtoDesc],
  [6, 'g', () => GraphProtoDesc],
  [7, 'floats', 'float', 'repeated'],
  [8, 'ints', 'int64', 'repeated'],
  [9, 'strings', 'bytes', 'repeated'],
  [10, 'tensors', () => TensorProtoDesc, 'repeated'],
  [11, 'graphs', () => GraphProtoDesc, 'repeated'],
]);
export const NodeProtoDesc: MessageDesc = message('NodeProto', [
  [1, 'input', 'string', 'repeated'],
  [2, 'output', 'string', 'repeated'],
  [3, 'name', 'string'],
  [4, 'op_type', 'string'],
  [7, 'domain', 'string'],
  [8, 'overload', 'string'],
  [5, 'attribute', () => AttributeProtoDesc, 'repeated'],
  [6, 'doc_string', 'string'],
]);
export const GraphProtoDesc: MessageDesc = message('GraphProto', [
  [1, 'node', () => NodeProtoDesc, 'repeated'],
  [2, 'name', 'string'],
  [5, 'initializer', () => TensorProtoDesc, 'repeated'],
  [10, 'doc_string', 'string'],
  [11, 'input', () => ValueInfoProtoDesc, 'repeated'],
  [12, 'output', () => ValueInfoProtoDesc, 'repeated'],
  [13, 'value_info', () => ValueInfoProtoDesc, 'repeated'],
  [16, 'metadata_props', () => StringStringEntryProtoDesc, 'repeated'],
]);
export const ModelProtoDesc: MessageDesc = message('ModelProto', [
  [1, 'ir_version', 'int64'],
  [8, 'opset_import', () => OperatorSetIdProtoDesc, 'repeated'],
  [2, 'producer_name', 'string'],
  [3, 'producer_version', 'string'],
  [4, 'domain', 'string'],
  [5, 'model_version', 'int64'],
  [6, 'doc_string', 'string'],
  [7, 'graph', () => GraphProtoDesc],
  [14, 'metadata_props', () => StringStringEntryProtoDesc, 'repeated'],
]);

// ------------------------------------------------------------------ decode

const MAX_DEPTH = 64;

/** A wire-format error with the byte offset where it was found. */
function fail(r: BinaryReader, what: string): never {
  throw new Error(`${what} at byte ${r.pos}`);
}

function defaults(d: MessageDesc): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of d.fields) {
    if (f.oneof) o[f.oneof] = { case: undefined };
    else if (f.repeated) o[f.name] = [];
    else if (f.kind === 'message') continue;
    else o[f.name] = f.kind === 'string' ? '' : f.kind === 'bytes' ? new Uint8Array(0) : f.kind === 'int64' || f.kind === 'uint64' ? 0n : 0;
  }
  return o;
}

const WIRE: Record<Scalar, WireType> = {
  int64: WireType.Varint,
  uint64: WireType.Varint,
  int32: WireType.Varint,
  float: WireType.Bit32,
  double: WireType.Bit64,
  string: WireType.LengthDelimited,
  bytes: WireType.LengthDelimited,
};

function scalar(r: BinaryReader, kind: Scalar, wire: number): unknown {
  if (wire !== WIRE[kind]) fail(r, `${kind} field with a wrong wire type ${wire}`);
  switch (kind) {
    case 'int64':
      return BigInt(r.int64());
    case 'uint64':
      return BigInt(r.uint64());
    case 'int32':
      return r.int32();
    case 'float':
      return r.float();
    case 'double':
      return r.double();
    case 'string':
      return utf8.decode(delimited(r));
    default:
      return delimited(r);
  }
}

const utf8 = new TextDecoder();

/** A length-delimited field's bytes, checked against its container. */
function delimited(r: BinaryReader): Uint8Array {
  const at = r.pos;
  const len = r.uint32();
  if (r.pos > r.len) fail(r, 'truncated varint');
  if (r.pos + len > r.len) {
    r.pos = at;
    fail(r, 'length-delimited field runs past its container');
  }
  r.pos = at;
  return r.bytes();
}

function decodeInto(d: MessageDesc, r: BinaryReader, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) fail(r, `messages nested more than ${MAX_DEPTH} deep`);
  const o = defaults(d);
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    const f = d.byNo.get(no);
    if (!f) {
      if (d === TypeProtoDesc && TYPE_OTHER.has(no)) o.value = { case: 'other', value: no };
      r.skip(wire, no);
      continue;
    }
    let v: unknown;
    if (f.kind === 'message') {
      if (wire !== WireType.LengthDelimited) fail(r, `${d.name}.${f.proto}: a message field with wire type ${wire}`);
      v = decodeInto(f.message!(), new BinaryReader(delimited(r)), depth + 1);
    } else if (f.repeated && wire === WireType.LengthDelimited && f.kind !== 'string' && f.kind !== 'bytes') {
      // packed: a run of scalars
      const run = delimited(r);
      const arr = o[f.name] as unknown[];
      if (f.kind === 'float' && run.byteLength % 4 === 0 && run.byteOffset % 4 === 0) {
        for (const x of new Float32Array(run.buffer, run.byteOffset, run.byteLength / 4)) arr.push(x);
      } else {
        const sub = new BinaryReader(run);
        while (sub.pos < sub.len) arr.push(scalar(sub, f.kind, WIRE[f.kind]));
        if (sub.pos !== sub.len) fail(r, 'a packed field runs past its end');
      }
      continue;
    } else v = scalar(r, f.kind, wire);
    if (r.pos > r.len) fail(r, 'truncated field');
    if (f.oneof) o[f.oneof] = { case: f.name, value: v };
    else if (f.repeated) (o[f.name] as unknown[]).push(v);
    else o[f.name] = v;
  }
  if (r.pos !== r.len) fail(r, 'a field runs past the end of its message');
  return o;
}

/**
 * Decode `bytes` as message `d` (wire format read by @bufbuild/protobuf's
 * BinaryReader); throws an Error naming the byte offset on malformed input.
 */
export function decode<T>(d: MessageDesc, bytes: Uint8Array): T {
  const r = new BinaryReader(bytes);
  try {
    return decodeInto(d, r, 0) as T;
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(/ at byte \d+$/.test(m) ? m : `${m} at byte ${r.pos}`);
  }
}

// ------------------------------------------------------------------ encode

const isDefault = (kind: Scalar, v: unknown) =>
  v === undefined || v === '' || v === 0 || v === 0n || (kind === 'bytes' && (v as Uint8Array).byteLength === 0);

function writeScalar(w: BinaryWriter, kind: Scalar, v: unknown): void {
  switch (kind) {
    case 'string':
      w.string(v as string);
      break;
    case 'bytes':
      w.bytes(v as Uint8Array);
      break;
    case 'float':
      w.float(v as number);
      break;
    case 'double':
      w.double(v as number);
      break;
    case 'int32':
      w.int32(v as number);
      break;
    case 'uint64':
      w.uint64(v as bigint | number);
      break;
    default:
      w.int64(v as bigint | number);
  }
}

function encodeInto(d: MessageDesc, o: Record<string, unknown>, w: BinaryWriter): void {
  for (const f of d.fields) {
    let v = o[f.oneof ?? f.name];
    if (f.oneof) {
      const one = v as { case?: string; value?: unknown } | undefined;
      if (one?.case !== f.name) continue;
      v = one.value;
    }
    if (v === undefined) continue;
    if (f.kind === 'message') {
      for (const m of f.repeated ? (v as Record<string, unknown>[]) : [v as Record<string, unknown>]) {
        w.tag(f.no, WireType.LengthDelimited).fork();
        encodeInto(f.message!(), m, w);
        w.join();
      }
    } else if (f.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      if (f.kind === 'string' || f.kind === 'bytes') for (const x of arr) writeScalar(w.tag(f.no, WireType.LengthDelimited), f.kind, x);
      else {
        // packed (every proto2 parser accepts packed encoding of repeated scalars)
        w.tag(f.no, WireType.LengthDelimited).fork();
        for (const x of arr) writeScalar(w, f.kind, x);
        w.join();
      }
    } else if (f.oneof || !isDefault(f.kind as Scalar, v)) writeScalar(w.tag(f.no, WIRE[f.kind as Scalar]), f.kind as Scalar, v);
  }
}

/** Encode a (possibly partial: unset fields omitted) message with @bufbuild/protobuf's BinaryWriter. */
export function encode(d: MessageDesc, message: object): Uint8Array {
  const w = new BinaryWriter();
  encodeInto(d, message as Record<string, unknown>, w);
  return w.finish();
}
