//! The CPU bodies of the `sparsity` op family: code penalties, TopK and dead-latent tracking
//! (maths and shapes in `ae_backend::ops::sparsity`).

use crate::{same_shape, CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::sparsity::{self, SparsityOps};

impl<T: CpuElement> SparsityOps for CpuBackend<T> {
    fn l1_penalty(
        &self,
        h: &CpuTensor<T>,
        unit_weights: Option<&CpuTensor<T>>,
        lambda: f32,
        tanh_scale: f32,
        scale: f32,
        acc: &mut CpuTensor<T>,
        grad: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("l1_penalty", 0.0);
        same_shape(h, grad, "l1_penalty");
        let cols = h.cols;
        let step = T::from_f64(lambda as f64 / h.rows.max(1) as f64);
        let c = T::from_f32(tanh_scale);
        let weight = |j: usize| unit_weights.map_or(T::ONE, |w| w.data[j]);
        let mut sum = 0.0f64;
        for (g_row, h_row) in grad
            .data
            .chunks_exact_mut(cols)
            .zip(h.data.chunks_exact(cols))
        {
            for (j, (g, &v)) in g_row.iter_mut().zip(h_row).enumerate() {
                let w = weight(j);
                let (value, slope) = sparsity::saturated(w * v.abs(), c);
                sum += value.to_f64();
                if v > T::ZERO {
                    *g += step * w * slope;
                } else if v < T::ZERO {
                    *g -= step * w * slope;
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
        let _timed = self.profiler.time("kl_sparsity", 0.0);
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
        let _timed = self.profiler.time("topk", 0.0);
        same_shape(z, out, "topk");
        same_shape(z, mask, "topk");
        topk_runs(&z.data, z.cols, k, &mut out.data, &mut mask.data);
    }

    fn batch_topk(
        &self,
        z: &CpuTensor<T>,
        k: usize,
        out: &mut CpuTensor<T>,
        mask: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("batch_topk", 0.0);
        same_shape(z, out, "batch_topk");
        same_shape(z, mask, "batch_topk");
        let len = z.data.len();
        topk_runs(&z.data, len, k * z.rows, &mut out.data, &mut mask.data);
    }

    fn jump_relu(
        &self,
        z: &CpuTensor<T>,
        theta: &CpuTensor<T>,
        out: &mut CpuTensor<T>,
        mask: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("jump_relu", 0.0);
        same_shape(z, out, "jump_relu");
        same_shape(z, mask, "jump_relu");
        debug_assert_eq!(theta.data.len(), z.cols, "jump_relu threshold width");
        let cols = z.cols.max(1);
        for ((o, m), zr) in out
            .data
            .chunks_exact_mut(cols)
            .zip(mask.data.chunks_exact_mut(cols))
            .zip(z.data.chunks_exact(cols))
        {
            for (((o, m), &v), &t) in o.iter_mut().zip(m.iter_mut()).zip(zr).zip(&theta.data) {
                let on = sparsity::jump_on(v, t);
                *o = if on { v } else { T::ZERO };
                *m = if on { T::ONE } else { T::ZERO };
            }
        }
    }

    fn jump_relu_backward(
        &self,
        z: &CpuTensor<T>,
        theta: &CpuTensor<T>,
        bandwidth: f32,
        l0: f32,
        scale: f32,
        grad: &mut CpuTensor<T>,
        log_theta_grad: &mut CpuTensor<T>,
        acc: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("jump_relu_backward", 0.0);
        same_shape(z, grad, "jump_relu_backward");
        debug_assert_eq!(
            theta.data.len(),
            z.cols,
            "jump_relu_backward threshold width"
        );
        same_shape(theta, log_theta_grad, "jump_relu_backward");
        let (eps, l0_t) = (T::from_f32(bandwidth), T::from_f32(l0));
        log_theta_grad.data.fill(T::ZERO);
        let mut on_count = 0usize;
        let cols = z.cols.max(1);
        for (g_row, z_row) in grad
            .data
            .chunks_exact_mut(cols)
            .zip(z.data.chunks_exact(cols))
        {
            for (((g, &v), &t), lg) in g_row
                .iter_mut()
                .zip(z_row)
                .zip(&theta.data)
                .zip(log_theta_grad.data.iter_mut())
            {
                *lg += sparsity::jump_log_threshold_grad(v, t, eps, *g, l0_t);
                if sparsity::jump_on(v, t) {
                    on_count += 1;
                } else {
                    *g = T::ZERO;
                }
            }
        }
        acc.data[0] += T::from_f64(scale as f64 * l0 as f64 * on_count as f64);
    }

    fn track_dead(&self, code: &CpuTensor<T>, since: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("track_dead", 0.0);
        debug_assert_eq!((since.rows, since.cols), (1, code.cols), "track_dead");
        let rows = T::from_f64(code.rows as f64);
        let threshold = T::from_f64(sparsity::ACTIVE_THRESHOLD as f64);
        // Row by row (the code's memory order): a unit that fires anywhere is marked.
        let mut fired = vec![false; code.cols];
        for row in code.data.chunks_exact(code.cols.max(1)) {
            for (f, &v) in fired.iter_mut().zip(row) {
                *f |= v > threshold;
            }
        }
        for (s, &f) in since.data.iter_mut().zip(&fired) {
            *s = if f { T::ZERO } else { *s + rows };
        }
    }

    fn threshold_average(&self, code: &CpuTensor<T>, decay: f32, threshold: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("threshold_average", 0.0);
        debug_assert_eq!(
            (threshold.rows, threshold.cols),
            (1, 1),
            "threshold_average"
        );
        let smallest = code
            .data
            .iter()
            .filter(|&&v| v > T::ZERO)
            .fold(f32::INFINITY, |m, v| m.min(v.to_f32()));
        if smallest.is_finite() {
            let old = threshold.data[0].to_f32();
            threshold.data[0] = T::from_f32(sparsity::threshold_average(old, smallest, decay));
        }
    }

    fn mask_dead(
        &self,
        z: &CpuTensor<T>,
        since: &CpuTensor<T>,
        window: f32,
        out: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("mask_dead", 0.0);
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
}

/// TopK over runs of `len` values of `z` (rows of a matrix, or the whole of it): in each run keep
/// the `k` largest (in `topk_key` order; among equal keys the lower index), `out = max(z, 0)` on
/// kept values and 0 elsewhere, `mask = 1` where kept and positive.
fn topk_runs<T: CpuElement>(z: &[T], len: usize, k: usize, out: &mut [T], mask: &mut [T]) {
    let cols = len;
    debug_assert!(len == 0 || (k >= 1 && k <= cols), "topk: k = {k} of {cols}");
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
    out.par_chunks_mut(cols)
        .zip(mask.par_chunks_mut(cols))
        .zip(z.par_chunks(cols))
        .for_each(body);
}
