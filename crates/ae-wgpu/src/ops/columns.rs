//! The wgpu bodies of the `columns` op family: dispatches of `shaders/columns.wgsl`, one thread
//! per column (maths and shapes in `ae_backend::ops::columns`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::Kernel;
use crate::params::ColumnParams;
use ae_backend::ops::ColumnOps;

impl WgpuBackend {
    /// One per-column kernel over the columns of `w`.
    fn columns(
        &self,
        kernel: Kernel,
        w: &WgpuTensor,
        (alpha, tanh_scale): (f32, f32),
        h_rows: usize,
        binds: &[Bind],
    ) {
        if w.cols == 0 {
            return;
        }
        let grid = self.grid(w.cols);
        let p = ColumnParams {
            len: w.cols as u32,
            cols: w.cols as u32,
            row_stride: grid.row_stride,
            rows: w.rows as u32,
            alpha,
            h_rows: h_rows as u32,
            tanh_scale,
            ..Default::default()
        };
        self.dispatch(kernel, &p, binds, grid.groups);
    }
}

impl ColumnOps for WgpuBackend {
    fn normalize_columns(&self, w: &mut WgpuTensor) {
        let binds = [Bind::Tensor(w)];
        self.columns(Kernel::NormalizeColumns, w, (0.0, 0.0), 0, &binds);
    }

    fn remove_parallel_component(&self, w: &WgpuTensor, grad: &mut WgpuTensor) {
        debug_assert_eq!(
            (w.rows, w.cols),
            (grad.rows, grad.cols),
            "remove_parallel_component"
        );
        let binds = [Bind::Tensor(w), Bind::Tensor(grad)];
        self.columns(Kernel::RemoveParallelComponent, w, (0.0, 0.0), 0, &binds);
    }

    fn column_norms(&self, w: &WgpuTensor, out: &mut WgpuTensor) {
        debug_assert_eq!((out.rows, out.cols), (1, w.cols), "column_norms");
        let binds = [Bind::Tensor(w), Bind::Tensor(out)];
        self.columns(Kernel::ColumnNorms, w, (0.0, 0.0), 0, &binds);
    }

    fn l1_decoder_norm_backward(
        &self,
        h: &WgpuTensor,
        w: &WgpuTensor,
        alpha: f32,
        tanh_scale: f32,
        grad: &mut WgpuTensor,
    ) {
        debug_assert_eq!(h.cols, w.cols, "l1_decoder_norm_backward");
        let binds = [Bind::Tensor(w), Bind::Tensor(grad), Bind::Tensor(h)];
        let coefs = (alpha, tanh_scale);
        self.columns(Kernel::L1DecoderNormBackward, w, coefs, h.rows, &binds);
    }
}
