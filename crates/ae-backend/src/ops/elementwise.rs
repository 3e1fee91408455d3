//! Elementwise utilities over tensors of one shape.

use super::TensorOps;

/// Copies, fills and elementwise updates; every tensor of a call has the same shape.
pub trait ElementwiseOps: TensorOps {
    /// `dst = src`.
    fn copy(&self, src: &Self::Tensor, dst: &mut Self::Tensor);
    /// Every element of `t` set to `value`.
    fn fill(&self, t: &mut Self::Tensor, value: f32);
    /// `y += alpha * x`.
    fn scale_add(&self, alpha: f32, x: &Self::Tensor, y: &mut Self::Tensor);
    /// `y *= x` (the backward of a 0/1 mask such as TopK's).
    fn mul_assign(&self, y: &mut Self::Tensor, x: &Self::Tensor);
    /// `y = e^x` (a JumpReLU threshold from its logarithm).
    fn exponential(&self, x: &Self::Tensor, y: &mut Self::Tensor);
    /// `y /= s[0, 0]` for a `[1, 1]` `s` worked out on the device (AuxK's residual variance), or
    /// `y = 0` where `s[0, 0]` is 0 (nothing to normalise by, as in Gao et al.'s
    /// `nan_to_num(0)`).
    fn divide_by(&self, y: &mut Self::Tensor, s: &Self::Tensor);
}
