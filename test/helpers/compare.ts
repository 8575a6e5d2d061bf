/** Numeric comparison for tests: abs + rel tolerance, first mismatches printed side by side. */
import { expect } from 'vitest';

export function mismatches(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < want.length; k++) {
    const g = got[k];
    const w = want[k];
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) out.push(`[${k}] got ${g} want ${w} (diff ${Math.abs(g - w).toExponential(2)})`);
  }
  return out;
}

/** Assert `got ≈ want` elementwise; the failure lists the first five mismatches. */
export function expectClose(what: string, got: ArrayLike<number> | undefined, want: ArrayLike<number>, atol: number, rtol: number): void {
  expect(got, `${what}: missing`).toBeDefined();
  expect(got!.length, `${what}: length`).toBe(want.length);
  const bad = mismatches(got!, want, atol, rtol);
  expect(bad.length, `${what}: ${bad.length} of ${want.length} outside ${atol}+${rtol}·|want|; first: ${bad.slice(0, 5).join('; ')}`).toBe(
    0,
  );
}

/** Largest `|got − want| / (atol + rtol·|want|)`: below 1 means within tolerance. */
export function worstRatio(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): number {
  let worst = 0;
  for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(got[k] - want[k]) / (atol + rtol * Math.abs(want[k])));
  return worst;
}
