//! `F32x4`: the one SIMD lane type every kernel is written in.
//!
//! On `wasm32` with `+simd128` it wraps a `v128`; with `+relaxed-simd` as well,
//! `mul_add` becomes `f32x4.relaxed_madd` (a fused multiply-add on hardware with
//! FMA; results may differ in the last bit across engines). Everywhere else
//! (the host running `cargo test`, or wasm without SIMD) it is a plain
//! `[f32; 4]`, so the blocking, packing and tail logic of every kernel is the
//! same code on the host as in the browser.
//!
//! Loads and stores are unaligned (wasm `v128.load` has no alignment
//! requirement; the fallback reads element by element).

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub struct F32x4(v128);

    /// Lane mask produced by comparisons (all ones / all zeros per lane).
    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub struct Mask4(v128);

    impl Mask4 {
        #[inline(always)]
        pub fn and(self, o: Mask4) -> Mask4 {
            Mask4(v128_and(self.0, o.0))
        }
    }

    // Named methods rather than operator traits: each kernel line spells the
    // lane operation it issues, and `mul_add` sits beside `mul` and `add`.
    #[allow(clippy::should_implement_trait)]
    impl F32x4 {
        #[inline(always)]
        pub fn zero() -> Self {
            Self(f32x4_splat(0.0))
        }
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            Self(f32x4_splat(x))
        }
        /// # Safety
        /// `p` must be valid for reading 4 consecutive `f32`.
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> Self {
            Self(v128_load(p as *const v128))
        }
        /// # Safety
        /// `p` must be valid for reading one `f32`.
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> Self {
            Self(v128_load32_splat(p as *const u32))
        }
        /// # Safety
        /// `p` must be valid for writing 4 consecutive `f32`.
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            v128_store(p as *mut v128, self.0)
        }
        /// A vector of four f32 from raw SIMD bits (the integer kernels' results).
        #[inline(always)]
        pub fn from_v128(v: v128) -> Self {
            Self(v)
        }
        /// Store the four lanes, already whole numbers in i16 range, as i16
        /// (saturating; NaN stores 0, as Rust's `as i16`).
        ///
        /// # Safety
        /// `p` must be valid for writing 4 consecutive `i16`.
        #[inline(always)]
        pub unsafe fn store_i16(self, p: *mut i16) {
            let i = i32x4_trunc_sat_f32x4(self.0);
            v128_store64_lane::<0>(i16x8_narrow_i32x4(i, i), p as *mut u64)
        }
        /// The 4×4 transpose: lane `j` of result `i` is lane `i` of input `j`.
        #[inline(always)]
        pub fn transpose4(a: Self, b: Self, c: Self, d: Self) -> [Self; 4] {
            let ab_lo = i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0);
            let ab_hi = i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0);
            let cd_lo = i32x4_shuffle::<0, 4, 1, 5>(c.0, d.0);
            let cd_hi = i32x4_shuffle::<2, 6, 3, 7>(c.0, d.0);
            [
                Self(i32x4_shuffle::<0, 1, 4, 5>(ab_lo, cd_lo)),
                Self(i32x4_shuffle::<2, 3, 6, 7>(ab_lo, cd_lo)),
                Self(i32x4_shuffle::<0, 1, 4, 5>(ab_hi, cd_hi)),
                Self(i32x4_shuffle::<2, 3, 6, 7>(ab_hi, cd_hi)),
            ]
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            [
                f32x4_extract_lane::<0>(self.0),
                f32x4_extract_lane::<1>(self.0),
                f32x4_extract_lane::<2>(self.0),
                f32x4_extract_lane::<3>(self.0),
            ]
        }
        #[inline(always)]
        pub fn from_array(a: [f32; 4]) -> Self {
            Self(f32x4(a[0], a[1], a[2], a[3]))
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            Self(f32x4_add(self.0, o.0))
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            Self(f32x4_sub(self.0, o.0))
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            Self(f32x4_mul(self.0, o.0))
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            Self(f32x4_div(self.0, o.0))
        }
        /// `self * b + c`: fused in the relaxed-SIMD build, two roundings otherwise.
        #[inline(always)]
        pub fn mul_add(self, b: Self, c: Self) -> Self {
            #[cfg(target_feature = "relaxed-simd")]
            {
                Self(f32x4_relaxed_madd(self.0, b.0, c.0))
            }
            #[cfg(not(target_feature = "relaxed-simd"))]
            {
                Self(f32x4_add(f32x4_mul(self.0, b.0), c.0))
            }
        }
        /// Lane-wise minimum; NaN-propagating like IEEE `min` in wasm.
        #[inline(always)]
        pub fn min(self, o: Self) -> Self {
            Self(f32x4_pmin(self.0, o.0))
        }
        #[inline(always)]
        pub fn max(self, o: Self) -> Self {
            Self(f32x4_pmax(self.0, o.0))
        }
        #[inline(always)]
        pub fn abs(self) -> Self {
            Self(f32x4_abs(self.0))
        }
        #[inline(always)]
        pub fn sqrt(self) -> Self {
            Self(f32x4_sqrt(self.0))
        }
        #[inline(always)]
        pub fn neg(self) -> Self {
            Self(f32x4_neg(self.0))
        }
        /// Round to nearest integer (ties to even), as float.
        #[inline(always)]
        pub fn round(self) -> Self {
            Self(f32x4_nearest(self.0))
        }
        /// `2^n` from `t = 1.5·2^23 + n` (integral `n` in [-126, 127]): the low
        /// bits of `t` hold `n`, so `(bits(t) + 127) << 23` is `2^n`'s bits.
        #[inline(always)]
        pub fn pow2_from_magic(self) -> Self {
            Self(i32x4_shl(i32x4_add(self.0, i32x4_splat(127)), 23))
        }
        /// Copy the sign bit of `sign` onto `self` (which must be non-negative).
        #[inline(always)]
        pub fn with_sign_of(self, sign: Self) -> Self {
            let s = v128_and(sign.0, u32x4_splat(0x8000_0000));
            Self(v128_or(self.0, s))
        }
        #[inline(always)]
        pub fn lt(self, o: Self) -> Mask4 {
            Mask4(f32x4_lt(self.0, o.0))
        }
        #[inline(always)]
        pub fn gt(self, o: Self) -> Mask4 {
            Mask4(f32x4_gt(self.0, o.0))
        }
        /// Lanes where `m` is set take `self`, the others `other`.
        #[inline(always)]
        pub fn select(m: Mask4, a: Self, b: Self) -> Self {
            Self(v128_bitselect(a.0, b.0, m.0))
        }
        #[inline(always)]
        pub fn sum(self) -> f32 {
            let a = self.to_array();
            (a[0] + a[1]) + (a[2] + a[3])
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    #[derive(Clone, Copy)]
    pub struct F32x4([f32; 4]);

    #[derive(Clone, Copy)]
    pub struct Mask4([bool; 4]);

    impl Mask4 {
        #[inline(always)]
        pub fn and(self, o: Mask4) -> Mask4 {
            Mask4([self.0[0] && o.0[0], self.0[1] && o.0[1], self.0[2] && o.0[2], self.0[3] && o.0[3]])
        }
    }

    macro_rules! lanewise {
        ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
            let (l, r) = ($a.0, $b.0);
            F32x4([
                {
                    let ($x, $y) = (l[0], r[0]);
                    $e
                },
                {
                    let ($x, $y) = (l[1], r[1]);
                    $e
                },
                {
                    let ($x, $y) = (l[2], r[2]);
                    $e
                },
                {
                    let ($x, $y) = (l[3], r[3]);
                    $e
                },
            ])
        }};
    }

    // Named methods rather than operator traits: each kernel line spells the
    // lane operation it issues, and `mul_add` sits beside `mul` and `add`.
    #[allow(clippy::should_implement_trait)]
    impl F32x4 {
        #[inline(always)]
        pub fn zero() -> Self {
            Self([0.0; 4])
        }
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            Self([x; 4])
        }
        /// # Safety
        /// `p` must be valid for reading 4 consecutive `f32`.
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> Self {
            Self(core::ptr::read_unaligned(p as *const [f32; 4]))
        }
        /// # Safety
        /// `p` must be valid for reading one `f32`.
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> Self {
            Self([*p; 4])
        }
        /// # Safety
        /// `p` must be valid for writing 4 consecutive `f32`.
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            core::ptr::write_unaligned(p as *mut [f32; 4], self.0)
        }
        /// Store the four lanes, already whole numbers in i16 range, as i16
        /// (saturating; NaN stores 0).
        ///
        /// # Safety
        /// `p` must be valid for writing 4 consecutive `i16`.
        #[inline(always)]
        pub unsafe fn store_i16(self, p: *mut i16) {
            for (l, v) in self.0.into_iter().enumerate() {
                *p.add(l) = v as i16;
            }
        }
        /// The 4×4 transpose: lane `j` of result `i` is lane `i` of input `j`.
        #[inline(always)]
        pub fn transpose4(a: Self, b: Self, c: Self, d: Self) -> [Self; 4] {
            let (a, b, c, d) = (a.0, b.0, c.0, d.0);
            core::array::from_fn(|i| Self([a[i], b[i], c[i], d[i]]))
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            self.0
        }
        #[inline(always)]
        pub fn from_array(a: [f32; 4]) -> Self {
            Self(a)
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            lanewise!(self, o, |x, y| x + y)
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            lanewise!(self, o, |x, y| x - y)
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            lanewise!(self, o, |x, y| x * y)
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            lanewise!(self, o, |x, y| x / y)
        }
        /// `self * b + c` with two roundings, like the simd128 build.
        #[inline(always)]
        pub fn mul_add(self, b: Self, c: Self) -> Self {
            self.mul(b).add(c)
        }
        /// wasm `f32x4.pmin`: `b < a ? b : a`.
        #[inline(always)]
        pub fn min(self, o: Self) -> Self {
            lanewise!(self, o, |x, y| if y < x { y } else { x })
        }
        /// wasm `f32x4.pmax`: `a < b ? b : a`.
        #[inline(always)]
        pub fn max(self, o: Self) -> Self {
            lanewise!(self, o, |x, y| if x < y { y } else { x })
        }
        #[inline(always)]
        pub fn abs(self) -> Self {
            Self(self.0.map(f32::abs))
        }
        #[inline(always)]
        pub fn sqrt(self) -> Self {
            Self(self.0.map(f32::sqrt))
        }
        #[inline(always)]
        pub fn neg(self) -> Self {
            Self(self.0.map(|x| -x))
        }
        #[inline(always)]
        pub fn round(self) -> Self {
            Self(self.0.map(f32::round_ties_even))
        }
        #[inline(always)]
        pub fn pow2_from_magic(self) -> Self {
            Self(self.0.map(|t| f32::from_bits(t.to_bits().wrapping_add(127) << 23)))
        }
        #[inline(always)]
        pub fn with_sign_of(self, sign: Self) -> Self {
            lanewise!(self, sign, |x, s| f32::from_bits(x.to_bits() | (s.to_bits() & 0x8000_0000)))
        }
        #[inline(always)]
        pub fn lt(self, o: Self) -> Mask4 {
            let (a, b) = (self.0, o.0);
            Mask4([a[0] < b[0], a[1] < b[1], a[2] < b[2], a[3] < b[3]])
        }
        #[inline(always)]
        pub fn gt(self, o: Self) -> Mask4 {
            o.lt(self)
        }
        #[inline(always)]
        pub fn select(m: Mask4, a: Self, b: Self) -> Self {
            let mut r = b.0;
            for l in 0..4 {
                if m.0[l] {
                    r[l] = a.0[l];
                }
            }
            Self(r)
        }
        #[inline(always)]
        pub fn sum(self) -> f32 {
            let a = self.0;
            (a[0] + a[1]) + (a[2] + a[3])
        }
    }
}

