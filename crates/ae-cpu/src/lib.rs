//! # ae-cpu
//!
//! [`CpuBackend`]: the reference backend of `ae`, and a fast one. Matrix products go through the
//! `gemm` crate (AVX2/FMA kernels picked at run time, strided operands so transposes cost
//! nothing); elementwise ops, reductions and optimiser updates are fused loops, split across
//! rayon's threads when large. It is generic over the element type: `CpuBackend<f32>` trains,
//! `CpuBackend<f64>` checks gradients against finite differences.
//!
//! ```
//! use ae_core::{Backend, Matrix};
//! use ae_cpu::CpuBackend;
//! let cpu = CpuBackend::<f32>::new();
//! let a = cpu.upload(&Matrix::new(2, 2, vec![1., 2., 3., 4.]).unwrap()).unwrap();
//! let mut c = cpu.zeros(2, 2).unwrap();
//! cpu.matmul(&a, false, &a, true, 1.0, 0.0, &mut c); // c = a aᵀ
//! assert_eq!(cpu.download(&c).unwrap().data, vec![5., 11., 11., 25.]);
//! ```

mod elementwise;
mod matmul;

use ae_core::backend::{AdamStep, SgdStep};
use ae_core::sparsity::{self, Noise};
use ae_core::{Activation, Backend, Element, Error, Loss, Matrix, Result};
use std::marker::PhantomData;

/// A row-major `[rows, cols]` tensor in host memory.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuTensor<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T> CpuTensor<T> {
    /// The values, row after row.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }
}

/// Scalars the CPU backend computes in: f32 or f64 (what `gemm` multiplies).
pub trait CpuElement: Element {}
impl CpuElement for f32 {}
impl CpuElement for f64 {}

/// The CPU backend, computing in `T` (f32 by default).
#[derive(Clone, Debug, Default)]
pub struct CpuBackend<T: CpuElement = f32> {
    _elem: PhantomData<T>,
}

impl<T: CpuElement> CpuBackend<T> {
    /// A backend on rayon's global thread pool (size it with `RAYON_NUM_THREADS` or
    /// `rayon::ThreadPoolBuilder::build_global`).
    pub fn new() -> Self {
        CpuBackend { _elem: PhantomData }
    }

    fn tensor(rows: usize, cols: usize, data: Vec<T>) -> Result<CpuTensor<T>> {
        if data.len() != rows * cols {
            return Err(Error::Shape(format!(
                "{} values cannot form a [{rows}, {cols}] tensor",
                data.len()
            )));
        }
        Ok(CpuTensor { rows, cols, data })
    }
}

/// `||w[:, j]||^2` of a `[rows, cols]` tensor.
fn column_squared_norm<T: Element>(w: &CpuTensor<T>, j: usize) -> T {
    (0..w.rows).fold(T::ZERO, |a, i| {
        let v = w.data[i * w.cols + j];
        a + v * v
    })
}

fn same_shape<T>(a: &CpuTensor<T>, b: &CpuTensor<T>, op: &str) {
    debug_assert!(
        a.rows == b.rows && a.cols == b.cols,
        "{op}: [{}, {}] vs [{}, {}]",
        a.rows,
        a.cols,
        b.rows,
        b.cols
    );
}

impl<T: CpuElement> Backend for CpuBackend<T> {
    type Elem = T;
    type Tensor = CpuTensor<T>;

    fn name(&self) -> String {
        format!(
            "cpu ({}, {} threads)",
            std::any::type_name::<T>(),
            rayon::current_num_threads()
        )
    }

    fn zeros(&self, rows: usize, cols: usize) -> Result<CpuTensor<T>> {
        Self::tensor(rows, cols, vec![T::ZERO; rows * cols])
    }

    fn upload(&self, m: &Matrix) -> Result<CpuTensor<T>> {
        Self::tensor(
            m.rows,
            m.cols,
            m.data.iter().map(|&v| T::from_f32(v)).collect(),
        )
    }

    fn upload_f64(&self, rows: usize, cols: usize, data: &[f64]) -> Result<CpuTensor<T>> {
        Self::tensor(rows, cols, data.iter().map(|&v| T::from_f64(v)).collect())
    }

    fn download(&self, t: &CpuTensor<T>) -> Result<Matrix> {
        Matrix::new(t.rows, t.cols, t.data.iter().map(|v| v.to_f32()).collect())
    }

