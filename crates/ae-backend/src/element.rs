//! `Element`: the scalar types a backend can compute in (f32 for training, f64 for gradient checks).

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point scalar: f32 (the reference precision) or f64 (for finite-difference checks).
pub trait Element:
    Copy
    + Debug
    + Default
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Converts from f64 (rounding for f32).
    fn from_f64(v: f64) -> Self;
    /// Converts from f32 (exact).
    fn from_f32(v: f32) -> Self;
    /// Converts to f64 (exact).
    fn to_f64(self) -> f64;
    /// Converts to f32 (rounding for f64).
    fn to_f32(self) -> f32;
    /// e^self.
    fn exp(self) -> Self;
    /// ln(1 + self), accurate near 0.
    fn ln_1p(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// The larger of two values.
    fn max(self, other: Self) -> Self;
    /// The smaller of two values.
    fn min(self, other: Self) -> Self;
    /// True when neither NaN nor infinite.
    fn is_finite(self) -> bool;
}

/// `e^x` for f32 in straight-line arithmetic that compilers vectorise (the libm call does not
/// vectorise): Cody-Waite reduction by ln 2 and Cephes' degree-6 polynomial, within 2 ulp.
/// Inputs are clamped to [-87, 88], so the result is always a finite normal number.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    // The low mantissa bits of `shifted` hold n + 2^22: read the integer from them directly
    // (a float-to-int cast does not vectorise).
    let n_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n_int + 127) as u32) << 23)
}

/// `ln(x)` for f32 in straight-line arithmetic that compilers vectorise: `x = m 2^e` read from
/// the bits, `m` in `[sqrt(1/2), sqrt(2))`, and Cephes' `logf` polynomial; within 2 ulp for
/// positive normal `x`, `-inf` at 0, NaN below 0 and for NaN, `inf` at `inf`. Subnormal inputs
/// are not handled (treated as if their exponent were -127).
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    const SQRT2: f32 = std::f32::consts::SQRT_2;
    let bits = x.to_bits() as i32;
    let e = ((bits >> 23) & 0xff) - 127;
    let m = f32::from_bits(((bits & 0x007f_ffff) | 0x3f80_0000) as u32);
    let big = m > SQRT2;
    let m = if big { 0.5 * m } else { m };
    let e = (if big { e + 1 } else { e }) as f32;
    let f = m - 1.0;
    let z = f * f;
    let p = 7.037_683_6e-2_f32;
    let p = p * f - 1.151_461_1e-1;
    let p = p * f + 1.167_699_9e-1;
    let p = p * f - 1.242_014_1e-1;
    let p = p * f + 1.424_932_3e-1;
    let p = p * f - 1.666_805_8e-1;
    let p = p * f + 2.000_071_4e-1;
    let p = p * f - 2.499_999_4e-1;
    let p = p * f + 3.333_333e-1;
    let y = p * f * z + e * -2.121_944_4e-4 - 0.5 * z;
    let r = f + y + e * 0.693_359_4;
    // NaN and negatives in one test, so that the selects stay branch-free.
    if x.is_nan() | (x < 0.0) {
        f32::NAN
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        r
    }
}

/// `ln(1 + x)` for f32, accurate near 0 and vectorisable: `ln(w) * x / (w - 1)` with
/// `w = 1 + x` rounded (which cancels the rounding of `w`), and `x` itself where `w == 1`.
#[inline(always)]
pub fn ln_1p_f32(x: f32) -> f32 {
    let w = 1.0 + x;
    let r = ln_f32(w) * (x / (w - 1.0));
    if w == 1.0 {
        x
    } else if w == f32::INFINITY {
        w
    } else {
        r
    }
}

macro_rules! impl_element {
    ($t:ty, $exp:expr, $ln_1p:expr) => {
        impl Element for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn from_f32(v: f32) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn to_f32(self) -> f32 {
                self as f32
            }
            #[inline]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                $ln_1p(self)
            }
            #[inline]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline]
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            #[inline]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
        }
    };
}

impl_element!(f32, exp_f32, ln_1p_f32);
impl_element!(f64, f64::exp, f64::ln_1p);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_within_a_few_ulp_of_libm() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            worst = worst.max((got - want).abs() / want);
            x += 0.0137;
        }
        assert!(
            worst < 3.0 * f32::EPSILON as f64,
            "worst relative error {worst}"
        );
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(-1000.0) > 0.0 && exp_f32(-1000.0) < 1e-37);
        assert!(exp_f32(1000.0).is_finite());
    }

    #[test]
    fn fast_logs_are_within_a_few_ulp_of_libm() {
        let ulp = |got: f32, want: f64| (got as f64 - want).abs() / want.abs().max(1e-300);
        let mut worst = 0.0f64;
        // ln over positive normal numbers, from 1e-37 to 1e37.
        let mut x = 1e-37f32;
        while x < 1e37 {
            worst = worst.max(ulp(ln_f32(x), (x as f64).ln()).min(
                // Near 1, ln is near 0: judge the absolute error against ln's scale there.
                (ln_f32(x) as f64 - (x as f64).ln()).abs() / f32::EPSILON as f64,
            ));
            x *= 1.0137;
        }
        assert!(worst < 3.0 * f32::EPSILON as f64, "ln: worst {worst}");
        let mut worst = 0.0f64;
        let mut x = -0.999_f32;
        while x < 1e30 {
            let want = (x as f64).ln_1p();
            worst = worst.max(ulp(ln_1p_f32(x), want));
            x = if x.abs() < 1e-3 {
                x + 1.3e-5
            } else {
                x + x.abs() * 0.0137
            };
        }
        for x in [1e-30f32, -1e-30, 1e-8, -1e-8, 3e-4] {
            worst = worst.max(ulp(ln_1p_f32(x), (x as f64).ln_1p()));
        }
        assert!(worst < 4.0 * f32::EPSILON as f64, "ln_1p: worst {worst}");
        assert_eq!(ln_1p_f32(0.0), 0.0);
        assert_eq!(ln_1p_f32(-1.0), f32::NEG_INFINITY);
        assert!(ln_1p_f32(-2.0).is_nan() && ln_1p_f32(f32::NAN).is_nan());
        assert_eq!(ln_1p_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(ln_f32(1.0), 0.0);
    }
}
