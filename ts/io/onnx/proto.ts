/**
 * The ONNX protobuf messages this library reads and writes, and a small
 * schema-driven codec for them (protobuf wire format: varint, fixed32/64,
 * length-delimited; packed and unpacked repeated scalars both accepted;
 * unknown fields skipped).
 *
 * Field numbers and types are those of proto/onnx.proto (onnx 1.23.2);
 * test/onnx-proto.test.ts checks every entry of the tables below against that
 * file. Messages and fields the importer does not use (training info,
 * functions, sparse tensors, sharding) are skipped as unknown fields.
 *
 * Why not protobuf-es: its runtime was 96 KB of the 260 KB bundle and booted
 * descriptors at import, ~12 ms of every cold start for users who never touch
 * ONNX. Decoded messages have protobuf-es's shape (camelCase names, proto2
 * defaults, `bigint` for 64-bit integers, oneofs as `{ case, value }`), so the
 * importer and exporter read them the same way.
 */

export enum AttributeProto_AttributeType {
  UNDEFINED = 0, FLOAT = 1, INT = 2, STRING = 3, TENSOR = 4, GRAPH = 5, SPARSE_TENSOR = 11, TYPE_PROTO = 13,
  FLOATS = 6, INTS = 7, STRINGS = 8, TENSORS = 9, GRAPHS = 10, SPARSE_TENSORS = 12, TYPE_PROTOS = 14,
}
export enum TensorProto_DataType {
  UNDEFINED = 0, FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4, INT16 = 5, INT32 = 6, INT64 = 7, STRING = 8, BOOL = 9,
  FLOAT16 = 10, DOUBLE = 11, UINT32 = 12, UINT64 = 13, COMPLEX64 = 14, COMPLEX128 = 15, BFLOAT16 = 16,
  FLOAT8E4M3FN = 17, FLOAT8E4M3FNUZ = 18, FLOAT8E5M2 = 19, FLOAT8E5M2FNUZ = 20, UINT4 = 21, INT4 = 22,
}
export enum TensorProto_DataLocation { DEFAULT = 0, EXTERNAL = 1 }

export interface StringStringEntryProto { key: string; value: string }
export interface OperatorSetIdProto { domain: string; version: bigint }
export interface TensorProto {
  dims: bigint[]; dataType: number; floatData: number[]; int32Data: number[]; stringData: Uint8Array[];
  int64Data: bigint[]; name: string; docString: string; rawData: Uint8Array; externalData: StringStringEntryProto[];
  dataLocation: TensorProto_DataLocation; doubleData: number[]; uint64Data: bigint[];
}
export interface TensorShapeProto_Dimension {
  value: { case: 'dimValue'; value: bigint } | { case: 'dimParam'; value: string } | { case: undefined; value?: undefined };
  denotation: string;
}
export interface TensorShapeProto { dim: TensorShapeProto_Dimension[] }
export interface TypeProto_Tensor { elemType: number; shape?: TensorShapeProto }
export interface TypeProto {
  value: { case: 'tensorType'; value: TypeProto_Tensor } | { case: 'other'; value: number } | { case: undefined; value?: undefined };
  denotation: string;
}
export interface ValueInfoProto { name: string; type?: TypeProto; docString: string }
export interface AttributeProto {
  name: string; refAttrName: string; docString: string; type: AttributeProto_AttributeType; f: number; i: bigint; s: Uint8Array;
  t?: TensorProto; g?: GraphProto; floats: number[]; ints: bigint[]; strings: Uint8Array[]; tensors: TensorProto[]; graphs: GraphProto[];
}
export interface NodeProto { input: string[]; output: string[]; name: string; opType: string; domain: string; overload: string; attribute: AttributeProto[]; docString: string }
export interface GraphProto {
  node: NodeProto[]; name: string; initializer: TensorProto[]; docString: string; input: ValueInfoProto[]; output: ValueInfoProto[];
  valueInfo: ValueInfoProto[]; metadataProps: StringStringEntryProto[];
}
export interface ModelProto {
  irVersion: bigint; opsetImport: OperatorSetIdProto[]; producerName: string; producerVersion: string; domain: string;
  modelVersion: bigint; docString: string; graph?: GraphProto; metadataProps: StringStringEntryProto[];
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
  const fields = specs.map(([no, proto, kind, flag]): FieldDesc => ({
    no,
    name: camel(proto),
    proto,
    kind: typeof kind === 'function' ? 'message' : kind,
    ...(typeof kind === 'function' ? { message: kind } : {}),
    ...(flag === 'repeated' ? { repeated: true } : {}),
    ...(flag?.startsWith('oneof:') ? { oneof: flag.slice(6) } : {}),
  }));
  return { name, fields, byNo: new Map(fields.map((f) => [f.no, f])) };
}

