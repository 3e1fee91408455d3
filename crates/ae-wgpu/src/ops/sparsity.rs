//! The wgpu bodies of the `sparsity` op family: dispatches of `shaders/sparsity.wgsl`, summed
//! by `shaders/reduce.wgsl` (maths and shapes in `ae_backend::ops::sparsity`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::Kernel;
use crate::params::{
    DeadParams, JumpReluParams, KlSparsityParams, L1PenaltyParams, ThresholdParams, TopkParams,
};
use ae_backend::ops::{LinearOps, SparsityOps};

impl SparsityOps for WgpuBackend {
    fn l1_penalty(
        &self,
        h: &WgpuTensor,
        unit_weights: Option<&WgpuTensor>,
        lambda: f32,
        tanh_scale: f32,
        scale: f32,
        acc: &mut WgpuTensor,
        grad: &mut WgpuTensor,
    ) {
        let len = h.len();
        if len == 0 {
            return;
        }
        let grid = self.grid(len);
        let count = grid.count();
        let partials = self.partials(count);
        let step = lambda / h.rows.max(1) as f32;
        let p = L1PenaltyParams {
            len: len as u32,
            cols: h.cols as u32,
            weighted: unit_weights.is_some() as u32,
            row_stride: grid.row_stride,
            step,
            tanh_scale,
            ..Default::default()
        };
        // Without weights the shader never reads them; `h` stands in.
        let weights = unit_weights.unwrap_or(h);
        let binds = [
            Bind::Tensor(h),
            Bind::Tensor(weights),
            Bind::Tensor(grad),
            Bind::Buffer(&partials),
        ];
        self.dispatch(Kernel::L1Penalty, &p, &binds, grid.groups);
        self.finish_sum(&partials, count, scale * step, acc);
    }

    fn kl_sparsity(
        &self,
        h: &WgpuTensor,
        rho: f32,
        beta: f32,
        scale: f32,
        acc: &mut WgpuTensor,
        grad: &mut WgpuTensor,
        mean_out: &mut WgpuTensor,
    ) {
        let (rows, cols) = (h.rows, h.cols);
        if rows == 0 || cols == 0 {
            return;
        }
        self.bias_grad(h, mean_out); // column sums
        let partials = self.partials(cols as u64);
        let inv_rows = 1.0 / rows as f32;
        let grid = self.grid(cols);
        let p = KlSparsityParams {
            len: cols as u32,
            cols: cols as u32,
            row_stride: grid.row_stride,
            rho,
            coef: inv_rows,
            ..Default::default()
        };
        let binds = [Bind::Buffer(&partials), Bind::Tensor(mean_out)];
        self.dispatch(Kernel::KlSparsityDivergence, &p, &binds, grid.groups);
        let grid = self.grid(grad.len());
        let p = KlSparsityParams {
            len: grad.len() as u32,
            row_stride: grid.row_stride,
            coef: beta * inv_rows,
            ..p
        };
        let binds = [Bind::Tensor(grad), Bind::Tensor(mean_out)];
        self.dispatch(Kernel::KlSparsityGradient, &p, &binds, grid.groups);
        self.finish_sum(&partials, cols as u64, scale * beta, acc);
    }

    fn topk(&self, z: &WgpuTensor, k: usize, out: &mut WgpuTensor, mask: &mut WgpuTensor) {
        if z.rows == 0 || z.cols == 0 {
            return;
        }
        let p = TopkParams {
            rows: z.rows as u32,
            cols: z.cols as u32,
            k: k as u32,
            ..Default::default()
        };
        let binds = [Bind::Tensor(z), Bind::Tensor(out), Bind::Tensor(mask)];
        self.dispatch(Kernel::Topk, &p, &binds, self.row_groups(z.rows));
    }

    fn batch_topk(&self, z: &WgpuTensor, k: usize, out: &mut WgpuTensor, mask: &mut WgpuTensor) {
        // The topk kernel on the whole batch as one row.
        if z.len() == 0 {
            return;
        }
        let p = TopkParams {
            rows: 1,
            cols: z.len() as u32,
            k: (k * z.rows) as u32,
            ..Default::default()
        };
        let binds = [Bind::Tensor(z), Bind::Tensor(out), Bind::Tensor(mask)];
        self.dispatch(Kernel::Topk, &p, &binds, self.row_groups(1));
    }

