//! The CPU bodies of the `elementwise` op family: copies, fills and elementwise updates
//! (maths and shapes in `ae_backend::ops::elementwise`).

use crate::{loops, same_shape, CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::ElementwiseOps;

impl<T: CpuElement> ElementwiseOps for CpuBackend<T> {
    fn copy(&self, src: &CpuTensor<T>, dst: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("copy", 0.0);
        same_shape(src, dst, "copy");
        dst.data.copy_from_slice(&src.data);
    }

    fn fill(&self, t: &mut CpuTensor<T>, value: f32) {
        let _timed = self.profiler.time("fill", 0.0);
        t.data.fill(T::from_f32(value));
    }

    fn scale_add(&self, alpha: f32, x: &CpuTensor<T>, y: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("scale_add", 0.0);
        same_shape(x, y, "scale_add");
        let alpha = T::from_f32(alpha);
        loops::update(
            &mut y.data,
            &x.data,
            #[inline(always)]
            |y, x| *y += alpha * x,
        );
    }

    fn mul_assign(&self, y: &mut CpuTensor<T>, x: &CpuTensor<T>) {
        let _timed = self.profiler.time("mul_assign", 0.0);
        same_shape(x, y, "mul_assign");
        loops::update(
            &mut y.data,
            &x.data,
            #[inline(always)]
            |y, x| *y *= x,
        );
    }

    fn exponential(&self, x: &CpuTensor<T>, y: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("exponential", 0.0);
        same_shape(x, y, "exponential");
        for (y, &x) in y.data.iter_mut().zip(&x.data) {
            *y = x.exp();
        }
    }

    fn divide_by(&self, y: &mut CpuTensor<T>, s: &CpuTensor<T>) {
        let _timed = self.profiler.time("divide_by", 0.0);
        debug_assert_eq!(s.data.len(), 1, "divide_by: s is [1, 1]");
        let s = s.data[0];
        for y in &mut y.data {
            *y = if s == T::ZERO { T::ZERO } else { *y / s };
        }
    }
}
