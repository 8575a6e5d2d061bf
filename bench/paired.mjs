// A paired comparison of two builds of the package (say, before and after a
// refactor) on this machine, in one session: bench/libs/ours.mjs runs each
// build's dist/ in its own child process, the two alternating within every
// round and in both orders (A B, then B A), so drift and noise hit both
// alike. Prints per workload the median of each build's medians, the ratio
// B/A, and the range of the per-round ratios. The raw SGEMM rows (the same
// kernel called directly in both builds) show how much the machine drifted.
//
//   node bench/paired.mjs <distA> <distB> [--rounds=4] [--configs=relaxed,simd128,threads2,int8] [--smoke]
//
// A and B are dist/ directories (e.g. a worktree of the base commit, built).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { table } from './util.mjs';

const args = process.argv.slice(2);
const [a, b] = args.filter((x) => !x.startsWith('--')).map((d) => resolve(d));
if (!a || !b) throw new Error('usage: node bench/paired.mjs <distA> <distB> [--rounds=4] [--configs=…] [--smoke]');
const opt = (k, d) => args.find((x) => x.startsWith(`--${k}=`))?.split('=')[1] ?? d;
const rounds = Number(opt('rounds', 4));
const smoke = args.includes('--smoke');
const CONFIGS = {
  relaxed: { simd: 'relaxed' },
  simd128: { simd: 'simd128' },
  threads2: { simd: 'relaxed', threads: 2 },
  int8: { simd: 'relaxed', int8: true },
};
const configs = opt('configs', 'relaxed,simd128,threads2,int8').split(',');
const relaxedFlag = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
const script = new URL('./libs/ours.mjs', import.meta.url).pathname;

function run(dist, cfg) {
  const r = spawnSync(process.execPath, [...relaxedFlag, script, JSON.stringify({ ...cfg, smoke })], {
    encoding: 'utf8',
    env: { ...process.env, BENCH_DIST: dist },
    maxBuffer: 1 << 26,
  });
  const line = r.stdout
    ?.trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (r.status !== 0 || !line) throw new Error(`${dist} ${JSON.stringify(cfg)}: ${r.stderr?.trim().split('\n').slice(-3).join(' | ')}`);
  return Object.fromEntries(JSON.parse(line).results.map((x) => [x.id, x.median]));
}

const median = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
const rows = [];
for (const name of configs) {
  const cfg = CONFIGS[name];
  if (!cfg) throw new Error(`unknown config ${name} (${Object.keys(CONFIGS).join(', ')})`);
  const res = { a: [], b: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
    for (const side of order) {
      process.stderr.write(`[paired] ${name} round ${r + 1}/${rounds} ${side === 'a' ? 'A' : 'B'}\n`);
      res[side].push(run(side === 'a' ? a : b, cfg));
    }
  }
  for (const id of Object.keys(res.a[0])) {
    const ma = median(res.a.map((x) => x[id]));
    const mb = median(res.b.map((x) => x[id]));
    const ratios = res.a.map((x, i) => res.b[i][id] / x[id]);
    rows.push({
      config: name,
      workload: id,
      'A ms': ma.toFixed(3),
      'B ms': mb.toFixed(3),
      'B/A': (mb / ma).toFixed(3),
      'rounds B/A': `${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}`,
    });
  }
}
console.log(`A = ${a}\nB = ${b}\n${rounds} rounds, alternating (A B, B A, …)\n`);
table(rows, ['config', 'workload', 'A ms', 'B ms', 'B/A', 'rounds B/A']);
