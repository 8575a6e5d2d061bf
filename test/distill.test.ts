// distill(): the soft targets it builds and its argument checks (the loss and
// its gradient are checked against finite differences in crate/src/loss.rs;
// the benefit on the char-LM in test/examples.test.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { Random, Sequential, ShapeError, ValueError, distill, init, layers, tensor } from '../ts/index.js';

beforeAll(async () => {
  await init();
});

const clf = (units: number, seed: number) =>
  new Sequential([layers.gru({ units, inputShape: [6, 4] }), layers.dense({ units: 3, activation: 'softmax' })], { seed });

function data() {
  const r = new Random(9);
  const x = tensor(
    Float32Array.from({ length: 96 * 6 * 4 }, () => r.next() * 2 - 1),
    [96, 6, 4],
  );
  const y = Int32Array.from({ length: 96 }, (_, i) => (x.data[i * 24] > 0 ? 1 : 0) + (x.data[i * 24 + 1] > 0.5 ? 1 : 0));
  return { x, y: tensor(y, [96]) };
}

describe('distill', () => {
  it('with α = 0 trains exactly as on the labels; with α = 1 it moves the student towards the teacher', async () => {
    const { x, y } = data();
    const teacher = clf(16, 1);
    teacher.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await teacher.fit(x, y, { epochs: 5, batchSize: 16, seed: 1 });
    const a = clf(8, 2);
    const b = clf(8, 2);
    await distill({ teacher, student: a, x, y, alpha: 0, temperature: 3, epochs: 2, batchSize: 16, seed: 3, shuffle: false });
    b.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await b.fit(x, y, { epochs: 2, batchSize: 16, seed: 3, shuffle: false });
    const pa = a.predict(x).data;
    const pb = b.predict(x).data;
    let d = 0;
    for (let i = 0; i < pa.length; i++) d = Math.max(d, Math.abs(pa[i] - pb[i]));
    expect(d).toBeLessThan(1e-5);
    // α = 1: the student's distribution approaches the teacher's (KL falls)
    const kl = (s: Sequential) => {
      const p = teacher.predict(x).data;
      const q = s.predict(x).data;
      let k = 0;
      for (let i = 0; i < p.length; i++) k += p[i] * Math.log(p[i] / q[i]);
      return k / 96;
    };
    const c = clf(8, 4);
    const before = kl(c);
    const h = await distill({ teacher, student: c, x, y, alpha: 1, temperature: 1, epochs: 8, batchSize: 16, seed: 1 });
    expect(h.history.loss[7]).toBeLessThan(h.history.loss[0]);
    expect(kl(c)).toBeLessThan(before * 0.5);
  });

  it('refuses mismatched models and bad arguments', async () => {
    const { x, y } = data();
    const teacher = clf(8, 1);
    const noSoftmax = new Sequential([layers.gru({ units: 4, inputShape: [6, 4] }), layers.dense({ units: 3 })], { seed: 1 });
    await expect(distill({ teacher, student: noSoftmax, x, y })).rejects.toThrow(/dense softmax/);
    const four = new Sequential([layers.gru({ units: 4, inputShape: [6, 4] }), layers.dense({ units: 4, activation: 'softmax' })], {
      seed: 1,
    });
    await expect(distill({ teacher, student: four, x, y })).rejects.toThrow(ShapeError);
    await expect(distill({ teacher, student: clf(4, 2), x, y, temperature: 0 })).rejects.toThrow(ValueError);
    await expect(distill({ teacher, student: clf(4, 2), x, y, alpha: 2 })).rejects.toThrow(/alpha/);
    await expect(distill({ teacher, student: clf(4, 2), x, y: tensor(new Int32Array(96).fill(3), [96]) })).rejects.toThrow(/class index/);
  });
});
