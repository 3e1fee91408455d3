//! Gradient checks in f64: every op's backward and the whole model's loss gradient against
//! central finite differences, relative error at most 1e-6.

use ae_core::regularizer::Regularizer;
use ae_core::{Activation, Autoencoder, Backend, Loss, ModelConfig, ParamKind, Rng, WeightDecay};
use ae_cpu::{CpuBackend, CpuTensor};

type B = CpuBackend<f64>;
const H: f64 = 1e-5;
const TOL: f64 = 1e-6;

fn random(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| rng.uniform_in(-scale, scale)).collect()
}

fn t(b: &B, rows: usize, cols: usize, v: &[f64]) -> CpuTensor<f64> {
    b.upload_f64(rows, cols, v).unwrap()
}

fn rel_err(analytic: &[f64], numeric: &[f64]) -> f64 {
    let diff: f64 = analytic
        .iter()
        .zip(numeric)
        .map(|(a, n)| (a - n).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    diff / norm(analytic).max(norm(numeric)).max(1e-12)
}

/// Central differences of `f` at `x`, one coordinate at a time.
fn numeric_grad(x: &[f64], f: &mut dyn FnMut(&[f64]) -> f64) -> Vec<f64> {
    let mut x = x.to_vec();
    (0..x.len())
        .map(|i| {
            let orig = x[i];
            x[i] = orig + H;
            let up = f(&x);
            x[i] = orig - H;
            let down = f(&x);
            x[i] = orig;
            (up - down) / (2.0 * H)
        })
        .collect()
}

fn dot(b: &B, a: &CpuTensor<f64>, w: &[f64]) -> f64 {
    b.download_f64(a)
        .unwrap()
        .iter()
        .zip(w)
        .map(|(x, y)| x * y)
        .sum()
}

#[test]
fn activation_backward_matches_finite_differences() {
    let b = B::new();
    let mut rng = Rng::new(1);
    let (r, c) = (4, 5);
    // Keep away from ReLU's kink at 0 so the central difference is smooth.
    let z: Vec<f64> = random(&mut rng, r * c, 2.0)
        .into_iter()
        .map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })
        .collect();
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
    for loss in [Loss::Mse, Loss::Bce] {
        let mut value = |x: &[f64]| {
            let mut acc = b.zeros(1, 1).unwrap();
            b.loss(loss, &t(&b, r, c, x), &tt, 1.0, &mut acc, None);
            b.download_f64(&acc).unwrap()[0]
        };
        let numeric = numeric_grad(&input, &mut value);
        let mut acc = b.zeros(1, 1).unwrap();
        let mut g = b.zeros(r, c).unwrap();
        b.loss(loss, &t(&b, r, c, &input), &tt, 1.0, &mut acc, Some(&mut g));
        let e = rel_err(&b.download_f64(&g).unwrap(), &numeric);
        assert!(e < TOL, "{loss}: relative error {e}");
        assert!((b.download_f64(&acc).unwrap()[0] - value(&input)).abs() < 1e-14);
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

/// Checks every parameter gradient of a whole model against central differences of
/// reconstruction loss + penalties.
fn check_model(cfg: ModelConfig, loss: Loss, weight_decay: f64, seed: u64) {
    let b = B::new();
    let mut rng = Rng::new(seed);
    let (rows, d) = (6, cfg.input_dim);
    let x: Vec<f64> = (0..rows * d).map(|_| rng.uniform()).collect();
    let xt = t(&b, rows, d, &x);
    let mut model = Autoencoder::new(&b, cfg.clone(), seed).unwrap();
    // Random biases: with zero biases a sample whose ReLU units are all off gives pre-activations
    // of exactly 0 downstream, where ReLU has a kink and finite differences see a slope of 1/2.
    for (i, spec) in model.param_specs().to_vec().iter().enumerate() {
        if spec.kind == ParamKind::Bias {
            model.params_mut()[i] = t(&b, 1, spec.cols, &random(&mut rng, spec.cols, 0.3));
        }
    }
    let regs: Vec<Box<dyn Regularizer<B>>> = if weight_decay > 0.0 {
        vec![Box::new(WeightDecay {
            lambda: weight_decay as f32,
        })]
    } else {
        vec![]
    };
    let mut ws = model.workspace(&b, rows).unwrap();
    let mut grads = model.gradients(&b).unwrap();
    model.forward_backward(&b, loss, &xt, &xt, 1.0, &mut ws, &mut grads, &regs);
    let specs = model.param_specs().to_vec();
    for (i, spec) in specs.iter().enumerate() {
        let p0 = b.download_f64(&model.params()[i]).unwrap();
        let analytic = b.download_f64(&grads.tensors[i]).unwrap();
        let mut objective = |p: &[f64]| {
            model.params_mut()[i] = t(&b, spec.rows, spec.cols, p);
            let mut ws = model.workspace(&b, rows).unwrap();
            model.evaluate(&b, loss, &xt, &xt, 1.0, &mut ws);
            let mut total = b.download_f64(&ws.loss_acc).unwrap()[0];
            for (s, p) in model.param_specs().iter().zip(model.params()) {
                if s.kind == ParamKind::Weight {
                    let w = b.download_f64(p).unwrap();
                    total +=
                        0.5 * (weight_decay as f32 as f64) * w.iter().map(|v| v * v).sum::<f64>();
                }
            }
            total
        };
        let numeric = numeric_grad(&p0, &mut objective);
        model.params_mut()[i] = t(&b, spec.rows, spec.cols, &p0);
        let e = rel_err(&analytic, &numeric);
        assert!(
            e < TOL,
            "{} ({loss}, tied={}): relative error {e}",
            spec.name,
            cfg.tied
        );
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
