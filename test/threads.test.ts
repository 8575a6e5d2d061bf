// The threaded core: init({ threads }) loads the shared-memory build and starts
// helper Workers; every matrix product and gate epilogue above the fork
// threshold is split between threads. The numbers must not move: the same
// training, prediction and streaming (f32 and int8) give bit-identical results
// at 1 and 2 threads, and equal the plain simd128 build's (an independent
// instance, in a child process). Where threads cannot run, init says why and
// the core runs on one thread.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import * as lib from '../ts/index.js';
import { runtime } from '../ts/runtime/init.js';
import { threadScenario } from './runtimes/threads-scenario.mjs';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'test/runtimes/threads-cli.mjs');
const dist = `file://${join(root, 'dist')}/`;

interface ThreadRun {
  threads: number;
  ms: number;
  losses: number[];
  weights: string;
  predicted: string;
  steps: string[];
  q8predicted: string[];
  /** a graph model (convolution, attention, merges, states) trained and predicted, and beam-search decoding */
  graph: { losses: number[]; weights: string; predicted: string; decoded: string };
}
const numbers = (r: ThreadRun) => ({
  losses: r.losses,
  weights: r.weights,
  predicted: r.predicted,
  steps: r.steps,
  q8predicted: r.q8predicted,
  graph: r.graph,
});

async function child(
  opts: { simd?: string; threads?: number | string; noSharedArrayBuffer?: boolean },
  ...counts: number[]
): Promise<{ info: lib.RuntimeInfo; runs: ThreadRun[] }> {
  // Node 20 validates relaxed SIMD only behind a flag
  const flags = opts.simd === 'relaxed' ? ['--experimental-wasm-relaxed-simd'] : [];
  const { stdout } = await run(process.execPath, [...flags, cli, dist, JSON.stringify(opts), ...counts.map(String)], { timeout: 120_000 });
  return JSON.parse(stdout);
}

/** The plain single-threaded simd128 build's run, in a child process (computed once). */
let plainRun: Promise<ThreadRun> | null = null;
const plain = () =>
  (plainRun ??= child({ simd: 'simd128' }, 1).then((r) => {
    expect(r.info).toMatchObject({ simd: 'simd128', threads: 1 });
    return r.runs[0]!;
  }));

let info: lib.RuntimeInfo;
beforeAll(async () => {
  info = await lib.init({ threads: 2 });
});

describe('init({ threads })', () => {
  it('loads the threaded build and starts one helper', () => {
    expect(info).toMatchObject({ simd: 'simd128', threads: 2 });
    expect(info.threadsNote).toBeUndefined();
    expect(runtime().core.threaded()).toBe(true);
    expect(runtime().heap.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('rejects bad thread counts before anything else', async () => {
    await expect(lib.init({ threads: 0 })).rejects.toThrow(/"threads" must be an integer from 1 to 256 or 'auto'/);
    await expect(lib.init({ threads: 1.5 })).rejects.toThrow(lib.InitError);
    await expect(lib.init({ threads: 'all' as never })).rejects.toThrow(/threads/);
    expect(() => lib.setThreads(0)).toThrow(/setThreads\(\): expected an integer ≥ 1/);
  });

  it('setThreads clamps to the threads started', () => {
    expect(lib.setThreads(8)).toBe(2);
    expect(lib.setThreads(1)).toBe(1);
    expect(lib.setThreads(2)).toBe(2);
  });
});

describe('the same numbers at any thread count', () => {
  let runs: ThreadRun[];
  let helped: number[];
  beforeAll(async () => {
    const core = runtime().core;
    runs = [];
    helped = [];
    for (const n of [1, 2, 1, 2]) {
      const before = core.pool_helper_tasks();
      runs.push(...((await threadScenario(lib, [n])) as ThreadRun[]));
      helped.push(core.pool_helper_tasks() - before);
    }
  });

  it('training, prediction, streaming (f32, int8), graph models and decoding are bit-identical at 1 and 2 threads', () => {
    expect(runs.map((r) => r.threads)).toEqual([1, 2, 1, 2]);
    for (const r of runs.slice(1)) expect(numbers(r)).toEqual(numbers(runs[0]!));
    expect(runs[0]!.losses[2]).toBeLessThan(runs[0]!.losses[0]!); // it did train
  });

  it('with 2 threads the helper really ran shares of the work; with 1 it ran none', () => {
    expect(helped[0]).toBe(0);
    expect(helped[2]).toBe(0);
    // ~2000 jobs fork (step GEMMs and epilogues); the helper claims a share of
    // each job it is awake for (the caller takes whatever is left)
    expect(helped[1]).toBeGreaterThan(100);
    expect(helped[3]).toBeGreaterThan(100);
  });

  it('equals the plain single-threaded simd128 build (another instance, in a child process)', async () => {
    expect(numbers(await plain())).toEqual(numbers(runs[0]!));
  });

  it("threads: 'auto' uses every CPU (up to 8), and a process with helpers still exits by itself", async () => {
    const { availableParallelism } = await import('node:os');
    const r = await child({ threads: 'auto' }, 1, 2);
    expect(r.info.threads).toBe(Math.min(8, availableParallelism()));
    expect(numbers(r.runs[1]!)).toEqual(numbers(runs[0]!));
  });
});

describe('where threads cannot run', () => {
  it('without SharedArrayBuffer: one thread, the reason in threadsNote, same numbers', async () => {
    const r = await child({ threads: 2, noSharedArrayBuffer: true }, 1);
    expect(r.info.threads).toBe(1);
    expect(r.info.threadsNote).toMatch(/SharedArrayBuffer/);
    expect(numbers(r.runs[0]!)).toEqual(numbers(await plain()));
  });
});

describe('the threaded relaxed-SIMD build', () => {
  it('equals the single-threaded relaxed build bit for bit at 1 and 2 threads, and simd128 to rounding', async () => {
    const r = await child({ threads: 2, simd: 'relaxed' }, 1, 2);
    expect(r.info).toMatchObject({ simd: 'relaxed', threads: 2 });
    const single = await child({ simd: 'relaxed' }, 1);
    expect(single.info).toMatchObject({ simd: 'relaxed', threads: 1 });
    for (const x of r.runs) expect(numbers(x)).toEqual(numbers(single.runs[0]!));
    const simd128 = await plain();
    for (const [i, l] of r.runs[0]!.losses.entries()) expect(Math.abs(l - simd128.losses[i]!)).toBeLessThan(1e-5);
  });
});