export const StringStringEntryProtoDesc: MessageDesc = message('StringStringEntryProto', [[1, 'key', 'string'], [2, 'value', 'string']]);
export const OperatorSetIdProtoDesc: MessageDesc = message('OperatorSetIdProto', [[1, 'domain', 'string'], [2, 'version', 'int64']]);
export const TensorProtoDesc: MessageDesc = message('TensorProto', [
  [1, 'dims', 'int64', 'repeated'], [2, 'data_type', 'int32'], [4, 'float_data', 'float', 'repeated'],
  [5, 'int32_data', 'int32', 'repeated'], [6, 'string_data', 'bytes', 'repeated'], [7, 'int64_data', 'int64', 'repeated'],
  [8, 'name', 'string'], [12, 'doc_string', 'string'], [9, 'raw_data', 'bytes'],
  [13, 'external_data', () => StringStringEntryProtoDesc, 'repeated'], [14, 'data_location', 'int32'],
  [10, 'double_data', 'double', 'repeated'], [11, 'uint64_data', 'uint64', 'repeated'],
]);
export const TensorShapeProto_DimensionDesc: MessageDesc = message('TensorShapeProto.Dimension', [
  [1, 'dim_value', 'int64', 'oneof:value'], [2, 'dim_param', 'string', 'oneof:value'], [3, 'denotation', 'string'],
]);
export const TensorShapeProtoDesc: MessageDesc = message('TensorShapeProto', [[1, 'dim', () => TensorShapeProto_DimensionDesc, 'repeated']]);
export const TypeProto_TensorDesc: MessageDesc = message('TypeProto.Tensor', [[1, 'elem_type', 'int32'], [2, 'shape', () => TensorShapeProtoDesc]]);
export const TypeProtoDesc: MessageDesc = message('TypeProto', [[1, 'tensor_type', () => TypeProto_TensorDesc, 'oneof:value'], [6, 'denotation', 'string']]);
/** TypeProto's other oneof members (sequence, map, optional, sparse, opaque): recorded as `{ case: 'other', value: field number }`. */
const TYPE_OTHER = new Set([4, 5, 7, 8, 9]);
export const ValueInfoProtoDesc: MessageDesc = message('ValueInfoProto', [[1, 'name', 'string'], [2, 'type', () => TypeProtoDesc], [3, 'doc_string', 'string']]);
export const AttributeProtoDesc: MessageDesc = message('AttributeProto', [
  [1, 'name', 'string'], [21, 'ref_attr_name', 'string'], [13, 'doc_string', 'string'], [20, 'type', 'int32'],
  [2, 'f', 'float'], [3, 'i', 'int64'], [4, 's', 'bytes'], [5, 't', () => TensorProtoDesc], [6, 'g', () => GraphProtoDesc],
  [7, 'floats', 'float', 'repeated'], [8, 'ints', 'int64', 'repeated'], [9, 'strings', 'bytes', 'repeated'],
  [10, 'tensors', () => TensorProtoDesc, 'repeated'], [11, 'graphs', () => GraphProtoDesc, 'repeated'],
]);
export const NodeProtoDesc: MessageDesc = message('NodeProto', [
  [1, 'input', 'string', 'repeated'], [2, 'output', 'string', 'repeated'], [3, 'name', 'string'], [4, 'op_type', 'string'],
  [7, 'domain', 'string'], [8, 'overload', 'string'], [5, 'attribute', () => AttributeProtoDesc, 'repeated'], [6, 'doc_string', 'string'],
]);
export const GraphProtoDesc: MessageDesc = message('GraphProto', [
  [1, 'node', () => NodeProtoDesc, 'repeated'], [2, 'name', 'string'], [5, 'initializer', () => TensorProtoDesc, 'repeated'],
  [10, 'doc_string', 'string'], [11, 'input', () => ValueInfoProtoDesc, 'repeated'], [12, 'output', () => ValueInfoProtoDesc, 'repeated'],
  [13, 'value_info', () => ValueInfoProtoDesc, 'repeated'], [16, 'metadata_props', () => StringStringEntryProtoDesc, 'repeated'],
]);
export const ModelProtoDesc: MessageDesc = message('ModelProto', [
  [1, 'ir_version', 'int64'], [8, 'opset_import', () => OperatorSetIdProtoDesc, 'repeated'], [2, 'producer_name', 'string'],
  [3, 'producer_version', 'string'], [4, 'domain', 'string'], [5, 'model_version', 'int64'], [6, 'doc_string', 'string'],
  [7, 'graph', () => GraphProtoDesc], [14, 'metadata_props', () => StringStringEntryProtoDesc, 'repeated'],
]);

