//! Optimiser updates, fused and elementwise over one parameter tensor, and their scalar maths.

use super::TensorOps;
use crate::Element;

/// One step of SGD with momentum (PyTorch's convention):
/// `v = momentum * v + g; p -= lr * v`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    /// Learning rate for this step.
    pub lr: f32,
    /// Momentum coefficient (0 disables it).
    pub momentum: f32,
}

impl SgdStep {
    /// The update of one parameter `p` with velocity `v` from its gradient `g`.
    #[inline(always)]
    pub fn apply<T: Element>(lr: T, momentum: T, p: &mut T, v: &mut T, g: T) {
        *v = momentum * *v + g;
        *p -= lr * *v;
    }
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

/// [`AdamStep`]'s constants as every backend applies them, in the element type.
#[derive(Clone, Copy, Debug)]
pub struct AdamCoefficients<T> {
    /// Learning rate.
    pub lr: T,
    /// First-moment decay.
    pub beta1: T,
    /// Second-moment decay.
    pub beta2: T,
    /// Denominator guard.
    pub eps: T,
    /// `1 - lr * decoupled_weight_decay`: the factor on `p` before the step.
    pub decay: T,
    /// `1 / (1 - beta1^t)`.
    pub inv_bc1: T,
    /// `1 / (1 - beta2^t)`.
    pub inv_bc2: T,
}

impl AdamStep {
    /// The step's constants in `T`.
    pub fn coefficients<T: Element>(&self) -> AdamCoefficients<T> {
        let f = |x: f32| T::from_f32(x);
        AdamCoefficients {
            lr: f(self.lr),
            beta1: f(self.beta1),
            beta2: f(self.beta2),
            eps: f(self.eps),
            decay: T::ONE - f(self.lr * self.decoupled_weight_decay),
            inv_bc1: T::ONE / f(self.bias_correction1),
            inv_bc2: T::ONE / f(self.bias_correction2),
        }
    }
}

impl<T: Element> AdamCoefficients<T> {
    /// The update of one parameter `p` with moments `m`, `v` from its gradient `g`.
    #[inline(always)]
    pub fn apply(&self, p: &mut T, m: &mut T, v: &mut T, g: T) {
        *m = self.beta1 * *m + (T::ONE - self.beta1) * g;
        *v = self.beta2 * *v + (T::ONE - self.beta2) * g * g;
        *p = *p * self.decay
            - self.lr * (*m * self.inv_bc1) / ((*v * self.inv_bc2).sqrt() + self.eps);
    }
}

/// Fused optimiser updates; `param`, `grad` and the state tensors have one shape.
pub trait OptimOps: TensorOps {
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
    /// [`OptimOps::sgd_step`] on every `params[i]` from `grads[i]` with `velocities[i]`;
    /// a backend whose tensors were made together ([`TensorOps::zeros_many`]) may do it in one
    /// kernel. By default, one `sgd_step` each.
    fn sgd_step_all(
        &self,
        step: &SgdStep,
        params: &mut [Self::Tensor],
        grads: &[Self::Tensor],
        velocities: &mut [Self::Tensor],
    ) {
        debug_assert_eq!(
            params.len(),
            grads.len(),
            "sgd_step_all: one gradient per tensor"
        );
        for ((p, g), v) in params.iter_mut().zip(grads).zip(velocities) {
            self.sgd_step(step, p, g, v);
        }
    }
    /// [`OptimOps::adam_step`] on every `params[i]` from `grads[i]` with moments `m[i]`,
    /// `v[i]`; a backend whose tensors were made together ([`TensorOps::zeros_many`]) may do it
    /// in one kernel. By default, one `adam_step` each.
    fn adam_step_all(
        &self,
        step: &AdamStep,
        params: &mut [Self::Tensor],
        grads: &[Self::Tensor],
        m: &mut [Self::Tensor],
        v: &mut [Self::Tensor],
    ) {
        debug_assert_eq!(
            params.len(),
            grads.len(),
            "adam_step_all: one gradient per tensor"
        );
        for (((p, g), m), v) in params.iter_mut().zip(grads).zip(m).zip(v) {
            self.adam_step(step, p, g, m, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_first_step_moves_by_lr_against_the_gradient_sign() {
        let step = AdamStep {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 0.0,
            decoupled_weight_decay: 0.0,
            bias_correction1: 0.1,
            bias_correction2: 0.001,
        };
        let (mut p, mut m, mut v) = (1.0f64, 0.0, 0.0);
        step.coefficients::<f64>()
            .apply(&mut p, &mut m, &mut v, 3.0);
        assert!((p - 0.9).abs() < 1e-6, "{p}");
    }

    #[test]
    fn sgd_momentum_accumulates() {
        let (mut p, mut v) = (0.0f64, 0.0);
        SgdStep::apply(1.0, 0.5, &mut p, &mut v, 1.0);
        SgdStep::apply(1.0, 0.5, &mut p, &mut v, 1.0);
        assert_eq!((p, v), (-2.5, 1.5));
    }
}
