//! Property tests: every op of the wgpu backend against the CPU backend, forward and backward,
//! on shapes that are not multiples of any tile size, with every output poisoned (NaN) first so
//! an element the GPU never wrote fails. Tolerances (relative Frobenius error) from DESIGN.md:
//! 1e-5 for elementwise ops, 1e-4 for matmul and reductions.

mod gpu;
use ae_core::backend::{AdamStep, SgdStep};
use ae_core::prelude::*;
use ae_core::{Activation, Loss, Matrix, Noise, Rng};
use ae_cpu::CpuBackend;
use ae_wgpu::WgpuBackend;
use proptest::prelude::*;

const ELEMENTWISE: f64 = 1e-5;
const REDUCTION: f64 = 1e-4;

// One device for every case of every property.
use gpu::shared as device;

use gpu::{assert_close, poison, random, rel_err};

/// Runs `body` (which returns the matrices to compare) with `be` bound to the GPU and then to
/// the CPU backend; returns `(gpu results, cpu results)`.
macro_rules! both {
    ($gpu:expr, |$be:ident| $body:expr) => {{
        let gpu_out: Vec<Matrix> = {
            let $be: &WgpuBackend = $gpu;
            $body
        };
        let cpu_out: Vec<Matrix> = {
            let $be = &CpuBackend::<f32>::new();
            $body
        };
        (gpu_out, cpu_out)
    }};
}

