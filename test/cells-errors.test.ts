// Bad input to the recurrent kernels: a clear, typed error from the façade
// before any kernel runs — never a wasm trap or an out-of-bounds read — and the
// layer keeps working afterwards.
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { RecurrentKernel, ShapeError, ValueError } from '../ts/index.js';
import { runtime } from '../ts/runtime/init.js';

describe('recurrent kernel input checks', () => {
  let k: RecurrentKernel;
  const T = 4;
  const B = 2;
  const I = 3;
  const H = 5;
  const x = () => new Float32Array(T * B * I).fill(0.1);
  beforeAll(async () => {
    await initForTests();
    k = new RecurrentKernel({ cell: 'lstm', inputSize: I, hiddenSize: H, bidirectional: true }, { seed: 1 });
  });

  it('wrong input size names expected and actual', () => {
    expect(() => k.forward({ x: new Float32Array(23), seqLen: T, batchSize: B })).toThrow(ShapeError);
    expect(() => k.forward({ x: new Float32Array(23), seqLen: T, batchSize: B })).toThrow(
      'lstm: x: expected 24 numbers ([T=4, B=2, I=3]); got 23',
    );
    expect(() => k.forward({ x: x(), seqLen: T, batchSize: B, batchFirst: true, h0: new Float32Array(3) })).toThrow(
      'lstm: h0: expected 20 numbers ([D=2, B=2, H=5]); got 3',
    );
    expect(() => k.forward({ x: undefined as never, seqLen: T, batchSize: B })).toThrow(ShapeError);
  });

  it('bad dimensions', () => {
    expect(() => k.forward({ x: x(), seqLen: 0, batchSize: B })).toThrow(/seqLen must be an integer ≥ 1; got 0/);
    expect(() => k.forward({ x: x(), seqLen: 2.5, batchSize: B })).toThrow(ValueError);
    expect(() => k.forward({ x: x(), seqLen: T, batchSize: -1 })).toThrow(ValueError);
    expect(() => new RecurrentKernel({ cell: 'lstm', inputSize: 0, hiddenSize: 4 })).toThrow(/inputSize/);
    expect(() => new RecurrentKernel({ cell: 'cnn' as never, inputSize: 1, hiddenSize: 4 })).toThrow(/'rnn', 'lstm' or 'gru'/);
    expect(() => new RecurrentKernel({ cell: 'rnn', inputSize: 1, hiddenSize: 4, nonlinearity: 'gelu' as never })).toThrow(/nonlinearity/);
    expect(() => new RecurrentKernel({ cell: 'lstm', inputSize: 70000, hiddenSize: 70000 })).toThrow(/2\^31/);
  });

  it('lengths out of range', () => {
    expect(() => k.forward({ x: x(), seqLen: T, batchSize: B, lengths: [4, 5] })).toThrow(
      'lstm: lengths[1] must be an integer in [0, 4]; got 5',
    );
    expect(() => k.forward({ x: x(), seqLen: T, batchSize: B, lengths: [-1, 2] })).toThrow(ValueError);
    expect(() => k.forward({ x: x(), seqLen: T, batchSize: B, lengths: [1.5, 2] })).toThrow(ValueError);
    expect(() => k.forward({ x: x(), seqLen: T, batchSize: B, lengths: [1] })).toThrow(ShapeError);
  });

  it('NaN and Infinity are refused with their position', () => {
    const bad = x();
    bad[7] = NaN;
    expect(() => k.forward({ x: bad, seqLen: T, batchSize: B })).toThrow('lstm: x contains NaN at index 7');
    const h0 = new Float32Array(20);
    h0[3] = Infinity;
    expect(() => k.forward({ x: x(), seqLen: T, batchSize: B, h0 })).toThrow('lstm: h0 contains Infinity at index 3');
    const p = k.getParameters();
    p[0] = -Infinity;
    expect(() => k.setParameters(p)).toThrow(/parameters contains -Infinity at index 0/);
  });

  it('backward needs a training forward, and dy of the right size', () => {
    const fresh = new RecurrentKernel({ cell: 'gru', inputSize: I, hiddenSize: H }, { seed: 2 });
    expect(() => fresh.backward({})).toThrow(/needs a preceding forward\(\{ training: true \}\)/);
    fresh.forward({ x: x(), seqLen: T, batchSize: B });
    expect(() => fresh.backward({})).toThrow(/needs a preceding forward/);
    fresh.forward({ x: x(), seqLen: T, batchSize: B, training: true });
    expect(() => fresh.backward({ dy: new Float32Array(3) })).toThrow(ShapeError);
    expect(() => fresh.backward({ dcn: new Float32Array(10) })).toThrow(/dcn is only for LSTM/);
    fresh.backward({ dy: new Float32Array(T * B * H).fill(1) });
    expect(() => fresh.backward({})).toThrow(/needs a preceding forward/); // the cache was consumed
    fresh.dispose();
    expect(() => fresh.forward({ x: x(), seqLen: T, batchSize: B })).toThrow(/after dispose/);
  });

  it('after every refused call the layer still computes the same numbers', () => {
    const ref = new RecurrentKernel({ cell: 'lstm', inputSize: I, hiddenSize: H, bidirectional: true }, { params: k.getParameters() });
    const a = k.forward({ x: x(), seqLen: T, batchSize: B });
    const b = ref.forward({ x: x(), seqLen: T, batchSize: B });
    expect(Array.from(a.y)).toEqual(Array.from(b.y));
    ref.dispose();
  });

  it('the ABI itself refuses inconsistent regions with a status code (no trap)', () => {
    const { core } = runtime();
    // x region runs past the end of memory
    const end = runtime().heap.byteLength;
    expect(core.recurrent_forward(2, 0, 4, 2, 3, 5, 1, end - 16, 0, 0, 0, 64, 128, 256, 0, 0, 512, 0)).toBe(3);
    // unknown cell kind
    expect(core.recurrent_forward(9, 0, 4, 2, 3, 5, 1, 64, 0, 0, 0, 64, 128, 256, 0, 0, 512, 0)).toBe(1);
    // bidirectional = 3 directions
    expect(core.recurrent_forward(2, 0, 4, 2, 3, 5, 3, 64, 0, 0, 0, 64, 128, 256, 0, 0, 512, 0)).toBe(1);
  });
});
