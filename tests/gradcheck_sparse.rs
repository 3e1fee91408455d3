//! Gradient checks in f64 of the sparse codes: the L1 and KL penalties, JumpReLU's
//! straight-through estimator, whole models with L1, KL and TopK codes, TopK's ties and AuxK,
//! against central finite differences (relative error at most 1e-6).

mod fd;
use ae_core::prelude::*;
use ae_core::regularizer::Regularizer;
use ae_core::{Activation, Autoencoder, Loss, ModelConfig, ParamKind, Reduction, Rng};
use ae_cpu::CpuBackend;
use fd::*;

#[test]
fn l1_penalty_gradient_matches_finite_differences() {
    let b = B::new();
    let mut rng = Rng::new(5);
    let (r, c) = (4, 6);
    // |h|'s kink is at 0.
    let h = away_from_zero(&mut rng, r * c, 1.0);
    let weights: Vec<f64> = (0..c).map(|_| rng.uniform_in(0.2, 2.0)).collect();
    let wt = t(&b, 1, c, &weights);
    // L1, and its tanh form tanh(c w |h|).
    for (unit_weights, tanh_scale) in [(None, 0.0), (Some(&wt), 0.0), (Some(&wt), 2.5)] {
        let value = |h: &[f64]| {
            let mut acc = b.zeros(1, 1).unwrap();
            let mut g = b.zeros(r, c).unwrap();
            b.l1_penalty(
                &t(&b, r, c, h),
                unit_weights,
                0.3,
                tanh_scale,
                1.0,
                &mut acc,
                &mut g,
            );
            b.download_f64(&acc).unwrap()[0]
        };
        let numeric = numeric_grad(&h, &mut |h| value(h));
        let mut acc = b.zeros(1, 1).unwrap();
        let mut g = b.zeros(r, c).unwrap();
        b.l1_penalty(
            &t(&b, r, c, &h),
            unit_weights,
            0.3,
            tanh_scale,
            1.0,
            &mut acc,
            &mut g,
        );
        let e = rel_err(&b.download_f64(&g).unwrap(), &numeric);
        assert!(
            e < TOL,
            "weighted={} tanh {tanh_scale}: relative error {e}",
            unit_weights.is_some()
        );
        // The value itself: lambda * mean over rows of sum_j phi(w_j |h|).
        let w = |j: usize| unit_weights.map_or(1.0, |_| weights[j]);
        let phi = |u: f64| {
            if tanh_scale > 0.0 {
                (tanh_scale as f64 * u).tanh()
            } else {
                u
            }
        };
        let direct: f64 = 0.3f32 as f64
            * h.iter()
                .enumerate()
                .map(|(i, v)| phi(w(i % c) * v.abs()))
                .sum::<f64>()
            / r as f64;
        assert!((value(&h) - direct).abs() < 1e-14, "tanh {tanh_scale}");
    }
}

/// The smoothed step the rectangle kernel integrates to: `S(u) = clamp(u + 1/2, 0, 1)`, whose
/// derivative is `K(u)`. A straight-through estimator is the derivative of the step smoothed so.
fn smoothed_step(u: f64) -> f64 {
    (u + 0.5).clamp(0.0, 1.0)
}

