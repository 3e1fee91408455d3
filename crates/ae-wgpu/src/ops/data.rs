//! The wgpu bodies of the `data` op family: dispatches of `shaders/data.wgsl` (maths and shapes
//! in `ae_backend::ops::data`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::{noise_id, Kernel};
use crate::params::{CorruptParams, GatherRowsParams};
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
        let binds = [
            Bind::Buffer(src.buffer()),
            Bind::Indices(rows),
            Bind::Buffer(dst.buffer()),
        ];
        self.dispatch(Kernel::GatherRows, &p, &binds, grid.groups);
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
        let binds = [Bind::Buffer(x.buffer()), Bind::Buffer(out.buffer())];
        self.dispatch(Kernel::Corrupt, &p, &binds, grid.groups);
    }
}
