//! The CPU bodies of the `columns` op family: per-column norms and updates of a decoder weight
//! (maths and shapes in `ae_backend::ops::columns`).

use crate::{same_shape, CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::sparsity::saturated;
use ae_backend::ops::ColumnOps;
use ae_backend::Element;

impl<T: CpuElement> ColumnOps for CpuBackend<T> {
    fn normalize_columns(&self, w: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("normalize_columns", 0.0);
        let (rows, cols) = (w.rows, w.cols);
        for j in 0..cols {
            let sq = column_squared_norm(w, j);
            if sq > T::ZERO {
                let inv = T::ONE / sq.sqrt();
                (0..rows).for_each(|i| w.data[i * cols + j] *= inv);
            }
        }
    }

    fn remove_parallel_component(&self, w: &CpuTensor<T>, grad: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("remove_parallel_component", 0.0);
        same_shape(w, grad, "remove_parallel_component");
        let (rows, cols) = (w.rows, w.cols);
        for j in 0..cols {
            let (mut dot, mut sq) = (T::ZERO, T::ZERO);
            for i in 0..rows {
                let v = w.data[i * cols + j];
                dot += grad.data[i * cols + j] * v;
                sq += v * v;
            }
            if sq > T::ZERO {
                let c = dot / sq;
                (0..rows).for_each(|i| grad.data[i * cols + j] -= c * w.data[i * cols + j]);
            }
        }
    }

    fn column_norms(&self, w: &CpuTensor<T>, out: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("column_norms", 0.0);
        debug_assert_eq!((out.rows, out.cols), (1, w.cols), "column_norms");
        for (j, o) in out.data.iter_mut().enumerate() {
            *o = column_squared_norm(w, j).sqrt();
        }
    }

    fn l1_decoder_norm_backward(
        &self,
        h: &CpuTensor<T>,
        w: &CpuTensor<T>,
        alpha: f32,
        tanh_scale: f32,
        grad: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("l1_decoder_norm_backward", 0.0);
        same_shape(w, grad, "l1_decoder_norm_backward");
        debug_assert_eq!(h.cols, w.cols, "l1_decoder_norm_backward");
        let (rows, cols) = (w.rows, w.cols);
        let (alpha, c) = (T::from_f32(alpha), T::from_f32(tanh_scale));
        for j in 0..cols {
            let sq = column_squared_norm(w, j);
            if sq > T::ZERO {
                let norm = sq.sqrt();
                let abs_sum = (0..h.rows).fold(T::ZERO, |a, i| {
                    let v = h.data[i * cols + j].abs();
                    a + v * saturated(norm * v, c).1
                });
                let c = alpha * abs_sum / norm;
                (0..rows).for_each(|i| grad.data[i * cols + j] += c * w.data[i * cols + j]);
            }
        }
    }
}

/// `||w[:, j]||^2` of a `[rows, cols]` tensor.
fn column_squared_norm<T: Element>(w: &CpuTensor<T>, j: usize) -> T {
    (0..w.rows).fold(T::ZERO, |a, i| {
        let v = w.data[i * w.cols + j];
        a + v * v
    })
}