/// JumpReLU's backward against its definition (Rajamanoharan et al. 2024, with the rectangle
/// kernel): the threshold's gradient is the central difference, in the log-threshold, of
/// `sum_ij (theta_j g_ij + l0) S((z_ij - exp(l_j)) / eps)` with the outer `theta_j` held, which
/// is `theta * -(1 / eps) K((z - theta) / eps) (theta g + l0)` summed over the rows; the code's
/// gradient is the central difference in `z` of `sum g * z H(z - theta)`; the value is
/// `l0 * count(z > theta)`.
#[test]
fn jump_relu_backward_is_its_straight_through_estimator() {
    let b = B::new();
    let mut rng = Rng::new(41);
    let (r, c, eps, l0) = (7, 5, 0.2, 0.03);
    let log_theta: Vec<f64> = (0..c).map(|_| rng.uniform_in(-2.0, -0.5)).collect();
    let theta: Vec<f64> = log_theta.iter().map(|l| l.exp()).collect();
    // Half the pre-activations inside the window, kept off its edges and the threshold.
    let z: Vec<f64> = (0..r * c)
        .map(|i| {
            let u = match i % 2 {
                0 => rng.uniform_in(0.05, 0.45) * if i % 4 == 0 { 1.0 } else { -1.0 },
                _ => rng.uniform_in(0.6, 3.0) * if i % 3 == 0 { -1.0 } else { 1.0 },
            };
            theta[i % c] + u * eps
        })
        .collect();
    let g = random(&mut rng, r * c, 1.0);
    let mut grad = t(&b, r, c, &g);
    let mut lg = t(&b, 1, c, &vec![f64::NAN; c]);
    let mut acc = t(&b, 1, 1, &[0.5]);
    let theta_t = t(&b, 1, c, &theta);
    let zt = t(&b, r, c, &z);
    b.jump_relu_backward(
        &zt, &theta_t, eps as f32, l0 as f32, 2.0, &mut grad, &mut lg, &mut acc,
    );

    let surrogate = |l: &[f64]| -> f64 {
        (0..r * c)
            .map(|i| {
                let j = i % c;
                (theta[j] * g[i] + l0) * smoothed_step((z[i] - l[j].exp()) / eps)
            })
            .sum()
    };
    let numeric = numeric_grad(&log_theta, &mut |l| surrogate(l));
    let analytic = b.download_f64(&lg).unwrap();
    assert!(
        numeric.iter().all(|v| v.abs() > 1e-3),
        "every unit has elements in its window"
    );
    let e = rel_err(&analytic, &numeric);
    assert!(e < TOL, "threshold gradient: relative error {e}");

    let jump = |z: &[f64]| -> f64 {
        (0..r * c)
            .map(|i| g[i] * if z[i] > theta[i % c] { z[i] } else { 0.0 })
            .sum()
    };
    let numeric = numeric_grad(&z, &mut |z| jump(z));
    let e = rel_err(&b.download_f64(&grad).unwrap(), &numeric);
    assert!(e < TOL, "code gradient: relative error {e}");
    let on = (0..r * c).filter(|&i| z[i] > theta[i % c]).count();
    assert!(on > 0 && on < r * c);
    let value = b.download_f64(&acc).unwrap()[0];
    assert!((value - (0.5 + 2.0 * (l0 as f32 as f64) * on as f64)).abs() < 1e-12);
}

