// Post-processes protobuf-es output so that nothing runs at import time: each
// `export const X: T = /*@__PURE__*/ desc(file_onnx, …);` becomes a memoised
// getter `X()`. Booting the ONNX descriptors eagerly cost ~12 ms (plus GC) of
// every cold start, for users who never touch ONNX.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2] ?? 'ts/io/onnx/gen/onnx_pb.ts';
let src = readFileSync(file, 'utf8');
let n = 0;
src = src.replace(/export const (\w+): (Gen\w+(?:<[^=]*>)?) = \/\*@__PURE__\*\/\n\s*(\w+)\(([^;]*)\);/g, (_, name, type, fn, args) => {
  n++;
  const a = args.replace(/\bfile_onnx\b/, 'file_onnx()');
  return `let ${name}_: ${type} | undefined;\nexport const ${name} = (): ${type} => (${name}_ ??= ${fn}(${a}));`;
});
if (n === 0) throw new Error(`${file}: no descriptors found (already lazy, or the generator's output changed)`);
src = src.replace(/^\/\/ @generated/m, '// @generated (then made lazy by scripts/lazy-proto.mjs)');
writeFileSync(file, src);
console.log(`${file}: ${n} descriptors made lazy`);
