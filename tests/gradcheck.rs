//! Gradient checks in f64: every op's backward and the whole model's loss gradient against
//! central finite differences, relative error at most 1e-6 (sparse codes: `gradcheck_sparse.rs`).

mod fd;
use ae_core::prelude::*;
use ae_core::{Activation, Loss, ModelConfig, Reconstruction, Reduction, Rng};
use fd::*;

#[test]
fn activation_backward_matches_finite_differences() {
    let b = B::new();
    let mut rng = Rng::new(1);
    let (r, c) = (4, 5);
    // ReLU's kink is at 0.
    let z = away_from_zero(&mut rng, r * c, 2.0);
    let w = random(&mut rng, r * c, 1.0);
    for act in Activation::ALL {
        let mut loss = |z: &[f64]| {
            let zt = t(&b, r, c, z);
            let mut a = b.zeros(r, c).unwrap();
            b.activation(act, &zt, &mut a);
            dot(&b, &a, &w)
        };
        let numeric = numeric_grad(&z, &mut loss);
        let zt = t(&b, r, c, &z);
        let mut a = b.zeros(r, c).unwrap();
        b.activation(act, &zt, &mut a);
        let mut g = t(&b, r, c, &w);
        b.activation_backward(act, &zt, &a, &mut g);
        let e = rel_err(&b.download_f64(&g).unwrap(), &numeric);
        assert!(e < TOL, "{act}: relative error {e}");
    }
}

#[test]
fn loss_gradients_match_finite_differences() {
    let b = B::new();
    let mut rng = Rng::new(2);
    let (r, c) = (3, 7);
    let input = random(&mut rng, r * c, 2.0);
    let target: Vec<f64> = (0..r * c).map(|_| rng.uniform()).collect();
    let tt = t(&b, r, c, &target);
    // weight 3.5 = the half-sum reduction of 7 features: the value is 3.5 x the mean.
    for (loss, weight) in [(Loss::Mse, 1.0), (Loss::Bce, 1.0), (Loss::Mse, 3.5)] {
        let mut value = |x: &[f64]| {
            let mut acc = b.zeros(1, 1).unwrap();
            b.loss(loss, &t(&b, r, c, x), &tt, weight, 1.0, &mut acc, None);
            b.download_f64(&acc).unwrap()[0]
        };
        let numeric = numeric_grad(&input, &mut value);
        let mut acc = b.zeros(1, 1).unwrap();
        let mut g = b.zeros(r, c).unwrap();
        b.loss(
            loss,
            &t(&b, r, c, &input),
            &tt,
            weight,
            1.0,
            &mut acc,
            Some(&mut g),
        );
        let e = rel_err(&b.download_f64(&g).unwrap(), &numeric);
        assert!(e < TOL, "{loss} x {weight}: relative error {e}");
        assert!((b.download_f64(&acc).unwrap()[0] - value(&input)).abs() < 1e-13);
        let per_sample_half_sum: f64 = (0..r * c)
            .map(|i| 0.5 * loss.value(input[i], target[i]))
            .sum::<f64>()
            / r as f64;
        if weight == 3.5 {
            assert!((value(&input) - per_sample_half_sum).abs() < 1e-12);
        }
    }
}

#[test]
fn bias_gradient_matches_finite_differences() {
    let b = B::new();
    let mut rng = Rng::new(3);
    let (r, c) = (5, 3);
    let x = random(&mut rng, r * c, 1.0);
    let w = random(&mut rng, r * c, 1.0);
    let bias = random(&mut rng, c, 1.0);
    let mut value = |bias: &[f64]| {
        let mut xt = t(&b, r, c, &x);
        b.add_bias(&mut xt, &t(&b, 1, c, bias));
        dot(&b, &xt, &w)
    };
    let numeric = numeric_grad(&bias, &mut value);
    let mut db = b.zeros(1, c).unwrap();
    b.bias_grad(&t(&b, r, c, &w), &mut db);
    let e = rel_err(&b.download_f64(&db).unwrap(), &numeric);
    assert!(e < TOL, "relative error {e}");
}

