// A static file server on 127.0.0.1 for the browser tests: `resolve` maps a
// URL path to a file (or null: 403); unknown files answer 404; `headers` adds
// response headers by path (COOP/COEP for the cross-origin-isolated pages).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.html': 'text/html',
  '.css': 'text/css',
  '.txt': 'text/plain',
};

export interface StaticServer {
  /** e.g. `http://127.0.0.1:40123` (no trailing slash) */
  base: string;
  close(): Promise<void>;
}

export async function serveStatic(
  resolve: (path: string) => string | null,
  headers: (path: string) => Record<string, string> = () => ({}),
): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = resolve(path);
    if (file === null) return void res.writeHead(403).end();
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', ...headers(path) });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