use gpu::odd_dim as dim;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn activations_forward_and_backward_match_cpu(rows in dim(), cols in 1..300usize, seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let z0 = random(rows, cols, seed, 6.0);
        let up = random(rows, cols, seed + 1, 1.0);
        for act in Activation::ALL {
            let (g, c) = both!(gpu, |be| {
                let z = be.upload(&z0).unwrap();
                let mut a = be.upload(&poison(rows, cols)).unwrap();
                be.activation(act, &z, &mut a);
                let mut grad = be.upload(&up).unwrap();
                be.activation_backward(act, &z, &a, &mut grad);
                vec![be.download(&a).unwrap(), be.download(&grad).unwrap()]
            });
            assert_close(&g, &c, ELEMENTWISE, act.name())?;
        }
    }

    #[test]
    fn fused_bias_activation_equals_the_separate_ops_and_matches_cpu(rows in dim(), cols in dim(), seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let z0 = random(rows, cols, seed, 6.0);
        let bias0 = random(1, cols, seed + 1, 1.0);
        let up = random(rows, cols, seed + 2, 1.0);
        for act in Activation::ALL {
            // [z, a, d/dz, db] fused, then the same from add_bias, activation,
            // activation_backward and bias_grad.
            let (g, c) = both!(gpu, |be| {
                let bias = be.upload(&bias0).unwrap();
                let mut z = be.upload(&z0).unwrap();
                let mut a = be.upload(&poison(rows, cols)).unwrap();
                be.bias_activation(act, &mut z, &bias, &mut a);
                let mut grad = be.upload(&up).unwrap();
                let mut db = be.upload(&poison(1, cols)).unwrap();
                be.activation_bias_backward(act, &z, &a, &mut grad, &mut db);
                let mut z2 = be.upload(&z0).unwrap();
                be.add_bias(&mut z2, &bias);
                let mut a2 = be.upload(&poison(rows, cols)).unwrap();
                be.activation(act, &z2, &mut a2);
                let mut grad2 = be.upload(&up).unwrap();
                be.activation_backward(act, &z2, &a2, &mut grad2);
                let mut db2 = be.upload(&poison(1, cols)).unwrap();
                be.bias_grad(&grad2, &mut db2);
                [z, a, grad, db, z2, a2, grad2, db2].iter().map(|t| be.download(t).unwrap()).collect()
            });
            for (side, out) in [("gpu", &g), ("cpu", &c)] {
                prop_assert_eq!(&out[..4], &out[4..], "{} {}: fused differs from the separate ops", side, act.name());
            }
            assert_close(&g[..3], &c[..3], ELEMENTWISE, act.name())?;
        }
    }

    #[test]
    fn bias_ops_match_cpu(rows in dim(), cols in dim(), seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let x0 = random(rows, cols, seed, 1.0);
        let bias0 = random(1, cols, seed + 1, 1.0);
        let (g, c) = both!(gpu, |be| {
            let mut x = be.upload(&x0).unwrap();
            be.add_bias(&mut x, &be.upload(&bias0).unwrap());
            vec![be.download(&x).unwrap()]
        });
        assert_close(&g, &c, ELEMENTWISE, "add_bias")?;
        // Column sums of values in [0.5, 2.5]: no cancellation, so a relative error measures the
        // reduction itself (a sum of mixed signs near zero has no meaningful relative error).
        let mut dy0 = x0.clone();
        dy0.data.iter_mut().for_each(|v| *v += 1.5);
        let (g, c) = both!(gpu, |be| {
            let mut db = be.upload(&poison(1, cols)).unwrap();
            be.bias_grad(&be.upload(&dy0).unwrap(), &mut db);
            vec![be.download(&db).unwrap()]
        });
        assert_close(&g, &c, REDUCTION, "bias_grad")?;
    }

    #[test]
    fn losses_match_cpu(rows in dim(), cols in 1..300usize, scale in 0.1f32..2.0, weight in 0.5f32..40.0, seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let input = random(rows, cols, seed, 3.0);
        let mut target = random(rows, cols, seed + 1, 0.5);
        target.data.iter_mut().for_each(|v| *v += 0.5);
        for loss in [Loss::Mse, Loss::Bce] {
            let (g, c) = both!(gpu, |be| {
                let (x, t) = (be.upload(&input).unwrap(), be.upload(&target).unwrap());
                let mut acc = be.upload(&Matrix::new(1, 1, vec![0.25]).unwrap()).unwrap();
                let mut grad = be.upload(&poison(rows, cols)).unwrap();
                be.loss(loss, &x, &t, weight, scale, &mut acc, Some(&mut grad));
                // Without a gradient: adds the same value again.
                be.loss(loss, &x, &t, weight, scale, &mut acc, None);
                vec![be.download(&grad).unwrap(), be.download(&acc).unwrap()]
            });
            assert_close(&g[..1], &c[..1], ELEMENTWISE, loss.name())?;
            assert_close(&g[1..], &c[1..], REDUCTION, loss.name())?;
        }
    }

    #[test]
    fn optimizer_steps_match_cpu(rows in dim(), cols in dim(), t in 1i32..50, wd in 0.0f32..0.1, seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let p0 = random(rows, cols, seed, 1.0);
        let g0 = random(rows, cols, seed + 1, 1.0);
        let m0 = random(rows, cols, seed + 2, 0.1);
        let mut v0 = random(rows, cols, seed + 3, 0.1);
        v0.data.iter_mut().for_each(|v| *v = v.abs());
        let adam = AdamStep { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, decoupled_weight_decay: wd,
            bias_correction1: 1.0 - 0.9f32.powi(t), bias_correction2: 1.0 - 0.999f32.powi(t) };
        let sgd = SgdStep { lr: 0.05, momentum: 0.9 };
        let (g, c) = both!(gpu, |be| {
            let grad = be.upload(&g0).unwrap();
            let (mut p, mut m, mut v) = (be.upload(&p0).unwrap(), be.upload(&m0).unwrap(), be.upload(&v0).unwrap());
            be.adam_step(&adam, &mut p, &grad, &mut m, &mut v);
            let (mut q, mut vel) = (be.upload(&p0).unwrap(), be.upload(&m0).unwrap());
            be.sgd_step(&sgd, &mut q, &grad, &mut vel);
            [&p, &m, &v, &q, &vel].iter().map(|t| be.download(t).unwrap()).collect()
        });
        assert_close(&g, &c, ELEMENTWISE, "optimizer")?;
    }

    #[test]
    fn optimizer_steps_over_tensors_made_together_match_cpu(
        shapes in prop::collection::vec((dim(), 1..40usize), 1..5), t in 1i32..50,
        alone in prop::option::of(0..4usize), seed in 0u64..1000,
    ) {
        let Some(gpu) = device() else { return Ok(()) };
        let host = |s: u64, scale: f64| -> Vec<Matrix> {
            shapes.iter().enumerate().map(|(i, &(r, c))| {
                let mut m = random(r, c, seed + s * 16 + i as u64, scale);
                if s == 3 { m.data.iter_mut().for_each(|v| *v = v.abs()); }
                m
            }).collect()
        };
        let (p0, g0, m0, v0) = (host(0, 1.0), host(1, 1.0), host(2, 0.1), host(3, 0.1));
        let adam = AdamStep { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, decoupled_weight_decay: 0.01,
            bias_correction1: 1.0 - 0.9f32.powi(t), bias_correction2: 1.0 - 0.999f32.powi(t) };
        let sgd = SgdStep { lr: 0.05, momentum: 0.9 };
        // `alone`: one parameter made on its own, so the group is not whole (one dispatch each).
        let (g, c) = both!(gpu, |be| {
            let made = |host: &[Matrix]| {
                let shapes: Vec<_> = host.iter().map(|m| (m.rows, m.cols)).collect();
                let mut ts = be.zeros_many(&shapes).unwrap();
                for (t, m) in ts.iter_mut().zip(host) { be.write(m, t).unwrap(); }
                ts
            };
            let (mut p, grads, mut m, mut v) = (made(&p0), made(&g0), made(&m0), made(&v0));
            if let Some(i) = alone.filter(|&i| i < p.len()) { p[i] = be.upload(&p0[i]).unwrap(); }
            be.adam_step_all(&adam, &mut p, &grads, &mut m, &mut v);
            be.adam_step_all(&adam, &mut p, &grads, &mut m, &mut v);
            let (mut q, mut vel) = (made(&p0), made(&m0));
            be.sgd_step_all(&sgd, &mut q, &grads, &mut vel);
            // Writing one tensor of a group leaves its neighbours as they were.
            be.fill(&mut q[0], 0.5);
            p.iter().chain(&m).chain(&v).chain(&q).chain(&vel).map(|t| be.download(t).unwrap()).collect()
        });
        assert_close(&g, &c, ELEMENTWISE, "optimizer over a group")?;
    }

    #[test]
    fn data_movement_matches_cpu(n in dim(), cols in dim(), count in 1..300usize, alpha in -2.0f32..2.0, seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let src0 = random(n, cols, seed, 1.0);
        let y0 = random(n, cols, seed + 1, 1.0);
        let mut rng = Rng::new(seed);
        let rows: Vec<u32> = (0..count).map(|_| rng.below(n) as u32).collect();
        let (g, c) = both!(gpu, |be| {
            let src = be.upload(&src0).unwrap();
            let mut gathered = be.upload(&poison(count, cols)).unwrap();
            be.gather_rows(&src, &rows, &mut gathered);
            let mut copied = be.upload(&poison(n, cols)).unwrap();
            be.copy(&src, &mut copied);
            let mut y = be.upload(&y0).unwrap();
            be.scale_add(alpha, &src, &mut y);
            let mut filled = be.upload(&poison(n, cols)).unwrap();
            be.fill(&mut filled, alpha);
            // A denoising batch in one op (wgpu: one dispatch; the CPU: gather, then corrupt).
            let (mut clean, mut masked) = (be.upload(&poison(count, cols)).unwrap(), be.upload(&poison(count, cols)).unwrap());
            let mask = (Noise::Mask { p: 0.4 }, seed as u32);
            be.gather_rows_corrupted(&src, &rows, mask, &mut clean, &mut masked);
            let (mut clean2, mut noisy) = (be.upload(&poison(count, cols)).unwrap(), be.upload(&poison(count, cols)).unwrap());
            let gauss = (Noise::Gauss { sigma: alpha.abs() }, seed as u32 + 1);
            be.gather_rows_corrupted(&src, &rows, gauss, &mut clean2, &mut noisy);
            [&gathered, &copied, &y, &filled, &clean, &masked, &clean2, &noisy].iter().map(|t| be.download(t).unwrap()).collect()
        });
        prop_assert_eq!(&g[0], &c[0]);
        prop_assert_eq!(&g[1], &src0);
        assert_close(&g[2..4], &c[2..4], ELEMENTWISE, "scale_add, fill")?;
        // The fused gather is the plain one, its masking exact, its gaussian noise within rounding.
        prop_assert_eq!(&g[4], &g[0]);
        prop_assert_eq!(&g[6], &g[0]);
        prop_assert_eq!(&g[5], &c[5]);
        prop_assert!(g[5].data.iter().zip(&g[0].data).all(|(m, x)| *m == 0.0 || m == x));
        assert_close(&g[7..], &c[7..], ELEMENTWISE, "gather_rows_corrupted, gauss")?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn sparsity_penalties_match_cpu(rows in dim(), cols in 1..300usize, lambda in 0.01f32..2.0,
                                    rho in 0.01f32..0.5, beta in 0.1f32..3.0, seed in 0u64..1000,
                                    tanh_scale in prop_oneof![Just(0.0f32), 0.5f32..8.0]) {
        let Some(gpu) = device() else { return Ok(()) };
        let h0 = random(rows, cols, seed, 2.0);
        let mut s0 = random(rows, cols, seed, 0.5);
        s0.data.iter_mut().for_each(|v| *v += 0.5); // sigmoid-like codes in (0, 1)
        let g0 = random(rows, cols, seed + 1, 1.0);
        let mut w0 = random(1, cols, seed + 2, 1.0);
        w0.data.iter_mut().for_each(|v| *v = v.abs() + 0.1);
        let (g, c) = both!(gpu, |be| {
            let mut out = Vec::new();
            for weights in [None, Some(be.upload(&w0).unwrap())] {
                let mut acc = be.upload(&Matrix::new(1, 1, vec![0.25]).unwrap()).unwrap();
                let mut grad = be.upload(&g0).unwrap();
                be.l1_penalty(&be.upload(&h0).unwrap(), weights.as_ref(), lambda, tanh_scale, 0.5, &mut acc, &mut grad);
                out.push(be.download(&grad).unwrap());
                out.push(be.download(&acc).unwrap());
            }
            let mut acc = be.upload(&Matrix::new(1, 1, vec![0.25]).unwrap()).unwrap();
            let mut grad = be.upload(&g0).unwrap();
            let mut means = be.upload(&poison(1, cols)).unwrap();
            be.kl_sparsity(&be.upload(&s0).unwrap(), rho, beta, 0.5, &mut acc, &mut grad, &mut means);
            out.extend([&grad, &acc, &means].iter().map(|t| be.download(t).unwrap()));
            out
        });
        assert_close(&g[0..1], &c[0..1], ELEMENTWISE, "l1 gradient")?;
        assert_close(&g[2..3], &c[2..3], ELEMENTWISE, "weighted l1 gradient")?;
        assert_close(&[g[1].clone(), g[3].clone()], &[c[1].clone(), c[3].clone()], REDUCTION, "l1 value")?;
        assert_close(&g[4..], &c[4..], REDUCTION, "kl")?;
    }

    #[test]
    fn topk_matches_cpu(rows in dim(), cols in 1..300usize, k_frac in 0.0f64..1.0, ties: bool,
                        seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let mut z0 = random(rows, cols, seed, 2.0);
        if ties {
            // Few distinct values, zeros and negative zeros: ties at the k-th place are common.
            z0.data.iter_mut().for_each(|v| *v = (*v * 2.0).round() / 2.0);
        }
        let k = 1 + ((cols - 1) as f64 * k_frac) as usize;
        let (g, c) = both!(gpu, |be| {
            let (mut out, mut mask) = (be.upload(&poison(rows, cols)).unwrap(), be.upload(&poison(rows, cols)).unwrap());
            be.topk(&be.upload(&z0).unwrap(), k, &mut out, &mut mask);
            vec![be.download(&out).unwrap(), be.download(&mask).unwrap()]
        });
        // Selection is exact: the same elements, bit for bit.
        prop_assert_eq!(&g[0], &c[0]);
        prop_assert_eq!(&g[1], &c[1]);
        for r in 0..rows {
            prop_assert!(c[1].row(r).iter().sum::<f32>() <= k as f32);
        }
    }

    /// BatchTopK keeps the k * rows largest of the whole batch (GPU == CPU, bit for bit), and
    /// JumpReLU keeps what exceeds each column's threshold.
    #[test]
    fn batch_topk_and_jump_relu_match_cpu(rows in dim(), cols in 1..300usize, k_frac in 0.0f64..1.0,
                                          seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let z0 = random(rows, cols, seed, 2.0);
        let theta0 = random(1, cols, seed + 1, 1.0);
        let k = 1 + ((cols - 1) as f64 * k_frac) as usize;
        let (g, c) = both!(gpu, |be| {
            let z = be.upload(&z0).unwrap();
            let (mut out, mut mask) = (be.upload(&poison(rows, cols)).unwrap(), be.upload(&poison(rows, cols)).unwrap());
            be.batch_topk(&z, k, &mut out, &mut mask);
            let (mut jout, mut jmask) = (be.upload(&poison(rows, cols)).unwrap(), be.upload(&poison(rows, cols)).unwrap());
            be.jump_relu(&z, &be.upload(&theta0).unwrap(), &mut jout, &mut jmask);
            [&out, &mask, &jout, &jmask].iter().map(|t| be.download(t).unwrap()).collect()
        });
        prop_assert_eq!(&g, &c);
        // The kept values are the k * rows largest positive ones of the whole batch.
        let mut sorted = z0.data.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let want = sorted.iter().take(k * rows).filter(|&&v| v > 0.0).count();
        prop_assert_eq!(c[1].data.iter().filter(|&&m| m == 1.0).count(), want);
        for (i, &v) in z0.data.iter().enumerate() {
            let on = v > theta0.data[i % cols] && v > 0.0;
            prop_assert_eq!(c[2].data[i], if on { v } else { 0.0 });
            prop_assert_eq!(c[3].data[i], if on { 1.0 } else { 0.0 });
        }
    }

    /// BatchTopK's threshold average: from unset it takes the smallest positive entry, then it
    /// moves towards each batch's by 1 - decay; a batch with nothing positive leaves it (GPU ==
    /// CPU, and both equal the host's sum).
    #[test]
    fn threshold_average_matches_cpu(rows in dim(), cols in 1..300usize, decay in 0.0f32..1.0,
                                     seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let (a0, b0) = (random(rows, cols, seed, 1.0), random(rows, cols, seed + 1, 1.0));
        let none = Matrix::new(rows, cols, vec![-1.0; rows * cols]).unwrap();
        let (g, c) = both!(gpu, |be| {
            let mut t = be.upload(&Matrix::new(1, 1, vec![-1.0]).unwrap()).unwrap();
            let mut seen = Vec::new();
            for m in [&a0, &none, &b0] {
                be.threshold_average(&be.upload(m).unwrap(), decay, &mut t);
                seen.push(be.download(&t).unwrap());
            }
            seen
        });
        let smallest = |m: &Matrix| m.data.iter().copied().filter(|&v| v > 0.0).fold(f32::INFINITY, f32::min);
        let first = if smallest(&a0).is_finite() { smallest(&a0) } else { -1.0 };
        let last = match (first >= 0.0, smallest(&b0).is_finite()) {
            (true, true) => decay * first + (1.0 - decay) * smallest(&b0),
            (false, true) => smallest(&b0),
            (_, false) => first,
        };
        for (i, want) in [first, first, last].into_iter().enumerate() {
            prop_assert_eq!(c[i].data[0], want, "step {}", i);
            prop_assert!((g[i].data[0] - want).abs() <= 1e-6 * want.abs().max(1.0), "step {}: {} vs {}", i, g[i].data[0], want);
        }
    }

    /// JumpReLU's backward with a trained threshold: the threshold's estimator gradient, the
    /// code's gradient through the mask and the L0 value; and the exponential that makes the
    /// threshold from its logarithm.
    #[test]
    fn jump_relu_backward_and_exponential_match_cpu(rows in dim(), cols in 1..300usize,
                                                    bandwidth in 0.01f32..1.0, l0 in 0.0f32..2.0,
                                                    seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let log_theta0 = random(1, cols, seed, 2.0);
        let theta0 = Matrix::new(1, cols, log_theta0.data.iter().map(|v| v.exp()).collect()).unwrap();
        // Pre-activations near the thresholds, so that the kernel's window holds many of them.
        let mut z0 = random(rows, cols, seed + 1, 1.0);
        z0.data.iter_mut().enumerate().for_each(|(i, v)| *v = theta0.data[i % cols] + *v * bandwidth);
        let g0 = random(rows, cols, seed + 2, 1.0);
        let (g, c) = both!(gpu, |be| {
            let mut theta = be.upload(&poison(1, cols)).unwrap();
            be.exponential(&be.upload(&log_theta0).unwrap(), &mut theta);
            let mut grad = be.upload(&g0).unwrap();
            let mut lg = be.upload(&poison(1, cols)).unwrap();
            let mut acc = be.upload(&Matrix::new(1, 1, vec![0.25]).unwrap()).unwrap();
            // The same threshold on both: the host's, so that the comparison is of the backward.
            let theta_host = be.upload(&theta0).unwrap();
            be.jump_relu_backward(&be.upload(&z0).unwrap(), &theta_host, bandwidth, l0, 0.5, &mut grad, &mut lg, &mut acc);
            [&theta, &grad, &lg, &acc].iter().map(|t| be.download(t).unwrap()).collect()
        });
        assert_close(&g[0..1], &c[0..1], ELEMENTWISE, "exponential")?;
        // The mask is exact: the code's gradient is g or 0, bit for bit.
        prop_assert_eq!(&g[1], &c[1]);
        assert_close(&g[2..], &c[2..], REDUCTION, "threshold gradient and L0")?;
        let on = z0.data.iter().enumerate().filter(|(i, &v)| v > theta0.data[i % cols] && v > 0.0).count();
        prop_assert!((c[3].data[0] as f64 - (0.25 + 0.5 * l0 as f64 * on as f64)).abs() < 1e-4 * (1.0 + on as f64));
    }

    #[test]
    fn elementwise_updates_and_corruption_match_cpu(rows in dim(), cols in dim(), p in 0.0f32..0.9,
                                           sigma in 0.0f32..2.0, seed in 0u32..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let x0 = random(rows, cols, seed as u64, 1.0);
        let y0 = random(rows, cols, seed as u64 + 1, 1.0);
        let (g, c) = both!(gpu, |be| {
            let x = be.upload(&x0).unwrap();
            let mut y = be.upload(&y0).unwrap();
            be.mul_assign(&mut y, &x);
            // Divided by a [1, 1] statistic, and by 0 (which writes zeros).
            let mut divided = be.upload(&y0).unwrap();
            be.divide_by(&mut divided, &be.upload(&Matrix::new(1, 1, vec![0.37]).unwrap()).unwrap());
            let mut by_zero = be.upload(&y0).unwrap();
            be.divide_by(&mut by_zero, &be.upload(&Matrix::new(1, 1, vec![0.0]).unwrap()).unwrap());
            let mut masked = be.upload(&poison(rows, cols)).unwrap();
            be.corrupt(Noise::Mask { p }, seed, &x, &mut masked);
            let mut noisy = be.upload(&poison(rows, cols)).unwrap();
            be.corrupt(Noise::Gauss { sigma }, seed, &x, &mut noisy);
            [&y, &masked, &noisy, &divided, &by_zero].iter().map(|t| be.download(t).unwrap()).collect()
        });
        assert_close(&g[..1], &c[..1], ELEMENTWISE, "mul_assign")?;
        // Masking is exact (the same hash on both backends).
        prop_assert_eq!(&g[1], &c[1]);
        assert_close(&g[2..3], &c[2..3], ELEMENTWISE, "gaussian noise")?;
        assert_close(&g[3..4], &c[3..4], ELEMENTWISE, "divide_by")?;
        for (i, &v) in c[3].data.iter().enumerate() {
            prop_assert!((v - y0.data[i] / 0.37).abs() <= 1e-6 * v.abs().max(1.0));
        }
        prop_assert!(g[4].data.iter().chain(&c[4].data).all(|&v| v == 0.0));
    }

    #[test]
    fn dead_unit_ops_match_cpu(rows in dim(), cols in 1..300usize, seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        // A 0/1 mask with every third column silent, and integer "samples since" counters.
        let mut mask0 = random(rows, cols, seed, 1.0);
        for (i, v) in mask0.data.iter_mut().enumerate() {
            *v = if i % cols % 3 != 0 && *v > 0.5 { 1.0 } else { 0.0 };
        }
        let since0 = Matrix::new(
            1,
            cols,
            random(1, cols, seed + 1, 1.0).data.iter().map(|v| ((v + 1.0) * 20.0).floor()).collect(),
        ).unwrap();
        let z0 = random(rows, cols, seed + 2, 2.0);
        let window = 20.0 + rows as f32;
        let (g, c) = both!(gpu, |be| {
            let mut since = be.upload(&since0).unwrap();
            be.track_dead(&be.upload(&mask0).unwrap(), &mut since);
            let mut out = be.upload(&poison(rows, cols)).unwrap();
            be.mask_dead(&be.upload(&z0).unwrap(), &since, window, &mut out);
            vec![be.download(&since).unwrap(), be.download(&out).unwrap()]
        });
        // Counting and masking are exact.
        prop_assert_eq!(&g[0], &c[0]);
        prop_assert_eq!(&g[1], &c[1]);
        for j in 0..cols {
            let fired = (0..rows).any(|i| mask0.row(i)[j] != 0.0);
            let want = if fired { 0.0 } else { since0.data[j] + rows as f32 };
            prop_assert_eq!(c[0].data[j], want);
            let dead = want >= window;
            for i in 0..rows {
                let v = c[1].row(i)[j];
                prop_assert_eq!(v, if dead { z0.row(i)[j] } else { f32::MIN });
            }
        }
    }

    #[test]
    fn column_ops_match_cpu(rows in dim(), cols in 1..300usize, seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let mut w0 = random(rows, cols, seed, 1.0);
        // One zero column, which both ops leave alone.
        (0..rows).for_each(|i| w0.data[i * cols] = 0.0);
        let g0 = random(rows, cols, seed + 1, 1.0);
        let (g, c) = both!(gpu, |be| {
            let w = be.upload(&w0).unwrap();
            let mut grad = be.upload(&g0).unwrap();
            be.remove_parallel_component(&w, &mut grad);
            let mut wn = be.upload(&w0).unwrap();
            be.normalize_columns(&mut wn);
            vec![be.download(&grad).unwrap(), be.download(&wn).unwrap()]
        });
        assert_close(&g, &c, REDUCTION, "column ops")?;
        for j in 0..cols {
            let col = |m: &Matrix| (0..rows).map(|i| m.row(i)[j] as f64).collect::<Vec<_>>();
            let (gr, wn, w) = (col(&c[0]), col(&c[1]), col(&w0));
            let norm = wn.iter().map(|v| v * v).sum::<f64>().sqrt();
            let dot: f64 = gr.iter().zip(&w).map(|(a, b)| a * b).sum();
            let wnorm = w.iter().map(|v| v * v).sum::<f64>().sqrt();
            if j == 0 {
                prop_assert_eq!(norm, 0.0);
                prop_assert_eq!(gr, col(&g0));
            } else {
                prop_assert!((norm - 1.0).abs() < 1e-5, "column {} norm {}", j, norm);
                prop_assert!(dot.abs() < 1e-4 * wnorm.max(1.0), "column {} dot {}", j, dot);
            }
        }
    }

    #[test]
    fn decoder_norm_ops_match_cpu(rows in dim(), h_rows in dim(), cols in 1..300usize, alpha in -2.0f32..2.0, seed in 0u64..1000,
                                  tanh_scale in prop_oneof![Just(0.0f32), 0.5f32..8.0]) {
        let Some(gpu) = device() else { return Ok(()) };
        let mut w0 = random(rows, cols, seed, 1.0);
        // One zero column: norm 0, and no decoder gradient.
        (0..rows).for_each(|i| w0.data[i * cols] = 0.0);
        let g0 = random(rows, cols, seed + 1, 1.0);
        let h0 = random(h_rows, cols, seed + 2, 1.0);
        let (g, c) = both!(gpu, |be| {
            let w = be.upload(&w0).unwrap();
            let mut norms = be.upload(&poison(1, cols)).unwrap();
            be.column_norms(&w, &mut norms);
            let mut grad = be.upload(&g0).unwrap();
            be.l1_decoder_norm_backward(&be.upload(&h0).unwrap(), &w, alpha, tanh_scale, &mut grad);
            vec![be.download(&norms).unwrap(), be.download(&grad).unwrap()]
        });
        assert_close(&g, &c, REDUCTION, "decoder-norm ops")?;
        prop_assert_eq!(c[0].data[0], 0.0);
        for i in 0..rows {
            prop_assert_eq!(c[1].row(i)[0], g0.row(i)[0]);
        }
        if cols > 1 {
            let norm1 = (0..rows).map(|i| (w0.row(i)[1] as f64).powi(2)).sum::<f64>().sqrt();
            prop_assert!((c[0].data[1] as f64 - norm1).abs() < 1e-5 * norm1.max(1.0));
        }
    }
}

