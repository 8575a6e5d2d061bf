// The ONNX protobuf codec (ts/format/onnx-proto.ts): its field tables checked
// against the text of proto/onnx.proto (an independent source: the onnx
// project's schema), and the wire format checked against bytes written by hand
// from the protobuf encoding spec and against the ONNX fixtures PyTorch wrote.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as P from '../ts/format/onnx-proto.js';

/** message name (dotted for nested) → field name → { no, type, repeated, oneof } from onnx.proto. */
function parseProto(text: string) {
  const src = text.replace(/\/\/.*$/gm, '');
  const out = new Map<string, Map<string, { no: number; type: string; repeated: boolean; oneof?: string }>>();
  const stack: { kind: 'message' | 'oneof' | 'enum' | 'other'; name: string }[] = [];
  const tokens = src.match(/[A-Za-z_][\w.]*|\d+|[{};=[\]]/g)!;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if ((t === 'message' || t === 'oneof' || t === 'enum') && tokens[i + 2] === '{') {
      stack.push({ kind: t, name: tokens[i + 1] });
      i += 2;
    } else if (t === '{') stack.push({ kind: 'other', name: '' });
    else if (t === '}') stack.pop();
    else if (stack.length && stack[stack.length - 1].kind !== 'enum') {
      // [label] type name = number
      const oneofTop = stack[stack.length - 1].kind === 'oneof';
      const msgPath = stack
        .filter((s) => s.kind === 'message')
        .map((s) => s.name)
        .join('.');
      let j = i;
      let repeated = false;
      if (t === 'optional' || t === 'required' || t === 'repeated') {
        repeated = t === 'repeated';
        j++;
      } else if (!oneofTop) continue;
      const [type, name, eq, no] = tokens.slice(j, j + 4);
      if (eq !== '=' || !/^\d+$/.test(no) || type === 'reserved') continue;
      if (!out.has(msgPath)) out.set(msgPath, new Map());
      out.get(msgPath)!.set(name, { no: Number(no), type, repeated, ...(oneofTop ? { oneof: stack[stack.length - 1].name } : {}) });
      i = j + 3;
    }
  }
  return out;
}

const schema = parseProto(readFileSync(new URL('../proto/onnx.proto', import.meta.url), 'utf8'));
const DESCS = Object.entries(P)
  .filter(([k]) => k.endsWith('Desc'))
  .map(([, v]) => v as P.MessageDesc);

describe('ONNX codec tables', () => {
  it('cover the messages the importer reads', () => {
    expect(DESCS.map((d) => d.name).sort()).toEqual(
      [
        'AttributeProto',
        'GraphProto',
        'ModelProto',
        'NodeProto',
        'OperatorSetIdProto',
        'StringStringEntryProto',
        'TensorProto',
        'TensorShapeProto',
        'TensorShapeProto.Dimension',
        'TypeProto',
        'TypeProto.Tensor',
        'ValueInfoProto',
      ].sort(),
    );
  });
  for (const d of DESCS) {
    it(`${d.name}: every field has onnx.proto's number, type and cardinality`, () => {
      const fields = schema.get(d.name);
      expect(fields, `${d.name} in onnx.proto`).toBeDefined();
      for (const f of d.fields) {
        const ref = fields!.get(f.proto);
        expect(ref, `${d.name}.${f.proto}`).toBeDefined();
        expect(f.no, `${d.name}.${f.proto} number`).toBe(ref!.no);
        expect(!!f.repeated, `${d.name}.${f.proto} repeated`).toBe(ref!.repeated);
        expect(f.oneof, `${d.name}.${f.proto} oneof`).toBe(ref!.oneof);
        if (f.kind === 'message') expect(f.message!().name.split('.').pop(), `${d.name}.${f.proto} type`).toBe(ref!.type.split('.').pop());
        else {
          // enums travel as int32 varints
          const enumLike = !['string', 'bytes', 'int64', 'uint64', 'int32', 'float', 'double'].includes(ref!.type);
          expect(f.kind, `${d.name}.${f.proto} type`).toBe(enumLike ? 'int32' : ref!.type);
        }
      }
    });
  }
  it('enums match onnx.proto', () => {
    const text = readFileSync(new URL('../proto/onnx.proto', import.meta.url), 'utf8');
    for (const [name, e] of [
      ['DataType', P.TensorProto_DataType],
      ['AttributeType', P.AttributeProto_AttributeType],
    ] as const) {
      const body = text.slice(text.indexOf(`enum ${name} {`)).split('}')[0];
      for (const [, k, v] of body.matchAll(/^\s*([A-Z0-9_]+)\s*=\s*(\d+)/gm)) {
        if (k in e) expect((e as unknown as Record<string, number>)[k], `${name}.${k}`).toBe(Number(v));
      }
    }
  });
});

