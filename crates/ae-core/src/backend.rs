//! The `Backend` seam: device-resident tensors and the ops a training step needs.
//!
//! A backend owns 2-D row-major tensors (rows = samples) on its device. `ae-core` is generic over
//! `B: Backend`, so the model and trainer are monomorphised per backend; the run-time choice of
//! backend happens once, at the edge (the `ae` facade crate).
//!
//! Ops take their outputs as `&mut` tensors the caller allocated once, so a training step
//! allocates nothing. Ops do not return errors: a device failure surfaces at the next
//! [`Backend::download`] or [`Backend::sync`]. Shapes are checked by the callers in `ae-core`
//! (the model), and backends may `debug_assert!` them.
//!
//! Each op lists its shapes as `[rows, cols]`; the scalar maths every backend must implement
//! lives in [`crate::activation`], [`crate::loss`] and [`crate::optim`].

use crate::sparsity::Noise;
use crate::{Activation, Element, Loss, Matrix, Result};

/// One step of SGD with momentum (PyTorch's convention):
/// `v = momentum * v + g; p -= lr * v`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    /// Learning rate for this step.
    pub lr: f32,
    /// Momentum coefficient (0 disables it).
    pub momentum: f32,
}

/// One step of Adam / AdamW:
/// `p -= lr * wd * p` (decoupled decay, AdamW only), then
/// `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// Learning rate for this step.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator guard.
    pub eps: f32,
    /// Decoupled weight decay (AdamW); 0 for Adam.
    pub decoupled_weight_decay: f32,
    /// `1 - beta1^t`.
    pub bias_correction1: f32,
    /// `1 - beta2^t`.
    pub bias_correction2: f32,
}

/// `(m, k, n)` of `c [m, n] = op(a) [m, k] op(b) [k, n]` from the stored shapes `[rows, cols]`.
///
/// # Panics
/// When the shapes do not chain: a bug in the caller, which `ae-core`'s model never makes.
pub fn matmul_dims(
    a: (usize, usize),
    trans_a: bool,
    b: (usize, usize),
    trans_b: bool,
    c: (usize, usize),
) -> (usize, usize, usize) {
    let (m, k) = if trans_a { (a.1, a.0) } else { a };
    let (kb, n) = if trans_b { (b.1, b.0) } else { b };
    assert!(
        k == kb && c == (m, n),
        "matmul: op(a) [{m}, {k}] x op(b) [{kb}, {n}] into c [{}, {}]",
        c.0,
        c.1
    );
    (m, k, n)
}

/// A compute backend: owns device memory and runs the ops of a training step.
pub trait Backend: Send + Sync {
    /// The scalar type the backend computes in.
    type Elem: Element;
    /// A device-resident `[rows, cols]` row-major tensor.
    type Tensor: Send + Sync;

    /// A human-readable description: backend, device, precision.
    fn name(&self) -> String;

    // ---- memory ----

    /// A new `[rows, cols]` tensor of zeros.
    fn zeros(&self, rows: usize, cols: usize) -> Result<Self::Tensor>;
    /// Copies a host matrix to the device: `[rows, cols]`.
    fn upload(&self, m: &Matrix) -> Result<Self::Tensor>;
    /// Copies f64 host values to the device (rounded to [`Backend::Elem`]): `[rows, cols]`.
    fn upload_f64(&self, rows: usize, cols: usize, data: &[f64]) -> Result<Self::Tensor>;
    /// Copies a tensor back to the host as f32.
    fn download(&self, t: &Self::Tensor) -> Result<Matrix>;
    /// Copies a tensor back to the host as f64 (exact for f32 and f64 backends).
    fn download_f64(&self, t: &Self::Tensor) -> Result<Vec<f64>>;
    /// `[rows, cols]` of a tensor.
    fn shape(&self, t: &Self::Tensor) -> (usize, usize);
    /// Waits for all queued work; reports a device failure.
    fn sync(&self) -> Result<()>;

    // ---- elementwise utilities ----

    /// `dst = src`, same shapes.
    fn copy(&self, src: &Self::Tensor, dst: &mut Self::Tensor);
    /// Every element of `t` set to `value`.
    fn fill(&self, t: &mut Self::Tensor, value: f32);
    /// `y += alpha * x`, same shapes.
    fn scale_add(&self, alpha: f32, x: &Self::Tensor, y: &mut Self::Tensor);
    /// `y *= x` elementwise, same shapes (the backward of a 0/1 mask such as TopK's).
    fn mul_assign(&self, y: &mut Self::Tensor, x: &Self::Tensor);

    // ---- linear algebra ----

