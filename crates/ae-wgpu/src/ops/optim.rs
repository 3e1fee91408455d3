//! The wgpu bodies of the `optim` op family: dispatches of `shaders/optim.wgsl` (maths and
//! shapes in `ae_backend::ops::optim`). Tensors made together (`zeros_many`: a model's
//! parameters, gradients and moments) are updated by one dispatch over their buffers.

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::Kernel;
use crate::params::{AdamParams, SgdParams};
use crate::tensor::one_layout;
use ae_backend::ops::optim::{AdamStep, OptimOps, SgdStep};

impl WgpuBackend {
    /// SGD over `len` elements of `[grad, param, velocity]`.
    fn sgd_dispatch(&self, step: &SgdStep, len: usize, binds: [Bind<'_>; 3]) {
        if len == 0 {
            return;
        }
        let grid = self.grid(len);
        let p = SgdParams {
            len: len as u32,
            row_stride: grid.row_stride,
            lr: step.lr,
            momentum: step.momentum,
        };
        self.dispatch(Kernel::SgdStep, &p, &binds, grid.groups);
    }

    /// Adam over `len` elements of `[grad, param, m, v]`.
    fn adam_dispatch(&self, step: &AdamStep, len: usize, binds: [Bind<'_>; 4]) {
        if len == 0 {
            return;
        }
        let grid = self.grid(len);
        let c = step.coefficients::<f32>();
        let p = AdamParams {
            len: len as u32,
            row_stride: grid.row_stride,
            lr: c.lr,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            decay: c.decay,
            inv_bc1: c.inv_bc1,
            inv_bc2: c.inv_bc2,
            ..Default::default()
        };
        self.dispatch(Kernel::AdamStep, &p, &binds, grid.groups);
    }
}

impl OptimOps for WgpuBackend {
    fn sgd_step(
        &self,
        step: &SgdStep,
        param: &mut WgpuTensor,
        grad: &WgpuTensor,
        velocity: &mut WgpuTensor,
    ) {
        let binds = [
            Bind::Tensor(grad),
            Bind::Tensor(param),
            Bind::Tensor(velocity),
        ];
        self.sgd_dispatch(step, param.len(), binds);
    }

    fn adam_step(
        &self,
        step: &AdamStep,
        param: &mut WgpuTensor,
        grad: &WgpuTensor,
        m: &mut WgpuTensor,
        v: &mut WgpuTensor,
    ) {
        let binds = [
            Bind::Tensor(grad),
            Bind::Tensor(param),
            Bind::Tensor(m),
            Bind::Tensor(v),
        ];
        self.adam_dispatch(step, param.len(), binds);
    }

    fn sgd_step_all(
        &self,
        step: &SgdStep,
        params: &mut [WgpuTensor],
        grads: &[WgpuTensor],
        velocities: &mut [WgpuTensor],
    ) {
        if let Some((b, len)) = one_layout(&[grads, params, velocities]) {
            let binds = [Bind::Buffer(b[0]), Bind::Buffer(b[1]), Bind::Buffer(b[2])];
            return self.sgd_dispatch(step, len, binds);
        }
        for ((p, g), v) in params.iter_mut().zip(grads).zip(velocities) {
            self.sgd_step(step, p, g, v);
        }
    }

    fn adam_step_all(
        &self,
        step: &AdamStep,
        params: &mut [WgpuTensor],
        grads: &[WgpuTensor],
        m: &mut [WgpuTensor],
        v: &mut [WgpuTensor],
    ) {
        if let Some((b, len)) = one_layout(&[grads, params, m, v]) {
            let binds = [
                Bind::Buffer(b[0]),
                Bind::Buffer(b[1]),
                Bind::Buffer(b[2]),
                Bind::Buffer(b[3]),
            ];
            return self.adam_dispatch(step, len, binds);
        }
        for (((p, g), m), v) in params.iter_mut().zip(grads).zip(m).zip(v) {
            self.adam_step(step, p, g, m, v);
        }
    }
}
