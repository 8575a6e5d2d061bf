// Entry for Node, Deno and Bun: node run-cli.mjs <dist dir URL> <model path> [simd]
import { readFileSync } from 'node:fs';
import { scenario } from './scenario.mjs';

const [distUrl, modelPath, simd] = process.argv.slice(2);
const lib = await import(new URL('index.js', distUrl).href);
const bytes = new Uint8Array(readFileSync(modelPath));
const r = await scenario(lib, bytes, simd ? { simd } : undefined);
console.log(JSON.stringify({ runtime: typeof Deno !== 'undefined' ? 'deno' : typeof Bun !== 'undefined' ? 'bun' : 'node', ...r }));