    fn download_f64(&self, t: &CpuTensor<T>) -> Result<Vec<f64>> {
        Ok(t.data.iter().map(|v| v.to_f64()).collect())
    }

    fn shape(&self, t: &CpuTensor<T>) -> (usize, usize) {
        (t.rows, t.cols)
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn copy(&self, src: &CpuTensor<T>, dst: &mut CpuTensor<T>) {
        same_shape(src, dst, "copy");
        dst.data.copy_from_slice(&src.data);
    }

    fn fill(&self, t: &mut CpuTensor<T>, value: f32) {
        t.data.fill(T::from_f32(value));
    }

    fn scale_add(&self, alpha: f32, x: &CpuTensor<T>, y: &mut CpuTensor<T>) {
        same_shape(x, y, "scale_add");
        let alpha = T::from_f32(alpha);
        elementwise::update(
            &mut y.data,
            &x.data,
            #[inline(always)]
            |y, x| *y += alpha * x,
        );
    }

    fn mul_assign(&self, y: &mut CpuTensor<T>, x: &CpuTensor<T>) {
        same_shape(x, y, "mul_assign");
        elementwise::update(
            &mut y.data,
            &x.data,
            #[inline(always)]
            |y, x| *y *= x,
        );
    }

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
        matmul::matmul(a, trans_a, b, trans_b, alpha, beta, c);
    }

    fn add_bias(&self, x: &mut CpuTensor<T>, bias: &CpuTensor<T>) {
        debug_assert_eq!(bias.data.len(), x.cols, "add_bias width");
        elementwise::for_rows(
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
        debug_assert_eq!(db.data.len(), dy.cols, "bias_grad width");
        db.data.fill(T::ZERO);
        for row in dy.data.chunks_exact(dy.cols) {
            for (acc, v) in db.data.iter_mut().zip(row) {
                *acc += *v;
            }
        }
    }

    fn activation(&self, act: Activation, z: &CpuTensor<T>, a: &mut CpuTensor<T>) {
        same_shape(z, a, "activation");
        macro_rules! apply {
            ($($variant:ident),*) => {
                match act {
                    $(Activation::$variant => elementwise::update(&mut a.data, &z.data, #[inline(always)] |a, z| {
                        *a = Activation::$variant.forward(z)
                    }),)*
                }
            };
        }
        apply!(Identity, Relu, LeakyRelu, Sigmoid, Tanh, Gelu, Softplus);
    }

