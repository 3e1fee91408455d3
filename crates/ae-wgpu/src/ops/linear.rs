//! The wgpu bodies of the `linear` op family: dispatches of `shaders/linear.wgsl` (maths and
//! shapes in `ae_backend::ops::linear`).

use crate::backend::{Bind, WgpuBackend, WgpuTensor};
use crate::kernels::{activation_id, Kernel};
use crate::params::{AddBiasParams, BiasGradParams, MatmulParams};
use crate::variants::{MatmulVariant, ShapeClass};
use ae_backend::ops::linear::matmul_dims;
use ae_backend::ops::LinearOps;
use ae_backend::Activation;

impl WgpuBackend {
    /// `matmul` with the variant `v` rather than the tuner's choice (its scalar twin on a shape
    /// that is not aligned for vec4 reads). An error, with nothing recorded, when the device
    /// cannot build that variant (over its workgroup limits, or an f16 one without
    /// `SHADER_F16` and [`crate::AdapterChoice::f16_matmul`]). Shapes as `LinearOps::matmul`.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_with(
        &self,
        v: MatmulVariant,
        a: &WgpuTensor,
        trans_a: bool,
        b: &WgpuTensor,
        trans_b: bool,
        alpha: f32,
        beta: f32,
        c: &mut WgpuTensor,
    ) -> ae_backend::Result<()> {
        let dims = matmul_dims(
            (a.rows, a.cols),
            trans_a,
            (b.rows, b.cols),
            trans_b,
            (c.rows, c.cols),
        );
        let v = v.for_class(&ShapeClass::of(dims.0, dims.1, dims.2, trans_a, trans_b));
        self.variant_pipeline(v, Kernel::Matmul)?;
        self.dispatch_matmul(v, dims, (a, trans_a), (b, trans_b), (alpha, beta), c, None);
        Ok(())
    }

    /// Records the product of [`Self::matmul_with`] of shape `(m, k, n)`, checked by the caller
    /// (a vec4 variant on an unaligned shape runs its scalar twin), into `c`; with `epilogue`
    /// `(act, bias, post)` the fused `matmul_bias_activation` instead: `c` = the product plus
    /// `bias`, `post = act(c)` (`beta` unused).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn dispatch_matmul(
        &self,
        v: MatmulVariant,
        (m, k, n): (usize, usize, usize),
        (a, trans_a): (&WgpuTensor, bool),
        (b, trans_b): (&WgpuTensor, bool),
        (alpha, beta): (f32, f32),
        c: &mut WgpuTensor,
        epilogue: Option<(Activation, &WgpuTensor, &mut WgpuTensor)>,
    ) {
        if m == 0 || n == 0 {
            return;
        }
        let v = v.for_class(&ShapeClass::of(m, k, n, trans_a, trans_b));
        let kernel = match epilogue {
            Some(_) => Kernel::MatmulBiasActivation,
            None => Kernel::Matmul,
        };
        self.profile_flops(kernel.entry_point(), 2.0 * (m * n * k) as f64);
        let p = MatmulParams {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            trans_a: trans_a as u32,
            trans_b: trans_b as u32,
            act: epilogue.as_ref().map_or(0, |e| activation_id(e.0)),
            alpha,
            beta,
            ..Default::default()
        };
        let mut binds = vec![Bind::Tensor(a), Bind::Tensor(b), Bind::Tensor(c)];
        if let Some((_, bias, post)) = &epilogue {
            binds.extend([Bind::Tensor(bias), Bind::Tensor(post)]);
        }
        match self.variant_pipeline(v, kernel) {
            Ok(pipeline) => {
                let groups = v.groups(m, n);
                self.dispatch_on(kernel, &pipeline, &p, &binds, groups);
            }
            Err(_) => {
                let groups = MatmulVariant::DEFAULT.groups(m, n);
                self.dispatch(kernel, &p, &binds, groups);
            }
        }
    }
}

impl LinearOps for WgpuBackend {
    /// Dispatches the variant the tuner chose for the product's shape class
    /// ([`WgpuBackend::matmul_variant_for`]).
    fn matmul(
        &self,
        a: &WgpuTensor,
        trans_a: bool,
        b: &WgpuTensor,
        trans_b: bool,
        alpha: f32,
        beta: f32,
        c: &mut WgpuTensor,
    ) {
        let (m, k, n) = matmul_dims(
            (a.rows, a.cols),
            trans_a,
            (b.rows, b.cols),
            trans_b,
            (c.rows, c.cols),
        );
        let v = self.matmul_variant_for(m, k, n, trans_a, trans_b);
        self.dispatch_matmul(
            v,
            (m, k, n),
            (a, trans_a),
            (b, trans_b),
            (alpha, beta),
            c,
            None,
        );
    }

    fn add_bias(&self, x: &mut WgpuTensor, bias: &WgpuTensor) {
        debug_assert_eq!((bias.rows, bias.cols), (1, x.cols), "add_bias");
        if x.len() == 0 {
            return;
        }
        let grid = self.grid(x.len());
        let p = AddBiasParams {
            len: x.len() as u32,
            cols: x.cols as u32,
            row_stride: grid.row_stride,
            ..Default::default()
        };
        let binds = [Bind::Tensor(bias), Bind::Tensor(x)];
        self.dispatch(Kernel::AddBias, &p, &binds, grid.groups);
    }

    fn bias_grad(&self, dy: &WgpuTensor, db: &mut WgpuTensor) {
        debug_assert_eq!((db.rows, db.cols), (1, dy.cols), "bias_grad");
        let p = BiasGradParams {
            rows: dy.rows as u32,
            cols: dy.cols as u32,
            ..Default::default()
        };
        let groups = (dy.cols.div_ceil(64).max(1) as u32, 1, 1);
        let binds = [Bind::Tensor(dy), Bind::Tensor(db)];
        self.dispatch(Kernel::BiasGrad, &p, &binds, groups);
    }
}
