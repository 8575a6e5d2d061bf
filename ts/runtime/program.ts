/**
 * Stream programs as the core reads them (`crate/src/program.rs`): records
 * of `RECORD_WORDS` u32 words, the op code first, then the fields the
 * generated contract lists for that op, in order. Records are written by
 * field name — a missing or unknown field is an error here, never a
 * misplaced word in the core.
 */
import { ValueError } from '../errors.js';
import { Op, RECORD_FIELDS, RECORD_WORDS } from './contract.js';

export type RecordKind = keyof typeof RECORD_FIELDS;

/**
 * A scratch buffer that several records share (they run one after another),
 * allocated once the program is complete, at the largest size asked for.
 */
export interface SharedScratch {
  readonly key: string;
}

/** The fields of a record of kind `K`: a number (pointer, size or code) each, or a shared scratch. */
export type RecordFields<K extends RecordKind> = { readonly [F in (typeof RECORD_FIELDS)[K][number]]: number | SharedScratch };

/** The bits of an f32 as a u32 word (fields that carry a float, e.g. layer norm's ε). */
export function f32Bits(v: number): number {
  return new Uint32Array(new Float32Array([v]).buffer)[0];
}

/** Collects records; `encode` allocates the shared scratches and writes the words. */
export class ProgramBuilder {
  private readonly records: { kind: RecordKind; fields: Readonly<Record<string, number | SharedScratch>> }[] = [];
  private readonly scratch = new Map<string, { ref: SharedScratch; bytes: number }>();

  get length(): number {
    return this.records.length;
  }

  add<K extends RecordKind>(kind: K, fields: RecordFields<K>): void {
    const names: readonly string[] = RECORD_FIELDS[kind];
    for (const k of Object.keys(fields)) if (!names.includes(k)) throw new ValueError(`internal: ${kind} records have no field "${k}"`);
    for (const k of names) {
      const v = (fields as Record<string, number | SharedScratch>)[k];
      if (typeof v === 'number' ? !(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff) : !this.scratch.has(v?.key)) {
        throw new ValueError(`internal: ${kind}.${k} is ${String(v)}`);
      }
    }
    this.records.push({ kind, fields });
  }

  /** The shared scratch `key`, at least `bytes` long. */
  shared(key: string, bytes: number): SharedScratch {
    const have = this.scratch.get(key);
    if (have) {
      have.bytes = Math.max(have.bytes, bytes);
      return have.ref;
    }
    const ref = { key };
    this.scratch.set(key, { ref, bytes });
    return ref;
  }

  /** The program's words, with each shared scratch allocated by `alloc(bytes)` (returning its pointer). */
  encode(alloc: (bytes: number) => number): Uint32Array {
    const ptrs = new Map<string, number>();
    for (const [key, s] of this.scratch) ptrs.set(key, alloc(s.bytes));
    const words = new Uint32Array(this.records.length * RECORD_WORDS);
    this.records.forEach((r, k) => {
      const at = k * RECORD_WORDS;
      words[at] = Op[r.kind];
      RECORD_FIELDS[r.kind].forEach((name, i) => {
        const v = r.fields[name];
        words[at + 1 + i] = typeof v === 'number' ? v : ptrs.get(v.key)!;
      });
    });
    return words;
  }
}
