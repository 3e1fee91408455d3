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
}
