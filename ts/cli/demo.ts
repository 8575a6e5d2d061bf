/**
 * `npm run demo` / `recurrent-wasm demo`: a character-level LSTM learns
 * Shakespeare's Sonnets (public domain, shipped in data/) for a bounded time,
 * printing a sample after every epoch so the improvement is visible, then
 * saves the model and prints how to continue and how to generate.
 */
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from './data.js';
import { train, type TrainIo } from './train.js';

export function sonnetsPath(): string {
  // dist/cli.js → ../data; ts/cli/demo.ts → ../../data
  for (const rel of ['../data/sonnets.txt', '../../data/sonnets.txt']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new CliError('data/sonnets.txt is missing from the package');
}

export async function demo(o: { seconds: number; out: string; units: number }, io: TrainIo): Promise<void> {
  if (!(o.seconds > 0)) throw new CliError(`--seconds must be positive; got ${o.seconds}`);
  const data = sonnetsPath();
  io.log(`recurrent-wasm demo: a character-level LSTM learns Shakespeare's Sonnets for ${o.seconds} s.\n`);
  const r = await train(
    {
      data,
      model: 'lstm',
      units: o.units,
      layers: 1,
      seqLen: 64,
      epochs: 100,
      batchSize: 32,
      lr: 0.01,
      out: o.out,
      valSplit: 0.05,
      maxTime: o.seconds,
      embedding: 32,
      dropout: 0,
      seed: 1,
      plot: false,
      sample: 120,
      samplePrompt: 'Shall I compare thee',
    },
    io,
  );
  const h = r.history;
  io.log(
    `\ntrained ${r.epochs} epochs in ${r.seconds.toFixed(1)} s: loss ${h.loss[0].toFixed(3)} → ${h.loss[h.loss.length - 1].toFixed(3)}` +
      (h.val_loss.length ? `, validation ${h.val_loss[0].toFixed(3)} → ${h.val_loss[h.val_loss.length - 1].toFixed(3)}` : ''),
  );
  io.log(`saved ${r.out} (loss curve: ${r.lossSvg})\n`);
  io.log(`generate:  npx recurrent-wasm generate ${r.out} --prompt "Shall I" --length 400 --temperature 0.7`);
  const rel = relative(process.cwd(), data);
  io.log(
    `continue:  npx recurrent-wasm train --data ${/\s/.test(rel) ? JSON.stringify(rel) : rel} --resume ${r.out} --out ${r.out} --epochs 10`,
  );
  r.model.dispose();
}