// ------------------------------------------------------------------ decode

const MAX_DEPTH = 64;
const utf8 = new TextDecoder();

class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, pos: number, readonly end: number) {
    this.pos = pos;
  }
  fail(what: string): never {
    throw new Error(`${what} at byte ${this.pos}`);
  }
  /** A varint as a JavaScript number when it fits in 53 bits, else as a bigint. */
  varint(): number | bigint {
    let lo = 0, shift = 0, b: number;
    do {
      if (this.pos >= this.end) this.fail('truncated varint');
      b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        // past 28 bits: finish in bigint
        let v = BigInt(lo >>> 0) | (BigInt(b & 0x7f) << 28n);
        let s = 35n;
        while (b & 0x80) {
          if (s > 63n) this.fail('varint longer than 10 bytes');
          if (this.pos >= this.end) this.fail('truncated varint');
          b = this.buf[this.pos++];
          v |= BigInt(b & 0x7f) << s;
          s += 7n;
        }
        v = BigInt.asUintN(64, v);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      shift += 7;
    } while (b & 0x80);
    return lo >>> 0;
  }
  int64(): bigint {
    return BigInt.asIntN(64, BigInt(this.varint()));
  }
  uint64(): bigint {
    return BigInt.asUintN(64, BigInt(this.varint()));
  }
  int32(): number {
    const v = this.varint();
    return typeof v === 'number' && v < 2 ** 31 ? v : Number(BigInt.asIntN(32, BigInt(v)));
  }
  fixed(n: 4 | 8): DataView {
    if (this.pos + n > this.end) this.fail('truncated fixed-width value');
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, n);
    this.pos += n;
    return dv;
  }
  /** The end of a length-delimited field starting here. */
  lengthEnd(): number {
    const len = this.varint();
    if (typeof len !== 'number' || this.pos + len > this.end) this.fail('length-delimited field runs past its container');
    return this.pos + len;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.fixed(8);
    else if (wire === 5) this.fixed(4);
    else if (wire === 2) this.pos = this.lengthEnd();
    else this.fail(`unsupported wire type ${wire}`);
  }
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

function scalar(r: Reader, kind: Scalar, wire: number): unknown {
  switch (kind) {
    case 'int64': return wire === 0 ? r.int64() : r.fail('int64 field with a wrong wire type');
    case 'uint64': return wire === 0 ? r.uint64() : r.fail('uint64 field with a wrong wire type');
    case 'int32': return wire === 0 ? r.int32() : r.fail('int32 field with a wrong wire type');
    case 'float': return wire === 5 ? r.fixed(4).getFloat32(0, true) : r.fail('float field with a wrong wire type');
    case 'double': return wire === 1 ? r.fixed(8).getFloat64(0, true) : r.fail('double field with a wrong wire type');
    default: {
      if (wire !== 2) r.fail(`${kind} field with a wrong wire type`);
      const end = r.lengthEnd();
      const bytes = r.buf.subarray(r.pos, end);
      r.pos = end;
      return kind === 'string' ? utf8.decode(bytes) : bytes;
    }
  }
}

