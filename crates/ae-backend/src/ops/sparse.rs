//! Matrix products with a sparse code: a TopK code `s` `[rows, n]` has at most `k` non-zeros per
//! row, at the columns its index list `idx` `[rows, k]` names ([`SparseOps::active_columns`]),
//! so a product with it costs `rows * k * width` instead of `rows * n * width`. These serve the
//! layer after a TopK code (the decoder's forward, its weight gradient as a scatter-add over the
//! active latents, the code's gradient only where it is active) and the TopK layer's own weight
//! gradient.
//!
//! Index lists hold column numbers as f32 values (exact below 2^24), ascending, padded with `n`
//! (no column) where a row has fewer than `k` active columns. A weight `w` is `[m, n]`
//! (`w_t == false`: one row per output, as a layer stores it) or `[n, m]` (`w_t == true`: one row
//! per code column, as a tied decoder reads the encoder's weight).

use super::tensor::TensorOps;

/// Products with TopK codes.
pub trait SparseOps: TensorOps {
    /// `idx[i, t]` = the column of the `t`-th 1 (from the left) of `mask[i, :]`, for `t` below
    /// that row's count of 1s (at most `k`), and `n` after it: `mask` `[rows, n]` of 0s and 1s,
    /// `idx` `[rows, k]`.
    fn active_columns(&self, mask: &Self::Tensor, idx: &mut Self::Tensor);
    /// `out = s wᵀ` (or `s w` with `w_t`) over the active columns only:
    /// `out[i, o] = sum_t s[i, j] w[o, j]`, `j = idx[i, t]`. `s` `[rows, n]` (zero off `idx`),
    /// `w` `[m, n]` (or `[n, m]`), `out` `[rows, m]`.
    fn sparse_matmul(
        &self,
        s: &Self::Tensor,
        idx: &Self::Tensor,
        w: &Self::Tensor,
        w_t: bool,
        out: &mut Self::Tensor,
    );
    /// The gradient of the code at its active columns: `grad[i, j] = sum_o dy[i, o] w[o, j]` for
    /// `j` in `idx[i, :]`, 0 elsewhere. `dy` `[rows, m]`, `w` `[m, n]` (or `[n, m]`), `grad`
    /// `[rows, n]`.
    fn sparse_input_grad(
        &self,
        dy: &Self::Tensor,
        idx: &Self::Tensor,
        w: &Self::Tensor,
        w_t: bool,
        grad: &mut Self::Tensor,
    );
    /// A weight gradient from a sparse side, scatter-added over the active columns:
    /// `dw = yᵀ s` (or `dw += yᵀ s` with `accumulate`), that is
    /// `dw[c, j] = sum_i y[i, c] s[i, j]` over the rows where `j` is in `idx[i, :]`. `s`
    /// `[rows, n]` (zero off `idx`), `y` `[rows, m]`, `dw` `[m, n]` (or `[n, m]` with `dw_t`).
    /// Without `accumulate` the old contents of `dw` are ignored (even NaN).
    fn sparse_weight_grad(
        &self,
        s: &Self::Tensor,
        idx: &Self::Tensor,
        y: &Self::Tensor,
        accumulate: bool,
        dw: &mut Self::Tensor,
        dw_t: bool,
    );
}

/// The index of `w[o, j]` in a weight of `m` outputs and `n` code columns stored `[m, n]`, or
/// `[n, m]` when `w_t`.
#[inline]
pub fn weight_index(o: usize, j: usize, m: usize, n: usize, w_t: bool) -> usize {
    if w_t {
        j * m + o
    } else {
        o * n + j
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_indices_follow_the_layout() {
        // w [m = 2, n = 3]: w[1, 2] is element 5; stored [3, 2] it is element 2 * 2 + 1.
        assert_eq!(weight_index(1, 2, 2, 3, false), 5);
        assert_eq!(weight_index(1, 2, 2, 3, true), 5);
        assert_eq!(weight_index(0, 2, 2, 3, true), 4);
        assert_eq!(weight_index(1, 0, 2, 3, false), 3);
    }
}
