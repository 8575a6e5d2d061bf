/**
 * The script a `ModelWorker` runs: `dist/worker.js` (package export
 * `recurrent-wasm/worker`). In a browser, start it as a module worker; in Node,
 * as a `worker_threads.Worker` on its file path.
 */
import { serveModelWorker } from './worker/serve.js';

type NodeParent = { on(t: 'message', f: (m: unknown) => void): void; postMessage(m: unknown, t?: unknown[]): void };

const g = globalThis as unknown as {
  postMessage?: (m: unknown, t?: Transferable[]) => void;
  addEventListener?: (t: string, f: (e: { data: unknown }) => void) => void;
  process?: { getBuiltinModule?: (id: string) => unknown };
};
const wt = g.process?.getBuiltinModule?.('node:worker_threads') as { parentPort: NodeParent | null } | undefined;
if (wt?.parentPort) {
  const parent = wt.parentPort;
  serveModelWorker({ post: (m, t) => parent.postMessage(m, t), listen: (f) => parent.on('message', f) });
} else if (typeof g.postMessage === 'function' && g.addEventListener) {
  serveModelWorker({ post: (m, t) => g.postMessage!(m, t), listen: (f) => g.addEventListener!('message', (e) => f(e.data)) });
}
