// Timing helpers for the benchmarks: warm-up, then repeated runs; medians and min–max.
export function measure(fn, { warmup = 2, reps = 10, minMs = 0 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const times = [];
  const start = performance.now();
  while (times.length < reps || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return summary(times);
}

/** Median, min, max and count of a list of times (sorted in place). */
export function summary(times) {
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1], min: times[0], max: times[times.length - 1], n: times.length };
}

/**
 * The environment for timing a Node start: without NODE_EXTRA_CA_CERTS, which
 * Node ≤ 22 parses while booting, before any script runs (~80 ms with a system
 * bundle). Cold starts are timed without it for every library alike.
 */
export function bootEnv() {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

export function table(rows, columns) {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells) => cells.map((s, i) => String(s).padEnd(widths[i])).join('  ');
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(columns.map((c) => r[c] ?? '')));
}

export const fmtMs = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));
export const fmtUs = (ms) => (ms * 1000).toFixed(1);
