/**
 * Feature probes: tiny modules that validate only where the engine supports
 * the instructions they use.
 */

// (module (func (result v128) (f32x4.add (v128.const 0) (v128.const 0))))
const SIMD128_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b,
  0x03,
  0x02,
  0x01,
  0x00,
  0x0a,
  0x2b,
  0x01,
  0x29,
  0x00,
  0xfd,
  0x0c,
  ...new Array(16).fill(0),
  0xfd,
  0x0c,
  ...new Array(16).fill(0),
  0xfd,
  0xe4,
  0x01,
  0x0b,
]);

// (module (func (result v128)
//   (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0))))
const RELAXED_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b,
  0x03,
  0x02,
  0x01,
  0x00,
  0x0a,
  0x3d,
  0x01,
  0x3b,
  0x00,
  0xfd,
  0x0c,
  ...new Array(16).fill(0),
  0xfd,
  0x0c,
  ...new Array(16).fill(0),
  0xfd,
  0x0c,
  ...new Array(16).fill(0),
  0xfd,
  0x85,
  0x02,
  0x0b,
]);

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** The engine accepts WebAssembly fixed-width SIMD (simd128). */
export function hasSimd128(): boolean {
  return validates(SIMD128_PROBE);
}

/** The engine accepts relaxed SIMD (`f32x4.relaxed_madd`, a fused multiply-add). */
export function hasRelaxedSimd(): boolean {
  return validates(RELAXED_PROBE);
}
