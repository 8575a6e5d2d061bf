// Entry for Node, Deno and Bun: node threads-cli.mjs <dist dir URL> <init options JSON> [counts…]
// Prints the init info and the thread scenario's runs as one JSON line.
// With `"noSharedArrayBuffer": true` among the options the runtime is made to
// look like a page without cross-origin isolation first.
import { threadScenario } from './threads-scenario.mjs';

const [distUrl, optsJson, ...counts] = process.argv.slice(2);
const { noSharedArrayBuffer, ...opts } = JSON.parse(optsJson);
if (noSharedArrayBuffer) delete globalThis.SharedArrayBuffer;
const lib = await import(new URL('index.js', distUrl).href);
const info = await lib.init(opts);
const runs = await threadScenario(lib, counts.length ? counts.map(Number) : [1]);
console.log(JSON.stringify({ runtime: typeof Deno !== 'undefined' ? 'deno' : typeof Bun !== 'undefined' ? 'bun' : 'node', info, runs }));
