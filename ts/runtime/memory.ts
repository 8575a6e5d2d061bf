/**
 * The wasm heap as seen from JavaScript.
 *
 * Typed-array views of `memory.buffer` become detached (length 0) whenever the
 * memory grows, which any allocation may cause. `Heap.f32` / `Heap.i32` therefore
 * re-take their views whenever the buffer changed, and `WasmArray.view()`
 * returns a fresh subarray on every call: never keep a view across a call that
 * may allocate.
 *
 * Regions are freed explicitly with `free()` (deterministic, used by the
 * library itself) or, if a `WasmArray` is dropped without it, by a
 * `FinalizationRegistry` when the garbage collector reclaims the wrapper.
 */
import { ValueError } from '../errors.js';

export interface CoreAlloc {
  alloc(bytes: number): number;
  dealloc(ptr: number, bytes: number): void;
}

export class Heap {
  private f32View: Float32Array;
  private i32View: Int32Array;
  /** null where the runtime has no FinalizationRegistry (Cloudflare Workers): free explicitly there. */
  private readonly registry: FinalizationRegistry<{ ptr: number; bytes: number }> | null;

  constructor(
    private readonly core: CoreAlloc,
    readonly memory: WebAssembly.Memory,
  ) {
    this.f32View = new Float32Array(memory.buffer);
    this.i32View = new Int32Array(memory.buffer);
    this.registry =
      typeof FinalizationRegistry === 'function' ? new FinalizationRegistry(({ ptr, bytes }) => this.core.dealloc(ptr, bytes)) : null;
  }

  /** All of memory as f32, re-taken after growth. */
  get f32(): Float32Array {
    if (this.f32View.buffer !== this.memory.buffer) this.f32View = new Float32Array(this.memory.buffer);
    return this.f32View;
  }

  /** All of memory as i32, re-taken after growth. */
  get i32(): Int32Array {
    if (this.i32View.buffer !== this.memory.buffer) this.i32View = new Int32Array(this.memory.buffer);
    return this.i32View;
  }

  /** Bytes of linear memory currently reserved. */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** Allocate `bytes` (16-byte aligned, zeroed); throws if memory is exhausted. */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > 0xffff_fff0) {
      throw new ValueError(`cannot allocate ${bytes} bytes in wasm memory (limit 4 GiB)`);
    }
    const ptr = this.core.alloc(bytes);
    if (ptr === 0) {
      throw new ValueError(`out of wasm memory allocating ${bytes} bytes (memory is ${this.byteLength} bytes; the 32-bit limit is 4 GiB)`);
    }
    return ptr;
  }

  free(ptr: number, bytes: number): void {
    this.core.dealloc(ptr, bytes);
  }

  /** Track a region so that it is freed if `owner` is garbage-collected unfreed. */
  track(owner: object, ptr: number, bytes: number, token: object): void {
    this.registry?.register(owner, { ptr, bytes }, token);
  }

  untrack(token: object): void {
    this.registry?.unregister(token);
  }
}

/** A region of `length` 32-bit elements (f32 or i32) in wasm memory. */
export class WasmArray {
  readonly ptr: number;
  private freed = false;
  private readonly token = {};

  constructor(
    private readonly heap: Heap,
    readonly length: number,
    readonly kind: 'f32' | 'i32' = 'f32',
  ) {
    this.ptr = heap.alloc(length * 4);
    heap.track(this, this.ptr, length * 4, this.token);
  }

  /** A view of the region, valid until the next allocation. */
  view(): Float32Array {
    this.check();
    return this.heap.f32.subarray(this.ptr >>> 2, (this.ptr >>> 2) + this.length);
  }

  /** An Int32 view of the region, valid until the next allocation. */
  viewI32(): Int32Array {
    this.check();
    return this.heap.i32.subarray(this.ptr >>> 2, (this.ptr >>> 2) + this.length);
  }

  /** Copy `src` in at element `offset`. */
  set(src: ArrayLike<number>, offset = 0): this {
    if (offset + src.length > this.length) {
      throw new ValueError(`internal: writing ${src.length} elements at ${offset} into a region of ${this.length}`);
    }
    (this.kind === 'i32' ? this.viewI32() : this.view()).set(src, offset);
    return this;
  }

  /** A copy of the contents (`start`..`end` elements). */
  toFloat32Array(start = 0, end = this.length): Float32Array {
    return this.view().slice(start, end);
  }

  get isFreed(): boolean {
    return this.freed;
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.heap.untrack(this.token);
    this.heap.free(this.ptr, this.length * 4);
  }

  private check(): void {
    if (this.freed) throw new ValueError('use of a wasm region after free()');
  }
}
