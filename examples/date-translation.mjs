// Neural machine translation with attention: dates written by people
// ("saturday 9 may 2018", "09/05/18", "may 9, 2018", …) to ISO 8601
// ("2018-05-09"). A bidirectional LSTM encoder reads the characters; its
// final states start an LSTM decoder, trained with teacher forcing (the
// correct previous character as input), which at every step attends over the
// encoder's outputs (Luong dot-product attention) before a softmax picks the
// next character. `decode` then generates greedily or with beam search, one
// session step per character. Reports exact-match accuracy on held-out dates
// and writes one attention matrix as an SVG (which input characters each
// output character looked at). Run: node examples/date-translation.mjs [out.svg]
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decode, init, input, layers, model, optimizers, Random, schedules, tensor } from '../dist/index.js';

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const pad2 = (n) => String(n).padStart(2, '0');

/** The ways a person writes a date (day before month where both are numbers: no ambiguity). */
const FORMATS = [
  (d) => `${d.dayName} ${d.day} ${d.monthName} ${d.year}`,
  (d) => `${pad2(d.day)}/${pad2(d.month)}/${String(d.year).slice(2)}`,
  (d) => `${d.day} ${d.monthName} ${d.year}`,
  (d) => `${d.monthName} ${d.day}, ${d.year}`,
  (d) => `${d.day}.${d.month}.${d.year}`,
  (d) => `${d.dayName.slice(0, 3)}, ${d.day} ${d.monthName.slice(0, 3)} ${d.year}`,
  (d) => `${pad2(d.day)} ${d.monthName.slice(0, 3)} ${String(d.year).slice(2)}`,
  (d) => `${d.dayName}, ${d.monthName} ${d.day}, ${d.year}`,
  (d) => `${d.year}-${pad2(d.month)}-${pad2(d.day)}`,
  (d) => `${pad2(d.day)}.${pad2(d.month)}.${d.year}`,
];

export const MAX_IN = 30;
const IN_CHARS = ' abcdefghijklmnopqrstuvwxyz0123456789/.,-';
const IN_ID = Object.fromEntries([...IN_CHARS].map((c, i) => [c, i + 1])); // 0: padding
export const START = 0;
export const STOP = 1;
const OUT_CHARS = '0123456789-';
const OUT_ID = Object.fromEntries([...OUT_CHARS].map((c, i) => [c, i + 2]));
export const V_OUT = OUT_CHARS.length + 2;
const T_OUT = 11; // "yyyy-mm-dd" and the stop token

/** A random date from 1950 to 2049 (two-digit years read as 1950–2049). */
function randomDate(rng) {
  const t = Date.UTC(1950, 0, 1) + rng.int(36525) * 86400000;
  const x = new Date(t);
  const [year, month, day] = [x.getUTCFullYear(), x.getUTCMonth() + 1, x.getUTCDate()];
  return {
    year,
    month,
    day,
    monthName: MONTHS[month - 1],
    dayName: DAYS[(x.getUTCDay() + 6) % 7],
    iso: `${year}-${pad2(month)}-${pad2(day)}`,
  };
}

/** `n` (human, ISO) pairs whose human form is not in `seen`. */
export function dates(n, rng, seen = new Set()) {
  const human = [];
  const iso = [];
  while (human.length < n) {
    const d = randomDate(rng);
    const h = FORMATS[rng.int(FORMATS.length)](d);
    if (seen.has(h)) continue;
    seen.add(h);
    human.push(h);
    iso.push(d.iso);
  }
  return { human, iso, seen };
}

/** Encoder ids `[n, MAX_IN]` (post-padded), decoder inputs `[n, T_OUT]` (START, then the answer), targets `[n, T_OUT]` (the answer, STOP). */
export function encode({ human, iso }) {
  const n = human.length;
  const x = new Int32Array(n * MAX_IN);
  const din = new Int32Array(n * T_OUT);
  const y = new Int32Array(n * T_OUT);
  for (const [i, h] of human.entries())
    x.set(
      [...h].map((c) => IN_ID[c]),
      i * MAX_IN,
    );
  iso.forEach((s, i) => {
    const ids = [...s].map((c) => OUT_ID[c]);
    din.set([START, ...ids], i * T_OUT);
    y.set([...ids, STOP], i * T_OUT);
  });
  return { x: tensor(x, [n, MAX_IN]), din: tensor(din, [n, T_OUT]), y: tensor(y, [n, T_OUT]) };
}

