// The in-browser demo (examples/web) built with Vite, served from 127.0.0.1
// and driven in Debian's Chromium: training runs in a Web Worker, the loss
// falls, a sample appears, the page stays responsive. A screenshot goes to
// test/artifacts/web-demo.png (not committed).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { serveStatic, type StaticServer } from './helpers/static-server.js';

const root = new URL('..', import.meta.url).pathname;
const web = join(root, 'examples/web');
const rt = join(root, '.tools/runtimes/node_modules');
const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const present = !!chromiumPath && existsSync(join(rt, 'playwright-core'));
if (!present) console.warn('[web-demo] skipping: apt-get install chromium and run scripts/install-runtimes.sh');

describe.skipIf(!present)('web demo (Vite build, Chromium)', () => {
  let server: StaticServer | undefined;
  let base = '';
  interface Page {
    on(ev: 'pageerror' | 'console', f: (e: unknown) => void): void;
    goto(u: string): Promise<unknown>;
    click(sel: string): Promise<void>;
    waitForFunction(f: string, arg: undefined, o: { timeout: number }): Promise<unknown>;
    evaluate<T>(f: string): Promise<T>;
    screenshot(o: { path: string; fullPage: boolean }): Promise<unknown>;
    setInputFiles(sel: string, path: string): Promise<void>;
  }
  let browser: { newPage(): Promise<Page>; close(): Promise<void> };

  beforeAll(async () => {
    const { build } = await import('vite');
    await build({ configFile: join(web, 'vite.config.js'), logLevel: 'silent' });
    const dist = join(web, 'dist');
    // served as vite.config.js serves it: cross-origin isolated, so the
    // training worker runs the threaded core
    server = await serveStatic(
      (p) => {
        const file = join(dist, p === '/' ? 'index.html' : p);
        return file.startsWith(dist) ? file : null;
      },
      () => ({ 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }),
    );
    base = `${server.base}/`;
    const { chromium } = await import(join(rt, 'playwright-core/index.js'));
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('trains in a worker: the loss falls, a sample appears, the page keeps responding', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(base);
    await page.waitForFunction('document.body.dataset.status === "idle"', undefined, { timeout: 30_000 });
    await page.click('#train');
    // the main thread answers timers while the worker trains: measure the worst gap
    await page.evaluate(
      `(() => { window.__gaps = []; let t = performance.now(); window.__timer = setInterval(() => { const n = performance.now(); window.__gaps.push(n - t); t = n; }, 20); })()`,
    );
    await page.waitForFunction('Number(document.body.dataset.epochs || 0) >= 2', undefined, { timeout: 90_000 });
    await page.click('#stop');
    await page.waitForFunction('document.body.dataset.status === "idle"', undefined, { timeout: 30_000 });
    const r = await page.evaluate<{ first: number; last: number; sample: string; worstGap: number; epochs: number; threads: number }>(
      `({ first: Number(document.body.dataset.firstLoss), last: Number(document.body.dataset.lastLoss), sample: document.getElementById('sample').textContent, worstGap: Math.max(...window.__gaps), epochs: Number(document.body.dataset.epochs), threads: Number(document.body.dataset.threads) })`,
    );
    // the worker's core ran on every CPU (helpers started from inside the worker)
    expect(r.threads).toBe(Math.min(8, availableParallelism()));
    mkdirSync(join(root, 'test/artifacts'), { recursive: true });
    await page.screenshot({ path: join(root, 'test/artifacts/web-demo.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(r.epochs).toBeGreaterThanOrEqual(2);
    expect(r.last).toBeLessThan(r.first * 0.85);
    expect(r.sample.startsWith('Shall I compare thee')).toBe(true);
    expect(r.sample.length).toBeGreaterThan(150);
    expect(r.worstGap).toBeLessThan(500);
  }, 150_000);

  it('loads a model file made elsewhere and samples what Node samples', async () => {
    // a model made in Node with the metadata `recurrent-wasm train` writes
    const lib = await import('../ts/index.js');
    await lib.init();
    const text = readFileSync(join(root, 'data/sonnets.txt'), 'utf8').slice(0, 20_000);
    const tokenizer = lib.CharTokenizer.fromText(text);
    const V = tokenizer.vocabSize;
    const m = new lib.Sequential(
      [
        lib.layers.embedding({ inputDim: V, outputDim: 16, inputShape: [null] }),
        lib.layers.gru({ units: 48, returnSequences: true }),
        lib.layers.dense({ units: V, activation: 'softmax' }),
      ],
      { seed: 5 },
    );
    m.build();
    Object.assign(m.metadata, { task: 'text', tokenizer: JSON.stringify(tokenizer.toJSON()), seq_len: '32' });
    const file = join(mkdtempSync(join(tmpdir(), 'rw-web-')), 'pretrained.safetensors');
    writeFileSync(file, m.save());
    const expected =
      'Shall I compare thee' +
      (await lib.generateText(m, { tokenizer, prompt: 'Shall I compare thee', length: 200, temperature: 0.7, seed: 1 }));

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(base);
    await page.waitForFunction('document.body.dataset.status === "idle"', undefined, { timeout: 30_000 });
    await page.setInputFiles('#model-file', file);
    await page.waitForFunction(
      'document.body.dataset.loaded === "pretrained.safetensors" && document.getElementById("sample").textContent.length > 0',
      undefined,
      { timeout: 30_000 },
    );
    const r = await page.evaluate<{ info: string; sample: string }>(
      `({ info: document.getElementById('info').textContent, sample: document.getElementById('sample').textContent })`,
    );
    expect(errors).toEqual([]);
    expect(r.info).toContain(`loaded pretrained.safetensors: ${m.countParams().toLocaleString('en-US')} parameters`);
    expect(r.sample).toBe(expected);
  }, 60_000);
});
