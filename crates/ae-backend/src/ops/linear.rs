//! The affine map of a layer: matrix products, the bias and its gradient.
//!
//! A layer computes `z = x Wᵀ + b` (`x` `[batch, in]`, `W` `[out, in]`, `b` `[1, out]`); its
//! backward is `dW = dzᵀ x`, `dx = dz W` (both [`LinearOps::matmul`]) and
//! `db = column sums of dz` ([`LinearOps::bias_grad`]).

use super::TensorOps;

/// Matrix products and biases.
pub trait LinearOps: TensorOps {
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
    /// The gradient of [`LinearOps::add_bias`]: `db[0, j] = sum_i dy[i, j]`; `dy`
    /// `[rows, cols]`, `db` `[1, cols]`.
    fn bias_grad(&self, dy: &Self::Tensor, db: &mut Self::Tensor);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_follow_the_transposes() {
        assert_eq!(matmul_dims((2, 3), false, (3, 4), false, (2, 4)), (2, 3, 4));
        assert_eq!(matmul_dims((3, 2), true, (4, 3), true, (2, 4)), (2, 3, 4));
    }

    #[test]
    #[should_panic(expected = "matmul")]
    fn dims_that_do_not_chain_panic() {
        matmul_dims((2, 3), false, (2, 4), false, (2, 4));
    }
}