pub use imp::{F32x4, Mask4};

/// Apply `f` to `n` consecutive lanes starting at element `j` of each input row,
/// four at a time, with the tail (fewer than four) padded through a stack copy so
/// that every element goes through the same vector code.
///
/// `f` receives the starting column `j` and the number of valid lanes (4 except
/// at the tail); it loads its operands with [`Lanes::load`] and stores with
/// [`Lanes::store`], which honour the count.
#[inline(always)]
pub fn for_lanes(n: usize, mut f: impl FnMut(Lanes)) {
    let mut j = 0;
    while j + 4 <= n {
        f(Lanes { j, count: 4 });
        j += 4;
    }
    if j < n {
        f(Lanes { j, count: n - j });
    }
}

/// A group of up to four consecutive columns handed out by [`for_lanes`].
#[derive(Clone, Copy)]
pub struct Lanes {
    pub j: usize,
    pub count: usize,
}

impl Lanes {
    /// Load `count` floats from `p + j`; missing lanes read as 0.
    ///
    /// # Safety
    /// `p + j .. p + j + count` must be readable.
    #[inline(always)]
    pub unsafe fn load(self, p: *const f32) -> F32x4 {
        if self.count == 4 {
            F32x4::load(p.add(self.j))
        } else {
            let mut t = [0.0f32; 4];
            core::ptr::copy_nonoverlapping(p.add(self.j), t.as_mut_ptr(), self.count);
            F32x4::from_array(t)
        }
    }
    /// Store the first `count` lanes of `v` to `p + j`.
    ///
    /// # Safety
    /// `p + j .. p + j + count` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, v: F32x4, p: *mut f32) {
        if self.count == 4 {
            v.store(p.add(self.j))
        } else {
            let t = v.to_array();
            core::ptr::copy_nonoverlapping(t.as_ptr(), p.add(self.j), self.count);
        }
    }
}
