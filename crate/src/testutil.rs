//! What the unit tests share: seeded test data.

/// The next value of a 64-bit LCG, uniform in [-1, 1) on a 2⁻²³ grid: every
/// value is exact in f32, so a float32 kernel and its float64 reference see
/// the same numbers.
pub fn uniform(seed: &mut u64) -> f32 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// [`uniform`] as f64 (for float64 references).
pub fn uniform64(seed: &mut u64) -> f64 {
    uniform(seed) as f64
}
