//! The wgpu bodies of the `sparse` op family: dispatches of `shaders/sparse.wgsl` (maths and
//! shapes in `ae_backend::ops::sparse`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::Kernel;
use crate::params::SparseParams;
use ae_backend::ops::{ElementwiseOps, SparseOps};

impl WgpuBackend {
    /// The parameters and grid of a `sparse` kernel doing work on `len` threads.
    fn sparse_params(
        &self,
        rows: usize,
        n: usize,
        k: usize,
        m: usize,
        w_t: bool,
        len: usize,
    ) -> (SparseParams, (u32, u32, u32)) {
        let grid = self.grid(len);
        let p = SparseParams {
            rows: rows as u32,
            n: n as u32,
            k: k as u32,
            m: m as u32,
            w_t: w_t as u32,
            len: len as u32,
            row_stride: grid.row_stride,
            ..Default::default()
        };
        (p, grid.groups)
    }
}

impl SparseOps for WgpuBackend {
    fn active_columns(&self, mask: &WgpuTensor, idx: &mut WgpuTensor) {
        debug_assert_eq!(mask.rows, idx.rows, "active_columns rows");
        if idx.len() == 0 {
            return;
        }
        let (p, groups) = self.sparse_params(mask.rows, mask.cols, idx.cols, 0, false, mask.rows);
        let binds = [Bind::Tensor(mask), Bind::Tensor(idx)];
        self.dispatch(Kernel::ActiveColumns, &p, &binds, groups);
    }

    fn sparse_matmul(
        &self,
        s: &WgpuTensor,
        idx: &WgpuTensor,
        w: &WgpuTensor,
        w_t: bool,
        out: &mut WgpuTensor,
    ) {
        debug_assert_eq!(
            (w.len(), out.rows),
            (out.cols * s.cols, s.rows),
            "sparse_matmul"
        );
        if out.len() == 0 {
            return;
        }
        let (p, groups) = self.sparse_params(s.rows, s.cols, idx.cols, out.cols, w_t, out.len());
        let binds = [
            Bind::Tensor(s),
            Bind::Tensor(idx),
            Bind::Tensor(w),
            Bind::Tensor(out),
        ];
        self.dispatch(Kernel::SparseMatmul, &p, &binds, groups);
    }

    fn sparse_input_grad(
        &self,
        dy: &WgpuTensor,
        idx: &WgpuTensor,
        w: &WgpuTensor,
        w_t: bool,
        grad: &mut WgpuTensor,
    ) {
        debug_assert_eq!(
            (w.len(), grad.rows),
            (dy.cols * grad.cols, dy.rows),
            "sparse_input_grad"
        );
        self.fill(grad, 0.0);
        if idx.len() == 0 || dy.cols == 0 {
            return;
        }
        let (p, groups) = self.sparse_params(dy.rows, grad.cols, idx.cols, dy.cols, w_t, idx.len());
        let binds = [
            Bind::Tensor(idx),
            Bind::Tensor(w),
            Bind::Tensor(grad),
            Bind::Tensor(dy),
        ];
        self.dispatch(Kernel::SparseInputGrad, &p, &binds, groups);
    }

    fn sparse_weight_grad(
        &self,
        s: &WgpuTensor,
        idx: &WgpuTensor,
        y: &WgpuTensor,
        accumulate: bool,
        dw: &mut WgpuTensor,
        dw_t: bool,
    ) {
        debug_assert_eq!(
            (dw.len(), s.rows),
            (y.cols * s.cols, y.rows),
            "sparse_weight_grad"
        );
        if !accumulate {
            self.fill(dw, 0.0);
        }
        let len = idx.len() * y.cols;
        if len == 0 {
            return;
        }
        let (p, groups) = self.sparse_params(s.rows, s.cols, idx.cols, y.cols, dw_t, len);
        let binds = [
            Bind::Tensor(s),
            Bind::Tensor(idx),
            Bind::Tensor(dw),
            Bind::Tensor(y),
        ];
        self.dispatch(Kernel::SparseWeightGrad, &p, &binds, groups);
    }
}