/// TopK on a wide code (the overcomplete 1024-unit case): exactly k non-zeros per row of
/// positive pre-activations, the same as the CPU.
#[test]
fn topk_wide_rows_keep_exactly_k() {
    let Some(gpu) = device() else { return };
    let mut z0 = random(7, 1024, 9, 1.0);
    z0.data.iter_mut().for_each(|v| *v = v.abs() + 1e-3);
    let (g, c) = both!(gpu, |be| {
        let (mut out, mut mask) = (
            be.upload(&poison(7, 1024)).unwrap(),
            be.upload(&poison(7, 1024)).unwrap(),
        );
        be.topk(&be.upload(&z0).unwrap(), 32, &mut out, &mut mask);
        vec![be.download(&out).unwrap()]
    });
    assert_eq!(g[0], c[0]);
    for r in 0..7 {
        assert_eq!(g[0].row(r).iter().filter(|v| **v != 0.0).count(), 32);
    }
}

/// Every variant on the odd sizes 1, 3, 17, 257, 535 (each in each of m, k, n), all four
/// transpose combinations, with and without beta, and at K = 4096.
/// The shape that once broke a tiled matmul elsewhere (burn's M = 535 regression), with the
/// transposed right operand a forward pass uses.
#[test]
fn matmul_regression_m535() {
    let Some(gpu) = device() else { return };
    let (a0, b0) = (random(535, 37, 1, 1.0), random(129, 37, 2, 1.0));
    let (g, c) = both!(gpu, |be| {
        let mut out = be.upload(&poison(535, 129)).unwrap();
        be.matmul(
            &be.upload(&a0).unwrap(),
            false,
            &be.upload(&b0).unwrap(),
            true,
            1.0,
            0.0,
            &mut out,
        );
        vec![be.download(&out).unwrap()]
    });
    assert!(rel_err(&g[0], &c[0]) <= REDUCTION);
}

