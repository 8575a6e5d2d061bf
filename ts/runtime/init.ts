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
 * picked by default where `WebAssembly.validate` accepts relaxed SIMD.
 * A second call is a no-op that returns the same info.
 */
import initGlue, * as glue from '../wasm/recurrent_core.js';
import { InitError } from '../errors.js';
import { hasRelaxedSimd, hasSimd128 } from './features.js';
import { Heap } from './memory.js';

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
}

export interface RuntimeInfo {
  /** SIMD flavour of the loaded module. */
  simd: 'simd128' | 'relaxed';
  /** Where the module came from. */
  source: 'module' | 'bytes' | 'url' | 'file';
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
const OPTION_KEYS = new Set(['module', 'bytes', 'url', 'simd']);

function checkOptions(opts: unknown): InitOptions {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new InitError(`init() takes an options object { module | bytes | url, simd? }; got ${describe(opts)}`);
  }
  const o = opts as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!OPTION_KEYS.has(k)) throw new InitError(`init(): unknown option "${k}" (expected module, bytes, url or simd)`);
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

async function load(opts: InitOptions): Promise<RuntimeInfo> {
  let source: RuntimeInfo['source'];
  let input: WebAssembly.Module | Promise<Response>;
  let exports: { memory: WebAssembly.Memory };
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
      const name = WASM_FILES[build];
      if (nodeLike()) {
        source = 'file';
        input = await WebAssembly.compile((await readPackageFile(name)) as BufferSource);
      } else {
        source = 'url';
        input = fetch(new URL(`./${name}`, import.meta.url));
      }
    }
    // A compiled module is instantiated synchronously (141 KB: far below the
    // engines' 8 MB main-thread limit): the glue's async path tests
    // `instanceof Response`, and in Node 20 touching `Response` loads undici,
    // 17 ms of every cold start.
    exports = (
      input instanceof WebAssembly.Module ? glue.initSync({ module: input }) : await initGlue({ module_or_path: input })
    ) as unknown as { memory: WebAssembly.Memory };
  } catch (e) {
    if (e instanceof InitError) throw e;
    throw new InitError(`could not load the recurrent-wasm WebAssembly core: ${(e as Error)?.message ?? String(e)}`);
  }
  const level = glue.simd_level();
  if (level === 0) throw new InitError('the loaded module was built without SIMD; load one of the package builds');
  const info: RuntimeInfo = { simd: level === 2 ? 'relaxed' : 'simd128', source };
  loaded = { core: glue, heap: new Heap(glue, exports.memory), info };
  return info;
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

