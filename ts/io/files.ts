/** Model files on a file system (Node, Deno, Bun): written atomically, read whole. */
import { ValueError } from '../errors.js';
import type { ReadLimits } from '../format/safetensors.js';
import { loadModel } from '../model/load.js';
import { type SaveOptions, saveModel } from '../model/model-file.js';
import type { Model } from '../model/model.js';

/** Write `model.save()` to a file atomically (write to a temporary file, then rename). */
export async function saveModelFile(model: Model, path: string, opts: SaveOptions = {}): Promise<void> {
  const fs = await nodeFs();
  const bytes = saveModel(model, opts);
  const tmp = `${path}.tmp-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  await fs.writeFile(tmp, bytes);
  await fs.rename(tmp, path);
}

export async function loadModelFile(path: string, limits: ReadLimits = {}): Promise<Model> {
  const fs = await nodeFs();
  return loadModel(new Uint8Array(await fs.readFile(path)), limits);
}

type Fs = {
  readFile(p: string): Promise<Uint8Array>;
  writeFile(p: string, d: Uint8Array): Promise<void>;
  rename(a: string, b: string): Promise<void>;
};

async function nodeFs(): Promise<Fs> {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fromBuiltin = (proc?.getBuiltinModule?.('node:fs') as { promises: Fs } | undefined)?.promises;
  if (fromBuiltin) return fromBuiltin;
  try {
    return (await import(/* @vite-ignore */ ['node', 'fs/promises'].join(':'))) as Fs;
  } catch {
    throw new ValueError('file helpers need a runtime with a file system (Node, Deno, Bun); use model.save() / loadModel(bytes) elsewhere');
  }
}