/// A JumpReLU SAE's threshold gradient through the whole model: the estimator applied to the
/// code's gradient the test works out itself (the reconstruction's and the tanh penalty's) and
/// the L0 coefficient over the rows; the other parameters are checked by
/// `whole_model_gradient_with_l1_kl_and_topk`.
#[test]
fn jump_relu_model_threshold_gradient_is_the_estimator_of_its_code_gradient() {
    let b = B::new();
    let mut rng = Rng::new(43);
    let (rows, d, n) = (6, 5, 9);
    let mut cfg = ModelConfig::mirrored(&[d, n])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap();
    cfg.jump_relu = true;
    let mut model = Autoencoder::new(&b, cfg, 3).unwrap();
    let lt = model.log_threshold().unwrap();
    assert_eq!(model.param_specs()[lt].name, "encoder.1.log_threshold");
    let log_theta: Vec<f64> = (0..n).map(|_| rng.uniform_in(-1.5, -0.3)).collect();
    model.params_mut()[lt] = t(&b, 1, n, &log_theta);
    let x: Vec<f64> = (0..rows * d).map(|_| rng.uniform()).collect();
    let xt = t(&b, rows, d, &x);
    let (lambda, scale, eps, l0) = (0.02, 3.0, 0.6, 0.04);
    let tanh = ae_core::CodePenalty::Tanh {
        lambda: lambda as f32,
        scale: scale as f32,
    };
    let regs: Vec<&dyn Regularizer<B>> = vec![&tanh];
    let mut ws = model.workspace(&b, rows).unwrap();
    ws.jump = ae_core::JumpReluTraining {
        l0: l0 as f32,
        bandwidth: eps as f32,
    };
    let mut grads = model.gradients(&b).unwrap();
    model.forward_backward(
        &b,
        Loss::Mse.into(),
        &xt,
        &xt,
        1.0,
        &mut ws,
        &mut grads,
        &regs,
    );
    let analytic = b.download_f64(&grads.tensors[lt]).unwrap();

    let p = |name: &str| {
        let i = model
            .param_specs()
            .iter()
            .position(|s| s.name == name)
            .unwrap();
        b.download_f64(&model.params()[i]).unwrap()
    };
    let (we, be, wd, bd) = (
        p("encoder.0.weight"),
        p("encoder.0.bias"),
        p("decoder.0.weight"),
        p("decoder.0.bias"),
    );
    let theta: Vec<f64> = log_theta.iter().map(|l| l.exp()).collect();
    let z: Vec<f64> = (0..rows * n)
        .map(|i| {
            let (r, j) = (i / n, i % n);
            be[j] + (0..d).map(|k| we[j * d + k] * x[r * d + k]).sum::<f64>()
        })
        .collect();
    let h: Vec<f64> = (0..rows * n)
        .map(|i| if z[i] > theta[i % n] { z[i] } else { 0.0 })
        .collect();
    let norms: Vec<f64> = (0..n)
        .map(|j| (0..d).map(|k| wd[k * n + j].powi(2)).sum::<f64>().sqrt())
        .collect();
    let mut expected = vec![0.0; n];
    let mut in_window = 0;
    for r in 0..rows {
        let xhat: Vec<f64> = (0..d)
            .map(|k| bd[k] + (0..n).map(|j| wd[k * n + j] * h[r * n + j]).sum::<f64>())
            .collect();
        for j in 0..n {
            let i = r * n + j;
            let recon: f64 = (0..d)
                .map(|k| 2.0 * (xhat[k] - x[r * d + k]) / (rows * d) as f64 * wd[k * n + j])
                .sum();
            let penalty = if h[i] > 0.0 {
                let tv = (scale * h[i] * norms[j]).tanh();
                lambda / rows as f64 * norms[j] * scale * (1.0 - tv * tv)
            } else {
                0.0
            };
            let k = ae_core::sparsity::rectangle((z[i] - theta[j]) / eps);
            in_window += k as usize;
            expected[j] += ae_core::sparsity::jump_log_threshold_grad(
                z[i],
                theta[j],
                eps,
                recon + penalty,
                l0 / rows as f64,
            );
        }
    }
    assert!(
        in_window >= rows,
        "{in_window} elements in the kernel's window"
    );
    let e = rel_err(&analytic, &expected);
    assert!(e < 1e-5, "relative error {e}: {analytic:?} vs {expected:?}");
}

#[test]
fn kl_sparsity_gradient_matches_finite_differences() {
    let b = B::new();
    let mut rng = Rng::new(6);
    let (r, c) = (5, 4);
    let h: Vec<f64> = (0..r * c).map(|_| rng.uniform_in(0.02, 0.9)).collect();
    let (rho, beta) = (0.05, 3.0);
    let value = |h: &[f64]| {
        let mut acc = b.zeros(1, 1).unwrap();
        let mut g = b.zeros(r, c).unwrap();
        let mut means = b.zeros(1, c).unwrap();
        b.kl_sparsity(
            &t(&b, r, c, h),
            rho,
            beta,
            1.0,
            &mut acc,
            &mut g,
            &mut means,
        );
        b.download_f64(&acc).unwrap()[0]
    };
    let numeric = numeric_grad(&h, &mut |h| value(h));
    let mut acc = b.zeros(1, 1).unwrap();
    // The op adds to the gradient already there.
    let mut g = t(&b, r, c, &vec![0.5; r * c]);
    let mut means = b.zeros(1, c).unwrap();
    b.kl_sparsity(
        &t(&b, r, c, &h),
        rho,
        beta,
        1.0,
        &mut acc,
        &mut g,
        &mut means,
    );
    let analytic: Vec<f64> = b
        .download_f64(&g)
        .unwrap()
        .iter()
        .map(|v| v - 0.5)
        .collect();
    let e = rel_err(&analytic, &numeric);
    assert!(e < TOL, "relative error {e}");
    let m = b.download_f64(&means).unwrap();
    let col0 = (0..r).map(|i| h[i * c]).sum::<f64>() / r as f64;
    assert!((m[0] - col0).abs() < 1e-15);
}

