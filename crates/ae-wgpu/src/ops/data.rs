//! The wgpu bodies of the `data` op family: dispatches of `shaders/data.wgsl` (maths and shapes
//! in `ae_backend::ops::data`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::{noise_id, Kernel};
use crate::params::{CopyColumnsParams, CorruptParams, GatherCorruptParams, GatherRowsParams};
use ae_backend::ops::DataOps;
use ae_backend::Noise;

impl DataOps for WgpuBackend {
    fn gather_rows(&self, src: &WgpuTensor, rows: &[u32], dst: &mut WgpuTensor) {
        debug_assert_eq!(dst.rows, rows.len(), "gather_rows count");
        debug_assert_eq!(dst.cols, src.cols, "gather_rows width");
        let len = dst.len();
        if len == 0 {
            return;
        }
        let grid = self.grid(len);
        let p = GatherRowsParams {
            len: len as u32,
            cols: dst.cols as u32,
            row_stride: grid.row_stride,
            ..Default::default()
        };
        let binds = [Bind::Tensor(src), Bind::Indices(rows), Bind::Tensor(dst)];
        self.dispatch(Kernel::GatherRows, &p, &binds, grid.groups);
    }

    fn copy_columns(
        &self,
        src: &WgpuTensor,
        src_col: usize,
        dst: &mut WgpuTensor,
        dst_col: usize,
        cols: usize,
    ) {
        debug_assert_eq!(src.rows, dst.rows, "copy_columns rows");
        debug_assert!(src_col + cols <= src.cols && dst_col + cols <= dst.cols);
        let len = dst.rows * cols;
        if len == 0 {
            return;
        }
        let grid = self.grid(len);
        let p = CopyColumnsParams {
            len: len as u32,
            cols: cols as u32,
            row_stride: grid.row_stride,
            src_cols: src.cols as u32,
            dst_cols: dst.cols as u32,
            src_col: src_col as u32,
            dst_col: dst_col as u32,
            ..Default::default()
        };
        let binds = [Bind::Tensor(src), Bind::Tensor(dst)];
        self.dispatch(Kernel::CopyColumns, &p, &binds, grid.groups);
    }

    fn corrupt(&self, noise: Noise, seed: u32, x: &WgpuTensor, out: &mut WgpuTensor) {
        debug_assert_eq!((x.rows, x.cols), (out.rows, out.cols), "corrupt");
        if out.len() == 0 {
            return;
        }
        let grid = self.grid(out.len());
        let (kind, param) = noise_id(noise);
        let p = CorruptParams {
            len: out.len() as u32,
            row_stride: grid.row_stride,
            kind,
            seed,
            param,
            ..Default::default()
        };
        let binds = [Bind::Tensor(x), Bind::Tensor(out)];
        self.dispatch(Kernel::Corrupt, &p, &binds, grid.groups);
    }

    fn gather_rows_corrupted(
        &self,
        src: &WgpuTensor,
        rows: &[u32],
        (noise, seed): (Noise, u32),
        dst: &mut WgpuTensor,
        noisy: &mut WgpuTensor,
    ) {
        debug_assert_eq!(dst.rows, rows.len(), "gather_rows_corrupted count");
        debug_assert_eq!(dst.cols, src.cols, "gather_rows_corrupted width");
        debug_assert_eq!((dst.rows, dst.cols), (noisy.rows, noisy.cols));
        let len = dst.len();
        if len == 0 {
            return;
        }
        let grid = self.grid(len);
        let (kind, param) = noise_id(noise);
        let p = GatherCorruptParams {
            len: len as u32,
            cols: dst.cols as u32,
            row_stride: grid.row_stride,
            kind,
            seed,
            param,
            ..Default::default()
        };
        let binds = [
            Bind::Tensor(src),
            Bind::Indices(rows),
            Bind::Tensor(dst),
            Bind::Tensor(noisy),
        ];
        self.dispatch(Kernel::GatherRowsCorrupted, &p, &binds, grid.groups);
    }
}
