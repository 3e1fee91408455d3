//! The wgpu bodies of the `activation` op family: dispatches of `shaders/activation.wgsl`
//! (maths and shapes in `ae_backend::ops::activation`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::{activation_id, Kernel};
use crate::params::{ActivationBiasBackwardParams, ActivationParams, BiasActivationParams};
use ae_backend::ops::linear::matmul_dims;
use ae_backend::ops::ActivationOps;
use ae_backend::Activation;

impl WgpuBackend {
    fn activation_params(
        &self,
        act: Activation,
        len: usize,
    ) -> (ActivationParams, (u32, u32, u32)) {
        let grid = self.grid(len);
        let p = ActivationParams {
            len: len as u32,
            act: activation_id(act),
            row_stride: grid.row_stride,
            ..Default::default()
        };
        (p, grid.groups)
    }
}

impl ActivationOps for WgpuBackend {
    fn activation(&self, act: Activation, z: &WgpuTensor, a: &mut WgpuTensor) {
        debug_assert_eq!((z.rows, z.cols), (a.rows, a.cols), "activation");
        if a.len() == 0 {
            return;
        }
        let (p, groups) = self.activation_params(act, a.len());
        let binds = [Bind::Tensor(z), Bind::Tensor(a)];
        self.dispatch(Kernel::Activation, &p, &binds, groups);
    }

    fn bias_activation(
        &self,
        act: Activation,
        z: &mut WgpuTensor,
        bias: &WgpuTensor,
        a: &mut WgpuTensor,
    ) {
        debug_assert_eq!((z.rows, z.cols), (a.rows, a.cols), "bias_activation");
        debug_assert_eq!((bias.rows, bias.cols), (1, z.cols), "bias_activation bias");
        if z.len() == 0 {
            return;
        }
        let grid = self.grid(z.len());
        let p = BiasActivationParams {
            len: z.len() as u32,
            cols: z.cols as u32,
            act: activation_id(act),
            row_stride: grid.row_stride,
        };
        let binds = [Bind::Tensor(bias), Bind::Tensor(z), Bind::Tensor(a)];
        self.dispatch(Kernel::BiasActivation, &p, &binds, grid.groups);
    }

    /// One dispatch: the tuned matmul variant with the bias and activation in its store.
    #[allow(clippy::too_many_arguments)]
    fn linear_activation(
        &self,
        act: Activation,
        x: &WgpuTensor,
        w: &WgpuTensor,
        trans_w: bool,
        bias: &WgpuTensor,
        z: &mut WgpuTensor,
        a: &mut WgpuTensor,
    ) {
        let (m, k, n) = matmul_dims(
            (x.rows, x.cols),
            false,
            (w.rows, w.cols),
            trans_w,
            (z.rows, z.cols),
        );
        debug_assert_eq!((z.rows, z.cols), (a.rows, a.cols), "linear_activation");
        debug_assert_eq!((bias.rows, bias.cols), (1, n), "linear_activation bias");
        let v = self.matmul_variant_for(m, k, n, false, trans_w);
        let epilogue = Some((act, bias, a));
        self.dispatch_matmul(
            v,
            (m, k, n),
            (x, false),
            (w, trans_w),
            (1.0, 0.0),
            z,
            epilogue,
        );
    }

    fn activation_bias_backward(
        &self,
        act: Activation,
        z: &WgpuTensor,
        a: &WgpuTensor,
        grad: &mut WgpuTensor,
        db: &mut WgpuTensor,
    ) {
        debug_assert_eq!(
            (z.rows, z.cols),
            (grad.rows, grad.cols),
            "activation_bias_backward"
        );
        debug_assert_eq!(
            (db.rows, db.cols),
            (1, grad.cols),
            "activation_bias_backward db"
        );
        let p = ActivationBiasBackwardParams {
            rows: grad.rows as u32,
            cols: grad.cols as u32,
            act: activation_id(act),
            ..Default::default()
        };
        let groups = (grad.cols.div_ceil(64).max(1) as u32, 1, 1);
        let binds = [
            Bind::Tensor(z),
            Bind::Tensor(a),
            Bind::Tensor(grad),
            Bind::Tensor(db),
        ];
        self.dispatch(Kernel::ActivationBiasBackward, &p, &binds, groups);
    }

    fn activation_backward(
        &self,
        act: Activation,
        z: &WgpuTensor,
        a: &WgpuTensor,
        grad: &mut WgpuTensor,
    ) {
        debug_assert_eq!(
            (z.rows, z.cols),
            (grad.rows, grad.cols),
            "activation_backward"
        );
        if grad.len() == 0 {
            return;
        }
        let (p, groups) = self.activation_params(act, grad.len());
        let binds = [Bind::Tensor(z), Bind::Tensor(a), Bind::Tensor(grad)];
        self.dispatch(Kernel::ActivationBackward, &p, &binds, groups);
    }
}