#[test]
fn matmul_gradients_match_finite_differences() {
    let b = B::new();
    let mut rng = Rng::new(4);
    let (m, k, n) = (3, 4, 5);
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let (ar, ac) = if ta { (k, m) } else { (m, k) };
        let (br, bc) = if tb { (n, k) } else { (k, n) };
        let a = random(&mut rng, m * k, 1.0);
        let bm = random(&mut rng, k * n, 1.0);
        let w = random(&mut rng, m * n, 1.0);
        let product = |a: &[f64], bm: &[f64]| {
            let mut c = b.zeros(m, n).unwrap();
            b.matmul(
                &t(&b, ar, ac, a),
                ta,
                &t(&b, br, bc, bm),
                tb,
                1.0,
                0.0,
                &mut c,
            );
            dot(&b, &c, &w)
        };
        let num_a = numeric_grad(&a, &mut |a| product(a, &bm));
        let num_b = numeric_grad(&bm, &mut |bm| product(&a, bm));
        // dL/dop(a) = W op(b)ᵀ, dL/dop(b) = op(a)ᵀ W; transposed back to the stored layout.
        let wt = t(&b, m, n, &w);
        let mut ga = b.zeros(ar, ac).unwrap();
        if ta {
            b.matmul(&t(&b, br, bc, &bm), tb, &wt, true, 1.0, 0.0, &mut ga);
        } else {
            b.matmul(&wt, false, &t(&b, br, bc, &bm), !tb, 1.0, 0.0, &mut ga);
        }
        let mut gb = b.zeros(br, bc).unwrap();
        if tb {
            b.matmul(&wt, true, &t(&b, ar, ac, &a), ta, 1.0, 0.0, &mut gb);
        } else {
            b.matmul(&t(&b, ar, ac, &a), !ta, &wt, false, 1.0, 0.0, &mut gb);
        }
        let ea = rel_err(&b.download_f64(&ga).unwrap(), &num_a);
        let eb = rel_err(&b.download_f64(&gb).unwrap(), &num_b);
        assert!(ea < TOL && eb < TOL, "ta={ta} tb={tb}: {ea} {eb}");
    }
}

#[test]
fn whole_model_gradient_every_activation() {
    for (i, act) in Activation::ALL.into_iter().enumerate() {
        let cfg = ModelConfig::mirrored(&[5, 4, 3])
            .unwrap()
            .with_activations(act, act, Activation::Sigmoid)
            .unwrap();
        check_model(cfg, Loss::Mse, 0.0, 10 + i as u64);
    }
}

#[test]
fn whole_model_gradient_bce_tied_weight_decay_identity_output() {
    let base = ModelConfig::mirrored(&[6, 4, 2]).unwrap();
    check_model(base.clone(), Loss::Bce, 0.0, 20);
    check_model(base.clone().with_tied(true).unwrap(), Loss::Mse, 0.0, 21);
    check_model(base.clone().with_tied(true).unwrap(), Loss::Bce, 0.01, 22);
    let linear = base
        .with_activations(Activation::Tanh, Activation::Identity, Activation::Identity)
        .unwrap()
        .with_decoder(vec![5, 3])
        .unwrap();
    check_model(linear, Loss::Mse, 0.05, 23);
}

/// The sum and half-sum reductions scale the reconstruction term (and not the weight decay).
#[test]
fn whole_model_gradient_under_the_sum_reductions() {
    let cfg = ModelConfig::mirrored(&[6, 4, 2]).unwrap();
    for (i, reduction) in [Reduction::Sum, Reduction::HalfSum].into_iter().enumerate() {
        for loss in [Loss::Mse, Loss::Bce] {
            check_objective(
                cfg.clone(),
                Reconstruction { loss, reduction },
                0.01,
                27 + i as u64,
            );
        }
    }
}

#[test]
fn whole_model_gradient_with_pre_encoder_bias() {
    let base = ModelConfig::mirrored(&[6, 4, 3])
        .unwrap()
        .with_activations(Activation::Tanh, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_pre_bias(true)
        .unwrap();
    check_model(base.clone(), Loss::Mse, 0.0, 24);
    check_model(base.with_tied(true).unwrap(), Loss::Mse, 0.01, 25);
    let one_layer = ModelConfig::mirrored(&[5, 7])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_pre_bias(true)
        .unwrap();
    check_model(one_layer, Loss::Mse, 0.0, 26);
}
