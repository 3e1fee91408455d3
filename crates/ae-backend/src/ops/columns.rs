//! Per-column ops on a weight `[rows, cols]`: a decoder weight's column `j` is code unit `j`'s
//! direction (unit-norm decoders, decoder-norm-weighted L1).

use super::TensorOps;

/// Column norms and the updates built on them.
pub trait ColumnOps: TensorOps {
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
    /// `alpha * sum_ij phi(||w[:, j]|| |h[i, j]|)` (`phi` of `tanh_scale`, see
    /// [`crate::ops::sparsity::saturated`]: the identity for 0, `tanh(c u)` for `c > 0`):
    /// `grad[:, j] += alpha * (sum_i |h[i, j]| phi'(n_j |h[i, j]|)) / n_j * w[:, j]`,
    /// `n_j = ||w[:, j]||` (nothing where `w[:, j] = 0`). `h` `[rows, cols]` (the code), `w`,
    /// `grad` `[d, cols]` (the decoder weight reading the code).
    fn l1_decoder_norm_backward(
        &self,
        h: &Self::Tensor,
        w: &Self::Tensor,
        alpha: f32,
        tanh_scale: f32,
        grad: &mut Self::Tensor,
    );
}
