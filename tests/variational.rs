//! The variational autoencoder (`ModelConfig::variational`, `TrainConfig::variational`): the
//! ELBO's gradient matches central differences in f64 with `eps` fixed by its seed, the wgpu
//! backend computes a training step as the CPU does, training lowers the negative ELBO with a
//! positive KL, bad combinations are refused, and the setting round-trips through JSON (the
//! command line's side is in `variational_cli.rs`).

mod gpu;
use ae_core::prelude::*;
use ae_core::trainer::{train, TrainEvent};
use ae_core::{
    Activation, Autoencoder, Backend, Loss, Matrix, ModelConfig, OptimizerConfig, ParamKind,
    Reconstruction, Reduction, Rng, TrainConfig, Variational,
};
use ae_cpu::CpuBackend;

type F64 = CpuBackend<f64>;

use gpu::random;

/// A variational model of `layers` with hidden activation `hidden` and output `output`.
fn vae_config(layers: &[usize], hidden: Activation, output: Activation) -> ModelConfig {
    ModelConfig::mirrored(layers)
        .unwrap()
        .with_activations(hidden, Activation::Identity, output)
        .unwrap()
        .with_variational(true)
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

/// One forward-backward with `eps` from `seed` and the KL's `beta`: (reconstruction loss, KL
/// without beta, gradients).
fn step<B: Backend>(
    b: &B,
    model: &Autoencoder<B>,
    x: &Matrix,
    objective: Reconstruction,
    beta: f32,
    seed: u32,
) -> (f64, f64, Vec<Matrix>) {
    let xt = b.upload(x).unwrap();
    let mut ws = model.workspace(b, x.rows).unwrap();
    let v = ws.vae.as_mut().expect("a variational workspace");
    v.seed = Some(seed);
    v.beta = beta;
    let mut grads = model.gradients(b).unwrap();
    model.forward_backward(b, objective, &xt, &xt, 1.0, &mut ws, &mut grads, &[]);
    let loss = b.download_f64(&ws.loss_acc).unwrap()[0];
    let kl = b.download_f64(&ws.vae.unwrap().kl_acc).unwrap()[0];
    let grads = grads
        .tensors
        .iter()
        .map(|g| b.download(g).unwrap())
        .collect();
    (loss, kl, grads)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// Central differences of reconstruction + beta * KL against the analytic gradient of every
/// parameter, in f64, with `eps` fixed by its seed: one- and two-layer encoders, MSE and BCE,
/// summed and averaged reductions, a pre-encoder bias, beta 0.3 and 1, and weights large
/// enough that some raw log-variances sit in the soft clamp's curve.
#[test]
fn elbo_gradient_matches_central_differences_in_f64() {
    let b = F64::new();
    let x = random(6, 5, 3, 1.0);
    let x01 = Matrix::new(6, 5, x.data.iter().map(|v| 0.5 + 0.5 * v).collect()).unwrap();
    let mse = Reconstruction::from(Loss::Mse);
    let bce_sum = Reconstruction {
        loss: Loss::Bce,
        reduction: Reduction::Sum,
    };
    let cases = [
        (
            vae_config(&[5, 3], Activation::Tanh, Activation::Identity),
            mse,
            1.0,
            &x,
        ),
        (
            vae_config(&[5, 4, 2], Activation::Tanh, Activation::Sigmoid),
            bce_sum,
            0.3,
            &x01,
        ),
        (
            vae_config(&[5, 4, 2], Activation::Gelu, Activation::Identity),
            mse,
            1.0,
            &x,
        ),
        (
            vae_config(&[5, 2], Activation::Relu, Activation::Identity)
                .with_pre_bias(true)
                .unwrap(),
            mse,
            1.0,
            &x,
        ),
    ];
    for (n, (cfg, objective, beta, x)) in cases.iter().enumerate() {
        let mut m = model(&b, cfg, 30 + n as u64);
        // Scale the weights up so that some log-variances are far from 0.
        for (i, spec) in m.param_specs().to_vec().iter().enumerate() {
            if spec.kind == ParamKind::Weight {
                let p: Vec<f64> = b.download_f64(&m.params()[i]).unwrap();
                let p: Vec<f64> = p.iter().map(|v| 3.0 * v).collect();
                m.params_mut()[i] = b.upload_f64(spec.rows, spec.cols, &p).unwrap();
            }
        }
        let (_, kl, analytic) = step(&b, &m, x, *objective, *beta, 5);
        assert!(kl > 0.0, "case {n}: KL {kl}");
        let h = 1e-5;
        for (i, spec) in m.param_specs().to_vec().iter().enumerate() {
            let p0 = b.download_f64(&m.params()[i]).unwrap();
            let mut numeric = Vec::with_capacity(p0.len());
            for k in 0..p0.len() {
                let mut value = |v: f64| {
                    let mut p = p0.clone();
                    p[k] = v;
                    m.params_mut()[i] = b.upload_f64(spec.rows, spec.cols, &p).unwrap();
                    let (loss, kl, _) = step(&b, &m, x, *objective, *beta, 5);
                    loss + *beta as f64 * kl
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

/// The KL accumulated on the device is the closed form computed on the host from the model's
/// mean and log-variance, the noise depends on the seed only, and without a seed the decoder
/// reads the mean (so inference is deterministic and `encode` returns the mean).
#[test]
fn kl_and_sampling_are_what_they_say() {
    let b = CpuBackend::<f32>::new();
    let cfg = vae_config(&[7, 5, 3], Activation::Tanh, Activation::Identity);
    let m = model(&b, &cfg, 4);
    let x = random(9, 7, 1, 1.0);
    let xt = b.upload(&x).unwrap();
    let mut ws = m.workspace(&b, 9).unwrap();
    let mse = Reconstruction::from(Loss::Mse);
    m.evaluate(&b, mse, &xt, &xt, 1.0, &mut ws);
    let v = ws.vae.as_ref().unwrap();
    let (mu, lv) = (b.download(v.mu()).unwrap(), b.download(v.logvar()).unwrap());
    let host: f64 = mu
        .data
        .iter()
        .zip(&lv.data)
        .map(|(&m, &l)| 0.5 * ((m * m) as f64 + (l as f64).exp() - 1.0 - l as f64))
        .sum::<f64>()
        / 9.0;
    let kl = b.download_f64(&v.kl_acc).unwrap()[0];
    assert!(rel(kl, host) < 1e-5, "{kl} vs {host}");
    assert!(kl > 0.0);
    // No seed: z is the mean, and encode is that mean.
    assert_eq!(b.download(v.z()).unwrap(), mu);
    assert_eq!(m.encode(&b, &x).unwrap(), mu);
    assert_eq!((mu.rows, mu.cols), (9, 3));
    // Seeded samples: the same seed, the same z; another seed, another z.
    let sample = |seed: u32| {
        let mut ws = m.workspace(&b, 9).unwrap();
        ws.vae.as_mut().unwrap().seed = Some(seed);
        m.forward(&b, &xt, &mut ws);
        b.download(ws.vae.as_ref().unwrap().z()).unwrap()
    };
    assert_eq!(sample(3), sample(3));
    assert_ne!(sample(3), sample(4));
    assert_ne!(sample(3), mu);
    // The negative ELBO per row: positive, seeded, and its mean over rows is the batch's
    // reconstruction loss (mean reduction, one sample per row at the mean's noise) plus KL.
    let s = m.negative_elbo(&b, &x, mse, 4, 11).unwrap();
    assert_eq!(s.len(), 9);
    assert!(s.iter().all(|v| v.is_finite() && *v > 0.0));
    assert_eq!(s, m.negative_elbo(&b, &x, mse, 4, 11).unwrap());
    assert_ne!(s, m.negative_elbo(&b, &x, mse, 4, 12).unwrap());
    // The reconstruction probability's score (An & Cho) is the negative ELBO without its KL:
    // for the same draws, the two differ by each row's closed-form KL, whatever the draws.
    let row_kl: Vec<f64> = (0..9)
        .map(|r| {
            (mu.row(r).iter().zip(lv.row(r)))
                .map(|(&m, &l)| 0.5 * ((m * m) as f64 + (l as f64).exp() - 1.0 - l as f64))
                .sum()
        })
        .collect();
    assert!(row_kl.iter().all(|&k| k > 1e-6));
    for (samples, seed) in [(4, 11), (1, 3)] {
        let elbo = m.negative_elbo(&b, &x, mse, samples, seed).unwrap();
        let recon = m
            .expected_reconstruction_loss(&b, &x, mse, samples, seed)
            .unwrap();
        for r in 0..9 {
            assert!(recon[r] > 0.0);
            assert!(rel(elbo[r] - recon[r], row_kl[r]) < 1e-4, "row {r}");
        }
    }
    // Decoding the mean is the reconstruction.
    let recon = m.reconstruct(&b, &x).unwrap();
    let decoded = m.decode(&b, &mu).unwrap();
    assert!(gpu::rel_err(&decoded, &recon) < 1e-6);
}

/// The wgpu backend's training step (losses and every gradient) equals the CPU backend's, on
/// batch sizes that are no tile multiple, with the same seeded noise.
#[test]
fn gpu_step_matches_cpu() {
    let Some(gpu) = gpu::shared() else { return };
    let cpu = CpuBackend::<f32>::new();
    let cases = [
        vae_config(&[9, 5], Activation::Tanh, Activation::Identity),
        vae_config(&[9, 7, 3], Activation::Relu, Activation::Sigmoid),
    ];
    for (n, cfg) in cases.iter().enumerate() {
        for rows in [1usize, 17, 40] {
            let x = random(rows, 9, rows as u64 + n as u64, 1.0);
            let seed = 7 + rows as u32;
            let mse = Reconstruction::from(Loss::Mse);
            let (gl, gk, gg) = step(gpu, &model(gpu, cfg, 5), &x, mse, 0.7, seed);
            let (cl, ck, cg) = step(&cpu, &model(&cpu, cfg, 5), &x, mse, 0.7, seed);
            assert!(
                rel(gl, cl) < 1e-4,
                "case {n} rows {rows}: loss {gl} vs {cl}"
            );
            assert!(rel(gk, ck) < 1e-4, "case {n} rows {rows}: KL {gk} vs {ck}");
            for (i, (g, c)) in gg.iter().zip(&cg).enumerate() {
                let e = gpu::rel_err(g, c);
                assert!(
                    e < 1e-4,
                    "case {n} rows {rows} gradient {i}: relative error {e}"
                );
            }
        }
    }
}

/// Points near a 2-D sheet in 8-D, in roughly [-1, 1].
fn sheet(rows: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    let basis: Vec<f64> = (0..2 * 8).map(|_| rng.normal()).collect();
    let data = (0..rows)
        .flat_map(|_| {
            let (a, b) = (rng.uniform_in(-1.0, 1.0), rng.uniform_in(-1.0, 1.0));
            let noise: Vec<f64> = (0..8).map(|_| 0.05 * rng.normal()).collect();
            (0..8)
                .map(|j| (0.5 * (a * basis[j] + b * basis[8 + j]) + noise[j]) as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    Matrix::new(rows, 8, data).unwrap()
}

fn quiet(_: TrainEvent<'_, CpuBackend<f32>>) -> ae_core::Result<()> {
    Ok(())
}

/// Training lowers the mean negative ELBO of held-out rows; the history reports a positive KL
/// every epoch; the warmup ramps beta so that the KL is larger early on than without it.
#[test]
fn training_lowers_the_negative_elbo() {
    let b = CpuBackend::<f32>::new();
    let (x, held) = (sheet(512, 4), sheet(128, 5));
    let cfg = vae_config(&[8, 16, 2], Activation::Tanh, Activation::Identity);
    let objective = Reconstruction {
        loss: Loss::Mse,
        reduction: Reduction::Sum,
    };
    let run = |warmup: usize| {
        let mut model = Autoencoder::new(&b, cfg.clone(), 3).unwrap();
        let before = model.negative_elbo(&b, &held, objective, 8, 1).unwrap();
        let tc = TrainConfig {
            epochs: 20,
            batch_size: 32,
            reduction: Reduction::Sum,
            optimizer: OptimizerConfig {
                lr: 3e-3,
                ..OptimizerConfig::default()
            },
            variational: Some(Variational { beta: 1.0, warmup }),
            ..TrainConfig::default()
        };
        let report = train(&b, &mut model, &x, None, &tc, &[], &mut quiet).unwrap();
        let after = model.negative_elbo(&b, &held, objective, 8, 1).unwrap();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        (mean(&before), mean(&after), report)
    };
    let (before, after, report) = run(0);
    assert!(after < 0.8 * before, "negative ELBO {before} -> {after}");
    let kls: Vec<f64> = report.history.iter().map(|h| h.kl.unwrap()).collect();
    assert!(kls.iter().all(|&k| k > 0.0), "{kls:?}");
    let (_, _, warm) = run(5);
    let warm_kl = warm.history[0].kl.unwrap();
    assert!(
        warm_kl > kls[0],
        "first-epoch KL {warm_kl} with warmup vs {}",
        kls[0]
    );
}

/// Bad combinations are refused with a message naming the problem.
#[test]
fn refuses_what_it_cannot_support() {
    let b = CpuBackend::<f32>::new();
    let base = ModelConfig::mirrored(&[6, 4])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap();
    let e = base.clone().with_variational(true).unwrap_err().to_string();
    assert!(e.contains("code_activation` identity"), "{e}");
    let e = base
        .clone()
        .with_topk(Some(2))
        .unwrap()
        .with_variational(true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("TopK") || e.contains("identity"), "{e}");
    let ident = ModelConfig::mirrored(&[6, 3, 2]).unwrap();
    let e = ident
        .clone()
        .with_tied(true)
        .unwrap()
        .with_variational(true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("tie"), "{e}");
    let vae = ident.with_variational(true).unwrap();
    let x = random(8, 6, 0, 1.0);
    let bad = [
        (
            TrainConfig {
                contractive: Some(ae_core::Contractive { lambda: 0.1 }),
                ..TrainConfig::default()
            },
            "contractive",
        ),
        (
            TrainConfig {
                variational: Some(Variational {
                    beta: -1.0,
                    warmup: 0,
                }),
                ..TrainConfig::default()
            },
            "beta",
        ),
    ];
    for (tc, needle) in bad {
        let mut model = Autoencoder::new(&b, vae.clone(), 0).unwrap();
        let e = train(&b, &mut model, &x, None, &tc, &[], &mut quiet)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(needle), "{e}");
    }
    // The setting on a model that is not variational.
    let plain = ModelConfig::mirrored(&[6, 2]).unwrap();
    let mut model = Autoencoder::new(&b, plain.clone(), 0).unwrap();
    let tc = TrainConfig {
        variational: Some(Variational::default()),
        ..TrainConfig::default()
    };
    let e = train(&b, &mut model, &x, None, &tc, &[], &mut quiet)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("`model.variational`"), "{e}");
    // A plain model's weights under a variational config, and the other way round.
    let named = Autoencoder::new(&b, plain.clone(), 0)
        .unwrap()
        .to_named(&b)
        .unwrap();
    let vae2 = plain.clone().with_variational(true).unwrap();
    let e = Autoencoder::from_named(&b, vae2.clone(), named)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("variational"), "{e}");
    let named = Autoencoder::new(&b, vae2, 0).unwrap().to_named(&b).unwrap();
    let e = Autoencoder::from_named(&b, plain, named)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("variational"), "{e}");
}

/// The settings round-trip through the JSON that `config.json` records, and records written
/// before the fields existed still read (no VAE).
#[test]
fn the_setting_is_stored_and_older_records_still_load() {
    let tc = TrainConfig {
        variational: Some(Variational {
            beta: 0.5,
            warmup: 3,
        }),
        ..TrainConfig::default()
    };
    let json = serde_json::to_value(&tc).unwrap();
    assert_eq!(json["variational"]["beta"], 0.5);
    assert_eq!(json["variational"]["warmup"], 3);
    let back: TrainConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, tc);
    let plain = serde_json::to_value(TrainConfig::default()).unwrap();
    assert!(plain.get("variational").is_none(), "{plain}");
    let cfg = ModelConfig::mirrored(&[6, 2])
        .unwrap()
        .with_variational(true)
        .unwrap();
    let json = serde_json::to_value(&cfg).unwrap();
    assert_eq!(json["variational"], true);
    assert_eq!(serde_json::from_value::<ModelConfig>(json).unwrap(), cfg);
    let mut old = serde_json::to_value(ModelConfig::mirrored(&[6, 2]).unwrap()).unwrap();
    assert!(old.get("variational").is_none(), "{old}");
    old.as_object_mut().unwrap().remove("variational");
    assert!(
        !serde_json::from_value::<ModelConfig>(old)
            .unwrap()
            .variational
    );
}
