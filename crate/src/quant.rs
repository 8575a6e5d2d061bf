//! int8 weights: symmetric quantisation, a packed layout for integer dot
//! products, and the matrix–vector product that runs on it.
//!
//! ```text
//! W [n, k] ≈ s_w[j] · q[j, k]        q ∈ [−127, 127], s_w[j] = max_k |W[j, k]| / 127
//! a [k]    ≈ s_a · a16[k]            a16 ∈ [−32767, 32767], s_a = max |a| / 32767
//! y[j]     = s_a · s_w[j] · Σ_k a16[k] · q[j, k]
//! ```
//!
//! The weights are int8 values (in the file, and in precision). The
//! activation row is quantised to int16 per call (relative error ≤ 2⁻¹⁵, far
//! below the weights' own), and the sums are exact 32-bit integers. A sum
//! over [`KCHUNK`] products is bounded by 512 · 127 · 32767 < 2³¹, so longer
//! rows are summed in chunks converted to f32. Integer sums are exact, and
//! the f32 steps after them are the same in the SIMD and scalar code, so the
//! host tests and every wasm build compute identical numbers.
//!
//! Packed layout (`pack`): two int8 weights in each int16 lane, so the copy
//! the kernel reads is as small as the int8 matrix (W1: 328 KB, inside the
//! 512 KiB L2) while `i32x4.dot_i16x8_s` (`pmaddwd`, 8 multiply–adds) still
//! takes it straight from a 16-byte load. Columns in groups of [`GROUP`] =
//! 32, rows in pairs; for group `g` and pair `p`, 64 bytes of int16 lanes
//! `[panel q][column c][k = 2p, 2p + 1]` (q, c < 4), the lane for column
//! `j = 32g + 4q + c` holding `q[j, k] + 128` in its low byte (read unsigned)
//! and `q[j + 16, k]` in its high byte (zero-padded past `n` and `k`). Against
//! the splatted pair `(a16[2p], a16[2p + 1])`, one load feeds two dot
//! products:
//!
//! ```text
//! raw = dot(lane, a)       = 256 · Σ a·q[j + 16] + Σ a·q[j] + 128 · Σ a
//! hi  = dot(lane >> 8, a)  = Σ a·q[j + 16]             (arithmetic shift: the high byte)
//! lo  = raw − 256 · hi − 128 · Σ a                      (mod 2³², exact: |lo| < 2³¹)
//! ```
//!
//! `128 · Σ a` of each chunk is the same for every column; [`quantize_act`]
//! writes it after the row. The shift is one more vector instruction per 8
//! products, on a port `pmaddwd` does not use, and the loop runs at one
//! `pmaddwd` per cycle without spilling: a W1 int8 step 19.7 → 18.2 µs
//! against one weight per int16 lane (655 KB, streamed from L3). The layouts
//! and loops measured before this one, relaxed SIMD's int8 dot products among
//! them, are in docs/PERF-NOTES.md.

use crate::simd::{for_lanes, F32x4};

pub const GROUP: usize = 32;
/// Bytes of one group's row pair in the packed layout: 32 columns × 2 rows × one byte.
const PAIR_BYTES: usize = GROUP * 2;
/// Added to the weights held in the low bytes, which are read unsigned.
const LO_OFFSET: i32 = 128;
/// Rows per exact i32 partial sum: 512 · 127 · 32767 = 2 130 641 408 < 2³¹.
pub const KCHUNK: usize = 512;
const CHUNK_PAIRS: usize = KCHUNK / 2;

/// Bytes of the packed form of a `[n, k]` int8 matrix.
pub fn packed_len(k: usize, n: usize) -> Option<usize> {
    n.div_ceil(GROUP).checked_mul(k.div_ceil(2))?.checked_mul(PAIR_BYTES)
}

/// [`KCHUNK`]s in a row of length `k`.
fn chunks(k: usize) -> usize {
    k.div_ceil(2).div_ceil(CHUNK_PAIRS)
}

