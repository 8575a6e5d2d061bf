// Generation: deterministic exp/log, sampling that follows the tempered
// distribution, seeded reproducibility, greedy decoding, stop tokens.
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { CharTokenizer, Random, Sequential, WordTokenizer, generate, generateText, layers } from '../ts/index.js';
import { detExp, detLog, sampleIndex } from '../ts/text/generate.js';

beforeAll(async () => {
  await initForTests();
});

const text = 'the quick brown fox jumps over the lazy dog. ';
const tok = CharTokenizer.fromText(text);
const model = () =>
  new Sequential(
    [
      layers.embedding({ inputDim: tok.vocabSize, outputDim: 8, inputShape: [null] }),
      layers.gru({ units: 16, returnSequences: true }),
      layers.dense({ units: tok.vocabSize, activation: 'softmax' }),
    ],
    { seed: 1 },
  );

describe('deterministic math', () => {
  it('detExp and detLog agree with Math.exp / Math.log to 1e-14 relative', () => {
    for (let x = -40; x <= 40; x += 0.173) expect(Math.abs(detExp(x) / Math.exp(x) - 1)).toBeLessThan(1e-14);
    for (let x = 1e-30; x < 1e30; x *= 3.7)
      expect(Math.abs(detLog(x) - Math.log(x))).toBeLessThan(1e-13 * Math.max(1, Math.abs(Math.log(x))));
  });
});

describe('sampling', () => {
  it('follows p^(1/τ) (chi-square over 40k draws), top-k and top-p cut the tail', () => {
    const p = [0, 0, 0.5, 0.3, 0.15, 0.05];
    const rng = new Random(3);
    for (const temperature of [1, 0.5, 2]) {
      const w = p.map((v) => (v > 0 ? v ** (1 / temperature) : 0));
      const z = w.reduce((a, b) => a + b, 0);
      const counts = new Array(6).fill(0);
      const N = 40000;
      for (let i = 0; i < N; i++) counts[sampleIndex(p, { temperature, first: 2 }, rng)]++;
      let chi = 0;
      for (let i = 2; i < 6; i++) chi += (counts[i] - (N * w[i]) / z) ** 2 / ((N * w[i]) / z);
      expect(chi, `τ=${temperature}`).toBeLessThan(16.3); // 3 d.o.f., p = 0.001
      expect(counts[0] + counts[1]).toBe(0);
    }
    for (let i = 0; i < 200; i++) expect([2, 3]).toContain(sampleIndex(p, { temperature: 1, topK: 2, first: 2 }, rng));
    for (let i = 0; i < 200; i++) expect([2, 3]).toContain(sampleIndex(p, { temperature: 1, topP: 0.75, first: 2 }, rng));
    expect(sampleIndex(p, { temperature: 0, first: 2 }, rng)).toBe(2);
  });
});

describe('generate', () => {
  it('the same seed gives the same text; another seed another text', async () => {
    const m = model();
    const a = await generateText(m, { tokenizer: tok, prompt: 'the ', length: 40, temperature: 1.2, seed: 7 });
    const b = await generateText(m, { tokenizer: tok, prompt: 'the ', length: 40, temperature: 1.2, seed: 7 });
    const c = await generateText(m, { tokenizer: tok, prompt: 'the ', length: 40, temperature: 1.2, seed: 8 });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect([...a].every((ch) => text.includes(ch))).toBe(true);
    expect([...a]).toHaveLength(40);
    m.dispose();
  });

  it('temperature 0 and topK 1 are greedy decoding, checked against the model step by step', async () => {
    const m = model();
    const greedy = await generateText(m, { tokenizer: tok, prompt: 'fox', length: 12, temperature: 0 });
    const k1 = await generateText(m, { tokenizer: tok, prompt: 'fox', length: 12, topK: 1, seed: 99 });
    expect(k1).toBe(greedy);
    const s = m.session();
    let y: Float32Array = new Float32Array(0);
    for (const id of tok.encode('fox')) y = s.step(id);
    let manual = '';
    for (let k = 0; k < 12; k++) {
      let best = 2;
      for (let i = 2; i < y.length; i++) if (y[i] > y[best]) best = i;
      manual += tok.token(best);
      y = s.step(best);
    }
    expect(greedy).toBe(manual);
    s.dispose();
    m.dispose();
  });

  it('streams tokens as an async iterator and stops at the stop token', async () => {
    const m = model();
    const seen: string[] = [];
    for await (const t of generate(m, { tokenizer: tok, prompt: 'dog', length: 500, seed: 1, stopToken: ' ' })) seen.push(t);
    expect(seen.length).toBeLessThan(500);
    expect(seen.at(-1)).toBe(' ');
    expect(seen.slice(0, -1)).not.toContain(' ');
    await expect(generateText(m, { tokenizer: tok, prompt: '', length: 3 })).rejects.toThrow(/at least one token/);
    const words = WordTokenizer.fromText(text);
    await expect(generateText(m, { tokenizer: words, prompt: 'the', length: 3 })).rejects.toThrow(/tokenizer has \d+ tokens/);
    m.dispose();
  });
});

describe('tokenizers', () => {
  it('char and word tokenizers round-trip and reserve 0 (padding) and 1 (unknown)', () => {
    expect(tok.decode(tok.encode('lazy fox'))).toBe('lazy fox');
    expect(tok.encode('Z')[0]).toBe(1);
    expect(Math.min(...tok.encode(text))).toBe(2);
    const w = new WordTokenizer(['hello', 'world', ',', '!']);
    expect(Array.from(w.encode('Hello, world! Bye'))).toEqual([2, 4, 3, 5, 1]);
    expect(w.decode(w.encode('hello, world!'))).toBe('hello, world!');
    expect(CharTokenizer.fromJSON(tok.toJSON()).encode(text)).toEqual(tok.encode(text));
    expect(WordTokenizer.fromJSON(w.toJSON()).encode('world')).toEqual(w.encode('world'));
  });
});