    /// `c = alpha * op(a) op(b) + beta * c`, where `op(a)` is `a` or `aᵀ` as `trans_a` says.
    /// `op(a)`: `[m, k]`, `op(b)`: `[k, n]`, `c`: `[m, n]`. With `beta == 0` the old contents of
    /// `c` are ignored (even NaN).
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        &self,
        a: &Self::Tensor,
        trans_a: bool,
        b: &Self::Tensor,
        trans_b: bool,
        alpha: f32,
        beta: f32,
        c: &mut Self::Tensor,
    );
    /// `x[i, j] += bias[0, j]`: `x` `[rows, cols]`, `bias` `[1, cols]`.
    fn add_bias(&self, x: &mut Self::Tensor, bias: &Self::Tensor);
    /// The gradient of [`Backend::add_bias`]: `db[0, j] = sum_i dy[i, j]`; `dy` `[rows, cols]`,
    /// `db` `[1, cols]`.
    fn bias_grad(&self, dy: &Self::Tensor, db: &mut Self::Tensor);

    // ---- activations ----

    /// `a = f(z)` elementwise, same shapes.
    fn activation(&self, act: Activation, z: &Self::Tensor, a: &mut Self::Tensor);
    /// The backward of [`Backend::activation`], in place: `grad *= f'(z)` (given `a = f(z)`).
    fn activation_backward(
        &self,
        act: Activation,
        z: &Self::Tensor,
        a: &Self::Tensor,
        grad: &mut Self::Tensor,
    );

    // ---- losses ----

    /// Reconstruction loss `weight * mean(loss)` of `input` (outputs for MSE, logits for BCE)
    /// against `target`, both `[rows, cols]`: `acc[0, 0] += scale * weight * mean(loss)`, and
    /// when `grad` is given, `grad = weight * d mean(loss) / d input` (each element divided by
    /// `rows * cols`). `weight` is the [`crate::Reduction`]'s factor, `scale` the batch's share
    /// of a reported mean.
    #[allow(clippy::too_many_arguments)]
    fn loss(
        &self,
        loss: Loss,
        input: &Self::Tensor,
        target: &Self::Tensor,
        weight: f32,
        scale: f32,
        acc: &mut Self::Tensor,
        grad: Option<&mut Self::Tensor>,
    );

    // ---- optimisers (fused, elementwise over one parameter tensor) ----

    /// One SGD-with-momentum update of `param` from `grad`, with `velocity` as its state.
    fn sgd_step(
        &self,
        step: &SgdStep,
        param: &mut Self::Tensor,
        grad: &Self::Tensor,
        velocity: &mut Self::Tensor,
    );
    /// One Adam / AdamW update of `param` from `grad`, with moments `m` and `v`.
    fn adam_step(
        &self,
        step: &AdamStep,
        param: &mut Self::Tensor,
        grad: &Self::Tensor,
        m: &mut Self::Tensor,
        v: &mut Self::Tensor,
    );

    // ---- sparsity (scalar maths in `crate::sparsity`) ----

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
    /// mean over the rows clamped by [`crate::sparsity::kl_clamp`] (`mean_out` `[1, cols]`);
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
    /// largest values (in [`crate::sparsity::topk_key`] order; among equal values the lower
    /// column indices); `out = max(z, 0)` on kept elements and 0 elsewhere; `mask = 1` where kept
    /// and `z > 0`, else 0 (so the backward is `grad *= mask`). `out`, `mask` `[rows, cols]`.
    fn topk(&self, z: &Self::Tensor, k: usize, out: &mut Self::Tensor, mask: &mut Self::Tensor);
    /// Dead-unit tracking: `since[0, j] = 0` where unit `j` is active on some row
    /// (`code[i, j] >` [`crate::sparsity::ACTIVE_THRESHOLD`]), else `since[0, j] += rows`.
    /// `code` `[rows, cols]`, `since` `[1, cols]`: the training samples since each unit last
    /// fired.
    fn track_dead(&self, code: &Self::Tensor, since: &mut Self::Tensor);
    /// AuxK's masked pre-activations: `out[i, j] = z[i, j]` where unit `j` is dead
    /// (`since[0, j] >= window`), else [`crate::sparsity::MASKED`] (the lowest finite f32, which
    /// [`Backend::topk`] never turns on). `z`, `out` `[rows, cols]`; `since` `[1, cols]`.
    fn mask_dead(
        &self,
        z: &Self::Tensor,
        since: &Self::Tensor,
        window: f32,
        out: &mut Self::Tensor,
    );
    /// Unit-norm decoder columns: `w[:, j] /= ||w[:, j]||` for every column `j` of `w`
    /// `[rows, cols]` (a column of norm 0 is left as it is).
    fn normalize_columns(&self, w: &mut Self::Tensor);
    /// Removes from each column of `grad` its component along the same column of `w`:
    /// `grad[:, j] -= (grad[:, j] · w[:, j]) / ||w[:, j]||^2 * w[:, j]` (nothing where
    /// `w[:, j] = 0`). `w`, `grad` `[rows, cols]`.
    fn remove_parallel_component(&self, w: &Self::Tensor, grad: &mut Self::Tensor);
    /// Column L2 norms: `out[0, j] = ||w[:, j]||`. `w` `[rows, cols]`, `out` `[1, cols]`.
    fn column_norms(&self, w: &Self::Tensor, out: &mut Self::Tensor);
    /// The decoder part of the gradient of the decoder-norm-weighted L1 penalty
    /// `alpha * sum_ij ||w[:, j]|| |h[i, j]|`:
    /// `grad[:, j] += alpha * (sum_i |h[i, j]|) / ||w[:, j]|| * w[:, j]` (nothing where
    /// `w[:, j] = 0`). `h` `[rows, cols]` (the code), `w`, `grad` `[d, cols]` (the decoder weight
    /// reading the code).
    fn l1_decoder_norm_backward(
        &self,
        h: &Self::Tensor,
        w: &Self::Tensor,
        alpha: f32,
        grad: &mut Self::Tensor,
    );
    /// Denoising corruption: `out[i] = noise.apply(seed, i, x[i])` with `i` the flat row-major
    /// index ([`Noise::apply`]); `x`, `out` `[rows, cols]`.
    fn corrupt(&self, noise: Noise, seed: u32, x: &Self::Tensor, out: &mut Self::Tensor);

    // ---- data movement ----

    /// `dst[i, :] = src[rows[i], :]`: `src` `[n, cols]`, `dst` `[rows.len(), cols]`.
    fn gather_rows(&self, src: &Self::Tensor, rows: &[u32], dst: &mut Self::Tensor);
}
