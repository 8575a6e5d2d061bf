/**
 * Text generation from a language model (embedding → recurrent → dense over
 * the vocabulary), streamed token by token through an async iterator.
 *
 * Sampling: temperature (`p^(1/τ)`, renormalised), top-k, nucleus (top-p),
 * from a seeded xoshiro128** stream. The arithmetic after the model's
 * probabilities uses only +, −, ×, ÷ and our own exp/log (no `Math.pow`,
 * `Math.exp`, `Math.log`, whose last bits differ between JavaScript engines),
 * so with the same wasm build a seed gives the same text in Node, browsers,
 * Deno, Bun and workerd.
 */
import { ValueError } from '../errors.js';
import type { Layer } from '../layers/base.js';
import type { Session } from '../model/session.js';
import { Random } from '../util/random.js';
import type { Tokenizer } from './tokenizer.js';

/** Anything with layers and streaming sessions: `Sequential`, `QuantizedModel`. */
export interface StreamingModel {
  readonly layers: readonly Layer[];
  session(): Session;
}

export interface GenerateOptions {
  tokenizer: Tokenizer;
  /** Text the model reads before generating (at least one token). */
  prompt: string;
  /** Tokens to generate. */
  length: number;
  /** Default 1; lower is more conservative, higher more varied. 0 = greedy. */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Sample only among the most likely tokens whose probabilities sum to p. */
  topP?: number;
  seed?: number;
  /** Stop after emitting this token. */
  stopToken?: string;
}

const LN2 = Math.LN2;

/** e^x with basic arithmetic only: x = k·ln2 + r, |r| ≤ ln2/2, Taylor to r^13. */
export function detExp(x: number): number {
  if (x < -745) return 0;
  if (x > 709) return Infinity;
  const k = Math.round(x / LN2);
  const r = x - k * LN2;
  let term = 1;
  let sum = 1;
  for (let n = 1; n <= 13; n++) {
    term = (term * r) / n;
    sum += term;
  }
  let p = 1;
  let e = Math.abs(k);
  let b = 2;
  while (e > 0) {
    if (e & 1) p *= b;
    b *= b;
    e >>= 1;
  }
  return k >= 0 ? sum * p : sum / p;
}

/** ln x (x > 0) with basic arithmetic only: x = m·2^k, atanh series on (m−1)/(m+1). */
export function detLog(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  let k = 0;
  let m = x;
  while (m > Math.SQRT2) {
    m /= 2;
    k++;
  }
  while (m < Math.SQRT1_2) {
    m *= 2;
    k--;
  }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let term = s;
  let sum = 0;
  for (let n = 1; n <= 41; n += 2) {
    sum += term / n;
    term *= s2;
  }
  return 2 * sum + k * LN2;
}

/** Pick an index from unnormalised non-negative weights with one uniform draw. */
function pick(w: Float64Array, u: number): number {
  let total = 0;
  for (let i = 0; i < w.length; i++) total += w[i];
  let r = u * total;
  let last = -1;
  for (let i = 0; i < w.length; i++) {
    if (w[i] <= 0) continue;
    last = i;
    r -= w[i];
    if (r < 0) return i;
  }
  return last;
}

/** The sampling distribution for one step's probabilities (ids < `first` excluded). */
export function sampleIndex(
  probs: ArrayLike<number>,
  opts: { temperature: number; topK?: number; topP?: number; first: number },
  rng: Random,
): number {
  const n = probs.length;
  const w = new Float64Array(n);
  for (let i = opts.first; i < n; i++) w[i] = Math.max(probs[i], 0);
  if (opts.temperature === 0) {
    let best = -1;
    for (let i = opts.first; i < n; i++) if (best < 0 || w[i] > w[best]) best = i;
    return best;
  }
  if (opts.temperature !== 1) {
    const inv = 1 / opts.temperature;
    for (let i = 0; i < n; i++) w[i] = w[i] > 0 ? detExp(detLog(w[i]) * inv) : 0;
  }
  if (opts.topK !== undefined || opts.topP !== undefined) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => w[b] - w[a] || a - b);
    let keep = opts.topK !== undefined ? Math.min(opts.topK, n) : n;
    if (opts.topP !== undefined) {
      let total = 0;
      for (let i = 0; i < n; i++) total += w[i];
      let acc = 0;
      let j = 0;
      while (j < keep) {
        acc += w[order[j]];
        j++;
        if (acc >= opts.topP * total) break;
      }
      keep = j;
    }
    for (let j = keep; j < n; j++) w[order[j]] = 0;
  }
  return pick(w, rng.next());
}

/**
 * Generate `length` tokens after `prompt`, yielding each as it is sampled.
 * The model must map token ids to a distribution (or logits) over the same
 * vocabulary per step.
 */
export async function* generate(model: StreamingModel, opts: GenerateOptions): AsyncGenerator<string, void, undefined> {
  const { tokenizer, prompt, length } = opts;
  if (!tokenizer || typeof tokenizer.encode !== 'function') throw new ValueError('generate: a tokenizer is required');
  if (!Number.isInteger(length) || length < 0) throw new ValueError(`generate: length must be a non-negative integer; got ${length}`);
  const temperature = opts.temperature ?? 1;
  if (!(temperature >= 0 && Number.isFinite(temperature))) throw new ValueError(`generate: temperature must be ≥ 0; got ${temperature}`);
  if (opts.topK !== undefined && !(Number.isInteger(opts.topK) && opts.topK >= 1))
    throw new ValueError(`generate: topK must be a positive integer; got ${opts.topK}`);
  if (opts.topP !== undefined && !(opts.topP > 0 && opts.topP <= 1))
    throw new ValueError(`generate: topP must be in (0, 1]; got ${opts.topP}`);
  const ids = tokenizer.encode(prompt ?? '');
  if (ids.length === 0) throw new ValueError('generate: the prompt must contain at least one token');
  const last = model.layers[model.layers.length - 1];
  const logits = last.outputActivation !== 'softmax';
  const session = model.session();
  if (session.outputSize !== tokenizer.vocabSize) {
    session.dispose();
    throw new ValueError(
      `generate: the model outputs ${session.outputSize} values per step but the tokenizer has ${tokenizer.vocabSize} tokens`,
    );
  }
  const rng = new Random(opts.seed ?? Date.now());
  const probs = new Float64Array(tokenizer.vocabSize);
  try {
    let out: Float32Array = new Float32Array(0);
    for (const id of ids) out = session.step(id);
    for (let k = 0; k < length; k++) {
      if (logits) {
        let m = -Infinity;
        for (let i = 2; i < out.length; i++) m = Math.max(m, out[i]);
        for (let i = 0; i < out.length; i++) probs[i] = i < 2 ? 0 : detExp(out[i] - m);
      } else {
        for (let i = 0; i < out.length; i++) probs[i] = out[i];
      }
      const next = sampleIndex(probs, { temperature, topK: opts.topK, topP: opts.topP, first: 2 }, rng);
      const token = tokenizer.token(next);
      yield token;
      if (opts.stopToken !== undefined && token === opts.stopToken) return;
      out = session.step(next);
    }
  } finally {
    session.dispose();
  }
}

/** Collect `generate`'s tokens into one string. */
export async function generateText(model: StreamingModel, opts: GenerateOptions): Promise<string> {
  let s = '';
  for await (const t of generate(model, opts)) s += t;
  return s;
}
