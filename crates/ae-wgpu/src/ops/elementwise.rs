//! The wgpu bodies of the `elementwise` op family: dispatches of `shaders/elementwise.wgsl`
//! (maths and shapes in `ae_backend::ops::elementwise`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::Kernel;
use crate::params::ElementwiseParams;
use ae_backend::ops::ElementwiseOps;

impl WgpuBackend {
    /// One elementwise kernel over `y`'s elements, reading `x` where it takes one.
    fn elementwise(&self, kernel: Kernel, value: f32, x: Option<&WgpuTensor>, y: &WgpuTensor) {
        if y.len() == 0 {
            return;
        }
        let grid = self.grid(y.len());
        let p = ElementwiseParams {
            len: y.len() as u32,
            row_stride: grid.row_stride,
            value,
            ..Default::default()
        };
        match x {
            Some(x) => {
                debug_assert_eq!((x.rows, x.cols), (y.rows, y.cols), "{kernel:?}");
                let binds = [Bind::Tensor(x), Bind::Tensor(y)];
                self.dispatch(kernel, &p, &binds, grid.groups);
            }
            None => self.dispatch(kernel, &p, &[Bind::Tensor(y)], grid.groups),
        }
    }
}

impl ElementwiseOps for WgpuBackend {
    fn copy(&self, src: &WgpuTensor, dst: &mut WgpuTensor) {
        self.elementwise(Kernel::Copy, 0.0, Some(src), dst);
    }

    fn fill(&self, t: &mut WgpuTensor, value: f32) {
        self.elementwise(Kernel::Fill, value, None, t);
    }

    fn scale_add(&self, alpha: f32, x: &WgpuTensor, y: &mut WgpuTensor) {
        self.elementwise(Kernel::ScaleAdd, alpha, Some(x), y);
    }

    fn mul_assign(&self, y: &mut WgpuTensor, x: &WgpuTensor) {
        self.elementwise(Kernel::MulAssign, 0.0, Some(x), y);
    }

    fn exponential(&self, x: &WgpuTensor, y: &mut WgpuTensor) {
        self.elementwise(Kernel::Exponential, 0.0, Some(x), y);
    }

    fn divide_by(&self, y: &mut WgpuTensor, s: &WgpuTensor) {
        debug_assert_eq!(s.len(), 1, "divide_by: s is [1, 1]");
        if y.len() == 0 {
            return;
        }
        let grid = self.grid(y.len());
        let p = ElementwiseParams {
            len: y.len() as u32,
            row_stride: grid.row_stride,
            ..Default::default()
        };
        let binds = [Bind::Tensor(s), Bind::Tensor(y)];
        self.dispatch(Kernel::DivideBy, &p, &binds, grid.groups);
    }
}
