//! The wgpu bodies of the `optim` op family: dispatches of `shaders/optim.wgsl` (maths and
//! shapes in `ae_backend::ops::optim`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::Kernel;
use crate::params::{AdamParams, SgdParams};
use ae_backend::ops::optim::{AdamStep, OptimOps, SgdStep};

impl OptimOps for WgpuBackend {
    fn sgd_step(
        &self,
        step: &SgdStep,
        param: &mut WgpuTensor,
        grad: &WgpuTensor,
        velocity: &mut WgpuTensor,
    ) {
        if param.len() == 0 {
            return;
        }
        let grid = self.grid(param.len());
        let p = SgdParams {
            len: param.len() as u32,
            row_stride: grid.row_stride,
            lr: step.lr,
            momentum: step.momentum,
        };
        let binds = [
            Bind::Buffer(grad.buffer()),
            Bind::Buffer(param.buffer()),
            Bind::Buffer(velocity.buffer()),
        ];
        self.dispatch(Kernel::SgdStep, &p, &binds, grid.groups);
    }

    fn adam_step(
        &self,
        step: &AdamStep,
        param: &mut WgpuTensor,
        grad: &WgpuTensor,
        m: &mut WgpuTensor,
        v: &mut WgpuTensor,
    ) {
        if param.len() == 0 {
            return;
        }
        let grid = self.grid(param.len());
        let c = step.coefficients::<f32>();
        let p = AdamParams {
            len: param.len() as u32,
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
        let binds = [
            Bind::Buffer(grad.buffer()),
            Bind::Buffer(param.buffer()),
            Bind::Buffer(m.buffer()),
            Bind::Buffer(v.buffer()),
        ];
        self.dispatch(Kernel::AdamStep, &p, &binds, grid.groups);
    }
}