/// int16 elements of an activation row of length `k`: the row padded to even
/// length, then one i32 per [`KCHUNK`] holding `128 · Σ` of its values (the
/// low-byte weights' offset times the activations, subtracted from the sums).
pub fn act_len(k: usize) -> usize {
    k.div_ceil(2) * 2 + 2 * chunks(k)
}

/// Quantise the rows of `W [n, k]` (row stride `k`): one scale per row
/// (`per_row`) or one for the whole matrix; `scale = max |w| / 127` (1 for an
/// all-zero row or matrix), `q = round_ties_even(w / scale)`.
///
/// # Safety
/// `w` holds `n·k` floats, `q` `n·k` bytes, `scales` `n` floats (per row) or 1.
pub unsafe fn quantize_rows(n: usize, k: usize, w: *const f32, per_row: bool, q: *mut i8, scales: *mut f32) {
    let max_of = |r0: usize, r1: usize| {
        let mut m = 0.0f32;
        for idx in r0 * k..r1 * k {
            m = m.max((*w.add(idx)).abs());
        }
        m
    };
    let scale_for = |m: f32| if m > 0.0 { m / 127.0 } else { 1.0 };
    let whole = if per_row { 0.0 } else { scale_for(max_of(0, n)) };
    if !per_row {
        *scales = whole;
    }
    for r in 0..n {
        let s = if per_row { scale_for(max_of(r, r + 1)) } else { whole };
        if per_row {
            *scales.add(r) = s;
        }
        for c in 0..k {
            let v = (*w.add(r * k + c) / s).round_ties_even().clamp(-127.0, 127.0);
            *q.add(r * k + c) = v as i8;
        }
    }
}

/// Pack `q [n, k]` (row-major: row = output column `j`) into the layout in the
/// module comment.
///
/// # Safety
/// `q` holds `n·k` bytes; `out` `packed_len(k, n)` bytes.
pub unsafe fn pack(k: usize, n: usize, q: *const i8, out: *mut i8) {
    let pairs = k.div_ceil(2);
    let at = |j: usize, kk: usize| if j < n && kk < k { *q.add(j * k + kk) as i32 } else { 0 };
    let mut o = out as *mut u8;
    for g in 0..n.div_ceil(GROUP) {
        for p in 0..pairs {
            for c16 in 0..GROUP / 2 {
                let j = g * GROUP + c16;
                for kk in [2 * p, 2 * p + 1] {
                    // one int16 lane: column j + 128 in the low byte, column j + 16 in the high
                    *o = (at(j, kk) + LO_OFFSET) as u8;
                    *o.add(1) = at(j + GROUP / 2, kk) as i8 as u8;
                    o = o.add(2);
                }
            }
        }
    }
}

/// Quantise one activation row to int16 (`a16` padded with a zero to even
/// length); returns the scale `s_a` (1 for an all-zero row).
///
/// # Safety
/// `a` holds `k` floats; `a16` `act_len(k)` elements.
#[inline(never)]
pub unsafe fn quantize_act(k: usize, a: *const f32, a16: *mut i16) -> f32 {
    // four lanes at a time (a scalar loop was 5 % of a W1 int8 step, ~2 µs);
    // max is exact and the conversion rounds the same way as the scalar tail,
    // so the int16 row is the same whatever the split
    let mut mv = F32x4::zero();
    for_lanes(k, |l| mv = mv.max(l.load(a).abs()));
    let m = mv.to_array().into_iter().fold(0.0f32, f32::max);
    if m == 0.0 || !m.is_finite() {
        for c in 0..act_len(k) {
            *a16.add(c) = 0;
        }
        return if m == 0.0 { 1.0 } else { f32::NAN };
    }
    let inv = 32767.0 / m;
    let (vinv, lo, hi) = (F32x4::splat(inv), F32x4::splat(-32767.0), F32x4::splat(32767.0));
    let corr = corrections(k.div_ceil(2), a16) as *mut i32;
    let mut c = 0;
    for ch in 0..chunks(k) {
        let end = (c + KCHUNK).min(k);
        // the chunk's sum, exact in f32: at most 512 · 32767 < 2²⁴
        let mut sv = F32x4::zero();
        while c + 4 <= end {
            let v = F32x4::load(a.add(c)).mul(vinv).round().min(hi).max(lo);
            v.store_i16(a16.add(c));
            sv = sv.add(v);
            c += 4;
        }
        let mut sum = sv.to_array().into_iter().sum::<f32>() as i32;
        for c in c..end {
            let v = (*a.add(c) * inv).round_ties_even().clamp(-32767.0, 32767.0) as i16;
            *a16.add(c) = v;
            sum += v as i32;
        }
        c = end;
        corr.add(ch).write_unaligned(LO_OFFSET * sum); // |·| ≤ 128 · 16 776 704 < 2³¹
    }
    if k % 2 == 1 {
        *a16.add(k) = 0;
    }
    m / 32767.0
}