/// `write` fills an existing tensor in place, after work queued on it has read the old values,
/// and refuses a matrix of another shape.
#[test]
fn write_fills_a_tensor_in_place_and_checks_its_shape() {
    let Some(gpu) = device() else { return };
    let (first, second) = (random(5, 3, 1, 1.0), random(5, 3, 2, 1.0));
    let (g, c) = both!(gpu, |be| {
        let mut x = be.upload(&first).unwrap();
        let mut copy = be.upload(&poison(5, 3)).unwrap();
        be.copy(&x, &mut copy);
        be.write(&second, &mut x).unwrap();
        let err = be.write(&random(3, 5, 3, 1.0), &mut x).unwrap_err();
        assert!(err.to_string().contains("[3, 5]"), "{err}");
        vec![be.download(&copy).unwrap(), be.download(&x).unwrap()]
    });
    assert_eq!(g, c);
    assert_eq!((&g[0], &g[1]), (&first, &second));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The products with a TopK code over its active columns, on both weight layouts and with
    /// rows of fewer than k active units: the GPU equals the CPU (the index lists exactly), and
    /// both equal the dense products with the code on the CPU.
    #[test]
    fn sparse_code_products_match_cpu_and_the_dense_products(
        rows in dim(), n in 1..300usize, k in 1..40usize, m in 1..130usize, w_t: bool,
        accumulate: bool, seed in 0u64..1000,
    ) {
        let Some(gpu) = device() else { return Ok(()) };
        let k = k.min(n);
        let z0 = random(rows, n, seed, 1.0);
        let w0 = if w_t { random(n, m, seed + 1, 1.0) } else { random(m, n, seed + 1, 1.0) };
        let y0 = random(rows, m, seed + 2, 1.0);
        let dw_shape = if w_t { (n, m) } else { (m, n) };
        let dw0 = random(dw_shape.0, dw_shape.1, seed + 3, 1.0);
        let (g, c) = both!(gpu, |be| {
            let z = be.upload(&z0).unwrap();
            let (mut code, mut mask) = (be.zeros(rows, n).unwrap(), be.zeros(rows, n).unwrap());
            be.topk(&z, k, &mut code, &mut mask);
            let mut idx = be.upload(&poison(rows, k)).unwrap();
            be.active_columns(&mask, &mut idx);
            let (w, y) = (be.upload(&w0).unwrap(), be.upload(&y0).unwrap());
            let mut out = be.upload(&poison(rows, m)).unwrap();
            be.sparse_matmul(&code, &idx, &w, w_t, &mut out);
            let mut grad = be.upload(&poison(rows, n)).unwrap();
            be.sparse_input_grad(&y, &idx, &w, w_t, &mut grad);
            let mut dw = be.upload(&if accumulate { dw0.clone() } else { poison(dw_shape.0, dw_shape.1) }).unwrap();
            be.sparse_weight_grad(&code, &idx, &y, accumulate, &mut dw, w_t);
            [&idx, &out, &grad, &dw, &code, &mask].iter().map(|t| be.download(t).unwrap()).collect()
        });
        prop_assert_eq!(&g[0], &c[0], "active_columns");
        assert_close(&g[1..4], &c[1..4], REDUCTION, "sparse ops")?;
        // The dense products on the CPU.
        let cpu = CpuBackend::<f32>::new();
        let (code, mask) = (cpu.upload(&c[4]).unwrap(), cpu.upload(&c[5]).unwrap());
        let (w, y) = (cpu.upload(&w0).unwrap(), cpu.upload(&y0).unwrap());
        let mut out = cpu.zeros(rows, m).unwrap();
        cpu.matmul(&code, false, &w, !w_t, 1.0, 0.0, &mut out);
        let mut grad = cpu.zeros(rows, n).unwrap();
        cpu.matmul(&y, false, &w, w_t, 1.0, 0.0, &mut grad);
        cpu.mul_assign(&mut grad, &mask);
        let mut dw = cpu.upload(&dw0).unwrap();
        let beta = if accumulate { 1.0 } else { 0.0 };
        match w_t {
            true => cpu.matmul(&code, true, &y, false, 1.0, beta, &mut dw),
            false => cpu.matmul(&y, true, &code, false, 1.0, beta, &mut dw),
        }
        let dense = [&out, &grad, &dw].map(|t| cpu.download(t).unwrap());
        assert_close(&c[1..4], &dense, REDUCTION, "sparse vs dense")?;
        // Every index names a kept unit, in order, padded with n.
        for r in 0..rows {
            let kept: Vec<f32> = (0..n).filter(|&j| c[5].row(r)[j] != 0.0).map(|j| j as f32).collect();
            let mut want = kept.clone();
            want.resize(k, n as f32);
            prop_assert_eq!(c[0].row(r), &want[..]);
        }
    }
}