    fn jump_relu(
        &self,
        z: &WgpuTensor,
        theta: &WgpuTensor,
        out: &mut WgpuTensor,
        mask: &mut WgpuTensor,
    ) {
        debug_assert_eq!(theta.len(), z.cols, "jump_relu threshold width");
        if z.len() == 0 {
            return;
        }
        let grid = self.grid(z.len());
        let p = JumpReluParams {
            len: z.len() as u32,
            cols: z.cols as u32,
            row_stride: grid.row_stride,
            ..Default::default()
        };
        let binds = [
            Bind::Tensor(z),
            Bind::Tensor(out),
            Bind::Tensor(mask),
            Bind::Tensor(theta),
        ];
        self.dispatch(Kernel::JumpRelu, &p, &binds, grid.groups);
    }

    fn jump_relu_backward(
        &self,
        z: &WgpuTensor,
        theta: &WgpuTensor,
        bandwidth: f32,
        l0: f32,
        scale: f32,
        grad: &mut WgpuTensor,
        log_theta_grad: &mut WgpuTensor,
        acc: &mut WgpuTensor,
    ) {
        debug_assert_eq!(theta.len(), z.cols, "jump_relu_backward threshold width");
        let cols = z.cols;
        if cols == 0 {
            return;
        }
        let partials = self.partials(cols as u64);
        let grid = self.grid(cols);
        let p = JumpReluParams {
            len: cols as u32,
            cols: cols as u32,
            row_stride: grid.row_stride,
            rows: z.rows as u32,
            bandwidth,
            l0,
            ..Default::default()
        };
        let binds = [
            Bind::Tensor(grad),
            Bind::Buffer(&partials),
            Bind::Tensor(z),
            Bind::Tensor(theta),
            Bind::Tensor(log_theta_grad),
        ];
        self.dispatch(Kernel::JumpReluBackward, &p, &binds, grid.groups);
        self.finish_sum(&partials, cols as u64, scale * l0, acc);
    }

    fn track_dead(&self, code: &WgpuTensor, since: &mut WgpuTensor) {
        debug_assert_eq!((since.rows, since.cols), (1, code.cols), "track_dead");
        if code.cols == 0 {
            return;
        }
        let grid = self.grid(code.cols);
        let p = DeadParams {
            len: code.cols as u32,
            cols: code.cols as u32,
            row_stride: grid.row_stride,
            rows: code.rows as u32,
            ..Default::default()
        };
        let binds = [Bind::Tensor(code), Bind::Tensor(since)];
        self.dispatch(Kernel::TrackDead, &p, &binds, grid.groups);
    }

    fn threshold_average(&self, code: &WgpuTensor, decay: f32, threshold: &mut WgpuTensor) {
        debug_assert_eq!(
            (threshold.rows, threshold.cols),
            (1, 1),
            "threshold_average"
        );
        if code.len() == 0 {
            return;
        }
        let p = ThresholdParams {
            len: code.len() as u32,
            decay,
            ..Default::default()
        };
        let binds = [Bind::Tensor(code), Bind::Tensor(threshold)];
        self.dispatch(Kernel::ThresholdAverage, &p, &binds, (1, 1, 1));
    }

    fn mask_dead(&self, z: &WgpuTensor, since: &WgpuTensor, window: f32, out: &mut WgpuTensor) {
        debug_assert_eq!((since.rows, since.cols), (1, z.cols), "mask_dead");
        if out.len() == 0 {
            return;
        }
        let grid = self.grid(out.len());
        let p = DeadParams {
            len: out.len() as u32,
            cols: z.cols as u32,
            row_stride: grid.row_stride,
            window,
            ..Default::default()
        };
        let binds = [Bind::Tensor(z), Bind::Tensor(out), Bind::Tensor(since)];
        self.dispatch(Kernel::MaskDead, &p, &binds, grid.groups);
    }
}
