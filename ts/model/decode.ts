/**
 * `decode(model, …)`: sequence generation with an encoder–decoder graph
 * trained with teacher forcing. The model has the decoder's token input (one
 * id per step, the previous output token) and the encoder's inputs; the
 * nodes that do not depend on the decoder input are the encoder, run once
 * per batch of samples, and their outputs the decoder reads (for attention,
 * for initial states) become the fixed values of a session that steps the
 * rest one token at a time — one wasm call per step.
 *
 * Greedy when `beamWidth` is 1; beam search otherwise: each sample keeps its
 * `beamWidth` best hypotheses by summed log-probability, a hypothesis ends at
 * `stopToken`, and the best ended one wins once no live one can beat it, by
 * `score / lp(length)` with GNMT's `lp(n) = ((5 + n) / 6)^lengthPenalty`
 * (`lengthPenalty` 0: raw log-probability).
 */
import { ShapeError, ValueError } from '../errors.js';
import { Buffers, type StreamValue, type SymbolicTensor } from '../layers/base.js';
import { Random } from '../util/random.js';
import { runtime } from '../runtime/init.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { inputBatch, inputTensor } from './data.js';
import { Graph } from './graph.js';
import type { Model, Tensors } from './model.js';
import { Session } from './session.js';

export interface DecodeOptions {
  /** The encoder's inputs: a tensor when there is one, a list in the model's input order, or a record by input name. */
  encoderInputs: Tensors;
  /** The name of the model input fed one token per step (default: the input not among `encoderInputs`, else the last). */
  decoderInput?: string;
  /** The first token fed to the decoder. */
  startToken: number;
  /** The token that ends a sequence (never included in the result). */
  stopToken?: number;
  /** Tokens generated at most (the stop token included). */
  maxLength: number;
  /** Hypotheses kept per sample (1: greedy). */
  beamWidth?: number;
  /** GNMT length penalty α (0: rank by summed log-probability). */
  lengthPenalty?: number;
  /** The output holding each step's token distribution: its index or name (default: the first that depends on the decoder input). */
  output?: number | string;
  /** Samples decoded together (default 32). */
  batchSize?: number;
}

export interface DecodeResult {
  /** Each sample's tokens, without the start and stop tokens. */
  sequences: number[][];
  /** Each sequence's summed log-probability (its stop token's included). */
  scores: number[];
}

interface Hypothesis {
  tokens: number[];
  score: number;
  row: number;
}

const posInt = (what: string, v: unknown, min = 1): number => {
  if (!Number.isInteger(v) || (v as number) < min) throw new ValueError(`decode: ${what} must be an integer ≥ ${min}; got ${String(v)}`);
  return v as number;
};

