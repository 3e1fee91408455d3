//! Finite differences in f64 for the gradient checks (`gradcheck.rs`, `gradcheck_sparse.rs`):
//! central differences, the relative error, small f64 tensors, and the whole-model check.
#![allow(dead_code)]

use ae_core::prelude::*;
use ae_core::regularizer::Regularizer;
use ae_core::{Autoencoder, Loss, ModelConfig, ParamKind, Reconstruction, Rng, WeightDecay};
use ae_cpu::{CpuBackend, CpuTensor};

pub type B = CpuBackend<f64>;
pub const H: f64 = 1e-5;
pub const TOL: f64 = 1e-6;

pub fn random(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| rng.uniform_in(-scale, scale)).collect()
}

/// Like [`random`], but no value within 0.05 of 0, so a central difference never straddles a
/// kink there (ReLU, |x|).
pub fn away_from_zero(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
    random(rng, n, scale)
        .into_iter()
        .map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })
        .collect()
}

pub fn t(b: &B, rows: usize, cols: usize, v: &[f64]) -> CpuTensor<f64> {
    b.upload_f64(rows, cols, v).unwrap()
}

pub fn rel_err(analytic: &[f64], numeric: &[f64]) -> f64 {
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
pub fn numeric_grad(x: &[f64], f: &mut dyn FnMut(&[f64]) -> f64) -> Vec<f64> {
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

pub fn dot(b: &B, a: &CpuTensor<f64>, w: &[f64]) -> f64 {
    b.download_f64(a)
        .unwrap()
        .iter()
        .zip(w)
        .map(|(x, y)| x * y)
        .sum()
}
/// Checks every parameter gradient of a whole model against central differences of
/// reconstruction loss + penalties.
pub fn check_model(cfg: ModelConfig, loss: Loss, weight_decay: f64, seed: u64) {
    check_objective(cfg, loss.into(), weight_decay, seed)
}

pub fn check_objective(cfg: ModelConfig, objective: Reconstruction, weight_decay: f64, seed: u64) {
    let loss = objective.loss;
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
    let decay = WeightDecay {
        lambda: weight_decay as f32,
    };
    let regs: Vec<&dyn Regularizer<B>> = if weight_decay > 0.0 {
        vec![&decay]
    } else {
        vec![]
    };
    let mut ws = model.workspace(&b, rows).unwrap();
    let mut grads = model.gradients(&b).unwrap();
    model.forward_backward(&b, objective, &xt, &xt, 1.0, &mut ws, &mut grads, &regs);
    let specs = model.param_specs().to_vec();
    for (i, spec) in specs.iter().enumerate() {
        let p0 = b.download_f64(&model.params()[i]).unwrap();
        let analytic = b.download_f64(&grads.tensors[i]).unwrap();
        let mut objective = |p: &[f64]| {
            model.params_mut()[i] = t(&b, spec.rows, spec.cols, p);
            let mut ws = model.workspace(&b, rows).unwrap();
            model.evaluate(&b, objective, &xt, &xt, 1.0, &mut ws);
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