function decodeInto(d: MessageDesc, r: Reader, end: number, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) r.fail(`messages nested more than ${MAX_DEPTH} deep`);
  const o = defaults(d);
  while (r.pos < end) {
    const key = r.varint();
    if (typeof key !== 'number' || key === 0) r.fail('invalid field key');
    const no = Math.floor(key / 8), wire = key & 7;
    const f = d.byNo.get(no);
    if (!f) {
      if (d === TypeProtoDesc && TYPE_OTHER.has(no)) o.value = { case: 'other', value: no };
      r.skip(wire);
      continue;
    }
    let v: unknown;
    if (f.kind === 'message') {
      if (wire !== 2) r.fail(`${d.name}.${f.proto}: a message field with wire type ${wire}`);
      const e = r.lengthEnd();
      v = decodeInto(f.message!(), new Reader(r.buf, r.pos, e), e, depth + 1);
      r.pos = e;
    } else if (f.repeated && wire === 2 && f.kind !== 'string' && f.kind !== 'bytes') {
      // packed: a run of scalars
      const e = r.lengthEnd();
      const sub = new Reader(r.buf, r.pos, e);
      const arr = o[f.name] as unknown[];
      const w = f.kind === 'float' ? 5 : f.kind === 'double' ? 1 : 0;
      if (w === 5 && (e - r.pos) % 4 === 0 && (r.buf.byteOffset + r.pos) % 4 === 0) {
        for (const x of new Float32Array(r.buf.buffer, r.buf.byteOffset + r.pos, (e - r.pos) / 4)) arr.push(x);
      } else while (sub.pos < e) arr.push(scalar(sub, f.kind, w));
      r.pos = e;
      continue;
    } else v = scalar(r, f.kind, wire);
    if (f.oneof) o[f.oneof] = { case: f.name, value: v };
    else if (f.repeated) (o[f.name] as unknown[]).push(v);
    else o[f.name] = v;
  }
  if (r.pos !== end) r.fail('a field runs past the end of its message');
  return o;
}

/** Decode `bytes` as message `d`; throws an Error naming the byte offset on malformed input. */
export function decode<T>(d: MessageDesc, bytes: Uint8Array): T {
  return decodeInto(d, new Reader(bytes, 0, bytes.byteLength), bytes.byteLength, 0) as T;
}

// ------------------------------------------------------------------ encode

class Writer {
  private buf = new Uint8Array(1024);
  len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  varint(v: number | bigint): void {
    this.ensure(10);
    if (typeof v === 'number' && v >= 0 && v < 2 ** 31) {
      while (v > 0x7f) {
        this.buf[this.len++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.len++] = v;
      return;
    }
    let b = BigInt.asUintN(64, BigInt(v));
    while (b > 0x7fn) {
      this.buf[this.len++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.len++] = Number(b);
  }
  bytes(b: Uint8Array): void {
    this.varint(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.len);
    this.len += b.byteLength;
  }
  fixed(v: number, n: 4 | 8): void {
    this.ensure(n);
    const dv = new DataView(this.buf.buffer, this.len, n);
    if (n === 4) dv.setFloat32(0, v, true);
    else dv.setFloat64(0, v, true);
    this.len += n;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const utf8e = new TextEncoder();
const isDefault = (kind: Scalar, v: unknown) =>
  v === undefined || v === '' || v === 0 || v === 0n || (kind === 'bytes' && (v as Uint8Array).byteLength === 0);

function encodeScalar(w: Writer, f: FieldDesc, v: unknown): void {
  const kind = f.kind as Scalar;
  const wire = kind === 'float' ? 5 : kind === 'double' ? 1 : kind === 'string' || kind === 'bytes' ? 2 : 0;
  w.varint(f.no * 8 + wire);
  if (kind === 'string') w.bytes(utf8e.encode(v as string));
  else if (kind === 'bytes') w.bytes(v as Uint8Array);
  else if (kind === 'float' || kind === 'double') w.fixed(v as number, kind === 'float' ? 4 : 8);
  else w.varint(v as number | bigint);
}

function encodeInto(d: MessageDesc, o: Record<string, unknown>, w: Writer): void {
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
        const sub = new Writer();
        encodeInto(f.message!(), m, sub);
        w.varint(f.no * 8 + 2);
        w.bytes(sub.finish());
      }
    } else if (f.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      if (f.kind === 'string' || f.kind === 'bytes') for (const x of arr) encodeScalar(w, f, x);
      else {
        // packed (every proto2 parser accepts packed encoding of repeated scalars)
        const sub = new Writer();
        for (const x of arr) {
          if (f.kind === 'float' || f.kind === 'double') sub.fixed(x as number, f.kind === 'float' ? 4 : 8);
          else sub.varint(x as number | bigint);
        }
        w.varint(f.no * 8 + 2);
        w.bytes(sub.finish());
      }
    } else if (f.oneof || !isDefault(f.kind as Scalar, v)) encodeScalar(w, f, v);
  }
}

/** Encode a (possibly partial: unset fields omitted) message. */
export function encode(d: MessageDesc, message: object): Uint8Array {
  const w = new Writer();
  encodeInto(d, message as Record<string, unknown>, w);
  return w.finish();
}
