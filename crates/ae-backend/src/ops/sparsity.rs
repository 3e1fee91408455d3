//! The sparsity ops of sparse autoencoders (code penalties, TopK, JumpReLU, dead-latent
//! tracking) and their scalar maths: KL divergence, TopK's ordering key, JumpReLU's
//! straight-through estimator, the shared constants.

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

/// The rectangle kernel of JumpReLU's straight-through estimator: `K(u) = 1` where
/// `|u| < 1/2`, else 0 (so `(z - theta) / eps` inside it tests `|z - theta| < eps / 2`).
#[inline]
pub fn rectangle<T: Element>(u: T) -> T {
    let half = T::from_f64(0.5);
    if u > -half && u < half {
        T::ONE
    } else {
        T::ZERO
    }
}

/// Whether a JumpReLU unit with threshold `theta` is on at pre-activation `z`:
/// `H(z - theta)`, also requiring `z > 0` (a trained threshold `exp(log theta)` is positive
/// anyway; a BatchTopK threshold may not be).
#[inline]
pub fn jump_on<T: Element>(z: T, theta: T) -> bool {
    z > theta && z > T::ZERO
}

/// One element's part of [`SparsityOps::jump_relu_backward`]'s threshold gradient: the
/// pseudo-derivatives of Rajamanoharan et al. (2024) with the rectangle kernel of bandwidth
/// `eps`, `d h / d theta = -(theta / eps) K((z - theta) / eps)` (taken by `g = d loss / d h`)
/// and `d H(z - theta) / d theta = -(1 / eps) K((z - theta) / eps)` (taken by the L0
/// coefficient `l0`), chained through `theta = exp(log theta)`:
/// `theta * -(1 / eps) K((z - theta) / eps) * (theta g + l0)`.
#[inline]
pub fn jump_log_threshold_grad<T: Element>(z: T, theta: T, eps: T, g: T, l0: T) -> T {
    let k = rectangle((z - theta) / eps);
    -(theta / eps) * k * (theta * g + l0)
}

/// The per-element penalty of [`SparsityOps::l1_penalty`] on `u = w_j |h_ij| >= 0`: `u` (L1,
/// `tanh_scale` 0) or `tanh(c u)` (`c = tanh_scale > 0`: Anthropic's and SAELens's tanh
/// sparsity), and its derivative `d penalty / d u` (1, or `c (1 - tanh^2(c u))`).
#[inline]
pub fn saturated<T: Element>(u: T, tanh_scale: T) -> (T, T) {
    if tanh_scale > T::ZERO {
        let t = (tanh_scale * u).tanh();
        (t, tanh_scale * (T::ONE - t * t))
    } else {
        (u, T::ONE)
    }
}

/// Sparsity on the code `[rows, cols]` (rows = samples, cols = code units).
pub trait SparsityOps: TensorOps {
    /// L1 penalty on codes `h` `[rows, cols]`, each unit weighted by `unit_weights[0, j]`
    /// (`[1, cols]`; 1 when `None`), or with `tanh_scale` `c > 0` its saturated form
    /// ([`saturated`]: `phi(u) = tanh(c u)`, else `phi(u) = u`):
    /// `value = lambda / rows * sum_ij phi(w_j |h_ij|)`; `acc[0, 0] += scale * value` and
    /// `grad[i, j] += lambda / rows * w_j * sign(h_ij) * phi'(w_j |h_ij|)` (`sign(0) = 0`);
    /// `grad` `[rows, cols]`.
    #[allow(clippy::too_many_arguments)]
    fn l1_penalty(
        &self,
        h: &Self::Tensor,
        unit_weights: Option<&Self::Tensor>,
        lambda: f32,
        tanh_scale: f32,
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
    /// The backward of [`SparsityOps::jump_relu`] for a trained threshold
    /// `theta = exp(log theta)` `[1, cols]`, with the L0 penalty
    /// `l0 * sum_ij H(z_ij - theta_j)` (`l0` the coefficient over the rows; 0 for none), given
    /// `grad = d loss / d h` `[rows, cols]`:
    /// `log_theta_grad[0, j] = sum_i` [`jump_log_threshold_grad`]`(z_ij, theta_j, bandwidth,
    /// grad_ij, l0)` (written, not added), then `grad[i, j] *= H(z_ij - theta_j)` (the
    /// pseudo-derivative `d h / d z`, [`jump_on`]), and `acc[0, 0] += scale * l0 * sum_ij
    /// H(z_ij - theta_j)`. `z` `[rows, cols]`.
    #[allow(clippy::too_many_arguments)]
    fn jump_relu_backward(
        &self,
        z: &Self::Tensor,
        theta: &Self::Tensor,
        bandwidth: f32,
        l0: f32,
        scale: f32,
        grad: &mut Self::Tensor,
        log_theta_grad: &mut Self::Tensor,
        acc: &mut Self::Tensor,
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
    /// BatchTopK's inference threshold, a running average kept on the device: with `t` the
    /// smallest positive entry of `code` `[rows, cols]`, `threshold[0, 0] =`
    /// [`threshold_average`]`(threshold[0, 0], t, decay)`; unchanged where no entry is
    /// positive. `threshold` `[1, 1]`, negative while unset.
    fn threshold_average(&self, code: &Self::Tensor, decay: f32, threshold: &mut Self::Tensor);
}

/// The step of [`SparsityOps::threshold_average`]: `smallest` where `old` is unset (negative),
/// else `decay * old + (1 - decay) * smallest`.
pub fn threshold_average(old: f32, smallest: f32, decay: f32) -> f32 {
    if old < 0.0 {
        smallest
    } else {
        decay * old + (1.0 - decay) * smallest
    }
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
    fn the_rectangle_kernel_is_open_and_the_estimator_chains_through_the_log() {
        assert_eq!(rectangle(0.0f64), 1.0);
        assert_eq!(rectangle(0.49f64), 1.0);
        assert_eq!(rectangle(0.5f64), 0.0);
        assert_eq!(rectangle(-0.5f64), 0.0);
        // Inside the window: theta * -(1 / eps) * (theta g + l0).
        let g = jump_log_threshold_grad(0.11f64, 0.1, 0.05, 2.0, 0.3);
        assert!(
            (g - 0.1 * (-1.0 / 0.05) * (0.1 * 2.0 + 0.3)).abs() < 1e-12,
            "{g}"
        );
        assert_eq!(jump_log_threshold_grad(0.2f64, 0.1, 0.05, 2.0, 0.3), 0.0);
        assert!(jump_on(0.2f64, 0.1) && !jump_on(0.1f64, 0.1) && !jump_on(0.0f64, -1.0));
        assert_eq!(saturated(0.5f64, 0.0), (0.5, 1.0));
        let (v, d) = saturated(0.5f64, 4.0);
        let h = 1e-6;
        let num = (saturated(0.5 + h, 4.0).0 - saturated(0.5 - h, 4.0).0) / (2.0 * h);
        assert!((v - 2.0f64.tanh()).abs() < 1e-15 && (d - num).abs() < 1e-8);
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
