// The classic tutorials (examples/*.mjs, run against the built package) with
// quality thresholds, not just "it ran".
import { describe, expect, it } from 'vitest';

const quiet = () => {};
// biome-ignore lint/suspicious/noExplicitAny: the examples are plain JavaScript; their results are untyped
type Any = any;

describe('examples reach their quality bounds', () => {
  it('sine forecasting: held-out MSE below 1e-3 for SimpleRNN and LSTM', async () => {
    const { run } = await import('../examples/sine.mjs');
    const r = (await run({ log: quiet })) as Any;
    expect(r.simpleRNN.testMse).toBeLessThan(1e-3);
    expect(r.lstm.testMse).toBeLessThan(1e-3);
  });

  it('char-level LSTM on the Sonnets: loss below 2.45 nats/char within 150 steps (uniform: 4.1), and text samples', async () => {
    const { run } = await import('../examples/char-rnn.mjs');
    const r = (await run({ steps: 150, log: quiet, sampleLength: 60 })) as Any;
    expect(r.firstLoss).toBeGreaterThan(3.9);
    expect(r.finalLoss).toBeLessThan(2.45);
    expect(r.valLoss).toBeLessThan(2.6);
    expect(r.sample).toHaveLength(60);
    expect(r.sample).toMatch(/[a-z]+ [a-z]+/); // words, not noise of one character
    // int8 and f16 weights: held-out perplexity within 2 % of f32; files ≤ 30 % / 51 % of f32
    expect(r.quantized.int8.perplexityRatio).toBeLessThan(1.02);
    expect(r.quantized.f16.perplexityRatio).toBeLessThan(1.02);
    expect(r.quantized.int8.bytes).toBeLessThan(0.3 * r.quantized.f32.bytes);
    expect(r.quantized.f16.bytes).toBeLessThan(0.51 * r.quantized.f32.bytes);
    // pruned to 50 % zeros and fine-tuned with the mask: perplexity within 2 % of dense; a sparse file
    expect(r.pruned.sparsity).toBeGreaterThanOrEqual(0.5 - 1e-3);
    expect(r.pruned.perplexityRatio).toBeLessThan(1.02);
    expect(r.pruned.bytes).toBeLessThan(0.6 * r.pruned.denseBytes);
  });

  it('distillation: a student at a quarter of the parameters gets closer to the teacher than on labels alone', async () => {
    const { run } = await import('../examples/distill.mjs');
    const r = (await run({ log: quiet })) as Any;
    expect(r.studentParams / r.teacherParams).toBeLessThan(0.27);
    expect(r.teacherLoss).toBeLessThan(r.plainLoss);
    expect(r.distilledLoss - r.teacherLoss).toBeLessThan(r.plainLoss - r.teacherLoss - 0.01);
  }, 120_000);

  it('digit echo (one-hot, LSTM(50) → softmax): held-out accuracy above 95 %', async () => {
    const { run } = await import('../examples/digit-echo.mjs');
    const r = (await run({ log: quiet })) as Any;
    expect(r.testAccuracy).toBeGreaterThan(0.95);
  });

  it('sentiment classification with masking: accuracy > 90 %, F1 > 0.9, AUC > 0.95', async () => {
    const { run } = await import('../examples/sentiment.mjs');
    const r = (await run({ log: quiet })) as Any;
    expect(r.accuracy).toBeGreaterThan(0.9);
    expect(r.precision).toBeGreaterThan(0.85);
    expect(r.recall).toBeGreaterThan(0.85);
    expect(r.f1).toBeGreaterThan(0.9);
    expect(r.auc).toBeGreaterThan(0.95);
    // int8 and f16 weights: held-out accuracy within one point of f32
    expect(r.quantized.int8.accuracy).toBeGreaterThan(r.quantized.f32.accuracy - 0.01);
    expect(r.quantized.f16.accuracy).toBeGreaterThan(r.quantized.f32.accuracy - 0.01);
    // pruned to 50 % zeros and fine-tuned with the mask: within two points of dense
    expect(r.pruned.sparsity).toBeGreaterThanOrEqual(0.5 - 1e-3);
    expect(r.pruned.accuracy).toBeGreaterThan(r.quantized.f32.accuracy - 0.02);
    expect(r.pruned.bytes).toBeLessThan(0.7 * r.pruned.denseBytes);
  });

  it('addition as strings (LSTM encoder → repeatVector → LSTM decoder → timeDistributed softmax): exact match on held-out sums above 95 %', async () => {
    const { run } = await import('../examples/addition.mjs');
    const r = (await run({ log: quiet })) as Any;
    expect(r.accuracy).toBeGreaterThan(0.95);
  }, 300_000);

  it('date translation with attention: held-out exact match above 95 %, beam 4 at least greedy, attention aligned with the input', async () => {
    const { run } = await import('../examples/date-translation.mjs');
    const r = (await run({ epochs: 6, train: 8000, log: quiet })) as Any;
    expect(r.greedy).toBeGreaterThan(0.95);
    expect(r.beam).toBeGreaterThanOrEqual(r.greedy);
    // the plotted matrix: the year's digits look at the year in the input (its last four characters
    // in every format but the ISO and two-digit ones), each row a distribution over the input
    const { input, output, weights } = r.attention as { input: string; output: string; weights: number[][] };
    expect(output).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const row of weights) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    const year = input.lastIndexOf(output.slice(0, 4));
    if (year >= 0) {
      for (let i = 0; i < 4; i++) {
        const row = weights[i];
        const at = row.indexOf(Math.max(...row));
        expect(at, `year digit ${i} attends to input ${at}`).toBeGreaterThanOrEqual(year);
        expect(at).toBeLessThan(year + 4);
      }
    }
    expect(r.svg).toMatch(/^<svg[^>]*>/);
    expect((r.svg.match(/<rect /g) ?? []).length).toBe(weights.length * input.length);
  }, 300_000);

  it('bidirectional tagging: bidirectional > 95 % per step, forward-only < 50 % (the task needs the future)', async () => {
    const { run } = await import('../examples/bidirectional-tagging.mjs');
    const r = (await run({ log: quiet })) as Any;
    expect(r.bidirectional.accuracy).toBeGreaterThan(0.95);
    expect(r.forwardOnly.accuracy).toBeLessThan(0.5);
  });
});
