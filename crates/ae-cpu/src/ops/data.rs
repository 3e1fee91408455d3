//! The CPU bodies of the `data` op family: row gathers, column-block copies and the seeded corruption of denoising
//! (maths and shapes in `ae_backend::ops::data`).

use crate::{same_shape, CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::data::{DataOps, Noise};

impl<T: CpuElement> DataOps for CpuBackend<T> {
    fn gather_rows(&self, src: &CpuTensor<T>, rows: &[u32], dst: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("gather_rows", 0.0);
        debug_assert_eq!(dst.rows, rows.len(), "gather_rows count");
        debug_assert_eq!(dst.cols, src.cols, "gather_rows width");
        let cols = src.cols;
        for (out, &r) in dst.data.chunks_exact_mut(cols).zip(rows) {
            let r = r as usize;
            out.copy_from_slice(&src.data[r * cols..(r + 1) * cols]);
        }
    }

    fn copy_columns(
        &self,
        src: &CpuTensor<T>,
        src_col: usize,
        dst: &mut CpuTensor<T>,
        dst_col: usize,
        cols: usize,
    ) {
        debug_assert_eq!(src.rows, dst.rows, "copy_columns rows");
        debug_assert!(src_col + cols <= src.cols && dst_col + cols <= dst.cols);
        if cols == 0 {
            return;
        }
        let (a, b) = (src.cols, dst.cols);
        for (out, row) in dst.data.chunks_exact_mut(b).zip(src.data.chunks_exact(a)) {
            out[dst_col..dst_col + cols].copy_from_slice(&row[src_col..src_col + cols]);
        }
    }

    fn corrupt(&self, noise: Noise, seed: u32, x: &CpuTensor<T>, out: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("corrupt", 0.0);
        same_shape(x, out, "corrupt");
        for (i, (o, &v)) in out.data.iter_mut().zip(&x.data).enumerate() {
            *o = T::from_f32(noise.apply(seed, i as u32, v.to_f32()));
        }
    }
}