/// `y[j] (=|+=) s_a · s_w[j] · Σ_k a16[k] · q[j, k]` for `j < n`, split
/// between threads by column groups (the integer sums are exact, so any split
/// gives the same numbers).
///
/// # Safety
/// `a16` holds `act_len(k)` elements from [`quantize_act`] (4-byte aligned not
/// required); `packed` `packed_len(k, n)` bytes; `s_w` and `y` `n` floats.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemv(k: usize, n: usize, a16: *const i16, s_a: f32, packed: *const i8, s_w: *const f32, y: *mut f32, acc: bool) {
    let pairs = k.div_ceil(2);
    crate::pool::par_ranges(n.div_ceil(GROUP), GROUP * k, 1, |g0, g1| {
        let (j0, j1) = (g0 * GROUP, (g1 * GROUP).min(n));
        gemv_serial(k, j1 - j0, a16, s_a, packed.add(g0 * pairs * PAIR_BYTES), s_w.add(j0), y.add(j0), acc);
    });
}

/// Bytes of the activation scratch of [`gemm_rows`] for `b` rows of up to `k`
/// values: `b` f32 scales, then `b` rows of `act_len(k)` int16.
pub fn act_scratch_len(b: usize, k: usize) -> Option<usize> {
    b.checked_mul(act_len(k).checked_mul(2)?.checked_add(4)?)
}

/// `y[r, j] (=|+=) a[r, ·] · q[j, ·]` (scaled as in [`gemv`]) for the `b` rows
/// of `a` (row stride `sa`) and `y` (row stride `sy`): each row quantised into
/// `scratch`, then the products two rows at a time, so each weight load feeds
/// both (1.18× per row measured at K = 320 × 1024 with int16 panels; batch
/// predict on int8 weights). The integer sums are exact, so the numbers are
/// those of [`gemv`] row by row.
///
/// # Safety
/// `a` holds `b` rows of `k` floats at stride `sa`; `scratch`
/// `act_scratch_len(b, k)` bytes, 4-byte aligned; `packed`, `s_w` as in
/// [`gemv`]; `y` `b` rows of `n` floats at stride `sy`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_rows(
    b: usize,
    k: usize,
    n: usize,
    a: *const f32,
    sa: usize,
    scratch: *mut u8,
    packed: *const i8,
    s_w: *const f32,
    y: *mut f32,
    sy: usize,
    acc: bool,
) {
    let (scales, rows) = (scratch as *mut f32, scratch.add(4 * b) as *mut i16);
    let alen = act_len(k);
    for r in 0..b {
        *scales.add(r) = quantize_act(k, a.add(r * sa), rows.add(r * alen));
    }
    let pairs = k.div_ceil(2);
    crate::pool::par_ranges(n.div_ceil(GROUP), GROUP * k * b, 1, |g0, g1| {
        let (j0, j1) = (g0 * GROUP, (g1 * GROUP).min(n));
        let (n, packed) = (j1 - j0, packed.add(g0 * pairs * PAIR_BYTES));
        let (s_w, y) = (s_w.add(j0), y.add(j0));
        let mut r = 0;
        while r + 2 <= b {
            for g in 0..n.div_ceil(GROUP) {
                let (s0, s1) = group_sums_rows2(pairs, rows.add(r * alen), rows.add((r + 1) * alen), packed.add(g * pairs * PAIR_BYTES));
                finish(g, &s0, *scales.add(r), s_w, y.add(r * sy), n, acc);
                finish(g, &s1, *scales.add(r + 1), s_w, y.add((r + 1) * sy), n, acc);
            }
            r += 2;
        }
        if r < b {
            gemv_serial(k, n, rows.add(r * alen), *scales.add(r), packed, s_w, y.add(r * sy), acc);
        }
    });
}

