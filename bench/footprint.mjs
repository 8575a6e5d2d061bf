// Footprint: bytes of what a runtime downloads (raw and gzip) and cold start in
// Node (import + init + load a 1.3 MB model + first step), in fresh processes.
// `node bench/footprint.mjs [--json]`; used by test/footprint.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bootEnv } from './util.mjs';

const dist = new URL('../dist/', import.meta.url);

export function sizes() {
  const out = {};
  for (const f of [
    'recurrent_core_bg.wasm',
    'recurrent_core_relaxed_bg.wasm',
    'recurrent_core_mt_bg.wasm',
    'recurrent_core_mt_relaxed_bg.wasm',
    'index.js',
    'index.cjs',
    'workerd.js',
    'worker.js',
  ]) {
    let b;
    try {
      b = readFileSync(new URL(f, dist));
    } catch {
      continue; // the threaded builds are absent without their toolchain
    }
    out[f] = { raw: b.byteLength, gzip: gzipSync(b, { level: 9 }).byteLength };
  }
  return out;
}

/** Median cold start over `runs` fresh Node processes (ms). */
export async function coldStart(runs = 7) {
  const dir = mkdtempSync(join(tmpdir(), 'rw-cold-'));
  const lib = await import(new URL('index.js', dist).href);
  await lib.init();
  const m = new lib.Sequential([lib.layers.lstm({ units: 256, inputShape: [null, 64] }), lib.layers.dense({ units: 8 })], { seed: 1 });
  const modelPath = join(dir, 'model.safetensors');
  const bytes = m.save();
  writeFileSync(modelPath, bytes);
  const script = join(dir, 'cold.mjs');
  writeFileSync(
    script,
    `const t0 = performance.now();
const lib = await import(${JSON.stringify(new URL('index.js', dist).href)});
await lib.init();
const { readFileSync } = process.getBuiltinModule?.('node:fs') ?? (await import('node:fs'));
const model = lib.loadModel(new Uint8Array(readFileSync(${JSON.stringify(modelPath)})));
const s = model.session();
s.step(new Float32Array(64).fill(0.5));
const t1 = performance.now();
console.log(JSON.stringify({ sinceProcessStart: t1, sinceScriptStart: t1 - t0 }));`,
  );
  // without NODE_EXTRA_CA_CERTS (bootEnv) and taking fs through
  // getBuiltinModule (a static import builds fs's ES-module facade, which
  // loads the streams stack: ~10 ms): both are Node's cost, not the library's
  // (see bench/run.mjs)
  const env = bootEnv();
  const res = [];
  for (let i = 0; i < runs; i++) res.push(JSON.parse(execFileSync(process.execPath, [script], { encoding: 'utf8', env })));
  const med = (k) => res.map((r) => r[k]).sort((a, b) => a - b)[runs >> 1];
  return { modelBytes: bytes.byteLength, sinceProcessStart: med('sinceProcessStart'), sinceScriptStart: med('sinceScriptStart'), runs };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const s = sizes();
  const c = await coldStart();
  if (process.argv.includes('--json')) console.log(JSON.stringify({ sizes: s, coldStart: c }, null, 1));
  else {
    console.log('file                              raw bytes   gzip bytes');
    for (const [f, v] of Object.entries(s)) console.log(`${f.padEnd(34)}${String(v.raw).padStart(9)}   ${String(v.gzip).padStart(9)}`);
    console.log(
      `\ncold start (Node ${process.versions.node}, median of ${c.runs} fresh processes; model ${(c.modelBytes / 1e6).toFixed(2)} MB):`,
    );
    console.log(`  import + init + loadModel + first step: ${c.sinceScriptStart.toFixed(1)} ms`);
    console.log(`  from process start (Node boot included): ${c.sinceProcessStart.toFixed(1)} ms`);
  }
}
