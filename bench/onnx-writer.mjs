// A minimal ONNX writer for the benchmark models: one LSTM or GRU node with
// the workload's weights (protobuf wire format written directly; the
// library's own importer/exporter use protobuf-es). Gate blocks are reordered
// from our PyTorch order to ONNX's (LSTM i,o,f,c; GRU z,r,h).
const enc = new TextEncoder();

function varint(n) {
  const out = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}
const key = (field, wire) => varint((field << 3) | wire);
const bytes = (...parts) => Uint8Array.from(parts.flat());
const lenField = (field, payload) => [...key(field, 2), ...varint(payload.length), ...payload];
const intField = (field, v) => [...key(field, 0), ...varint(v)];
const strField = (field, s) => lenField(field, [...enc.encode(s)]);

function tensor(name, dims, data) {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return [...dims.flatMap((d) => intField(1, d)), ...intField(2, 1), ...strField(8, name), ...lenField(9, [...raw])];
}
function valueInfo(name, dims) {
  const dimMsgs = dims.flatMap((d) => lenField(1, typeof d === 'number' ? intField(1, d) : strField(2, d)));
  const tensorType = [...intField(1, 1), ...lenField(2, dimMsgs)];
  return [...strField(1, name), ...lenField(2, lenField(1, tensorType))];
}
function attrInt(name, v) {
  return [...strField(1, name), ...intField(3, v), ...intField(20, 2)];
}
function attrStr(name, v) {
  return [...strField(1, name), ...lenField(4, [...enc.encode(v)]), ...intField(20, 3)];
}

const PERM = { lstm: [0, 3, 1, 2], gru: [1, 0, 2] };
function reorder(src, G, H, cols, perm) {
  const out = new Float32Array(src.length);
  for (let k = 0; k < G; k++) out.set(src.subarray(perm[k] * H * cols, (perm[k] + 1) * H * cols), k * H * cols);
  return out;
}

/**
 * One recurrent node. `step`: inputs X [1, 1, I] and initial states, outputs
 * the final states (for one-call-per-step streaming); otherwise X [T, B, I] → Y.
 */
export function recurrentOnnx(cell, I, H, wt, { step = false } = {}) {
  const G = cell === 'lstm' ? 4 : 3;
  const perm = PERM[cell];
  const W = reorder(wt.w_ih, G, H, I, perm);
  const R = reorder(wt.w_hh, G, H, H, perm);
  const B = new Float32Array(2 * G * H);
  B.set(reorder(wt.b_ih, G, H, 1, perm), 0);
  B.set(reorder(wt.b_hh, G, H, 1, perm), G * H);
  const lstm = cell === 'lstm';
  const inputs = step ? ['X', 'W', 'R', 'B', '', 'H0', ...(lstm ? ['C0'] : [])] : ['X', 'W', 'R', 'B'];
  const outputs = ['Y', 'Y_h', ...(lstm ? ['Y_c'] : [])];
  const node = [
    ...inputs.flatMap((s) => strField(1, s)),
    ...outputs.flatMap((s) => strField(2, s)),
    ...strField(3, cell),
    ...strField(4, lstm ? 'LSTM' : 'GRU'),
    ...lenField(5, attrInt('hidden_size', H)),
    ...lenField(5, attrStr('direction', 'forward')),
    ...(lstm ? [] : lenField(5, attrInt('linear_before_reset', 1))),
  ];
  const graphInputs = step
    ? [valueInfo('X', [1, 1, I]), valueInfo('H0', [1, 1, H]), ...(lstm ? [valueInfo('C0', [1, 1, H])] : [])]
    : [valueInfo('X', ['T', 'B', I])];
  const graphOutputs = step ? outputs.slice(1).map((o) => valueInfo(o, [1, 1, H])) : [valueInfo('Y', ['T', 1, 'B', H])];
  const graph = [
    ...lenField(1, node),
    ...strField(2, 'bench'),
    ...lenField(5, tensor('W', [1, G * H, I], W)),
    ...lenField(5, tensor('R', [1, G * H, H], R)),
    ...lenField(5, tensor('B', [1, 2 * G * H], B)),
    ...graphInputs.flatMap((v) => lenField(11, v)),
    ...graphOutputs.flatMap((v) => lenField(12, v)),
  ];
  const opset = [...strField(1, ''), ...intField(2, 14)];
  return bytes(intField(1, 8), strField(2, 'recurrent-wasm bench'), lenField(8, opset), lenField(7, graph));
}

/** A single MatMul node, A [M, K] (input) · B [K, N] (initializer): the native GEMM ceiling. */
export function matmulOnnx(M, K, N, b) {
  const node = [...strField(1, 'A'), ...strField(1, 'Bm'), ...strField(2, 'Y'), ...strField(3, 'mm'), ...strField(4, 'MatMul')];
  const graph = [
    ...lenField(1, node),
    ...strField(2, 'gemm'),
    ...lenField(5, tensor('Bm', [K, N], b)),
    ...lenField(11, valueInfo('A', [M, K])),
    ...lenField(12, valueInfo('Y', [M, N])),
  ];
  const opset = [...strField(1, ''), ...intField(2, 14)];
  return bytes(intField(1, 8), strField(2, 'recurrent-wasm bench'), lenField(8, opset), lenField(7, graph));
}
