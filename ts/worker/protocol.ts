/** Messages between `ModelWorker` (the page or main thread) and `serveModelWorker` (the worker). */
import type { History } from '../model/sequential.js';

export interface WireTensor {
  data: Float32Array | Int32Array;
  shape: number[];
}

/** The serialisable part of `FitArgs` (callbacks stay on the calling side). */
export interface WireFitArgs {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  validationSplit?: number;
  seed?: number;
  onNanLoss?: 'throw' | 'skip' | 'stop';
  /** How often training yields to the worker's event loop, i.e. how fast a cancel is seen (default 10 ms here). */
  yieldEveryMs?: number;
}

/**
 * `simd`: the build the caller runs, so the worker computes the same numbers;
 * `threads`: what the worker's `init` asks for (its own helper threads).
 */
export type Request =
  | {
      id: number;
      type: 'fit';
      simd: 'simd128' | 'relaxed';
      threads?: number | 'auto';
      model: Uint8Array;
      x: WireTensor;
      y: WireTensor;
      args: WireFitArgs;
      progressEvery: 'epoch' | 'batch';
    }
  /**
   * `model` null: use the copy cached under `modelKey` (sent by an earlier
   * request); `release`: cached copies to drop first (the client's eviction)
   */
  | {
      id: number;
      type: 'predict';
      simd: 'simd128' | 'relaxed';
      threads?: number | 'auto';
      model: Uint8Array | null;
      modelKey: string;
      x: WireTensor;
      batchSize?: number;
      release: string[];
    }
  /** drop cached copies (no reply) */
  | { id: number; type: 'release'; keys: string[] }
  | { id: number; type: 'cancel' };

export type Reply =
  | { id: number; type: 'progress'; epoch: number; batch: number | null; logs: Record<string, number> }
  | { id: number; type: 'fit-done'; history: History; model: Uint8Array; cancelled: boolean; threads: number }
  /** `cached`: models the worker holds after this request */
  | { id: number; type: 'predict-done'; y: WireTensor; cached: number }
  | { id: number; type: 'error'; name: string; message: string };

/** The two sides of a message channel: browser workers and Node worker_threads. */
export interface Port {
  post(msg: unknown, transfer?: Transferable[]): void;
  listen(f: (msg: unknown) => void): void;
}
