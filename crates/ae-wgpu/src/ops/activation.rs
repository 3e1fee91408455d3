//! The wgpu bodies of the `activation` op family: dispatches of `shaders/activation.wgsl`
//! (maths and shapes in `ae_backend::ops::activation`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::{activation_id, Kernel};
use crate::params::ActivationParams;
use ae_backend::ops::ActivationOps;
use ae_backend::Activation;

impl WgpuBackend {
    fn activation_params(
        &self,
        act: Activation,
        len: usize,
    ) -> (ActivationParams, (u32, u32, u32)) {
        let grid = self.grid(len);
        let p = ActivationParams {
            len: len as u32,
            act: activation_id(act),
            row_stride: grid.row_stride,
            ..Default::default()
        };
        (p, grid.groups)
    }
}

impl ActivationOps for WgpuBackend {
    fn activation(&self, act: Activation, z: &WgpuTensor, a: &mut WgpuTensor) {
        debug_assert_eq!((z.rows, z.cols), (a.rows, a.cols), "activation");
        if a.len() == 0 {
            return;
        }
        let (p, groups) = self.activation_params(act, a.len());
        let binds = [Bind::Buffer(z.buffer()), Bind::Buffer(a.buffer())];
        self.dispatch(Kernel::Activation, &p, &binds, groups);
    }

    fn activation_backward(
        &self,
        act: Activation,
        z: &WgpuTensor,
        a: &WgpuTensor,
        grad: &mut WgpuTensor,
    ) {
        debug_assert_eq!(
            (z.rows, z.cols),
            (grad.rows, grad.cols),
            "activation_backward"
        );
        if grad.len() == 0 {
            return;
        }
        let (p, groups) = self.activation_params(act, grad.len());
        let binds = [
            Bind::Buffer(z.buffer()),
            Bind::Buffer(a.buffer()),
            Bind::Buffer(grad.buffer()),
        ];
        self.dispatch(Kernel::ActivationBackward, &p, &binds, groups);
    }
}
