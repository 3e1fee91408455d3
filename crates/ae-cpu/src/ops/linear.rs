//! The CPU bodies of the `linear` op family: matrix products through the `gemm` crate, the bias and its gradient
//! (maths and shapes in `ae_backend::ops::linear`).

use crate::{gemm, loops, CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::LinearOps;

impl<T: CpuElement> LinearOps for CpuBackend<T> {
    fn matmul(
        &self,
        a: &CpuTensor<T>,
        trans_a: bool,
        b: &CpuTensor<T>,
        trans_b: bool,
        alpha: f32,
        beta: f32,
        c: &mut CpuTensor<T>,
    ) {
        // 2 m n k operations: c is [m, n], k is op(a)'s width.
        let k = if trans_a { a.rows } else { a.cols };
        let _timed = self
            .profiler
            .time("matmul", 2.0 * (c.rows * c.cols * k) as f64);
        gemm::matmul(a, trans_a, b, trans_b, alpha, beta, c);
    }

    fn add_bias(&self, x: &mut CpuTensor<T>, bias: &CpuTensor<T>) {
        let _timed = self.profiler.time("add_bias", 0.0);
        debug_assert_eq!(bias.data.len(), x.cols, "add_bias width");
        loops::for_rows(
            &mut x.data,
            x.cols,
            #[inline(always)]
            |row| {
                for (v, b) in row.iter_mut().zip(&bias.data) {
                    *v += *b;
                }
            },
        );
    }

    fn bias_grad(&self, dy: &CpuTensor<T>, db: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("bias_grad", 0.0);
        debug_assert_eq!(db.data.len(), dy.cols, "bias_grad width");
        db.data.fill(T::ZERO);
        for row in dy.data.chunks_exact(dy.cols) {
            for (acc, v) in db.data.iter_mut().zip(row) {
                *acc += *v;
            }
        }
    }
}
