/**
 * Tokenizers for text models: characters, or words from a vocabulary list.
 * Id 0 is reserved for padding (so `embedding({ maskZero: true })` works), and
 * id 1 for unknown tokens; real tokens start at 2.
 */
import { ValueError } from '../errors.js';

export interface Tokenizer {
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  /** The text of one token id ('' for padding). */
  token(id: number): string;
  toJSON(): { kind: string; tokens: string[] };
}

export const PAD = 0;
export const UNK = 1;

/** One token per Unicode code point, vocabulary from a text (sorted, stable). */
export class CharTokenizer implements Tokenizer {
  private readonly ids: Map<string, number>;
  readonly tokens: string[];

  constructor(tokens: string[]) {
    const seen = new Set<string>();
    for (const t of tokens) {
      if ([...t].length !== 1) throw new ValueError(`CharTokenizer: token ${JSON.stringify(t)} is not one character`);
      if (seen.has(t)) throw new ValueError(`CharTokenizer: duplicate token ${JSON.stringify(t)}`);
      seen.add(t);
    }
    this.tokens = ['', '\u{FFFD}', ...tokens];
    this.ids = new Map(tokens.map((t, i) => [t, i + 2]));
  }

  /** The characters of `text`, sorted by code point. */
  static fromText(text: string): CharTokenizer {
    return new CharTokenizer([...new Set(text)].sort());
  }

  static fromJSON(j: { kind: string; tokens: string[] }): CharTokenizer {
    if (j?.kind !== 'char' || !Array.isArray(j.tokens)) throw new ValueError('CharTokenizer.fromJSON: not a char tokenizer');
    return new CharTokenizer(j.tokens.slice(2));
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  encode(text: string): Int32Array {
    const chars = [...text];
    const out = new Int32Array(chars.length);
    for (let i = 0; i < chars.length; i++) out[i] = this.ids.get(chars[i]) ?? UNK;
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.token(ids[i]);
    return s;
  }

  token(id: number): string {
    if (!(id >= 0 && id < this.tokens.length)) throw new ValueError(`CharTokenizer: id ${id} outside [0, ${this.tokens.length})`);
    return this.tokens[id];
  }

  toJSON(): { kind: string; tokens: string[] } {
    return { kind: 'char', tokens: this.tokens };
  }
}

/** Words (split on whitespace, punctuation kept as its own token) from a vocabulary list. */
export class WordTokenizer implements Tokenizer {
  private readonly ids: Map<string, number>;
  readonly tokens: string[];
  readonly lowercase: boolean;

  constructor(vocabulary: string[], opts: { lowercase?: boolean } = {}) {
    this.lowercase = opts.lowercase ?? true;
    const words = vocabulary.map((w) => (this.lowercase ? w.toLowerCase() : w));
    if (new Set(words).size !== words.length) throw new ValueError('WordTokenizer: the vocabulary has duplicates');
    this.tokens = ['', '<unk>', ...words];
    this.ids = new Map(words.map((w, i) => [w, i + 2]));
  }

  /** Split text into word and punctuation tokens. */
  static split(text: string): string[] {
    return text.match(/[\p{L}\p{N}']+|[^\s\p{L}\p{N}]/gu) ?? [];
  }

  /** The `maxWords` most frequent words of a text (ties by first appearance). */
  static fromText(text: string, maxWords = 10000, opts: { lowercase?: boolean } = {}): WordTokenizer {
    const lc = opts.lowercase ?? true;
    const counts = new Map<string, number>();
    for (const w of WordTokenizer.split(lc ? text.toLowerCase() : text)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const words = [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, maxWords)
      .map(([w]) => w);
    return new WordTokenizer(words, opts);
  }

  static fromJSON(j: { kind: string; tokens: string[]; lowercase?: boolean }): WordTokenizer {
    if (j?.kind !== 'word' || !Array.isArray(j.tokens)) throw new ValueError('WordTokenizer.fromJSON: not a word tokenizer');
    return new WordTokenizer(j.tokens.slice(2), { lowercase: j.lowercase });
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  encode(text: string): Int32Array {
    const words = WordTokenizer.split(this.lowercase ? text.toLowerCase() : text);
    return Int32Array.from(words, (w) => this.ids.get(w) ?? UNK);
  }

  decode(ids: ArrayLike<number>): string {
    const parts: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const t = this.token(ids[i]);
      if (t === '') continue;
      if (parts.length > 0 && !/^[^\p{L}\p{N}]$/u.test(t)) parts.push(' ');
      parts.push(t);
    }
    return parts.join('');
  }

  token(id: number): string {
    if (!(id >= 0 && id < this.tokens.length)) throw new ValueError(`WordTokenizer: id ${id} outside [0, ${this.tokens.length})`);
    return this.tokens[id];
  }

  toJSON(): { kind: string; tokens: string[]; lowercase: boolean } {
    return { kind: 'word', tokens: this.tokens, lowercase: this.lowercase };
  }
}