/** The translation model, and its attention weights as a second output (no loss: returned by predict, not trained). */
export function translator(seed = 1) {
  const enc = input({ shape: [MAX_IN], dtype: 'int32', name: 'human' });
  const dec = input({ shape: [null], dtype: 'int32', name: 'previous' });
  const e = layers.embedding({ name: 'enc_embed', inputDim: IN_CHARS.length + 1, outputDim: 32, maskZero: true }).apply(enc);
  const bi = layers.bidirectional({ name: 'encoder', layer: layers.lstm({ units: 64, returnSequences: true, returnState: true }) });
  const [seq, fh, fc, bh, bc] = bi.apply(e);
  const h = layers.concatenate({ name: 'state_h' }).apply([fh, bh]);
  const c = layers.concatenate({ name: 'state_c' }).apply([fc, bc]);
  const d = layers.embedding({ name: 'dec_embed', inputDim: V_OUT, outputDim: 32 }).apply(dec);
  const decoded = layers.lstm({ name: 'decoder', units: 128, returnSequences: true }).apply(d, { initialState: [h, c] });
  const [context, weights] = layers.attention({ name: 'attention', returnAttentionScores: true }).apply([decoded, seq]);
  const joined = layers.concatenate({ name: 'joined' }).apply([context, decoded]);
  const out = layers.dense({ name: 'char', units: V_OUT, activation: 'softmax' }).apply(joined);
  return model({ inputs: [enc, dec], outputs: [out, weights], name: 'date_translator', seed });
}

/** Tokens → "yyyy-mm-dd". */
const text = (tokens) => tokens.map((t) => OUT_CHARS[t - 2] ?? '?').join('');

/** An SVG heat map of one attention matrix: rows the output characters, columns the input characters. */
export function attentionSvg(weights, inChars, outChars) {
  const cell = 18;
  const [left, top] = [30, 40];
  const w = left + inChars.length * cell + 10;
  const h = top + outChars.length * cell + 10;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="monospace" font-size="12">`];
  inChars.forEach((ch, j) => {
    parts.push(`<text x="${left + j * cell + 5}" y="${top - 8}">${ch === ' ' ? '␣' : ch}</text>`);
  });
  outChars.forEach((ch, i) => {
    parts.push(`<text x="8" y="${top + i * cell + 13}">${ch}</text>`);
    inChars.forEach((_, j) => {
      const v = weights[i][j];
      const shade = Math.round(255 * (1 - v));
      parts.push(
        `<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell - 1}" height="${cell - 1}" fill="rgb(${shade},${shade},255)"><title>${v.toFixed(3)}</title></rect>`,
      );
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export async function run({ epochs = 12, train = 12000, test = 1000, seed = 1, beamWidth = 4, svg = null, log = console.log } = {}) {
  await init();
  const rng = new Random(seed);
  const trainSet = dates(train, rng);
  const testSet = dates(test, rng, trainSet.seen); // held out: no human form of the training set
  const tr = encode(trainSet);
  const te = encode(testSet);
  const m = translator(seed);
  const batchSize = 64;
  const lr = schedules.cosineDecay({ initialLearningRate: 0.01, decaySteps: epochs * Math.ceil(train / batchSize) });
  m.compile({ optimizer: optimizers.adam({ learningRate: lr }), loss: { char: 'sparseCategoricalCrossentropy' } });
  const t0 = performance.now();
  const hist = await m.fit({ human: tr.x, previous: tr.din }, tr.y, { epochs, batchSize, seed });
  const seconds = (performance.now() - t0) / 1000;
  const exact = (seqs) => seqs.filter((s, i) => text(s) === testSet.iso[i]).length / test;
  const args = { encoderInputs: { human: te.x }, startToken: START, stopToken: STOP, maxLength: T_OUT + 2, batchSize: 100 };
  const t1 = performance.now();
  const greedy = decode(m, args);
  const greedyMs = (performance.now() - t1) / test;
  const beam = decode(m, { ...args, beamWidth });
  const result = {
    seconds,
    loss: hist.history.loss.at(-1),
    greedy: exact(greedy.sequences),
    beam: exact(beam.sequences),
    greedyMsPerDate: greedyMs,
  };
  log(
    `date translation: ${epochs} epochs over ${train} dates in ${seconds.toFixed(1)} s; exact match on ${test} held-out dates: greedy ${(result.greedy * 100).toFixed(1)} %, beam ${beamWidth} ${(result.beam * 100).toFixed(1)} %`,
  );
  for (let i = 0; i < 4; i++) log(`  ${testSet.human[i].padEnd(MAX_IN)} → ${text(greedy.sequences[i])}`);
  // one attention matrix, from the model run with teacher forcing on its own translation
  const k = 0;
  const tokens = greedy.sequences[k];
  const one = (t) => tensor(t.data.slice(k * MAX_IN, (k + 1) * MAX_IN), [1, MAX_IN]);
  const [, w] = m.predict({ human: one(te.x), previous: tensor(Int32Array.from([START, ...tokens]), [1, tokens.length + 1]) });
  const inChars = [...testSet.human[k]];
  const rows = [...text(tokens)].map((_, i) => Array.from(w.data.subarray(i * MAX_IN, i * MAX_IN + inChars.length)));
  result.attention = { input: testSet.human[k], output: text(tokens), weights: rows };
  result.svg = attentionSvg(rows, inChars, [...text(tokens)]);
  if (svg) {
    writeFileSync(svg, result.svg);
    log(`  attention of "${testSet.human[k]}" → "${text(tokens)}" written to ${svg}`);
  }
  m.dispose();
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run({ svg: process.argv[2] ?? 'date-attention.svg' });
