//! The CPU bodies of the `activation` op family: activations and their backward, one fused loop per activation
//! (maths and shapes in `ae_backend::ops::activation`).

use crate::{loops, same_shape, CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::{ActivationOps, LinearOps};
use ae_backend::Activation;

impl<T: CpuElement> ActivationOps for CpuBackend<T> {
    fn activation(&self, act: Activation, z: &CpuTensor<T>, a: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("activation", 0.0);
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

    fn bias_activation(
        &self,
        act: Activation,
        z: &mut CpuTensor<T>,
        bias: &CpuTensor<T>,
        a: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("bias_activation", 0.0);
        same_shape(z, a, "bias_activation");
        debug_assert_eq!(bias.data.len(), z.cols, "bias_activation bias width");
        macro_rules! apply {
            ($($variant:ident),*) => {
                match act {
                    $(Activation::$variant => loops::for_rows2(&mut z.data, &mut a.data, z.cols, #[inline(always)] |zr, ar| {
                        for ((z, a), b) in zr.iter_mut().zip(ar.iter_mut()).zip(&bias.data) {
                            *z += *b;
                            *a = Activation::$variant.forward(*z);
                        }
                    }),)*
                }
            };
        }
        apply!(Identity, Relu, LeakyRelu, Sigmoid, Tanh, Gelu, Softplus);
    }

    fn activation_bias_backward(
        &self,
        act: Activation,
        z: &CpuTensor<T>,
        a: &CpuTensor<T>,
        grad: &mut CpuTensor<T>,
        db: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("activation_bias_backward", 0.0);
        // The elementwise part runs in parallel; the column sums keep bias_grad's row order.
        self.activation_backward(act, z, a, grad);
        self.bias_grad(grad, db);
    }

    fn activation_backward(
        &self,
        act: Activation,
        z: &CpuTensor<T>,
        a: &CpuTensor<T>,
        grad: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("activation_backward", 0.0);
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
