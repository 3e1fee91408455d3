//! The CPU bodies of the `activation` op family: activations and their backward, one fused loop per activation
//! (maths and shapes in `ae_backend::ops::activation`).

use crate::{loops, same_shape, CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::ActivationOps;
use ae_backend::Activation;

impl<T: CpuElement> ActivationOps for CpuBackend<T> {
    fn activation(&self, act: Activation, z: &CpuTensor<T>, a: &mut CpuTensor<T>) {
        same_shape(z, a, "activation");
        macro_rules! apply {
            ($($variant:ident),*) => {
                match act {
                    $(Activation::$variant => loops::update(&mut a.data, &z.data, #[inline(always)] |a, z| {
                        *a = Activation::$variant.forward(z)
                    }),)*
                }
            };
        }
        apply!(Identity, Relu, LeakyRelu, Sigmoid, Tanh, Gelu, Softplus);
    }

    fn activation_backward(
        &self,
        act: Activation,
        z: &CpuTensor<T>,
        a: &CpuTensor<T>,
        grad: &mut CpuTensor<T>,
    ) {
        same_shape(z, grad, "activation_backward");
        same_shape(a, grad, "activation_backward");
        macro_rules! apply {
            ($($variant:ident),*) => {
                match act {
                    $(Activation::$variant => loops::update2(&mut grad.data, &z.data, &a.data, #[inline(always)] |g, z, a| {
                        *g *= Activation::$variant.derivative(z, a)
                    }),)*
                }
            };
        }
        apply!(Identity, Relu, LeakyRelu, Sigmoid, Tanh, Gelu, Softplus);
    }
}