/** Generate a sequence per sample of `encoderInputs` (see the module comment). */
export function decode(model: Model, opts: DecodeOptions): DecodeResult {
  if (!opts || typeof opts !== 'object') throw new ValueError('decode: expected { encoderInputs, startToken, maxLength, … }');
  const graph = model.streamGraph();
  const { dec, enc, encTensors, out } = plan(graph, opts);
  const K = posInt('beamWidth', opts.beamWidth ?? 1);
  const maxLength = posInt('maxLength', opts.maxLength);
  const chunk = posInt('batchSize', opts.batchSize ?? 32);
  const alpha = opts.lengthPenalty ?? 0;
  if (!(Number.isFinite(alpha) && alpha >= 0))
    throw new ValueError(`decode: lengthPenalty must be a number ≥ 0; got ${String(opts.lengthPenalty)}`);
  const N = encTensors[0].shape[0];
  if (N === 0) return { sequences: [], scores: [] };
  const rows = Math.min(chunk, N) * K;

  // The encoder: every node that does not depend on the decoder input, up to the tensors the decoder reads.
  const live = new Set<SymbolicTensor>([dec]);
  const needed: SymbolicTensor[] = [];
  for (const n of graph.nodes) {
    if (!n.inputs.some((t) => live.has(t))) continue;
    for (const t of n.outputs) live.add(t);
    for (const t of n.inputs) if (!live.has(t) && !needed.includes(t)) needed.push(t);
  }
  const usedEnc = enc.filter((t) => reaches(t, needed));
  const encoder = needed.length ? new Graph(usedEnc, needed) : null;
  const vocab = graph.nodes.find((n) => n.inputs.includes(dec))?.layer.vocabularySize ?? 0;
  for (const [what, v] of [
    ['startToken', opts.startToken],
    ['stopToken', opts.stopToken],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && (vocab === 0 || v < vocab))) {
      throw new ValueError(`decode: ${what} ${String(v)} is not a token id in [0, ${vocab})`);
    }
  }

  const { heap } = runtime();
  const bufs = new Buffers(heap);
  let session: Session | null = null;
  try {
    // Shapes of the fixed values come from one encoder pass over the first sample.
    const order = Int32Array.from({ length: N }, (_, i) => i);
    const step = { training: false, rng: new Random(0) };
    const runEncoder = (start: number, count: number) =>
      encoder!.forward(
        usedEnc.map((t) => inputBatch(encTensors[enc.indexOf(t)], enc.indexOf(t), order, start, count, bufs)),
        step,
      );
    const fixed = new Map<SymbolicTensor, StreamValue>();
    if (encoder) {
      runEncoder(0, 1).forEach((a, i) => {
        const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
        const buf = bufs.get(`fixed${i}`, rows * per);
        const lengths = a.lengths ? bufs.get(`fixed_len${i}`, rows, 'i32') : null;
        const steps = a.shape.length === 3 ? a.shape[1] : null;
        if (a.shape.length > 3)
          throw new ShapeError(`decode: the decoder reads ${needed[i].name} of rank ${a.shape.length - 1}; at most [time, features]`);
        fixed.set(needed[i], { buf, features: a.shape[a.shape.length - 1], fixed: { steps, lengths } });
      });
    }
    session = new Session(model, { batchSize: rows }, { values: fixed, outputs: [out] });
    const s = session;
    const result: DecodeResult = { sequences: [], scores: [] };
    for (let start = 0; start < N; start += chunk) {
      const count = Math.min(chunk, N - start);
      if (encoder) {
        // each sample's fixed rows repeated for its K hypotheses; unused rows copy the last sample
        const acts = runEncoder(start, count);
        acts.forEach((a, i) => {
          const v = fixed.get(needed[i])!;
          const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
          const src = a.buf.view();
          const dst = v.buf.view();
          for (let r = 0; r < rows; r++) {
            const sIdx = Math.min(Math.floor(r / K), count - 1);
            dst.set(src.subarray(sIdx * per, (sIdx + 1) * per), r * per);
            if (v.fixed!.lengths) v.fixed!.lengths.viewI32()[r] = a.lengths![sIdx];
          }
        });
      }
      s.reset();
      const part = K === 1 ? greedy(s, count, opts, maxLength) : beam(s, count, K, opts, maxLength, alpha);
      result.sequences.push(...part.sequences);
      result.scores.push(...part.scores);
    }
    return result;
  } finally {
    session?.dispose();
    encoder?.dispose();
    bufs.freeAll();
  }
}

