/**
 * Helper threads for the threaded core (`init({ threads })`).
 *
 * The threaded build imports a shared `WebAssembly.Memory`. Each helper is a
 * Worker that instantiates the same module on that memory and then stays
 * inside the core's `pool_worker_loop`, where the calling thread hands it
 * shares of each large matrix product (crate/src/pool.rs). The helpers need
 * no JavaScript glue: the module's only imports are its memory and the
 * externref-table initialiser, which the worker source below provides, so the
 * same few lines run as a Node `worker_threads` eval worker and as a browser,
 * Deno or Bun worker from a Blob URL — no extra file to ship or locate.
 *
 * Requirements, checked by {@link threadSupport}: `SharedArrayBuffer`, a
 * cross-origin-isolated page in browsers (COOP `same-origin` + COEP
 * `require-corp`), and a Worker constructor (absent in Cloudflare Workers).
 */

/** The helper's whole program; `port` is Node's parentPort or the worker global. */
const HELPER_BODY = `
const on = (f) => (port.on ? port.on('message', f) : port.addEventListener('message', (e) => f(e.data)));
on(({ module, memory }) => {
  try {
    let inst;
    const imports = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      const ns = (imports[imp.module] ??= {});
      if (imp.kind === 'memory') ns[imp.name] = memory;
      else if (imp.name === '__wbindgen_init_externref_table')
        ns[imp.name] = () => {
          const t = inst.exports.__wbindgen_externrefs;
          const o = t.grow(4);
          t.set(0, undefined); t.set(o, undefined); t.set(o + 1, null); t.set(o + 2, true); t.set(o + 3, false);
        };
      else throw new Error('unexpected import ' + imp.module + '.' + imp.name);
    }
    inst = new WebAssembly.Instance(module, imports);
    inst.exports.__wbindgen_start();
    port.postMessage({ ready: true });
    inst.exports.pool_worker_loop();
    port.postMessage({ stopped: true });
  } catch (e) {
    port.postMessage({ error: String(e && e.message || e) });
  }
});`;

// getBuiltinModule, not require: an eval worker is an ES module when the
// parent runs with --input-type=module (its execArgv is inherited)
const NODE_SOURCE = `const port = process.getBuiltinModule('node:worker_threads').parentPort;${HELPER_BODY}`;
const WEB_SOURCE = `const port = self;${HELPER_BODY}`;

interface HelperWorker {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

type NodeWorkerCtor = new (
  src: string,
  opts: { eval: true },
) => HelperWorker & {
  on(t: 'message' | 'error', f: (m: unknown) => void): void;
  unref(): void;
};

type WebWorkerCtor = new (
  url: string | URL,
  opts: { type: 'module' },
) => HelperWorker & {
  addEventListener(t: 'message' | 'error', f: (e: { data?: unknown; message?: string }) => void): void;
};

function nodeWorkerCtor(): NodeWorkerCtor | null {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.versions?.node !== 'string' || typeof proc.getBuiltinModule !== 'function') return null;
  const wt = proc.getBuiltinModule('node:worker_threads') as { Worker?: NodeWorkerCtor } | undefined;
  return wt?.Worker ?? null;
}

/**
 * `threads: 'auto'`: this machine's logical CPUs, at most 8 (an RNN's
 * products split into more parts than that get too thin to pay for the
 * fork; each helper also holds its own stack and packing buffers).
 */
export function autoThreads(): number {
  return Math.min(8, hardwareThreads());
}

/** Threads this machine offers (logical CPUs), at least 1. */
function hardwareThreads(): number {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; process?: { getBuiltinModule?: (id: string) => unknown } };
  const os = g.process?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number; cpus?: () => unknown[] } | undefined;
  const n = os?.availableParallelism?.() ?? os?.cpus?.().length ?? g.navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.floor(n));
}

/** Why this runtime cannot run helper threads, or null when it can. */
export function threadSupport(): string | null {
  const g = globalThis as { SharedArrayBuffer?: unknown; crossOriginIsolated?: boolean; Worker?: unknown; Blob?: unknown };
  const noSab = typeof g.SharedArrayBuffer !== 'function';
  if (g.crossOriginIsolated === false) {
    return `the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)${noSab ? ', so SharedArrayBuffer is unavailable' : ''}`;
  }
  if (noSab) return 'this runtime has no SharedArrayBuffer';
  if (nodeWorkerCtor()) return null;
  if (typeof g.Worker !== 'function' || typeof g.Blob !== 'function') return 'this runtime cannot start Workers';
  return null;
}

/**
 * Start `count` helpers on `module` + `memory` and resolve once each has
 * instantiated the module (it then enters the core's loop, for the life of
 * the page or process); rejects with the first helper's error, after
 * terminating them all.
 */
export async function startHelpers(module: WebAssembly.Module, memory: WebAssembly.Memory, count: number): Promise<void> {
  const workers: HelperWorker[] = [];
  const started: Promise<void>[] = [];
  const NodeWorker = nodeWorkerCtor();
  let url: string | null = null;
  for (let i = 0; i < count; i++) {
    let ready!: () => void;
    let fail!: (e: Error) => void;
    started.push(
      new Promise<void>((res, rej) => {
        ready = res;
        fail = rej;
      }),
    );
    const onMessage = (m: unknown) => {
      const msg = m as { ready?: boolean; error?: string };
      if (msg.ready) ready();
      else if (msg.error) fail(new Error(msg.error));
    };
    if (NodeWorker) {
      const w = new NodeWorker(NODE_SOURCE, { eval: true });
      w.on('message', (m) => {
        // once started, a helper waiting for work must not keep the process alive
        if ((m as { ready?: boolean }).ready) w.unref();
        onMessage(m);
      });
      w.on('error', (e) => fail(e as Error));
      workers.push(w);
    } else {
      url ??= URL.createObjectURL(new Blob([WEB_SOURCE], { type: 'text/javascript' }));
      const W = (globalThis as unknown as { Worker: WebWorkerCtor }).Worker;
      // module workers: the only kind Deno has; the source has no imports, so
      // it means the same either way
      const w = new W(url, { type: 'module' });
      w.addEventListener('message', (e) => onMessage(e.data));
      w.addEventListener('error', (e) => fail(new Error(e.message ?? 'helper worker failed to start')));
      workers.push(w);
    }
    workers[i]!.postMessage({ module, memory });
  }
  try {
    await Promise.all(started);
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  } finally {
    if (url) URL.revokeObjectURL(url);
  }
}
