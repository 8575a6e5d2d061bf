/**
 * Loading the WebAssembly core in every JavaScript runtime.
 *
 * `await init()` with no argument finds the `.wasm` next to the package's
 * JavaScript: read from disk in Node, Deno and Bun; fetched from
 * `new URL(…, import.meta.url)` in browsers and workers (bundlers follow that
 * pattern and emit the file). Runtimes that forbid compiling wasm from bytes
 * (Cloudflare Workers / workerd) import the `.wasm` as a module and pass it:
 * `init({ module })`. `init({ bytes })` and `init({ url })` cover the rest.
 *
 * Two builds ship: simd128, and simd128 + relaxed SIMD (fused multiply-add),
 * picked by default where `WebAssembly.validate` accepts relaxed SIMD; each
 * also threaded (shared memory, atomics), loaded for `threads > 1` where the
 * runtime allows it (./threads.ts), with helper Workers sharing its memory.
 * A second call is a no-op that returns the same info.
 */
import * as glue from '../wasm/recurrent_core.js';
import * as mtGlue from '../wasm/recurrent_core_mt.js';
import { InitError } from '../errors.js';
import { hasRelaxedSimd, hasSimd128 } from './features.js';
import { Heap } from './memory.js';
import { autoThreads, startHelpers, threadSupport } from './threads.js';

export type SimdChoice = 'auto' | 'relaxed' | 'simd128';

export interface InitOptions {
  /** A compiled module (Cloudflare Workers: `import wasm from 'recurrent-wasm/recurrent_core_bg.wasm'`). */
  module?: WebAssembly.Module;
  /** The bytes of one of the package's `.wasm` files. */
  bytes?: ArrayBuffer | ArrayBufferView;
  /** Where to fetch one of the package's `.wasm` files from. */
  url?: string | URL;
  /** Which build to load when the package finds the file itself (default `'auto'`). */
  simd?: SimdChoice;
  /**
   * Threads for the large matrix products (default 1): a number, or `'auto'`
   * for every logical CPU (up to 8). Above 1 the threaded build is loaded and helper
   * Workers share its memory; results are bit-identical to one thread. Where
   * the runtime cannot (no SharedArrayBuffer — browsers need COOP/COEP
   * headers — or no Worker, as in Cloudflare Workers) the core runs on one
   * thread and `RuntimeInfo.threadsNote` says why.
   */
  threads?: number | 'auto';
}

export interface RuntimeInfo {
  /** SIMD flavour of the loaded module. */
  simd: 'simd128' | 'relaxed';
  /** Where the module came from. */
  source: 'module' | 'bytes' | 'url' | 'file';
  /** Threads the core uses (1 = the calling thread only). */
  threads: number;
  /** Why fewer threads than asked for are in use, when that is the case. */
  threadsNote?: string;
}

export type Core = typeof glue;

interface Loaded {
  core: Core;
  heap: Heap;
  info: RuntimeInfo;
}

let loaded: Loaded | null = null;
let pending: Promise<RuntimeInfo> | null = null;

const WASM_FILES = { simd128: 'recurrent_core_bg.wasm', relaxed: 'recurrent_core_relaxed_bg.wasm' } as const;
const THREADED_FILES = { simd128: 'recurrent_core_mt_bg.wasm', relaxed: 'recurrent_core_mt_relaxed_bg.wasm' } as const;
const OPTION_KEYS = new Set(['module', 'bytes', 'url', 'simd', 'threads']);

