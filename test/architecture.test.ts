// The shape of ts/ (docs/ARCHITECTURE.md), kept by a test: no import circle
// anywhere; each folder imports only from its own level or below (io builds on
// model, never the reverse); and nothing outside ts/layers names a layer kind —
// models, sessions, quantisation, export and the importers go through the
// layer protocol and the registry (layers/base.ts, layers/index.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(new URL('..', import.meta.url).pathname, 'ts');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'wasm' ? [] : files(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative module a file imports (value and type imports, re-exports, dynamic imports), as paths under ts/. */
function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.[^'"]+)['"]/gm)) {
    const target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts');
    if (!target.includes(`${join(root, 'wasm')}`)) out.push(relative(root, target));
  }
  return out;
}

const graph = new Map(files(root).map((f) => [relative(root, f), imports(f)]));

/** Strongly connected components with more than one file (or a file importing itself). */
function circles(): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** The level of each folder (or top-level file): a file imports only from its level or below. */
const LEVEL: Record<string, number> = {
  'errors.ts': 0,
  util: 0,
  runtime: 1,
  'tensor.ts': 2,
  ops: 2,
  format: 2,
  layers: 3,
  model: 4,
  io: 5,
  text: 6,
  worker: 6,
  cli: 7,
  'index.ts': 7,
  'worker-entry.ts': 7,
  'workerd.ts': 7,
};
const level = (file: string) => {
  const top = file.split('/')[0];
  const l = LEVEL[top];
  if (l === undefined) throw new Error(`ts/${file}: its folder has no level in test/architecture.test.ts`);
  return l;
};

describe('the shape of ts/', () => {
  it('reads the imports (value, type, re-export and dynamic)', () => {
    expect(graph.get('model/model.ts')).toContain('model/arena.ts');
    expect(graph.get('model/sequential.ts')).toContain('layers/base.ts');
    expect(graph.get('index.ts')).toContain('layers/index.ts');
    expect(graph.get('io/files.ts')).toContain('model/load.ts');
  });

  it('has no import circle', () => {
    expect(circles()).toEqual([]);
  });

  it('imports only from its own level or below (io builds on model, model on layers, layers on the core)', () => {
    const up: string[] = [];
    for (const [f, deps] of graph) for (const d of deps) if (graph.has(d) && level(d) > level(f)) up.push(`${f} → ${d}`);
    expect(up).toEqual([]);
  });

  it('names no layer kind outside ts/layers: everything else goes through the protocol and the registry', () => {
    const kinds = readdirSync(join(root, 'layers'))
      .filter((n) => n.endsWith('.ts') && !['base.ts', 'index.ts', 'initializers.ts'].includes(n))
      .map((n) => `layers/${n}`);
    // every class a layer kind's file declares
    const classes = kinds.flatMap((k) =>
      [...readFileSync(join(root, k), 'utf8').matchAll(/export class (\w+) extends Layer\b/g)].map((m) => m[1]),
    );
    expect(classes).toContain('Recurrent');
    const found: string[] = [];
    for (const [f, deps] of graph) {
      if (f.startsWith('layers/') || f === 'index.ts') continue;
      for (const d of deps) if (kinds.includes(d)) found.push(`${f} imports ${d}`);
      const src = readFileSync(join(root, f), 'utf8');
      for (const c of classes) if (new RegExp(`instanceof ${c}\\b`).test(src)) found.push(`${f}: instanceof ${c}`);
    }
    expect(found).toEqual([]);
  });
});
