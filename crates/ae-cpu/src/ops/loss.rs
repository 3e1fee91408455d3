//! The CPU bodies of the `loss` op family: the reconstruction loss and its gradient in one fused loop
//! (maths and shapes in `ae_backend::ops::loss`).

use crate::{loops, same_shape, CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::LossOps;
use ae_backend::Loss;

impl<T: CpuElement> LossOps for CpuBackend<T> {
    fn loss(
        &self,
        loss: Loss,
        input: &CpuTensor<T>,
        target: &CpuTensor<T>,
        weight: f32,
        scale: f32,
        acc: &mut CpuTensor<T>,
        grad: Option<&mut CpuTensor<T>>,
    ) {
        let _timed = self.profiler.time("loss", 0.0);
        same_shape(input, target, "loss");
        let n = input.data.len().max(1);
        let inv_n = T::from_f64(weight as f64 / n as f64);
        let sum = match (loss, grad) {
            // The closures are inlined into the summing loops so that these vectorise.
            (Loss::Mse, Some(g)) => loops::sum_update2(
                &mut g.data,
                &input.data,
                &target.data,
                #[inline(always)]
                |g, x, t| {
                    *g = Loss::Mse.gradient(x, t) * inv_n;
                    Loss::Mse.value(x, t).to_f64()
                },
            ),
            (Loss::Bce, Some(g)) => loops::sum_update2(
                &mut g.data,
                &input.data,
                &target.data,
                #[inline(always)]
                |g, x, t| {
                    *g = Loss::Bce.gradient(x, t) * inv_n;
                    Loss::Bce.value(x, t).to_f64()
                },
            ),
            (loss, None) => loops::sum_zip(
                &input.data,
                &target.data,
                #[inline(always)]
                |x, t| loss.value(x, t).to_f64(),
            ),
        };
        acc.data[0] += T::from_f64(scale as f64 * weight as f64 * sum / n as f64);
    }
}