function checkOptions(opts: unknown): InitOptions {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new InitError(`init() takes an options object { module | bytes | url, simd? }; got ${describe(opts)}`);
  }
  const o = opts as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!OPTION_KEYS.has(k)) throw new InitError(`init(): unknown option "${k}" (expected module, bytes, url, simd or threads)`);
  }
  const given = ['module', 'bytes', 'url'].filter((k) => o[k] !== undefined);
  if (given.length > 1) throw new InitError(`init(): pass only one of module, bytes, url; got ${given.join(' and ')}`);
  if (o.module !== undefined && !(o.module instanceof WebAssembly.Module)) {
    throw new InitError(`init(): "module" must be a WebAssembly.Module; got ${describe(o.module)}`);
  }
  if (o.bytes !== undefined && !(o.bytes instanceof ArrayBuffer || ArrayBuffer.isView(o.bytes))) {
    throw new InitError(`init(): "bytes" must be an ArrayBuffer or typed array; got ${describe(o.bytes)}`);
  }
  if (o.url !== undefined && !(typeof o.url === 'string' || o.url instanceof URL)) {
    throw new InitError(`init(): "url" must be a string or URL; got ${describe(o.url)}`);
  }
  if (o.simd !== undefined && !['auto', 'relaxed', 'simd128'].includes(o.simd as string)) {
    throw new InitError(`init(): "simd" must be 'auto', 'relaxed' or 'simd128'; got ${describe(o.simd)}`);
  }
  const t = o.threads;
  if (t !== undefined && t !== 'auto' && !(Number.isInteger(t) && (t as number) >= 1 && (t as number) <= 256)) {
    throw new InitError(`init(): "threads" must be an integer from 1 to 256 or 'auto'; got ${describe(t)}`);
  }
  return o as InitOptions;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object of type ${(v as object).constructor?.name ?? 'Object'}`;
  return `${typeof v} ${String(v).slice(0, 40)}`;
}

function pickBuild(choice: SimdChoice): 'simd128' | 'relaxed' {
  if (!hasSimd128()) {
    throw new InitError(
      'this JavaScript engine does not support WebAssembly SIMD (simd128), which recurrent-wasm requires ' +
        '(Node ≥ 16.4, Chrome/Edge ≥ 91, Firefox ≥ 89, Safari ≥ 16.4, Deno, Bun, Cloudflare Workers)',
    );
  }
  const relaxed = hasRelaxedSimd();
  if (choice === 'relaxed' && !relaxed) {
    throw new InitError('init({ simd: "relaxed" }): this engine does not validate relaxed SIMD');
  }
  if (choice === 'simd128') return 'simd128';
  return relaxed ? 'relaxed' : 'simd128';
}

/** Node, Deno and Bun expose `process.versions.node` and can read files. */
function nodeLike(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

async function readPackageFile(name: string): Promise<Uint8Array> {
  type Fs = { readFile(p: string | URL): Promise<Uint8Array> };
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  // getBuiltinModule (Node ≥ 20.16, Deno, Bun) keeps `node:` specifiers out of
  // browser bundles; older Node falls back to a dynamic import bundlers ignore.
  const fs =
    ((proc?.getBuiltinModule?.('node:fs') as { promises: Fs } | undefined)?.promises as Fs | undefined) ??
    ((await import(/* @vite-ignore */ ['node', 'fs/promises'].join(':'))) as Fs);
  // dist/index.js sits beside the .wasm; sources (ts/runtime/init.ts) find it in ts/wasm.
  const candidates = [new URL(`./${name}`, import.meta.url), new URL(`../wasm/${name}`, import.meta.url)];
  let last: unknown;
  for (const u of candidates) {
    try {
      return await fs.readFile(u);
    } catch (e) {
      last = e;
    }
  }
  throw new InitError(`could not read ${name} next to the package (${candidates.map(String).join(', ')}): ${String(last)}`);
}

/** A compiled module from a module (or its compilation) or a fetch. */
async function compileResponse(input: WebAssembly.Module | Promise<WebAssembly.Module> | Promise<Response>): Promise<WebAssembly.Module> {
  const r = await input;
  if (r instanceof WebAssembly.Module) return r;
  if (!r.ok) throw new Error(`failed to fetch ${r.url}: ${r.status} ${r.statusText}`);
  return WebAssembly.compile(await r.arrayBuffer());
}

async function load(opts: InitOptions): Promise<RuntimeInfo> {
  let source: RuntimeInfo['source'];
  let input: WebAssembly.Module | Promise<WebAssembly.Module> | Promise<Response> | undefined;
  let exports: { memory: WebAssembly.Memory };
  const wanted = opts.threads === 'auto' ? autoThreads() : (opts.threads ?? 1);
  let threadsNote = wanted > 1 ? threadSupport() : null;
  let mt = false;
  try {
    if (opts.module) {
      source = 'module';
      input = opts.module;
    } else if (opts.bytes) {
      source = 'bytes';
      const b = opts.bytes;
      input = await WebAssembly.compile(
        (b instanceof ArrayBuffer ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)) as BufferSource,
      );
    } else if (opts.url) {
      source = 'url';
      input = fetch(opts.url);
    } else {
      const build = pickBuild(opts.simd ?? 'auto');
      // the threaded variant first when threads are wanted; the plain one if it cannot be had
      const names: string[] = wanted > 1 && !threadsNote ? [THREADED_FILES[build], WASM_FILES[build]] : [WASM_FILES[build]];
      const node = nodeLike();
      source = node ? 'file' : 'url';
      for (const [n, name] of names.entries()) {
        try {
          input = await compileResponse(
            node ? WebAssembly.compile((await readPackageFile(name)) as BufferSource) : fetch(new URL(`./${name}`, import.meta.url)),
          );
          break;
        } catch (e) {
          if (n === names.length - 1) throw e;
          threadsNote = `the threaded build could not be loaded (${(e as Error)?.message ?? String(e)})`;
        }
      }
    }
    // Always instantiated synchronously from a compiled module (165 KB: far
    // below the engines' 8 MB main-thread limit), never through the glue's
    // async path: that tests `instanceof Response`, and in Node 20 touching
    // `Response` loads undici, 17 ms of every cold start.
    input = await compileResponse(input!);
    // The threaded build is the one that imports its memory.
    mt = WebAssembly.Module.imports(input).some((i) => i.kind === 'memory');
    if (mt && typeof SharedArrayBuffer !== 'function') {
      throw new InitError(`the threaded build needs SharedArrayBuffer: ${threadSupport()}`);
    }
    exports = (mt ? mtGlue.initSync({ module: input }) : glue.initSync({ module: input })) as unknown as {
      memory: WebAssembly.Memory;
    };
  } catch (e) {
    if (e instanceof InitError) throw e;
    throw new InitError(`could not load the recurrent-wasm WebAssembly core: ${(e as Error)?.message ?? String(e)}`);
  }
  const core: Core = mt ? (mtGlue as unknown as Core) : glue;
  const level = core.simd_level();
  if (level === 0) throw new InitError('the loaded module was built without SIMD; load one of the package builds');
  let threads = 1;
  if (mt && wanted > 1 && !threadsNote) {
    try {
      await startHelpers(input, exports.memory, wanted - 1);
      // each helper posts "ready" just before entering the core's loop
      for (let i = 0; i < 1000 && core.pool_ready() < wanted - 1; i++) await new Promise((r) => setTimeout(r, 1));
      threads = core.pool_set_threads(wanted);
      if (threads < wanted) threadsNote = `only ${threads - 1} of ${wanted - 1} helper threads started`;
    } catch (e) {
      threadsNote = `helper threads could not start: ${(e as Error)?.message ?? String(e)}`;
    }
  }
  const info: RuntimeInfo = { simd: level === 2 ? 'relaxed' : 'simd128', source, threads };
  if (threadsNote && wanted > 1) info.threadsNote = threadsNote;
  loaded = { core, heap: new Heap(core, exports.memory), info };
  return info;
}

/**
 * Use `n` of the threads `init({ threads })` started (1 … `RuntimeInfo.threads`
 * at init); returns the number now in use. Lets one process compare thread
 * counts; results do not depend on it.
 */
export function setThreads(n: number): number {
  const l = runtime();
  if (!Number.isInteger(n) || n < 1) throw new InitError(`setThreads(): expected an integer ≥ 1; got ${describe(n)}`);
  return l.core.pool_set_threads(n);
}

/**
 * Load and instantiate the WebAssembly core. Call once before anything else;
 * later calls return the first call's result.
 */
export async function init(options?: InitOptions): Promise<RuntimeInfo> {
  const opts = checkOptions(options);
  if (loaded) return loaded.info;
  if (!pending) {
    pending = load(opts).catch((e) => {
      pending = null;
      throw e;
    });
  }
  return pending;
}

/** The loaded core, or a clear error if `init()` has not finished. */
export function runtime(): Loaded {
  if (!loaded) {
    throw new InitError('recurrent-wasm is not initialised: call `await init()` first');
  }
  return loaded;
}

/** Whether `init()` has completed. */
export function isInitialized(): boolean {
  return loaded !== null;
}