/// Whole-model gradients with a code penalty or a TopK code: the objective is what
/// `forward_backward` itself accumulates (reconstruction loss + penalty), so the penalty's value
/// and its gradient are checked together. A TopK model is checked on the dense path and on the
/// sparse one (products over the code's active columns).
fn check_sparse_model(cfg: ModelConfig, penalty: Option<ae_core::CodePenalty>, seed: u64) {
    // BatchTopK has no sparse path (a sample may keep more than k units).
    let paths: &[bool] = match cfg.code_topk {
        Some(_) if !cfg.batch_topk => &[false, true],
        _ => &[false],
    };
    for &sparse in paths {
        check_model_path(cfg.clone(), penalty, seed, sparse);
    }
}

fn check_model_path(
    cfg: ModelConfig,
    penalty: Option<ae_core::CodePenalty>,
    seed: u64,
    sparse: bool,
) {
    let b = B::new();
    let mut rng = Rng::new(seed);
    let (rows, d) = (6, cfg.input_dim);
    let x: Vec<f64> = (0..rows * d).map(|_| rng.uniform()).collect();
    let xt = t(&b, rows, d, &x);
    let mut model = Autoencoder::new(&b, cfg, seed).unwrap();
    model.set_code_products(match sparse {
        true => ae_core::CodeProducts::Sparse,
        false => ae_core::CodeProducts::Dense,
    });
    assert_eq!(model.sparse_code(), sparse);
    for (i, spec) in model.param_specs().to_vec().iter().enumerate() {
        if spec.kind == ParamKind::Bias {
            model.params_mut()[i] = t(&b, 1, spec.cols, &random(&mut rng, spec.cols, 0.3));
        }
    }
    let regs: Vec<&dyn Regularizer<B>> = penalty.iter().map(|p| p as &dyn Regularizer<B>).collect();
    let objective = |model: &Autoencoder<B>, grads: &mut ae_core::Gradients<B>| {
        let mut ws = model.workspace(&b, rows).unwrap();
        // A JumpReLU code's L0 penalty: constant in every parameter but the thresholds.
        ws.jump.l0 = 0.05;
        model.forward_backward(&b, Loss::Mse.into(), &xt, &xt, 1.0, &mut ws, grads, &regs);
        b.download_f64(&ws.loss_acc).unwrap()[0] + b.download_f64(&ws.penalty_acc).unwrap()[0]
    };
    let mut grads = model.gradients(&b).unwrap();
    let total = objective(&model, &mut grads);
    assert!(total.is_finite());
    let specs = model.param_specs().to_vec();
    for (i, spec) in specs.iter().enumerate() {
        // A threshold's true derivative is 0 almost everywhere: its estimator has its own test.
        if spec.kind == ParamKind::LogThreshold {
            continue;
        }
        let p0 = b.download_f64(&model.params()[i]).unwrap();
        let analytic = b.download_f64(&grads.tensors[i]).unwrap();
        let mut scratch = model.gradients(&b).unwrap();
        let numeric = numeric_grad(&p0, &mut |p| {
            model.params_mut()[i] = t(&b, spec.rows, spec.cols, p);
            objective(&model, &mut scratch)
        });
        model.params_mut()[i] = t(&b, spec.rows, spec.cols, &p0);
        let e = rel_err(&analytic, &numeric);
        assert!(
            e < TOL,
            "{} ({penalty:?}, sparse {sparse}): relative error {e}",
            spec.name
        );
    }
}