/// Scale the 32 column sums of group `g` and store (or add) them into `y`:
/// four columns at a time (element by element this was 11 % of a W1 int8
/// step, ~4 µs: 1024 columns, each extracted from its vector).
#[inline(always)]
unsafe fn finish(g: usize, sums: &[F32x4; 8], s_a: f32, s_w: *const f32, y: *mut f32, n: usize, acc: bool) {
    for (q, &v) in sums.iter().enumerate() {
        let j0 = g * GROUP + q * 4;
        if j0 + 4 <= n {
            let v = v.mul(F32x4::splat(s_a)).mul(F32x4::load(s_w.add(j0)));
            let v = if acc { F32x4::load(y.add(j0)).add(v) } else { v };
            v.store(y.add(j0));
        } else {
            for (c, v) in v.to_array().into_iter().enumerate() {
                let j = j0 + c;
                if j < n {
                    let v = v * s_a * *s_w.add(j);
                    *y.add(j) = if acc { *y.add(j) + v } else { v };
                }
            }
        }
    }
}

#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn gemv_serial(k: usize, n: usize, a16: *const i16, s_a: f32, packed: *const i8, s_w: *const f32, y: *mut f32, acc: bool) {
    let pairs = k.div_ceil(2);
    for g in 0..n.div_ceil(GROUP) {
        finish(g, &group_sums(pairs, a16, packed.add(g * pairs * PAIR_BYTES)), s_a, s_w, y, n, acc);
    }
}

/// The chunk corrections [`quantize_act`] writes after the row `a16` of `pairs` int16 pairs.
#[inline(always)]
unsafe fn corrections(pairs: usize, a16: *const i16) -> *const i32 {
    a16.add(2 * pairs) as *const i32
}

/// `N` exact i32 sums in [`KCHUNK`] chunks, each converted and added in f32:
/// `sums(p0, p1, chunk)` sums row pairs `p0..p1`, which make up `chunk`.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
unsafe fn chunked<const N: usize>(pairs: usize, sums: impl Fn(usize, usize, usize) -> [core::arch::wasm32::v128; N]) -> [F32x4; N] {
    use core::arch::wasm32::*;
    let mut f = [f32x4_splat(0.0); N];
    let mut p0 = 0;
    while p0 < pairs {
        let p1 = pairs.min(p0 + CHUNK_PAIRS);
        let s = sums(p0, p1, p0 / CHUNK_PAIRS);
        for q in 0..N {
            f[q] = f32x4_add(f[q], f32x4_convert_i32x4(s[q]));
        }
        p0 = p1;
    }
    f.map(F32x4::from_v128)
}

/// Sixteen bytes of the row pair at `wp`: four columns × two rows of int16
/// lanes, each holding two weights (see the module comment).
#[cfg(target_arch = "wasm32")]
#[inline(always)]
unsafe fn panel(wp: *const i8, q: usize) -> core::arch::wasm32::v128 {
    core::arch::wasm32::v128_load(wp.add(q * 16) as *const core::arch::wasm32::v128)
}

/// The low-byte columns' exact sums from the raw lane sums `raw` and the
/// high-byte columns' sums `hi`: `raw = 256 · hi + lo + 128 · Σ a` (mod 2³²,
/// and `lo` itself fits in i32), with `corr` = `128 · Σ a` of the chunk.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn low_sums(raw: core::arch::wasm32::v128, hi: core::arch::wasm32::v128, corr: core::arch::wasm32::v128) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::*;
    i32x4_sub(i32x4_sub(raw, i32x4_shl(hi, 8)), corr)
}

