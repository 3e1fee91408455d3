//! Data movement on the device: gathering a batch's rows and the seeded corruption of denoising
//! autoencoders ([`Noise`]), with the counter-based hash every backend computes alike.

use super::TensorOps;
use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A 32-bit integer hash (PCG output permutation); the same in `ae-wgpu/shaders/data.wgsl`.
#[inline]
pub fn hash_u32(x: u32) -> u32 {
    let state = x.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// A uniform number in `(0, 1)` from `(seed, index, stream)`: 24 random bits, offset by half a
/// step so that it is never 0 or 1.
#[inline]
pub fn hash_uniform(seed: u32, index: u32, stream: u32) -> f32 {
    let h = hash_u32(hash_u32(seed ^ stream.wrapping_mul(0x9E37_79B9)) ^ index);
    ((h >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0)
}

/// Input noise for denoising autoencoders; the loss compares against the clean input.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// Masking noise: each input is zeroed with probability `p`.
    Mask {
        /// Fraction of inputs zeroed, in `[0, 1)`.
        p: f32,
    },
    /// Additive Gaussian noise of standard deviation `sigma`.
    Gauss {
        /// Standard deviation, `>= 0`.
        sigma: f32,
    },
}

impl Noise {
    /// Element `index` of `x` corrupted with the noise of `seed`: every backend computes exactly
    /// this (Gaussian noise by Box-Muller from two hashed uniforms).
    #[inline]
    pub fn apply(self, seed: u32, index: u32, x: f32) -> f32 {
        match self {
            Noise::Mask { p } => {
                if hash_uniform(seed, index, 0) < p {
                    0.0
                } else {
                    x
                }
            }
            Noise::Gauss { sigma } => {
                let u1 = hash_uniform(seed, index, 0);
                let u2 = hash_uniform(seed, index, 1);
                let n = (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
                x + sigma * n
            }
        }
    }

    /// Checks the range of the parameter.
    pub fn validate(self) -> Result<()> {
        match self {
            Noise::Mask { p } if !(0.0..1.0).contains(&p) => Err(Error::Config(format!(
                "masking noise needs a fraction p in [0, 1), got {p}"
            ))),
            Noise::Gauss { sigma } if !(sigma.is_finite() && sigma >= 0.0) => Err(Error::Config(
                format!("Gaussian noise needs sigma >= 0, got {sigma}"),
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Noise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Noise::Mask { p } => write!(f, "mask:{p}"),
            Noise::Gauss { sigma } => write!(f, "gauss:{sigma}"),
        }
    }
}

fn parse_f32(what: &str, s: &str, spec: &str) -> Result<f32> {
    s.trim()
        .parse::<f32>()
        .map_err(|_| Error::Config(format!("'{spec}': {what} must be a number, got '{s}'")))
}

impl FromStr for Noise {
    type Err = Error;
    /// `mask:P` or `gauss:SIGMA`.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let noise = match parts.as_slice() {
            ["mask", p] => Noise::Mask {
                p: parse_f32("P", p, s)?,
            },
            ["gauss", sigma] => Noise::Gauss {
                sigma: parse_f32("SIGMA", sigma, s)?,
            },
            _ => {
                return Err(Error::Config(format!(
                    "unknown noise '{s}': expected mask:P or gauss:SIGMA"
                )))
            }
        };
        noise.validate()?;
        Ok(noise)
    }
}

/// Moving and corrupting rows.
pub trait DataOps: TensorOps {
    /// `dst[i, :] = src[rows[i], :]`: `src` `[n, cols]`, `dst` `[rows.len(), cols]`.
    fn gather_rows(&self, src: &Self::Tensor, rows: &[u32], dst: &mut Self::Tensor);
    /// A block of columns copied across: `dst[i, dst_col + j] = src[i, src_col + j]` for every
    /// row `i` and `j < cols`; the rest of `dst` is left as it is. `src` `[rows, a]`, `dst`
    /// `[rows, b]`, `src_col + cols <= a`, `dst_col + cols <= b`. Slices a column range out
    /// (`dst_col` 0, `b = cols`) or writes one back (`src_col` 0, `a = cols`).
    fn copy_columns(
        &self,
        src: &Self::Tensor,
        src_col: usize,
        dst: &mut Self::Tensor,
        dst_col: usize,
        cols: usize,
    );
    /// Denoising corruption: `out[i] = noise.apply(seed, i, x[i])` with `i` the flat row-major
    /// index ([`Noise::apply`]); `x`, `out` `[rows, cols]`.
    fn corrupt(&self, noise: Noise, seed: u32, x: &Self::Tensor, out: &mut Self::Tensor);
    /// A denoising batch in one op: `dst = src[rows, :]` as [`DataOps::gather_rows`], and
    /// `noisy` = `dst` corrupted by `noise` with `seed` as [`DataOps::corrupt`]; `dst`, `noisy`
    /// `[rows.len(), cols]`. By default the two ops (wgpu: one dispatch).
    fn gather_rows_corrupted(
        &self,
        src: &Self::Tensor,
        rows: &[u32],
        noise: (Noise, u32),
        dst: &mut Self::Tensor,
        noisy: &mut Self::Tensor,
    ) {
        self.gather_rows(src, rows, dst);
        self.corrupt(noise.0, noise.1, dst, noisy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_noise_zeroes_about_p_and_is_seeded() {
        let noise = Noise::Mask { p: 0.3 };
        let zeroed = (0..100_000u32)
            .filter(|&i| noise.apply(7, i, 1.0) == 0.0)
            .count();
        assert!((zeroed as f64 / 1e5 - 0.3).abs() < 0.01, "{zeroed}");
        let g = Noise::Gauss { sigma: 2.0 };
        let v: Vec<f32> = (0..100_000u32).map(|i| g.apply(3, i, 0.0)).collect();
        let var = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / 1e5;
        assert!((var - 4.0).abs() < 0.1, "{var}");
        assert_ne!(g.apply(3, 5, 0.0), g.apply(4, 5, 0.0));
    }
}