/** Which input is the decoder's, the encoder's inputs as tensors (in the model's order), and the token-distribution output. */
function plan(
  graph: {
    inputs: readonly SymbolicTensor[];
    outputs: readonly SymbolicTensor[];
    nodes: readonly { inputs: SymbolicTensor[]; outputs: SymbolicTensor[] }[];
  },
  opts: DecodeOptions,
): { dec: SymbolicTensor; enc: SymbolicTensor[]; encTensors: Tensor[]; out: SymbolicTensor } {
  const inputs = graph.inputs;
  const given = opts.encoderInputs;
  if (given === undefined) throw new ValueError('decode: encoderInputs is required');
  const isRecord = typeof given === 'object' && !Array.isArray(given) && !(given instanceof Tensor) && !ArrayBuffer.isView(given);
  let dec: SymbolicTensor | undefined;
  if (opts.decoderInput !== undefined) {
    dec = inputs.find((t) => t.name === opts.decoderInput);
    if (!dec)
      throw new ValueError(`decode: the model has no input ${JSON.stringify(opts.decoderInput)} (${inputs.map((t) => t.name).join(', ')})`);
  } else if (isRecord) {
    const missing = inputs.filter((t) => !(t.name in (given as Record<string, unknown>)));
    if (missing.length !== 1)
      throw new ValueError(
        `decode: encoderInputs must name every input but the decoder's; missing ${missing.map((t) => t.name).join(', ') || 'none'}`,
      );
    dec = missing[0];
  } else {
    dec = inputs[inputs.length - 1];
  }
  if (dec.dtype !== 'int32' || dec.shape.length !== 1)
    throw new ValueError(`decode: the decoder input ${dec.name} must take token ids ([time], int32)`);
  const enc = inputs.filter((t) => t !== dec);
  if (enc.length === 0) throw new ValueError('decode: the model has no encoder input besides the decoder input');
  let list: TensorLike[];
  if (isRecord) {
    const r = given as Record<string, TensorLike>;
    for (const k of Object.keys(r))
      if (!enc.some((t) => t.name === k))
        throw new ValueError(`decode: encoderInputs names ${JSON.stringify(k)}, not an encoder input of the model`);
    list = enc.map((t) => r[t.name]);
  } else {
    list = Array.isArray(given) ? (given as TensorLike[]) : [given as TensorLike];
    if (list.length !== enc.length) throw new ValueError(`decode: the model has ${enc.length} encoder input(s); got ${list.length}`);
  }
  const encTensors = list.map((x, i) =>
    inputTensor(
      x,
      'decode',
      { ids: enc[i].dtype === 'int32', shape: enc[i].shape, layer: enc[i].name, label: `encoderInputs[${i}] (${enc[i].name})` },
      () => enc[i].shape,
    ),
  );
  const n = encTensors[0].shape[0];
  encTensors.forEach((t, i) => {
    if (t.shape[0] !== n) throw new ShapeError(`decode: encoderInputs[0] has ${n} samples but encoderInputs[${i}] has ${t.shape[0]}`);
  });
  const depends = (o: SymbolicTensor) => reachesFrom(o, dec!);
  let out: SymbolicTensor | undefined;
  if (opts.output === undefined) out = graph.outputs.find(depends);
  else if (typeof opts.output === 'number') out = graph.outputs[opts.output];
  else out = graph.outputs.find((t) => t.node?.layer.name === opts.output || t.name === opts.output);
  if (!out || !depends(out))
    throw new ValueError(`decode: no output ${opts.output === undefined ? 'depends on the decoder input' : JSON.stringify(opts.output)}`);
  return { dec, enc, encTensors, out };
}

/** Whether `t` depends on `from`. */
function reachesFrom(t: SymbolicTensor, from: SymbolicTensor): boolean {
  if (t === from) return true;
  return t.node ? t.node.inputs.some((x) => reachesFrom(x, from)) : false;
}

/** Whether any of `targets` depends on `t`. */
function reaches(t: SymbolicTensor, targets: SymbolicTensor[]): boolean {
  return targets.some((x) => reachesFrom(x, t));
}

const lp = (n: number, alpha: number) => (alpha === 0 ? 1 : ((5 + n) / 6) ** alpha);