/// [`group_sums`] of one group for two activation rows: each weight load
/// feeds both. Half a group per pass (eight accumulators, as in
/// [`group_sums`]; a whole group for two rows would need sixteen).
#[cfg(target_arch = "wasm32")]
#[inline(always)]
unsafe fn group_sums_rows2(pairs: usize, a16: *const i16, b16: *const i16, w: *const i8) -> ([F32x4; 8], [F32x4; 8]) {
    use core::arch::wasm32::*;
    let (a32, b32) = (a16 as *const i32, b16 as *const i32);
    let (ca, cb) = (corrections(pairs, a16), corrections(pairs, b16));
    let half = |h: usize| {
        chunked(pairs, |p0, p1, ch| {
            // [row a: raw 0, raw 1, hi 0, hi 1; row b: the same]
            let mut s = [i32x4_splat(0); 8];
            for p in p0..p1 {
                let av = i32x4_splat(a32.add(p).read_unaligned());
                let bv = i32x4_splat(b32.add(p).read_unaligned());
                let wp = w.add(p * PAIR_BYTES + h * 32);
                for e in 0..2 {
                    let v = panel(wp, e);
                    let vh = i16x8_shr(v, 8);
                    s[e] = i32x4_add(s[e], i32x4_dot_i16x8(v, av));
                    s[e + 2] = i32x4_add(s[e + 2], i32x4_dot_i16x8(vh, av));
                    s[e + 4] = i32x4_add(s[e + 4], i32x4_dot_i16x8(v, bv));
                    s[e + 6] = i32x4_add(s[e + 6], i32x4_dot_i16x8(vh, bv));
                }
            }
            let (ka, kb) = (i32x4_splat(ca.add(ch).read_unaligned()), i32x4_splat(cb.add(ch).read_unaligned()));
            for e in 0..2 {
                s[e] = low_sums(s[e], s[e + 2], ka);
                s[e + 4] = low_sums(s[e + 4], s[e + 6], kb);
            }
            s
        })
    };
    let (l, r) = (half(0), half(1));
    // columns 0–7, 8–15 (low bytes), then 16–23, 24–31 (high bytes)
    ([l[0], l[1], r[0], r[1], l[2], l[3], r[2], r[3]], [l[4], l[5], r[4], r[5], l[6], l[7], r[6], r[7]])
}

#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
unsafe fn group_sums_rows2(pairs: usize, a16: *const i16, b16: *const i16, w: *const i8) -> ([F32x4; 8], [F32x4; 8]) {
    (group_sums(pairs, a16, w), group_sums(pairs, b16, w))
}

/// The 32 column sums of one group, as f32 (exact i32 chunks converted and
/// added): per row pair, each 16-byte load feeds two `i32x4.dot_i16x8_s`,
/// one on the lanes as they are and one on their high bytes.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
unsafe fn group_sums(pairs: usize, a16: *const i16, w: *const i8) -> [F32x4; 8] {
    use core::arch::wasm32::*;
    let a32 = a16 as *const i32;
    let corr = corrections(pairs, a16);
    chunked(pairs, |p0, p1, ch| {
        // [raw 0–3, hi 0–3]
        let mut s = [i32x4_splat(0); 8];
        for p in p0..p1 {
            let av = i32x4_splat(a32.add(p).read_unaligned());
            let wp = w.add(p * PAIR_BYTES);
            for q in 0..4 {
                let v = panel(wp, q);
                s[q] = i32x4_add(s[q], i32x4_dot_i16x8(v, av));
                s[q + 4] = i32x4_add(s[q + 4], i32x4_dot_i16x8(i16x8_shr(v, 8), av));
            }
        }
        let k = i32x4_splat(corr.add(ch).read_unaligned());
        for q in 0..4 {
            s[q] = low_sums(s[q], s[q + 4], k);
        }
        s
    })
}