    fn activation_backward(
        &self,
        act: Activation,
        z: &CpuTensor<T>,
        a: &CpuTensor<T>,
        grad: &mut CpuTensor<T>,
    ) {
        same_shape(z, grad, "activation_backward");
        same_shape(a, grad, "activation_backward");
        macro_rules! apply {
            ($($variant:ident),*) => {
                match act {
                    $(Activation::$variant => elementwise::update2(&mut grad.data, &z.data, &a.data, #[inline(always)] |g, z, a| {
                        *g *= Activation::$variant.derivative(z, a)
                    }),)*
                }
            };
        }
        apply!(Identity, Relu, LeakyRelu, Sigmoid, Tanh, Gelu, Softplus);
    }

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
        same_shape(input, target, "loss");
        let n = input.data.len().max(1);
        let inv_n = T::from_f64(weight as f64 / n as f64);
        let sum = match (loss, grad) {
            // The closures are inlined into the summing loops so that these vectorise.
            (Loss::Mse, Some(g)) => elementwise::sum_update2(
                &mut g.data,
                &input.data,
                &target.data,
                #[inline(always)]
                |g, x, t| {
                    *g = Loss::Mse.gradient(x, t) * inv_n;
                    Loss::Mse.value(x, t).to_f64()
                },
            ),
            (Loss::Bce, Some(g)) => elementwise::sum_update2(
                &mut g.data,
                &input.data,
                &target.data,
                #[inline(always)]
                |g, x, t| {
                    *g = Loss::Bce.gradient(x, t) * inv_n;
                    Loss::Bce.value(x, t).to_f64()
                },
            ),
            (loss, None) => elementwise::sum_zip(
                &input.data,
                &target.data,
                #[inline(always)]
                |x, t| loss.value(x, t).to_f64(),
            ),
        };
        acc.data[0] += T::from_f64(scale as f64 * weight as f64 * sum / n as f64);
    }

    fn sgd_step(
        &self,
        step: &SgdStep,
        param: &mut CpuTensor<T>,
        grad: &CpuTensor<T>,
        velocity: &mut CpuTensor<T>,
    ) {
        let lr = T::from_f32(step.lr);
        let mu = T::from_f32(step.momentum);
        elementwise::update_pair(
            &mut param.data,
            &mut velocity.data,
            &grad.data,
            #[inline(always)]
            |p, v, g| {
                *v = mu * *v + g;
                *p -= lr * *v;
            },
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
        let f = |x: f32| T::from_f32(x);
        let (lr, b1, b2, eps) = (f(step.lr), f(step.beta1), f(step.beta2), f(step.eps));
        let decay = T::ONE - f(step.lr * step.decoupled_weight_decay);
        let (inv_bc1, inv_bc2) = (
            T::ONE / f(step.bias_correction1),
            T::ONE / f(step.bias_correction2),
        );
        elementwise::update_triple(
            &mut param.data,
            &mut m.data,
            &mut v.data,
            &grad.data,
            #[inline(always)]
            |p, m, v, g| {
                *m = b1 * *m + (T::ONE - b1) * g;
                *v = b2 * *v + (T::ONE - b2) * g * g;
                *p = *p * decay - lr * (*m * inv_bc1) / ((*v * inv_bc2).sqrt() + eps);
            },
        );
    }

    fn l1_penalty(
        &self,
        h: &CpuTensor<T>,
        unit_weights: Option<&CpuTensor<T>>,
        lambda: f32,
        scale: f32,
        acc: &mut CpuTensor<T>,
        grad: &mut CpuTensor<T>,
    ) {
        same_shape(h, grad, "l1_penalty");
        let cols = h.cols;
        let step = T::from_f64(lambda as f64 / h.rows.max(1) as f64);
        let weight = |j: usize| unit_weights.map_or(T::ONE, |w| w.data[j]);
        let mut sum = 0.0f64;
        for (g_row, h_row) in grad
            .data
            .chunks_exact_mut(cols)
            .zip(h.data.chunks_exact(cols))
        {
            for (j, (g, &v)) in g_row.iter_mut().zip(h_row).enumerate() {
                let w = weight(j);
                sum += (w * v.abs()).to_f64();
                if v > T::ZERO {
                    *g += step * w;
                } else if v < T::ZERO {
                    *g -= step * w;
                }
            }
        }
        acc.data[0] += T::from_f64(scale as f64 * lambda as f64 * sum / h.rows.max(1) as f64);
    }

    fn kl_sparsity(
        &self,
        h: &CpuTensor<T>,
        rho: f32,
        beta: f32,
        scale: f32,
        acc: &mut CpuTensor<T>,
        grad: &mut CpuTensor<T>,
        mean_out: &mut CpuTensor<T>,
    ) {
        same_shape(h, grad, "kl_sparsity");
        debug_assert_eq!(mean_out.data.len(), h.cols, "kl_sparsity means width");
        let cols = h.cols;
        let inv_rows = T::ONE / T::from_f64(h.rows.max(1) as f64);
        mean_out.data.fill(T::ZERO);
        for row in h.data.chunks_exact(cols) {
            for (m, &v) in mean_out.data.iter_mut().zip(row) {
                *m += v;
            }
        }
        let (rho, beta) = (T::from_f32(rho), T::from_f32(beta));
        let mut kl = 0.0f64;
        for m in &mut mean_out.data {
            *m = sparsity::kl_clamp(*m * inv_rows);
            kl += sparsity::kl_divergence(rho, *m).to_f64();
        }
        for row in grad.data.chunks_exact_mut(cols) {
            for (g, &m) in row.iter_mut().zip(&mean_out.data) {
                *g += beta * inv_rows * sparsity::kl_gradient(rho, m);
            }
        }
        acc.data[0] += T::from_f64(scale as f64 * beta.to_f64() * kl);
    }

    fn topk(&self, z: &CpuTensor<T>, k: usize, out: &mut CpuTensor<T>, mask: &mut CpuTensor<T>) {
        same_shape(z, out, "topk");
        same_shape(z, mask, "topk");
        let cols = z.cols;
        debug_assert!(k >= 1 && k <= cols, "topk: k = {k} of {cols}");
        let key = |v: T| sparsity::topk_key(v.to_f32());
        // `out`'s row is the scratch of the selection, so nothing is allocated.
        let body = |((o, m), zr): ((&mut [T], &mut [T]), &[T])| {
            o.copy_from_slice(zr);
            o.select_nth_unstable_by(k - 1, |a, b| key(*b).cmp(&key(*a)));
            let threshold = key(o[k - 1]);
            let mut ties = k - zr.iter().filter(|&&v| key(v) > threshold).count();
            for ((o, m), &v) in o.iter_mut().zip(m.iter_mut()).zip(zr) {
                let kv = key(v);
                let kept = kv > threshold || (kv == threshold && ties > 0);
                if kv == threshold && kept {
                    ties -= 1;
                }
                let on = kept && v > T::ZERO;
                *o = if on { v } else { T::ZERO };
                *m = if on { T::ONE } else { T::ZERO };
            }
        };
        if cols == 0 {
            return;
        }
        use rayon::prelude::*;
        out.data
            .par_chunks_mut(cols)
            .zip(mask.data.par_chunks_mut(cols))
            .zip(z.data.par_chunks(cols))
            .for_each(body);
    }

    fn track_dead(&self, code: &CpuTensor<T>, since: &mut CpuTensor<T>) {
        debug_assert_eq!((since.rows, since.cols), (1, code.cols), "track_dead");
        let rows = T::from_f64(code.rows as f64);
        let threshold = T::from_f64(ae_core::sparsity::ACTIVE_THRESHOLD as f64);
        for (j, s) in since.data.iter_mut().enumerate() {
            let fired = (0..code.rows).any(|i| code.data[i * code.cols + j] > threshold);
            *s = if fired { T::ZERO } else { *s + rows };
        }
    }

    fn mask_dead(
        &self,
        z: &CpuTensor<T>,
        since: &CpuTensor<T>,
        window: f32,
        out: &mut CpuTensor<T>,
    ) {
        same_shape(z, out, "mask_dead");
        debug_assert_eq!((since.rows, since.cols), (1, z.cols), "mask_dead");
        if z.cols == 0 {
            return;
        }
        let window = T::from_f32(window);
        let masked = T::from_f32(sparsity::MASKED);
        for (o, zr) in out
            .data
            .chunks_exact_mut(z.cols)
            .zip(z.data.chunks_exact(z.cols))
        {
            for ((o, &v), &s) in o.iter_mut().zip(zr).zip(&since.data) {
                *o = if s >= window { v } else { masked };
            }
        }
    }

    fn normalize_columns(&self, w: &mut CpuTensor<T>) {
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
        grad: &mut CpuTensor<T>,
    ) {
        same_shape(w, grad, "l1_decoder_norm_backward");
        debug_assert_eq!(h.cols, w.cols, "l1_decoder_norm_backward");
        let (rows, cols) = (w.rows, w.cols);
        let alpha = T::from_f32(alpha);
        for j in 0..cols {
            let sq = column_squared_norm(w, j);
            if sq > T::ZERO {
                let abs_sum = (0..h.rows).fold(T::ZERO, |a, i| a + h.data[i * cols + j].abs());
                let c = alpha * abs_sum / sq.sqrt();
                (0..rows).for_each(|i| grad.data[i * cols + j] += c * w.data[i * cols + j]);
            }
        }
    }

    fn corrupt(&self, noise: Noise, seed: u32, x: &CpuTensor<T>, out: &mut CpuTensor<T>) {
        same_shape(x, out, "corrupt");
        for (i, (o, &v)) in out.data.iter_mut().zip(&x.data).enumerate() {
            *o = T::from_f32(noise.apply(seed, i as u32, v.to_f32()));
        }
    }

    fn gather_rows(&self, src: &CpuTensor<T>, rows: &[u32], dst: &mut CpuTensor<T>) {
        debug_assert_eq!(dst.rows, rows.len(), "gather_rows count");
        debug_assert_eq!(dst.cols, src.cols, "gather_rows width");
        let cols = src.cols;
        for (out, &r) in dst.data.chunks_exact_mut(cols).zip(rows) {
            let r = r as usize;
            out.copy_from_slice(&src.data[r * cols..(r + 1) * cols]);
        }
    }
}
