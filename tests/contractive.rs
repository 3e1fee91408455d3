//! The contractive penalty (`TrainConfig::contractive`): its value is the encoder's measured
//! squared Jacobian norm (exact method) or an estimate of it (projection method), its gradient
//! matches central differences in f64, the wgpu backend computes what the CPU does, and training
//! with it lowers the measured Jacobian norm.

mod gpu;
use ae_core::prelude::*;
use ae_core::trainer::{train, TrainEvent};
use ae_core::{
    Activation, Autoencoder, Backend, Contractive, ContractiveMethod, Loss, Matrix, ModelConfig,
    OptimizerConfig, ParamKind, Reconstruction, Rng, TrainConfig,
};
use ae_cpu::CpuBackend;
use proptest::prelude::*;

type F64 = CpuBackend<f64>;

use gpu::random;

/// `layers` with hidden activation `hidden`, code activation `code`, identity output.
fn model_config(layers: &[usize], hidden: Activation, code: Activation) -> ModelConfig {
    ModelConfig::mirrored(layers)
        .unwrap()
        .with_activations(hidden, code, Activation::Identity)
        .unwrap()
}

/// A model with random biases (so that no ReLU pre-activation sits at its kink).
fn model<B: Backend>(b: &B, cfg: &ModelConfig, seed: u64) -> Autoencoder<B> {
    let mut model = Autoencoder::new(b, cfg.clone(), seed).unwrap();
    for (i, spec) in model.param_specs().to_vec().iter().enumerate() {
        if spec.kind == ParamKind::Bias {
            let m = random(1, spec.cols, seed + 100 + i as u64, 0.4);
            model.params_mut()[i] = b.upload(&m).unwrap();
        }
    }
    model
}