#[test]
fn whole_model_gradient_with_l1_kl_and_topk() {
    let sigmoid_code = ModelConfig::mirrored(&[5, 7])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Sigmoid, Activation::Sigmoid)
        .unwrap();
    check_sparse_model(
        sigmoid_code.clone(),
        Some(ae_core::CodePenalty::Kl {
            rho: 0.1,
            beta: 0.7,
        }),
        30,
    );
    check_sparse_model(
        sigmoid_code,
        Some(ae_core::CodePenalty::L1 {
            lambda: 0.05,
            decoder_norm: false,
        }),
        31,
    );
    let topk = ModelConfig::mirrored(&[5, 8, 9])
        .unwrap()
        .with_activations(Activation::Tanh, Activation::Relu, Activation::Sigmoid)
        .unwrap()
        .with_topk(Some(3))
        .unwrap();
    check_sparse_model(topk.clone(), None, 32);
    check_sparse_model(
        topk.clone().with_tied(true).unwrap(),
        Some(ae_core::CodePenalty::L1 {
            lambda: 0.02,
            decoder_norm: false,
        }),
        33,
    );
    // Decoder-norm-weighted L1: the penalty also depends on the decoder weight.
    check_sparse_model(
        topk,
        Some(ae_core::CodePenalty::L1 {
            lambda: 0.1,
            decoder_norm: true,
        }),
        34,
    );
    // A one-layer SAE: TopK code, identity output, pre-encoder bias.
    let mut sae = ModelConfig::mirrored(&[5, 9])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_topk(Some(2))
        .unwrap();
    sae.pre_bias = true;
    check_sparse_model(sae.clone(), None, 36);
    // BatchTopK: the kept set is chosen over the batch; the backward is the same mask.
    sae.batch_topk = true;
    check_sparse_model(sae.clone(), None, 37);
    // JumpReLU with its L0 penalty, alone and with the tanh penalty (which reaches the decoder).
    let mut jump = sae;
    (jump.batch_topk, jump.code_topk, jump.jump_relu) = (false, None, true);
    check_sparse_model(jump.clone(), None, 38);
    let tanh = ae_core::CodePenalty::Tanh {
        lambda: 0.2,
        scale: 4.0,
    };
    check_sparse_model(jump, Some(tanh), 39);
    let one_layer = ModelConfig::mirrored(&[5, 7])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Sigmoid, Activation::Identity)
        .unwrap();
    check_sparse_model(
        one_layer,
        Some(ae_core::CodePenalty::L1 {
            lambda: 0.3,
            decoder_norm: true,
        }),
        35,
    );
}

