// Benchmark entry: `npm run bench [-- cells] [-- --smoke]`.
import { init } from '../dist/index.js';
import { benchCells } from './cells.mjs';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const simd = args.includes('--simd128') ? 'simd128' : 'auto';
const suites = args.filter((a) => !a.startsWith('--'));
const info = await init({ simd });
const all = suites.length === 0;
if (all || suites.includes('cells')) await benchCells({ smoke, info });
