/**
 * One attention call on the core (`crate/src/attention.rs`): the layers fill
 * the call's named words (geometry, flags, regions) and this writes them to
 * wasm memory and runs the kernel — forward, or backward with the gradients'
 * words.
 */
import { ATTN_FIELDS, ATTN_GRADS_FIELDS } from '../runtime/contract.js';
import type { WasmArray } from '../runtime/memory.js';
import { runtime } from '../runtime/init.js';
import { f32Bits } from '../runtime/program.js';
import { checkStatus } from '../runtime/status.js';

export type AttnWords = Record<(typeof ATTN_FIELDS)[number], number>;
export type AttnGradWords = Record<(typeof ATTN_GRADS_FIELDS)[number], number>;

/** The words of a call with every region absent and the fixed factor 1 (fields a caller sets replace these). */
export function attnWords(w: Partial<AttnWords>): AttnWords {
  const out = Object.fromEntries(ATTN_FIELDS.map((f) => [f, 0])) as AttnWords;
  out.factor = f32Bits(1);
  return Object.assign(out, w);
}

/** Gradient words with every region absent. */
export function attnGradWords(w: Partial<AttnGradWords>): AttnGradWords {
  return Object.assign(Object.fromEntries(ATTN_GRADS_FIELDS.map((f) => [f, 0])) as AttnGradWords, w);
}

/** Write `words` (in the contract's field order) into `region` (i32 words). */
function store(region: WasmArray, fields: readonly string[], words: Record<string, number>): WasmArray {
  return region.set(fields.map((f) => words[f] >>> 0) as number[]);
}

/** Run the forward for `words`, kept in `region` (the backward reuses them). */
export function attentionForward(what: string, region: WasmArray, words: AttnWords): void {
  store(region, ATTN_FIELDS, words);
  checkStatus(`${what} forward`, runtime().core.attention_forward(region.ptr));
}

/** Run the backward of the forward whose words are in `region`. */
export function attentionBackward(what: string, region: WasmArray, gradRegion: WasmArray, grads: AttnGradWords): void {
  store(gradRegion, ATTN_GRADS_FIELDS, grads);
  checkStatus(`${what} backward`, runtime().core.attention_backward(region.ptr, gradRegion.ptr));
}

export { ATTN_FIELDS, ATTN_GRADS_FIELDS };