/// One forward-backward with the penalty `lambda`: (reconstruction loss, penalty, gradients).
fn step<B: Backend>(
    b: &B,
    model: &Autoencoder<B>,
    x: &Matrix,
    lambda: f32,
    seed: u32,
) -> (f64, f64, Vec<Matrix>) {
    let xt = b.upload(x).unwrap();
    let mut ws = model.workspace(b, x.rows).unwrap();
    let mut c = model
        .contractive_workspace(b, x.rows, Contractive { lambda })
        .unwrap();
    c.seed = seed;
    ws.contractive = Some(c);
    let mut grads = model.gradients(b).unwrap();
    let objective = Reconstruction::from(Loss::Mse);
    model.forward_backward(b, objective, &xt, &xt, 1.0, &mut ws, &mut grads, &[]);
    let loss = b.download_f64(&ws.loss_acc).unwrap()[0];
    let penalty = b.download_f64(&ws.contractive.unwrap().acc).unwrap()[0];
    let grads = grads
        .tensors
        .iter()
        .map(|g| b.download(g).unwrap())
        .collect();
    (loss, penalty, grads)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// The exact method's value is the mean over the rows of `||J_f||_F^2` measured by central
/// differences, for every activation it covers, tied or not, and `lambda` scales it.
#[test]
fn exact_value_is_the_measured_jacobian_norm() {
    let b = F64::new();
    let x = random(7, 5, 1, 1.5);
    for (i, act) in [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Sigmoid,
        Activation::Tanh,
    ]
    .into_iter()
    .enumerate()
    {
        for tied in [false, true] {
            let cfg = model_config(&[5, 3], act, act).with_tied(tied).unwrap();
            assert_eq!(Contractive::method(&cfg), ContractiveMethod::Exact);
            let m = model(&b, &cfg, 10 + i as u64);
            let measured = m.jacobian_norm(&b, &x, 3e-3).unwrap();
            let (_, penalty, _) = step(&b, &m, &x, 2.5, 0);
            assert!(measured > 0.05, "{act}: {measured}");
            let e = rel(penalty, 2.5 * measured);
            assert!(e < 1e-3, "{act} tied={tied}: {penalty} vs 2.5 x {measured}");
        }
    }
}

/// The projection method (a deeper encoder, a GELU code) averages to the measured norm: each
/// of 4 samples repeated 2,000 times, so that the mean over the random directions is within a
/// few percent of `||J||_F^2` (the relative standard deviation of one `||J v||^2` is at most
/// `sqrt(2)`, so about 1.6% over 8,000), and different seeds give different estimates.
#[test]
fn projection_estimate_averages_to_the_measured_jacobian_norm() {
    let b = F64::new();
    let base = random(4, 6, 2, 1.0);
    let copies = 2000;
    let data = (0..copies).flat_map(|_| base.data.clone()).collect();
    let x = Matrix::new(4 * copies, 6, data).unwrap();
    for (cfg, seed) in [
        (
            model_config(&[6, 5, 3], Activation::Tanh, Activation::Sigmoid),
            20,
        ),
        (
            model_config(&[6, 4], Activation::Gelu, Activation::Gelu),
            21,
        ),
    ] {
        assert_eq!(Contractive::method(&cfg), ContractiveMethod::Projection);
        let m = model(&b, &cfg, seed);
        let measured = m.jacobian_norm(&b, &base, 1e-3).unwrap();
        let (_, p1, _) = step(&b, &m, &x, 1.0, 7);
        let (_, p2, _) = step(&b, &m, &x, 1.0, 8);
        assert!(rel(p1, measured) < 0.06, "{p1} vs {measured}");
        assert!(rel(p2, measured) < 0.06, "{p2} vs {measured}");
        assert!(p1 != p2, "the seed must change the directions");
    }
}

/// Central differences of reconstruction + penalty against the analytic gradient of every
/// parameter, in f64, for both methods (the projection's directions fixed by its seed).
#[test]
fn gradient_matches_central_differences_in_f64() {
    let b = F64::new();
    let x = random(6, 5, 3, 1.0);
    let cases = [
        model_config(&[5, 3], Activation::Sigmoid, Activation::Sigmoid),
        model_config(&[5, 3], Activation::Tanh, Activation::Tanh)
            .with_tied(true)
            .unwrap(),
        model_config(&[5, 3], Activation::Identity, Activation::Identity),
        model_config(&[5, 3], Activation::Tanh, Activation::Tanh)
            .with_pre_bias(true)
            .unwrap(),
        model_config(&[5, 4, 2], Activation::Tanh, Activation::Sigmoid),
        model_config(&[5, 4, 2], Activation::Gelu, Activation::Identity)
            .with_tied(true)
            .unwrap(),
        model_config(&[5, 3], Activation::Softplus, Activation::Softplus),
    ];
    for (n, cfg) in cases.iter().enumerate() {
        let mut m = model(&b, cfg, 30 + n as u64);
        let (_, penalty, analytic) = step(&b, &m, &x, 0.7, 5);
        assert!(penalty > 0.0);
        let h = 1e-5;
        for (i, spec) in m.param_specs().to_vec().iter().enumerate() {
            let p0 = b.download_f64(&m.params()[i]).unwrap();
            let mut numeric = Vec::with_capacity(p0.len());
            for k in 0..p0.len() {
                let mut value = |v: f64| {
                    let mut p = p0.clone();
                    p[k] = v;
                    m.params_mut()[i] = b.upload_f64(spec.rows, spec.cols, &p).unwrap();
                    let (loss, penalty, _) = step(&b, &m, &x, 0.7, 5);
                    loss + penalty
                };
                numeric.push((value(p0[k] + h) - value(p0[k] - h)) / (2.0 * h));
            }
            m.params_mut()[i] = b.upload_f64(spec.rows, spec.cols, &p0).unwrap();
            let got: Vec<f64> = analytic[i].data.iter().map(|&v| v as f64).collect();
            let diff: f64 = got.iter().zip(&numeric).map(|(a, b)| (a - b).powi(2)).sum();
            let norm: f64 = numeric.iter().map(|v| v * v).sum();
            // The analytic gradient comes back through f32 `Matrix` storage.
            let e = diff.sqrt() / norm.sqrt().max(1e-9);
            assert!(e < 1e-5, "case {n} {}: relative error {e}", spec.name);
        }
    }
}

/// The four models of the GPU property test: both methods, tied or not, odd widths.
fn gpu_case(n: usize) -> ModelConfig {
    match n {
        0 => model_config(&[9, 5], Activation::Sigmoid, Activation::Sigmoid),
        1 => model_config(&[9, 5], Activation::Tanh, Activation::Tanh)
            .with_tied(true)
            .unwrap(),
        2 => model_config(&[9, 7, 3], Activation::Gelu, Activation::Tanh),
        _ => model_config(&[9, 7, 3], Activation::Tanh, Activation::Identity),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// The wgpu backend's penalty and gradients equal the CPU backend's, for both methods, on
    /// batch sizes that are no tile multiple. The projection's weight gradient is a difference
    /// of two passes scaled by `1 / eps`, which magnifies rounding by about `1 / eps = 100`,
    /// hence its looser gradient tolerance.
    #[test]
    fn gpu_matches_cpu(
        case in 0usize..4,
        rows in prop::sample::select(vec![1usize, 3, 17, 40]),
        lambda in 0.01f32..2.0,
        seed in 0u64..1000,
    ) {
        let Some(gpu) = gpu_backend() else { return Ok(()) };
        let cpu = CpuBackend::<f32>::new();
        let cfg = gpu_case(case);
        let x = random(rows, 9, seed, 1.0);
        let s = seed as u32;
        let (gl, gp, gg) = step(gpu, &model(gpu, &cfg, seed), &x, lambda, s);
        let (cl, cp, cg) = step(&cpu, &model(&cpu, &cfg, seed), &x, lambda, s);
        prop_assert!(rel(gl, cl) < 1e-4, "loss {} vs {}", gl, cl);
        prop_assert!(rel(gp, cp) < 1e-4, "penalty {} vs {}", gp, cp);
        let tol = match Contractive::method(&cfg) {
            ContractiveMethod::Exact => 1e-4,
            ContractiveMethod::Projection => 2e-3,
        };
        for (i, (g, c)) in gg.iter().zip(&cg).enumerate() {
            prop_assert!(g.first_non_finite().is_none(), "gradient {} not finite", i);
            let diff: f64 = g
                .data
                .iter()
                .zip(&c.data)
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum();
            let norm: f64 = c.data.iter().map(|v| (*v as f64).powi(2)).sum();
            let e = diff.sqrt() / norm.sqrt().max(1e-12);
            prop_assert!(e < tol, "gradient {}: relative error {}", i, e);
        }
    }
}

// One device for every case.
use gpu::shared as gpu_backend;

/// Points near a 2-D sheet in 8-D, in roughly [-1, 1].
fn sheet(rows: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    let basis: Vec<f64> = (0..2 * 8).map(|_| rng.normal()).collect();
    let data = (0..rows)
        .flat_map(|_| {
            let (u, v) = (rng.uniform_in(-1.0, 1.0), rng.uniform_in(-1.0, 1.0));
            let noise: Vec<f64> = (0..8).map(|_| 0.05 * rng.normal()).collect();
            (0..8)
                .map(|j| (0.5 * (u * basis[j] + v * basis[8 + j]) + noise[j]).tanh() as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    Matrix::new(rows, 8, data).unwrap()
}

/// Trains with `lambda` (None: without the penalty); returns the measured mean squared
/// Jacobian norm of the encoder on `x` and the last epoch's reported contractive term.
fn trained_jacobian(cfg: &ModelConfig, x: &Matrix, lambda: Option<f32>) -> (f64, Option<f64>) {
    let b = CpuBackend::<f32>::new();
    let mut model = Autoencoder::new(&b, cfg.clone(), 3).unwrap();
    let tc = TrainConfig {
        epochs: 30,
        batch_size: 32,
        optimizer: OptimizerConfig {
            lr: 3e-3,
            ..OptimizerConfig::default()
        },
        contractive: lambda.map(|lambda| Contractive { lambda }),
        ..TrainConfig::default()
    };
    let report = train(&b, &mut model, x, None, &tc, &[], &mut |_: TrainEvent<
        '_,
        CpuBackend<f32>,
    >| Ok(()))
    .unwrap();
    let reported = report.last().contractive;
    (model.jacobian_norm(&b, x, 1e-3).unwrap(), reported)
}

/// With the penalty the trained encoder is measurably more contractive than without it, by
/// either method; the history reports the term only when it is on, and its last value is
/// `lambda` times (about) the measured norm.
#[test]
fn training_with_the_penalty_lowers_the_measured_jacobian_norm() {
    let x = sheet(512, 4);
    for cfg in [
        model_config(&[8, 4], Activation::Sigmoid, Activation::Sigmoid),
        model_config(&[8, 16, 4], Activation::Tanh, Activation::Tanh),
    ] {
        let (free, none) = trained_jacobian(&cfg, &x, None);
        let (held, reported) = trained_jacobian(&cfg, &x, Some(0.1));
        assert!(none.is_none());
        let reported = reported.expect("the history reports the contractive term");
        assert!(
            held < 0.5 * free,
            "{:?}: ||J||^2 {held} with the penalty vs {free} without",
            cfg.encoder
        );
        // The reported term is a mean over the epoch's batches while the weights moved, so it
        // only roughly matches the final weights' norm.
        assert!(
            rel(reported, 0.1 * held) < 0.5,
            "{reported} vs 0.1 x {held}"
        );
    }
}

/// Codes that switch units on and off, a negative or non-finite coefficient, and the
/// projection with a pre-encoder bias are refused with a message naming the problem.
#[test]
fn refuses_what_it_cannot_support() {
    let b = CpuBackend::<f32>::new();
    let ok = model_config(&[6, 3], Activation::Tanh, Activation::Tanh);
    for lambda in [-0.1, f32::NAN, f32::INFINITY] {
        let e = Contractive { lambda }
            .validate(&ok)
            .unwrap_err()
            .to_string();
        assert!(e.contains("contractive") && e.contains(">= 0"), "{e}");
    }
    let topk = ModelConfig::mirrored(&[6, 4])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_topk(Some(2))
        .unwrap();
    let m = Autoencoder::new(&b, topk, 0).unwrap();
    let e = m
        .contractive_workspace(&b, 4, Contractive { lambda: 0.1 })
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("TopK"), "{e}");
    let deep = model_config(&[6, 4, 2], Activation::Tanh, Activation::Tanh)
        .with_pre_bias(true)
        .unwrap();
    let e = Contractive { lambda: 0.1 }
        .validate(&deep)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pre-encoder bias"), "{e}");
    // The trainer checks the setting before anything else.
    let mut model = Autoencoder::new(&b, ok, 0).unwrap();
    let tc = TrainConfig {
        contractive: Some(Contractive { lambda: -1.0 }),
        ..TrainConfig::default()
    };
    let x = random(8, 6, 0, 1.0);
    let e = train(&b, &mut model, &x, None, &tc, &[], &mut |_: TrainEvent<
        '_,
        CpuBackend<f32>,
    >| Ok(()))
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("`train.contractive`"), "{e}");
}

/// The setting round-trips through the JSON that `config.json` records, and a training record
/// written before the field existed still reads (no contractive penalty).
#[test]
fn the_setting_is_stored_and_older_records_still_load() {
    let tc = TrainConfig {
        contractive: Some(Contractive { lambda: 0.25 }),
        ..TrainConfig::default()
    };
    let json = serde_json::to_value(&tc).unwrap();
    assert_eq!(json["contractive"]["lambda"], 0.25);
    let back: TrainConfig = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, tc);
    let mut old = json;
    old.as_object_mut().unwrap().remove("contractive");
    let old: TrainConfig = serde_json::from_value(old).unwrap();
    assert_eq!(old.contractive, None);
    let plain = serde_json::to_value(TrainConfig::default()).unwrap();
    assert!(plain.get("contractive").is_none(), "{plain}");
}