/** Rows `0..count`: each step the most probable token, until the stop token or `maxLength`. */
function greedy(s: Session, count: number, opts: DecodeOptions, maxLength: number): DecodeResult {
  const V = s.outputs[0].features;
  const tokens: number[][] = Array.from({ length: count }, () => []);
  const scores = new Float64Array(count);
  const done = new Uint8Array(count);
  s.input.viewI32().fill(opts.startToken);
  let left = count;
  for (let t = 0; t < maxLength && left > 0; t++) {
    const p = s.stepIds();
    const input = s.input.viewI32();
    for (let r = 0; r < count; r++) {
      if (done[r]) continue;
      let best = 0;
      for (let v = 1; v < V; v++) if (p[r * V + v] > p[r * V + best]) best = v;
      scores[r] += Math.log(p[r * V + best]);
      if (best === opts.stopToken) {
        done[r] = 1;
        left--;
      } else tokens[r].push(best);
      input[r] = best;
    }
  }
  return { sequences: tokens, scores: Array.from(scores) };
}

/** Beam search over `count` samples, `K` rows each (see the module comment). */
function beam(s: Session, count: number, K: number, opts: DecodeOptions, maxLength: number, alpha: number): DecodeResult {
  const V = s.outputs[0].features;
  const B = s.batchSize;
  const stop = opts.stopToken;
  const live: Hypothesis[][] = Array.from({ length: count }, (_, i) => [{ tokens: [], score: 0, row: i * K }]);
  const ended: { tokens: number[]; score: number; norm: number }[][] = Array.from({ length: count }, () => []);
  const done = new Uint8Array(count);
  const from = Int32Array.from({ length: B }, (_, r) => r);
  const next = new Int32Array(B).fill(opts.startToken);
  for (let t = 0; t < maxLength; t++) {
    s.input.viewI32().set(next);
    const p = s.stepIds();
    for (let i = 0; i < count; i++) {
      if (done[i]) continue;
      // every extension of every live hypothesis, best first (ties: lower slot, then lower token)
      const cand: { score: number; k: number; v: number }[] = [];
      live[i].forEach((h, k) => {
        for (let v = 0; v < V; v++) cand.push({ score: h.score + Math.log(p[h.row * V + v]), k, v });
      });
      cand.sort((a, b) => b.score - a.score || a.k - b.k || a.v - b.v);
      const kept: Hypothesis[] = [];
      for (let r = 0; r < cand.length && kept.length < K; r++) {
        const c = cand[r];
        const h = live[i][c.k];
        if (c.v === stop) {
          if (r < K) ended[i].push({ tokens: h.tokens, score: c.score, norm: c.score / lp(h.tokens.length + 1, alpha) });
        } else {
          kept.push({ tokens: [...h.tokens, c.v], score: c.score, row: h.row });
        }
      }
      // the kept hypotheses take this sample's rows in order, from their parents' rows
      kept.forEach((h, k) => {
        const row = i * K + k;
        from[row] = h.row;
        next[row] = h.tokens[h.tokens.length - 1];
        h.row = row;
      });
      live[i] = kept;
      // a live hypothesis' score only falls (log-probabilities are ≤ 0), so
      // its normalised score can at most reach score / lp(maxLength): once an
      // ended one is at least that good, none can overtake it
      const best = Math.max(-Infinity, ...ended[i].map((e) => e.norm));
      const hope = Math.max(-Infinity, ...kept.map((h) => h.score / lp(maxLength, alpha)));
      if (kept.length === 0 || best >= hope) done[i] = 1;
    }
    if (done.every((d) => d)) break;
    s.gatherRows(from);
    for (let r = 0; r < B; r++) from[r] = r;
  }
  const sequences: number[][] = [];
  const scores: number[] = [];
  for (let i = 0; i < count; i++) {
    const all = [...ended[i], ...live[i].map((h) => ({ tokens: h.tokens, score: h.score, norm: h.score / lp(h.tokens.length, alpha) }))];
    all.sort((a, b) => b.norm - a.norm);
    sequences.push(all[0].tokens);
    scores.push(all[0].score);
  }
  return { sequences, scores };
}