/// The same arithmetic lane by lane (wrapping i32, as the wasm instructions).
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
unsafe fn group_sums(pairs: usize, a16: *const i16, w: *const i8) -> [F32x4; 8] {
    let corr = corrections(pairs, a16);
    let lanes = w as *const i16;
    let mut f = [[0.0f32; 4]; 8];
    let mut p0 = 0;
    while p0 < pairs {
        let p1 = pairs.min(p0 + CHUNK_PAIRS);
        let mut s = [[0i32; 4]; 8];
        for p in p0..p1 {
            let (x0, x1) = (*a16.add(2 * p) as i32, *a16.add(2 * p + 1) as i32);
            for q in 0..4 {
                for c in 0..4 {
                    let l = lanes.add(p * PAIR_BYTES / 2 + q * 8 + c * 2);
                    let (l0, l1) = (l.read_unaligned() as i32, l.add(1).read_unaligned() as i32);
                    s[q][c] = s[q][c].wrapping_add(x0 * l0 + x1 * l1);
                    s[q + 4][c] = s[q + 4][c].wrapping_add(x0 * (l0 >> 8) + x1 * (l1 >> 8));
                }
            }
        }
        let k = corr.add(p0 / CHUNK_PAIRS).read_unaligned();
        for q in 0..4 {
            for c in 0..4 {
                s[q][c] = s[q][c].wrapping_sub(s[q + 4][c].wrapping_shl(8)).wrapping_sub(k);
            }
        }
        for q in 0..8 {
            for c in 0..4 {
                f[q][c] += s[q][c] as f32;
            }
        }
        p0 = p1;
    }
    f.map(F32x4::from_array)
}

#[cfg(test)]
mod tests {
    use super::*;
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::testutil::uniform as lcg;

    /// The packed GEMV equals the plain sum over the quantised values (odd
    /// sizes, partial groups, several KCHUNKs), and approximates the f32
    /// product within the quantisation bound.
    #[test]
    fn gemv_matches_the_dequantised_product() {
        let mut seed = 7u64;
        for &(k, n) in &[(1usize, 1usize), (3, 5), (64, 1024), (257, 17), (1100, 40)] {
            let w: Vec<f32> = (0..n * k).map(|_| lcg(&mut seed) * 0.3).collect();
            let a: Vec<f32> = (0..k).map(|_| lcg(&mut seed) * 2.0).collect();
            let mut q = vec![0i8; n * k];
            let mut s_w = vec![0.0f32; n];
            let mut packed = vec![0i8; packed_len(k, n).unwrap()];
            let mut a16 = vec![0i16; act_len(k)];
            let mut y = vec![0.0f32; n];
            unsafe {
                quantize_rows(n, k, w.as_ptr(), true, q.as_mut_ptr(), s_w.as_mut_ptr());
                pack(k, n, q.as_ptr(), packed.as_mut_ptr());
                let s_a = quantize_act(k, a.as_ptr(), a16.as_mut_ptr());
                gemv(k, n, a16.as_ptr(), s_a, packed.as_ptr(), s_w.as_ptr(), y.as_mut_ptr(), false);
                for j in 0..n {
                    let exact_int: i64 = (0..k).map(|c| a16[c] as i64 * q[j * k + c] as i64).sum();
                    let want_q = exact_int as f64 * s_a as f64 * s_w[j] as f64;
                    assert!((y[j] as f64 - want_q).abs() <= 1e-5 * (1.0 + want_q.abs()), "k{k} n{n} j{j}: {} vs {want_q}", y[j]);
                    let f32_ref: f64 = (0..k).map(|c| a[c] as f64 * w[j * k + c] as f64).sum();
                    // |Δ| ≤ Σ |a|·|Δw| + |w|·|Δa| ≤ k · (max|a| · s_w/2 + max|w| · s_a/2)
                    let amax = a.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
                    let bound = k as f64 * (amax * s_w[j] as f64 / 2.0 + 127.0 * s_w[j] as f64 * s_a as f64 / 2.0);
                    assert!((y[j] as f64 - f32_ref).abs() <= bound, "k{k} n{n} j{j}: {} vs {f32_ref} (bound {bound})", y[j]);
                }
                // accumulate mode adds
                let before = y.clone();
                gemv(k, n, a16.as_ptr(), s_a, packed.as_ptr(), s_w.as_ptr(), y.as_mut_ptr(), true);
                for j in 0..n {
                    assert_eq!(y[j], before[j] + before[j]);
                }
            }
        }
    }

