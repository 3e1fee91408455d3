//! The sparsity ops of sparse autoencoders (code penalties, TopK, dead-latent tracking) and
//! their scalar maths: KL divergence, TopK's ordering key, the shared constants.

use super::TensorOps;
use crate::Element;

/// KL sparsity clamps each unit's mean activation into `[KL_EPS, 1 - KL_EPS]` so that the
/// divergence and its gradient stay finite.
pub const KL_EPS: f64 = 1e-6;

/// A code unit counts as active on a sample when its activation exceeds this.
pub const ACTIVE_THRESHOLD: f32 = 1e-6;

/// What [`SparsityOps::mask_dead`] writes for units that are not dead: the lowest finite f32, so
/// that TopK over the masked pre-activations prefers every dead unit and never turns it on.
pub const MASKED: f32 = f32::MIN;

/// `rho_hat` clamped into `[KL_EPS, 1 - KL_EPS]`.
#[inline]
pub fn kl_clamp<T: Element>(rho_hat: T) -> T {
    rho_hat
        .max(T::from_f64(KL_EPS))
        .min(T::ONE - T::from_f64(KL_EPS))
}

/// `KL(rho || rho_hat) = rho ln(rho / rho_hat) + (1 - rho) ln((1 - rho) / (1 - rho_hat))`,
/// with `rho_hat` already clamped.
#[inline]
pub fn kl_divergence<T: Element>(rho: T, rho_hat: T) -> T {
    rho * (rho / rho_hat).ln() + (T::ONE - rho) * ((T::ONE - rho) / (T::ONE - rho_hat)).ln()
}

/// `d KL(rho || rho_hat) / d rho_hat = -rho / rho_hat + (1 - rho) / (1 - rho_hat)`.
#[inline]
pub fn kl_gradient<T: Element>(rho: T, rho_hat: T) -> T {
    (T::ONE - rho) / (T::ONE - rho_hat) - rho / rho_hat
}

/// TopK's ordering key: a `u32` whose unsigned order is `f32::total_cmp`'s order of the value
/// (so `-0.0 < +0.0`, and equal keys mean equal bits). The WGSL kernel uses the same map.
#[inline]
pub fn topk_key(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Sparsity on the code `[rows, cols]` (rows = samples, cols = code units).
pub trait SparsityOps: TensorOps {
    /// L1 penalty on codes `h` `[rows, cols]`, each unit weighted by `unit_weights[0, j]`
    /// (`[1, cols]`; 1 when `None`): `value = lambda / rows * sum_ij w_j |h_ij|`;
    /// `acc[0, 0] += scale * value` and `grad[i, j] += lambda / rows * w_j * sign(h_ij)`
    /// (`sign(0) = 0`); `grad` `[rows, cols]`.
    fn l1_penalty(
        &self,
        h: &Self::Tensor,
        unit_weights: Option<&Self::Tensor>,
        lambda: f32,
        scale: f32,
        acc: &mut Self::Tensor,
        grad: &mut Self::Tensor,
    );
    /// KL sparsity on sigmoid codes `h` `[rows, cols]`: `mean_out[0, j] = rho_hat_j`, unit `j`'s
    /// mean over the rows clamped by [`kl_clamp`] (`mean_out` `[1, cols]`);
    /// `acc[0, 0] += scale * beta * sum_j KL(rho || rho_hat_j)` and
    /// `grad[i, j] += beta / rows * (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j))`.
    #[allow(clippy::too_many_arguments)]
    fn kl_sparsity(
        &self,
        h: &Self::Tensor,
        rho: f32,
        beta: f32,
        scale: f32,
        acc: &mut Self::Tensor,
        grad: &mut Self::Tensor,
        mean_out: &mut Self::Tensor,
    );
    /// TopK on pre-activations `z` `[rows, cols]`, `1 <= k <= cols`: in each row keep the `k`
    /// largest values (in [`topk_key`] order; among equal values the lower column indices);
    /// `out = max(z, 0)` on kept elements and 0 elsewhere; `mask = 1` where kept and `z > 0`,
    /// else 0 (so the backward is `grad *= mask`). `out`, `mask` `[rows, cols]`.
    fn topk(&self, z: &Self::Tensor, k: usize, out: &mut Self::Tensor, mask: &mut Self::Tensor);
    /// BatchTopK: [`SparsityOps::topk`] over the whole of `z` `[rows, cols]` as one row, keeping
    /// its `k * rows` largest values (ties: the lower flat index), so that a row may keep more or
    /// fewer than `k`. `out`, `mask` `[rows, cols]`.
    fn batch_topk(
        &self,
        z: &Self::Tensor,
        k: usize,
        out: &mut Self::Tensor,
        mask: &mut Self::Tensor,
    );
    /// JumpReLU: `out[i, j] = z[i, j]` where `z[i, j] > theta[0, j]` and `z[i, j] > 0`, else 0;
    /// `mask = 1` there, else 0. `z`, `out`, `mask` `[rows, cols]`; `theta` `[1, cols]`.
    fn jump_relu(
        &self,
        z: &Self::Tensor,
        theta: &Self::Tensor,
        out: &mut Self::Tensor,
        mask: &mut Self::Tensor,
    );
    /// Dead-unit tracking: `since[0, j] = 0` where unit `j` is active on some row
    /// (`code[i, j] >` [`ACTIVE_THRESHOLD`]), else `since[0, j] += rows`. `code` `[rows, cols]`,
    /// `since` `[1, cols]`: the training samples since each unit last fired.
    fn track_dead(&self, code: &Self::Tensor, since: &mut Self::Tensor);
    /// AuxK's masked pre-activations: `out[i, j] = z[i, j]` where unit `j` is dead
    /// (`since[0, j] >= window`), else [`MASKED`] (the lowest finite f32, which
    /// [`SparsityOps::topk`] never turns on). `z`, `out` `[rows, cols]`; `since` `[1, cols]`.
    fn mask_dead(
        &self,
        z: &Self::Tensor,
        since: &Self::Tensor,
        window: f32,
        out: &mut Self::Tensor,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_key_orders_like_total_cmp() {
        let vals = [
            -3.5f32,
            -0.0,
            0.0,
            1e-30,
            2.0,
            f32::INFINITY,
            -f32::INFINITY,
            7.25,
        ];
        for a in vals {
            for b in vals {
                assert_eq!(topk_key(a).cmp(&topk_key(b)), a.total_cmp(&b), "{a} {b}");
            }
        }
    }

    #[test]
    fn kl_gradient_matches_central_difference() {
        for (rho, m) in [(0.01f64, 0.3f64), (0.2, 0.05), (0.5, 0.9)] {
            let h = 1e-7;
            let num = (kl_divergence(rho, m + h) - kl_divergence(rho, m - h)) / (2.0 * h);
            assert!((num - kl_gradient(rho, m)).abs() < 1e-5 * num.abs().max(1.0));
        }
        assert_eq!(kl_divergence(0.3f64, 0.3), 0.0);
    }
}