#[test]
fn topk_keeps_exactly_k_per_row_lowest_index_on_ties() {
    let b = CpuBackend::<f32>::new();
    let mut rng = Rng::new(7);
    let (r, c, k) = (9, 40, 5);
    // Positive values: every kept unit is non-zero.
    let z: Vec<f64> = (0..r * c).map(|_| rng.uniform_in(0.01, 3.0)).collect();
    let zt = b.upload_f64(r, c, &z).unwrap();
    let (mut out, mut mask) = (b.zeros(r, c).unwrap(), b.zeros(r, c).unwrap());
    b.topk(&zt, k, &mut out, &mut mask);
    let (o, m) = (b.download(&out).unwrap(), b.download(&mask).unwrap());
    for i in 0..r {
        let row = o.row(i);
        assert_eq!(row.iter().filter(|v| **v != 0.0).count(), k, "row {i}");
        assert_eq!(m.row(i).iter().sum::<f32>(), k as f32);
        let smallest_kept = row
            .iter()
            .filter(|v| **v != 0.0)
            .fold(f32::MAX, |a, v| a.min(*v));
        let zr = &z[i * c..(i + 1) * c];
        let largest_dropped = (0..c)
            .filter(|&j| row[j] == 0.0)
            .map(|j| zr[j] as f32)
            .fold(f32::MIN, f32::max);
        assert!(smallest_kept > largest_dropped, "row {i}");
    }
    // Ties: equal values are kept from the lowest column; kept negatives are zero.
    let z = [1.0, 2.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0];
    let zt = b.upload_f64(2, 4, &z).unwrap();
    let (mut out, mut mask) = (b.zeros(2, 4).unwrap(), b.zeros(2, 4).unwrap());
    b.topk(&zt, 3, &mut out, &mut mask);
    assert_eq!(
        b.download(&out).unwrap().data,
        vec![1.0, 2.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(
        b.download(&mask).unwrap().data,
        vec![1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    );
}

/// The AuxK term: the objective is the reconstruction loss plus `coef * MSE(e_hat, e)`, with the
/// residual `e = x - x_hat` held fixed at the unperturbed model's (the aux gradient does not flow
/// into `e`) and the dead set fixed by the unperturbed batch; its value must equal what
/// `auxk_backward` accumulates, and its finite differences the gradients it adds.
#[test]
fn auxk_gradient_matches_finite_differences() {
    check_auxk(false);
}

/// The same with a pre-encoder bias: the aux term then also reaches the output bias, through
/// the encoder's input `x - b_out`.
#[test]
fn auxk_gradient_with_pre_encoder_bias_matches_finite_differences() {
    check_auxk(true);
}

fn check_auxk(pre_bias: bool) {
    let b = B::new();
    let mut rng = Rng::new(40);
    let (rows, d, code) = (4, 5, 16);
    let cfg = ModelConfig::mirrored(&[d, code])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_topk(Some(2))
        .unwrap()
        .with_pre_bias(pre_bias)
        .unwrap();
    let aux = ae_core::AuxK {
        k: 3,
        coef: 0.7,
        dead_window: 100,
    };
    aux.validate(&cfg).unwrap();
    let x: Vec<f64> = (0..rows * d).map(|_| rng.uniform()).collect();
    let xt = t(&b, rows, d, &x);
    let mut model = Autoencoder::new(&b, cfg, 40).unwrap();
    // Positive encoder biases, so that dead units have positive pre-activations to use; at
    // most rows * k = 8 of the 16 units fire.
    let enc_bias: Vec<f64> = (0..code).map(|_| rng.uniform_in(0.5, 1.0)).collect();
    model.params_mut()[1] = t(&b, 1, code, &enc_bias);
    model.params_mut()[3] = t(&b, 1, d, &random(&mut rng, d, 0.3));
    // Every unit starts one window old: those the batch does not fire are dead.
    let since0 = vec![aux.dead_window as f64; code];
    // `e = x - x_hat` is a constant of the aux term: the numeric objective takes it from the
    // unperturbed model, as the analytic gradient does.
    let base_recon = {
        let mut ws = model.workspace(&b, rows).unwrap();
        model.forward(&b, &xt, &mut ws);
        b.download_f64(model.reconstruction(&ws)).unwrap()
    };
    let regs: Vec<&dyn Regularizer<B>> = Vec::new();
    // Analytic: main loss + aux, e from the model itself.
    let mut ws = model.workspace(&b, rows).unwrap();
    let mut aw = model.auxk_workspace(&b, rows).unwrap();
    let mut grads = model.gradients(&b).unwrap();
    let mut since = t(&b, 1, code, &since0);
    model.forward_backward(
        &b,
        Loss::Mse.into(),
        &xt,
        &xt,
        1.0,
        &mut ws,
        &mut grads,
        &regs,
    );
    let mut main_only = model.gradients(&b).unwrap();
    let mut ws2 = model.workspace(&b, rows).unwrap();
    model.forward_backward(
        &b,
        Loss::Mse.into(),
        &xt,
        &xt,
        1.0,
        &mut ws2,
        &mut main_only,
        &regs,
    );
    b.track_dead(model.code(&ws), &mut since);
    model.auxk_backward(
        &b,
        &aux,
        &xt,
        &xt,
        Reduction::Mean,
        1.0,
        &since,
        &mut ws,
        &mut aw,
        &mut grads,
    );
    let aux_value = b.download_f64(&ws.penalty_acc).unwrap()[0];
    assert!(aux_value > 0.0);
    let since_after = b.download_f64(&since).unwrap();
    let dead = since_after.iter().filter(|&&s| s >= 100.0).count();
    assert!(dead >= aux.k, "only {dead} dead units: {since_after:?}");
    assert!(since_after.contains(&0.0));
    // Numeric: main loss of the perturbed model + coef * MSE(h_aux W_decᵀ, e) / var(e),
    // e = x - base_recon and var(e) its mean squared deviation from its column means, with
    // h_aux the dead units' TopK (dead set fixed by the unperturbed batch).
    let e: Vec<f64> = (0..rows * d).map(|i| x[i] - base_recon[i]).collect();
    let variance = (0..rows * d)
        .map(|i| {
            let mean = (0..rows).map(|r| e[r * d + i % d]).sum::<f64>() / rows as f64;
            (e[i] - mean).powi(2)
        })
        .sum::<f64>()
        / (rows * d) as f64;
    assert!(variance > 1e-4, "{variance}");
    let specs = model.param_specs().to_vec();
    let dead_units: Vec<bool> = since_after.iter().map(|&s| s >= 100.0).collect();
    let objective = |model: &Autoencoder<B>| {
        let mut ws = model.workspace(&b, rows).unwrap();
        model.evaluate(&b, Loss::Mse.into(), &xt, &xt, 1.0, &mut ws);
        let main = b.download_f64(&ws.loss_acc).unwrap()[0];
        let z = {
            let b_out = b.download_f64(&model.params()[3]).unwrap();
            let centred: Vec<f64> = (0..rows * d)
                .map(|i| x[i] - if pre_bias { b_out[i % d] } else { 0.0 })
                .collect();
            let mut z = b.zeros(rows, code).unwrap();
            let ct = t(&b, rows, d, &centred);
            b.matmul(&ct, false, &model.params()[0], true, 1.0, 0.0, &mut z);
            b.add_bias(&mut z, &model.params()[1]);
            b.download_f64(&z).unwrap()
        };
        let wd = b.download_f64(&model.params()[2]).unwrap(); // [d, code]
        let mut aux_sum = 0.0;
        for i in 0..rows {
            let mut cand: Vec<(f64, usize)> = (0..code)
                .filter(|&j| dead_units[j])
                .map(|j| (z[i * code + j], j))
                .collect();
            cand.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut h = vec![0.0; code];
            for &(v, j) in cand.iter().take(aux.k) {
                h[j] = v.max(0.0);
            }
            for r in 0..d {
                let e = x[i * d + r] - base_recon[i * d + r];
                let ehat: f64 = (0..code).map(|j| h[j] * wd[r * code + j]).sum();
                aux_sum += (ehat - e).powi(2);
            }
        }
        main + aux.coef as f64 * aux_sum / (rows * d) as f64 / variance
    };
    assert!(
        (objective(&model) - b.download_f64(&ws.loss_acc).unwrap()[0] - aux_value).abs() < 1e-12
    );
    let mut changed = false;
    for (i, spec) in specs.iter().enumerate() {
        let p0 = b.download_f64(&model.params()[i]).unwrap();
        let analytic = b.download_f64(&grads.tensors[i]).unwrap();
        changed |= analytic != b.download_f64(&main_only.tensors[i]).unwrap();
        let numeric = numeric_grad(&p0, &mut |p| {
            model.params_mut()[i] = t(&b, spec.rows, spec.cols, p);
            objective(&model)
        });
        model.params_mut()[i] = t(&b, spec.rows, spec.cols, &p0);
        let e = rel_err(&analytic, &numeric);
        assert!(
            e < TOL,
            "{} (auxk, pre_bias {pre_bias}): relative error {e}",
            spec.name
        );
    }
    assert!(changed, "the aux term changed no gradient");
}
