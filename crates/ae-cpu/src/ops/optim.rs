//! The CPU bodies of the `optim` op family: fused SGD and Adam updates
//! (maths and shapes in `ae_backend::ops::optim`).

use crate::{loops, CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::optim::{AdamStep, OptimOps, SgdStep};

impl<T: CpuElement> OptimOps for CpuBackend<T> {
    fn sgd_step(
        &self,
        step: &SgdStep,
        param: &mut CpuTensor<T>,
        grad: &CpuTensor<T>,
        velocity: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("sgd_step", 0.0);
        let (lr, momentum) = (T::from_f32(step.lr), T::from_f32(step.momentum));
        loops::update_pair(
            &mut param.data,
            &mut velocity.data,
            &grad.data,
            #[inline(always)]
            |p, v, g| SgdStep::apply(lr, momentum, p, v, g),
        );
    }

    fn adam_step(
        &self,
        step: &AdamStep,
        param: &mut CpuTensor<T>,
        grad: &CpuTensor<T>,
        m: &mut CpuTensor<T>,
        v: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("adam_step", 0.0);
        let c = step.coefficients::<T>();
        loops::update_triple(
            &mut param.data,
            &mut m.data,
            &mut v.data,
            &grad.data,
            #[inline(always)]
            |p, m, v, g| c.apply(p, m, v, g),
        );
    }
}