describe('ONNX codec wire format', () => {
  it('decodes bytes written by hand from the protobuf spec', () => {
    // TensorProto { dims: [2, 300] (unpacked), data_type: 1, float_data: [1.5, -2] (packed), name: "w", raw_data: 01 02 }
    const bytes = new Uint8Array([
      0x08,
      0x02,
      0x08,
      0xac,
      0x02,
      0x10,
      0x01,
      0x22,
      0x08,
      0x00,
      0x00,
      0xc0,
      0x3f,
      0x00,
      0x00,
      0x00,
      0xc0,
      0x42,
      0x01,
      0x77,
      0x4a,
      0x02,
      0x01,
      0x02,
      0xf8,
      0x07,
      0x05, // unknown field 127 (varint): skipped
    ]);
    const t = P.decode<P.TensorProto>(P.TensorProtoDesc, bytes);
    expect(t.dims).toEqual([2n, 300n]);
    expect(t.dataType).toBe(1);
    expect(t.floatData).toEqual([1.5, -2]);
    expect(t.name).toBe('w');
    expect([...t.rawData]).toEqual([1, 2]);
    expect(t.int64Data).toEqual([]);
    expect(t.docString).toBe('');
  });
  it('reads negative int64 (ten-byte varints) and oneofs', () => {
    // Dimension { dim_value: -1 }
    const d = P.decode<P.TensorShapeProto_Dimension>(
      P.TensorShapeProto_DimensionDesc,
      new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    );
    expect(d.value).toEqual({ case: 'dimValue', value: -1n });
    const e = P.decode<P.TensorShapeProto_Dimension>(P.TensorShapeProto_DimensionDesc, new Uint8Array([0x12, 0x01, 0x4e]));
    expect(e.value).toEqual({ case: 'dimParam', value: 'N' });
  });
  it('round-trips messages (encode → decode)', () => {
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    const f32 = fc.float({ noNaN: true }).map((x) => Math.fround(x));
    fc.assert(
      fc.property(
        fc.record({
          name: fc.string(),
          dims: fc.array(int64, { maxLength: 5 }),
          dataType: fc.integer({ min: 0, max: 22 }),
          floatData: fc.array(f32, { maxLength: 20 }),
          int32Data: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 5 }),
          rawData: fc.uint8Array({ maxLength: 40 }),
          doubleData: fc.array(fc.double({ noNaN: true }), { maxLength: 4 }),
        }),
        (t) => {
          const back = P.decode<P.TensorProto>(P.TensorProtoDesc, P.encode(P.TensorProtoDesc, t));
          expect(back.name).toBe(t.name);
          expect(back.dims).toEqual(t.dims);
          expect(back.dataType).toBe(t.dataType);
          expect(back.floatData.map((x) => (Object.is(x, -0) ? 0 : x))).toEqual(t.floatData.map((x) => (Object.is(x, -0) ? 0 : x)));
          expect(back.int32Data).toEqual(t.int32Data);
          expect([...back.rawData]).toEqual([...t.rawData]);
          expect(back.doubleData).toEqual(t.doubleData);
        },
      ),
      { numRuns: 300 },
    );
  });
  it('refuses malformed input with the byte offset, never reading past the end', () => {
    expect(() => P.decode(P.TensorProtoDesc, new Uint8Array([0x42, 0x05, 0x61]))).toThrow(/runs past its container at byte/);
    // the wire-level errors are @bufbuild/protobuf's, with our byte offset
    expect(() => P.decode(P.TensorProtoDesc, new Uint8Array([0x08, 0xff]))).toThrow(/(premature EOF|truncated).* at byte \d+/);
    expect(() => P.decode(P.TensorProtoDesc, new Uint8Array([0x0b]))).toThrow(/wire type.* at byte \d+/);
    expect(() => P.decode(P.TensorProtoDesc, new Uint8Array([0x08, ...new Array(11).fill(0xff), 0x01]))).toThrow(
      /invalid varint.* at byte \d+/,
    );
    // a nesting bomb: graph → node → attribute → graph … 100 deep
    let g: object = { name: 'leaf' };
    for (let i = 0; i < 100; i++) g = { node: [{ opType: 'If', attribute: [{ name: 'then_branch', type: 5, g }] }] };
    expect(() => P.decode(P.ModelProtoDesc, P.encode(P.ModelProtoDesc, { graph: g }))).toThrow(/nested more than 64/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          P.decode(P.ModelProtoDesc, bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 2000 },
    );
  });
  it('decodes every ONNX fixture the exporter-independent tools wrote', () => {
    const dir = new URL('./fixtures/onnx/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.onnx'));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const m = P.decode<P.ModelProto>(P.ModelProtoDesc, new Uint8Array(readFileSync(new URL(f, dir))));
      expect(m.graph?.node.length, f).toBeGreaterThan(0);
      expect(m.opsetImport.length, f).toBeGreaterThan(0);
      // re-encoding what we decoded and decoding again gives the same messages
      const again = P.decode<P.ModelProto>(P.ModelProtoDesc, P.encode(P.ModelProtoDesc, m));
      expect(again.graph!.node.map((n) => [n.opType, n.input, n.output, n.attribute.map((a) => a.name)])).toEqual(
        m.graph!.node.map((n) => [n.opType, n.input, n.output, n.attribute.map((a) => a.name)]),
      );
      expect(again.graph!.initializer.map((t) => [t.name, t.dims, t.rawData.byteLength])).toEqual(
        m.graph!.initializer.map((t) => [t.name, t.dims, t.rawData.byteLength]),
      );
    }
  });
});
