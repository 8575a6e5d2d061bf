// Helpers for the per-library runners: each runs in its own process and
// prints one JSON line of results for the orchestrator (bench/run.mjs).
export function config() {
  return JSON.parse(process.argv[2] ?? '{}');
}
export function emit(lib, results) {
  console.log(JSON.stringify({ lib, results }));
}
export const reps = (cfg, heavy) => (cfg.smoke ? 3 : heavy ? 7 : 15);
