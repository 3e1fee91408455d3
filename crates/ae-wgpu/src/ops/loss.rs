//! The wgpu bodies of the `loss` op family: dispatches of `shaders/loss.wgsl`, summed by
//! `shaders/reduce.wgsl` (maths and shapes in `ae_backend::ops::loss`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::{loss_id, Kernel};
use crate::params::LossParams;
use ae_backend::ops::LossOps;
use ae_backend::Loss;

impl LossOps for WgpuBackend {
    fn loss(
        &self,
        loss: Loss,
        input: &WgpuTensor,
        target: &WgpuTensor,
        weight: f32,
        scale: f32,
        acc: &mut WgpuTensor,
        grad: Option<&mut WgpuTensor>,
    ) {
        debug_assert_eq!((input.rows, input.cols), (target.rows, target.cols), "loss");
        let len = input.len();
        let grid = self.grid(len);
        let count = grid.count();
        let partials = self.partials(count);
        let p = LossParams {
            len: len as u32,
            kind: loss_id(loss),
            write_grad: grad.is_some() as u32,
            row_stride: grid.row_stride,
            inv_len: weight / len.max(1) as f32,
            ..Default::default()
        };
        // Without a gradient the shader never touches `grad`; `acc` (not bound otherwise in
        // this dispatch, so no writable binding aliases another) stands in for it.
        let grad_binding: &WgpuTensor = grad.map_or(&*acc, |g| &*g);
        let binds = [
            Bind::Tensor(input),
            Bind::Tensor(target),
            Bind::Tensor(grad_binding),
            Bind::Buffer(&partials),
        ];
        self.dispatch(Kernel::Loss, &p, &binds, grid.groups);
        self.finish_sum(&partials, count, scale * weight / len.max(1) as f32, acc);
    }
}