    /// Rows two at a time give exactly the numbers of one row at a time.
    #[test]
    fn gemm_rows_equals_gemv_row_by_row() {
        let mut seed = 11u64;
        for &(b, k, n) in &[(1usize, 5usize, 7usize), (2, 64, 1024), (3, 257, 17), (5, 1100, 40), (4, 3, 33)] {
            let w: Vec<f32> = (0..n * k).map(|_| lcg(&mut seed) * 0.3).collect();
            let (sa, sy) = (k + 3, n + 2);
            let a: Vec<f32> = (0..b * sa).map(|_| lcg(&mut seed) * 2.0).collect();
            let mut q = vec![0i8; n * k];
            let mut s_w = vec![0.0f32; n];
            let mut packed = vec![0i8; packed_len(k, n).unwrap()];
            let mut scratch = vec![0u32; act_scratch_len(b, k).unwrap().div_ceil(4)];
            let mut a16 = vec![0i16; act_len(k)];
            for acc in [false, true] {
                let y0: Vec<f32> = (0..b * sy).map(|_| lcg(&mut seed)).collect();
                let (mut y, mut want) = (y0.clone(), y0.clone());
                unsafe {
                    quantize_rows(n, k, w.as_ptr(), true, q.as_mut_ptr(), s_w.as_mut_ptr());
                    pack(k, n, q.as_ptr(), packed.as_mut_ptr());
                    gemm_rows(
                        b,
                        k,
                        n,
                        a.as_ptr(),
                        sa,
                        scratch.as_mut_ptr() as *mut u8,
                        packed.as_ptr(),
                        s_w.as_ptr(),
                        y.as_mut_ptr(),
                        sy,
                        acc,
                    );
                    for r in 0..b {
                        let s_a = quantize_act(k, a[r * sa..].as_ptr(), a16.as_mut_ptr());
                        gemv(k, n, a16.as_ptr(), s_a, packed.as_ptr(), s_w.as_ptr(), want[r * sy..].as_mut_ptr(), acc);
                    }
                }
                assert_eq!(y, want, "b{b} k{k} n{n} acc {acc}"); // the padding between rows untouched too
            }
        }
    }

    #[test]
    fn quantisation_is_symmetric_and_saturates_at_127() {
        let w = [0.5f32, -1.0, 0.25, 0.0, 0.0, 0.0];
        let mut q = [0i8; 6];
        let mut s = [0.0f32; 2];
        unsafe { quantize_rows(2, 3, w.as_ptr(), true, q.as_mut_ptr(), s.as_mut_ptr()) };
        assert_eq!(s, [1.0 / 127.0, 1.0]); // an all-zero row gets scale 1
        assert_eq!(q[1], -127);
        assert!((q[0] as f32 - 0.5 * 127.0).abs() <= 0.5 && (q[2] as f32 - 0.25 * 127.0).abs() <= 0.5);
        assert_eq!(&q[3..], &[0, 0, 0]);
        let mut s1 = [0.0f32; 1];
        unsafe { quantize_rows(2, 3, w.as_ptr(), false, q.as_mut_ptr(), s1.as_mut_ptr()) };
        assert_eq!(s1[0], 1.0 / 127.0);
        let a = [3.0f32, -1.5, 0.0];
        let mut a16 = [9i16; 6];
        assert_eq!(act_len(3), a16.len());
        let sa = unsafe { quantize_act(3, a.as_ptr(), a16.as_mut_ptr()) };
        assert_eq!(a16[..4], [32767, -16384, 0, 0]); // −16383.5 → even
        let corr = 128 * (32767 - 16384);
        assert_eq!(a16[4..], [corr as i16, (corr >> 16) as i16]); // after the row: 128 · Σ of each chunk
        assert_eq!(sa, 3.0 / 32767.0);
    }
}
