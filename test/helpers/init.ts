/** Initialise the core with the build the vitest project asks for (simd128 or relaxed). */
import { init, type RuntimeInfo } from '../../ts/index.js';

export async function initForTests(): Promise<RuntimeInfo> {
  const want = process.env.RECURRENT_WASM_SIMD === 'relaxed' ? 'relaxed' : 'simd128';
  const info = await init({ simd: want });
  if (info.simd !== want) throw new Error(`tests asked for the ${want} build but ${info.simd} is loaded`);
  return info;
}
