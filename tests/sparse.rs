//! Sparse autoencoders through the library and the command: a KL run drives every unit's mean
//! activation to rho, TopK keeps exactly k units, denoising trains against the clean input, the
//! GPU trains the same curves as the CPU, and bad sparsity settings are clean errors.

mod common;
mod gpu;
use ae_core::prelude::*;
use ae_core::trainer::{code_metrics, train, Rows, TrainEvent, TrainReport};
use ae_core::{
    Activation, Autoencoder, AuxK, Backend, CodePenalty, Matrix, ModelConfig, Noise,
    OptimizerConfig, Regularizer, TrainConfig,
};
use ae_cpu::CpuBackend;
use common::{ae, json, sparse_data as data, stderr, write_csv};

/// A fresh model of `cfg` (seed 3) trained on `x` by [`fit`].
fn run<B: Backend>(
    backend: &B,
    cfg: ModelConfig,
    x: &Matrix,
    tc: &TrainConfig,
) -> (Autoencoder<B>, TrainReport) {
    let mut model = Autoencoder::new(backend, cfg, 3).unwrap();
    let report = fit(backend, &mut model, x, tc);
    (model, report)
}

/// Trains `model` on `x` without validation data (the trainer applies `tc`'s penalty itself).
fn fit<B: Backend>(
    backend: &B,
    model: &mut Autoencoder<B>,
    x: &Matrix,
    tc: &TrainConfig,
) -> TrainReport {
    train(backend, model, x, None, tc, &[], &mut |_: TrainEvent<
        '_,
        B,
    >| Ok(()))
    .unwrap()
}

fn sigmoid_code(widths: &[usize]) -> ModelConfig {
    ModelConfig::mirrored(widths)
        .unwrap()
        .with_activations(Activation::Relu, Activation::Sigmoid, Activation::Sigmoid)
        .unwrap()
}

fn kl_config(epochs: usize, beta: f32) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 100,
        optimizer: OptimizerConfig {
            lr: 1e-2,
            ..OptimizerConfig::default()
        },
        penalty: Some(CodePenalty::Kl { rho: 0.05, beta }),
        code_metrics: true,
        ..TrainConfig::default()
    }
}

#[test]
fn kl_run_drives_every_unit_mean_activation_near_rho() {
    let cpu = CpuBackend::<f32>::new();
    let x = data(400, 16, 1);
    let (model, report) = run(&cpu, sigmoid_code(&[16, 10]), &x, &kl_config(150, 3.0));
    let last = report.last();
    let err = last.code.as_ref().unwrap().max_abs_rho_error.unwrap();
    assert!(err < 0.01, "max |mean activation - rho| = {err}");
    assert!(last.penalty.unwrap() >= 0.0);
    let m = code_metrics(&cpu, &model, Rows::Matrix(&x)).unwrap();
    assert!(
        m.unit_means.iter().all(|u| (u - 0.05).abs() < 0.01),
        "{:?}",
        m.unit_means
    );
    // The history keeps every unit's mean activation of every epoch.
    assert_eq!(
        last.code.as_ref().unwrap().unit_mean_activation.as_ref(),
        Some(&m.unit_means)
    );
    assert!(report.history.iter().all(|h| h
        .code
        .as_ref()
        .unwrap()
        .unit_mean_activation
        .as_ref()
        .map(Vec::len)
        == Some(10)));
    assert!(
        m.fvu < 1.0,
        "it reconstructs better than the mean: FVU {}",
        m.fvu
    );
    // Without the penalty (beta 0) the same run leaves the units far from rho.
    let (_, free) = run(&cpu, sigmoid_code(&[16, 10]), &x, &kl_config(150, 0.0));
    let free_err = free
        .last()
        .code
        .as_ref()
        .unwrap()
        .max_abs_rho_error
        .unwrap();
    assert!(free_err > 0.1, "control run: {free_err}");
}

/// BatchTopK: in training the batch keeps k units per sample on average (some samples more,
/// some fewer); the threshold it learns makes the model a JumpReLU outside training, whose L0 on
/// held-out rows is within 10% of k.
#[test]
fn batch_topk_keeps_k_per_sample_over_the_batch_and_learns_its_threshold() {
    let cpu = CpuBackend::<f32>::new();
    let x = data(1200, 16, 3);
    let (train_x, held) = ae_core::trainer::split(&x, 0.25, 1).unwrap();
    let mut cfg = ModelConfig::mirrored(&[16, 64])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_topk(Some(6))
        .unwrap();
    cfg.batch_topk = true;
    let tc = TrainConfig {
        epochs: 40,
        batch_size: 100,
        optimizer: OptimizerConfig {
            lr: 3e-3,
            ..OptimizerConfig::default()
        },
        code_metrics: true,
        ..TrainConfig::default()
    };
    let (model, report) = run(&cpu, cfg, &train_x, &tc);
    let threshold = model
        .config()
        .code_threshold
        .expect("training learns a threshold");
    assert!(threshold > 0.0, "{threshold}");
    // A training forward pass over one batch: exactly k * rows units on, not k in every row.
    let batch = train_x.select_rows(&(0..100).collect::<Vec<_>>());
    let mut ws = model.workspace(&cpu, 100).unwrap();
    ws.training = true;
    model.forward(&cpu, &cpu.upload(&batch).unwrap(), &mut ws);
    let code = cpu.download(model.code(&ws)).unwrap();
    let per_row: Vec<usize> = (0..100)
        .map(|r| code.row(r).iter().filter(|v| **v > 0.0).count())
        .collect();
    assert_eq!(per_row.iter().sum::<usize>(), 6 * 100);
    assert!(per_row.iter().any(|&c| c != 6), "{per_row:?}");
    // Outside training the threshold decides: L0 on held-out rows near k.
    let held_codes = model.encode(&cpu, &held).unwrap();
    let l0 = held_codes.data.iter().filter(|v| **v > 0.0).count() as f64 / held.rows as f64;
    assert!(
        (l0 - 6.0).abs() <= 0.6,
        "held-out L0 {l0}, threshold {threshold}"
    );
    let last = report.last().code.clone().unwrap();
    assert!(
        last.fvu < report.history[0].code.as_ref().unwrap().fvu,
        "{last:?}"
    );
}

#[test]
fn topk_model_keeps_exactly_k_units_and_reports_metrics() {
    let cpu = CpuBackend::<f32>::new();
    let x = data(300, 16, 2);
    let cfg = ModelConfig::mirrored(&[16, 40])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Sigmoid)
        .unwrap()
        .with_topk(Some(4))
        .unwrap();
    let tc = TrainConfig {
        epochs: 30,
        batch_size: 50,
        optimizer: OptimizerConfig {
            lr: 5e-3,
            ..OptimizerConfig::default()
        },
        code_metrics: true,
        dead_window: 300,
        ..TrainConfig::default()
    };
    let (model, report) = run(&cpu, cfg, &x, &tc);
    let codes = model.encode(&cpu, &x).unwrap();
    let max_per_row = (0..codes.rows)
        .map(|r| codes.row(r).iter().filter(|v| **v != 0.0).count())
        .max()
        .unwrap();
    assert!(max_per_row <= 4);
    let last = report.last();
    assert!(
        last.code.as_ref().unwrap().l0 <= 4.0 && last.code.as_ref().unwrap().l0 > 3.0,
        "{last:?}"
    );
    assert!(last.code.as_ref().unwrap().dead_latents < 40);
    assert!(last.code.as_ref().unwrap().fvu < report.history[0].code.as_ref().unwrap().fvu);
}

#[test]
fn denoising_trains_against_the_clean_input_and_is_seeded() {
    let cpu = CpuBackend::<f32>::new();
    let x = data(200, 16, 3);
    let cfg = ModelConfig::mirrored(&[16, 8]).unwrap();
    let tc = |noise| TrainConfig {
        epochs: 20,
        batch_size: 50,
        noise,
        ..TrainConfig::default()
    };
    let (_, clean) = run(&cpu, cfg.clone(), &x, &tc(None));
    let (_, masked) = run(&cpu, cfg.clone(), &x, &tc(Some(Noise::Mask { p: 0.6 })));
    let (_, again) = run(&cpu, cfg.clone(), &x, &tc(Some(Noise::Mask { p: 0.6 })));
    assert_eq!(masked.history.len(), 20);
    for (a, b) in masked.history.iter().zip(&again.history) {
        assert_eq!(a.train_loss, b.train_loss);
    }
    // Reconstructing clean inputs from 60%-masked ones is harder than from clean ones.
    assert!(
        masked.last().train_loss > 1.2 * clean.last().train_loss,
        "{} vs {}",
        masked.last().train_loss,
        clean.last().train_loss
    );
    let bad = TrainConfig {
        noise: Some(Noise::Mask { p: 1.0 }),
        ..TrainConfig::default()
    };
    assert!(bad.validate().is_err());
}

#[test]
fn sparse_runs_agree_between_gpu_and_cpu() {
    let Some(gpu) = gpu::gpu() else { return };
    let cpu = CpuBackend::<f32>::new();
    let x = data(64, 16, 4);
    let topk = ModelConfig::mirrored(&[16, 24])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Sigmoid)
        .unwrap()
        .with_topk(Some(5))
        .unwrap();
    let pre_bias = ModelConfig::mirrored(&[16, 24])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_topk(Some(5))
        .unwrap()
        .with_pre_bias(true)
        .unwrap();
    let runs = [
        (sigmoid_code(&[16, 12]), kl_config(30, 3.0)),
        // Decoder-norm-weighted L1 with a warmup, under the half-sum reduction.
        (
            ModelConfig::mirrored(&[16, 12])
                .unwrap()
                .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
                .unwrap(),
            TrainConfig {
                penalty: Some(CodePenalty::L1 {
                    lambda: 1e-2,
                    decoder_norm: true,
                }),
                penalty_warmup: 20,
                reduction: ae_core::Reduction::HalfSum,
                ..kl_config(10, 0.0)
            },
        ),
        // The pre-encoder bias with AuxK.
        (
            pre_bias,
            TrainConfig {
                penalty: None,
                auxk: Some(AuxK {
                    k: 6,
                    coef: 0.5,
                    dead_window: 40,
                }),
                batch_size: 16,
                ..kl_config(10, 0.0)
            },
        ),
        (
            sigmoid_code(&[16, 12]),
            TrainConfig {
                penalty: Some(CodePenalty::L1 {
                    lambda: 1e-2,
                    decoder_norm: false,
                }),
                noise: Some(Noise::Gauss { sigma: 0.1 }),
                ..kl_config(30, 0.0)
            },
        ),
        (
            topk.clone(),
            TrainConfig {
                penalty: None,
                noise: Some(Noise::Mask { p: 0.2 }),
                ..kl_config(30, 0.0)
            },
        ),
        // AuxK, unit-norm decoder columns and resampling together.
        (
            topk,
            TrainConfig {
                penalty: None,
                auxk: Some(AuxK {
                    k: 6,
                    coef: 1.0 / 32.0,
                    dead_window: 40,
                }),
                unit_norm_decoder: true,
                resample_dead: true,
                batch_size: 16,
                ..kl_config(10, 0.0)
            },
        ),
    ];
    for (cfg, tc) in runs {
        let (_, rc) = run(&cpu, cfg.clone(), &x, &tc);
        let (_, rg) = run(&gpu, cfg, &x, &tc);
        for (a, b) in rg.history.iter().zip(&rc.history) {
            let d = (a.train_loss - b.train_loss).abs() / b.train_loss;
            assert!(
                d < 1e-3,
                "epoch {}: {} vs {}",
                a.epoch,
                a.train_loss,
                b.train_loss
            );
            if let (Some(pa), Some(pb)) = (a.penalty, b.penalty) {
                assert!((pa - pb).abs() <= 1e-3 * pb.abs().max(1e-3), "{pa} vs {pb}");
            }
            assert_eq!(a.code.is_some(), b.code.is_some());
            assert_eq!(a.resampled, b.resampled);
        }
    }
}

#[test]
fn cli_topk_json_carries_exact_l0_and_the_sparsity_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d.csv");
    write_csv(&d, 200, 16);
    let m = dir.path().join("m");
    let out = ae(&[
        "train",
        d.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
        "--layers",
        "16,32",
        "--sparsity",
        "topk:8",
        "--resample-dead",
        "--epochs",
        "5",
        "--batch-size",
        "50",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["l0"].as_f64(), Some(8.0), "{v}");
    // The run's total of resampled units: epochs 1 to 4 resample, the last does not.
    let history = v["history"].as_array().unwrap();
    let per_epoch: Vec<Option<u64>> = history.iter().map(|h| h["resampled"].as_u64()).collect();
    assert!(per_epoch[..4].iter().all(Option::is_some), "{per_epoch:?}");
    assert_eq!(per_epoch[4], None);
    assert_eq!(
        v["resampled"].as_u64(),
        Some(per_epoch.iter().flatten().sum::<u64>())
    );
    for key in ["fvu", "dead_latents", "mean_activation", "mse"] {
        assert!(v[key].is_number(), "{key} missing: {v}");
    }
    assert!(v.get("max_abs_rho_error").is_none());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(m.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["model"]["code_topk"], 8, "{saved}");
    assert!(saved["training"]["history"][4]["l0"].is_number());
    // AuxK on `auto` dead units: half the input width, Gao et al.'s choice.
    let aux = dir.path().join("aux");
    let out = ae(&[
        "train",
        d.to_str().unwrap(),
        "--out",
        aux.to_str().unwrap(),
        "--layers",
        "16,32",
        "--sparsity",
        "topk:4:auto",
        "--output",
        "identity",
        "--epochs",
        "1",
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(aux.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["training"]["settings"]["auxk"]["k"], 8, "{saved}");

    let png = dir.path().join("filters.png");
    let out = ae(&[
        "filters",
        m.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
        "--scale",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 32 tiles of 4x4, 6 across and 6 bands, 2-pixel gaps.
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (6 * 6 + 2, 6 * 6 + 2));
}

#[test]
fn cli_kl_json_carries_rho_error_and_patches_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let patches = dir.path().join("p.npy");
    let mnist = common::mnist("images-idx3-ubyte.gz");
    let out = ae(&[
        "patches",
        mnist.to_str().unwrap(),
        "--size",
        "8",
        "--count",
        "500",
        "--out",
        patches.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = ae_core::data::load_matrix(&patches).unwrap();
    assert_eq!((p.rows, p.cols), (500, 64));
    assert!(p.data.iter().all(|v| (0.0..=1.0).contains(v)));
    let out = ae(&[
        "train",
        patches.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
        "--layers",
        "64,25",
        "--code-activation",
        "sigmoid",
        "--sparsity",
        "kl:0.01:3",
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    for key in [
        "l0",
        "fvu",
        "dead_latents",
        "mean_activation",
        "max_abs_rho_error",
        "penalty",
    ] {
        assert!(v[key].is_number(), "{key} missing: {v}");
    }
}

#[test]
fn bad_sparsity_settings_are_clean_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d.csv");
    write_csv(&d, 50, 16);
    let m = dir.path().join("m");
    let base = [
        "train",
        d.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
        "--layers",
        "16,32",
        "--epochs",
        "1",
    ];
    for (extra, needle) in [
        (
            &["--sparsity", "topk:0"][..],
            "K must be a positive whole number",
        ),
        (
            &["--sparsity", "topk:33"][..],
            "1 <= k <= the code width 32",
        ),
        (&["--sparsity", "kl:0.05:3"][..], "needs sigmoid code units"),
        (
            &["--sparsity", "kl:1.5:3", "--code-activation", "sigmoid"][..],
            "rho in (0, 1)",
        ),
        (
            &["--sparsity", "topk:4", "--code-activation", "sigmoid"][..],
            "--code-activation relu",
        ),
        (&["--denoise", "mask:1"][..], "[0, 1)"),
        (&["--sparsity", "sparse"][..], "unknown sparsity"),
        (
            &["--sparsity", "topk:4:64"][..],
            "1 <= AUXK <= the code width 32",
        ),
        (
            &["--sparsity", "topk:2:4", "--layers", "16,8,4"][..],
            "one-hidden-layer, untied",
        ),
        (
            &["--sparsity", "topk:4:8", "--dead-window", "0"][..],
            "dead window must be positive",
        ),
        (&["--unit-norm-decoder", "--tied"][..], "untied model"),
        (
            &["--resample-dead", "--layers", "16,8,4"][..],
            "resampling dead units needs a one-hidden-layer",
        ),
        (
            &["--sparsity", "l1:0.1:norm"][..],
            "l1:LAMBDA[:decoder-norm]",
        ),
        (
            &["--sparsity", "l1:0.1:decoder-norm", "--tied"][..],
            "needs an untied model",
        ),
        (
            &["--sparsity-warmup", "100"][..],
            "warmup needs a code penalty",
        ),
        (
            &["--pre-bias", "--output", "sigmoid"][..],
            "--output identity",
        ),
        (
            &["--init-encoder-transpose", "--tied"][..],
            "decoder's transpose needs an untied model",
        ),
        (
            &["--reduction", "median"][..],
            "[possible values: mean, sum, half-sum]",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = ae(&args);
        let err = stderr(&out);
        assert!(
            !out.status.success() && !err.contains("panicked"),
            "{extra:?}: {err}"
        );
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
}

fn topk_config(widths: &[usize], k: usize) -> ModelConfig {
    ModelConfig::mirrored(widths)
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Sigmoid)
        .unwrap()
        .with_topk(Some(k))
        .unwrap()
}

/// Every column of the decoder weight (one code unit's direction) has unit norm after a
/// unit-norm-decoder run, and not after the same run without it.
#[test]
fn unit_norm_decoder_keeps_every_decoder_column_at_norm_one() {
    let cpu = CpuBackend::<f32>::new();
    let x = data(200, 16, 4);
    let column_norms = |model: &Autoencoder<CpuBackend>| -> Vec<f64> {
        let w = cpu
            .download(&model.params()[model.code_decoder_weight().unwrap()])
            .unwrap();
        (0..w.cols)
            .map(|j| {
                (0..w.rows)
                    .map(|i| (w.row(i)[j] as f64).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect()
    };
    let mut tc = TrainConfig {
        epochs: 5,
        batch_size: 32,
        optimizer: OptimizerConfig {
            lr: 1e-2,
            ..OptimizerConfig::default()
        },
        unit_norm_decoder: true,
        ..TrainConfig::default()
    };
    let (model, report) = run(&cpu, topk_config(&[16, 24], 4), &x, &tc);
    let norms = column_norms(&model);
    assert_eq!(norms.len(), 24);
    assert!(
        norms.iter().all(|n| (n - 1.0).abs() < 1e-5),
        "column norms {norms:?}"
    );
    assert!(report.last().train_loss < report.history[0].train_loss);
    tc.unit_norm_decoder = false;
    let (free, _) = run(&cpu, topk_config(&[16, 24], 4), &x, &tc);
    assert!(column_norms(&free).iter().any(|n| (n - 1.0).abs() > 1e-2));
}

/// AuxK reaches the dead units: on a batch, the encoder rows of units that do not fire get no
/// gradient from the reconstruction loss (bit-exact zeros) and a non-zero one from AuxK once the
/// units count as dead, while the units that fire get exactly the same gradient either way; and
/// a training run with AuxK reports its loss as the penalty. (On this data and on MNIST AuxK
/// does not lower the dead-latent count: see the README.)
#[test]
fn auxk_sends_gradient_to_the_dead_units_only() {
    let cpu = CpuBackend::<f32>::new();
    let (n, d, code) = (8, 16, 64);
    let mut x = data(n, d, 5);
    // Centred, so that units are silenced by TopK's competition rather than by their sign.
    for j in 0..d {
        let mean = (0..n).map(|i| x.row(i)[j]).sum::<f32>() / n as f32;
        (0..n).for_each(|i| x.data[i * d + j] -= mean);
    }
    let cfg = ModelConfig::mirrored(&[d, code])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_topk(Some(2))
        .unwrap();
    let aux = AuxK {
        k: 16,
        coef: 1.0 / 32.0,
        dead_window: 100,
    };
    let model = Autoencoder::new(&cpu, cfg.clone(), 3).unwrap();
    let xt = cpu.upload(&x).unwrap();
    let mut ws = model.workspace(&cpu, n).unwrap();
    let mut plain = model.gradients(&cpu).unwrap();
    model.forward_backward(
        &cpu,
        ae_core::Loss::Mse.into(),
        &xt,
        &xt,
        1.0,
        &mut ws,
        &mut plain,
        &[],
    );
    let code_out = cpu.download(model.code(&ws)).unwrap();
    let fired: Vec<bool> = (0..code)
        .map(|j| (0..n).any(|i| code_out.row(i)[j] != 0.0))
        .collect();
    let mut with_aux = model.gradients(&cpu).unwrap();
    let mut ws = model.workspace(&cpu, n).unwrap();
    let mut aw = model.auxk_workspace(&cpu, n).unwrap();
    // Every unit one window old: those that do not fire on this batch are dead.
    let mut since = cpu
        .upload(&Matrix::new(1, code, vec![100.0; code]).unwrap())
        .unwrap();
    model.forward_backward(
        &cpu,
        ae_core::Loss::Mse.into(),
        &xt,
        &xt,
        1.0,
        &mut ws,
        &mut with_aux,
        &[],
    );
    cpu.track_dead(model.code(&ws), &mut since);
    model.auxk_backward(
        &cpu,
        &aux,
        &xt,
        &xt,
        ae_core::Reduction::Mean,
        1.0,
        &since,
        &mut ws,
        &mut aw,
        &mut with_aux,
    );
    let since = cpu.download(&since).unwrap();
    let (gp, ga) = (
        cpu.download(&plain.tensors[0]).unwrap(),
        cpu.download(&with_aux.tensors[0]).unwrap(),
    );
    let mut revived = 0;
    for (j, &f) in fired.iter().enumerate() {
        if f {
            assert_eq!(since.data[j], 0.0);
            assert_eq!(
                gp.row(j),
                ga.row(j),
                "unit {j} fired: AuxK must not touch it"
            );
        } else {
            assert_eq!(since.data[j], 100.0 + n as f32);
            assert!(gp.row(j).iter().all(|&v| v == 0.0), "unit {j}");
            revived += ga.row(j).iter().any(|&v| v != 0.0) as usize;
        }
    }
    let dead = fired.iter().filter(|f| !**f).count();
    assert!(dead >= 48, "{dead} dead units");
    assert!(
        revived >= 8,
        "AuxK reached only {revived} of {dead} dead units"
    );
    assert!(cpu.download(&ws.penalty_acc).unwrap().data[0] > 0.0);
    let tc = TrainConfig {
        epochs: 2,
        batch_size: 4,
        auxk: Some(aux),
        code_metrics: true,
        ..TrainConfig::default()
    };
    let (_, report) = run(&cpu, cfg, &x, &tc);
    assert!(report.history.iter().all(|h| h.penalty.unwrap() > 0.0));
}

/// Resampling revives dead units: a ReLU code with a third of its units silenced (encoder rows
/// negative on the non-negative data) keeps them dead without resampling and has fewer dead
/// units after an epoch with it; every resampled unit's decoder column has unit norm.
#[test]
fn resampling_lowers_the_dead_count() {
    let cpu = CpuBackend::<f32>::new();
    let (d, code) = (16, 30);
    let x = data(300, d, 6);
    let cfg = ModelConfig::mirrored(&[d, code])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Sigmoid)
        .unwrap();
    let fit = |resample: bool| {
        let mut model = Autoencoder::new(&cpu, cfg.clone(), 3).unwrap();
        let mut w = cpu.download(&model.params()[0]).unwrap();
        for j in 0..10 {
            w.data[j * d..(j + 1) * d]
                .iter_mut()
                .for_each(|v| *v = -v.abs() - 0.1);
        }
        model.params_mut()[0] = cpu.upload(&w).unwrap();
        let tc = TrainConfig {
            epochs: 2,
            batch_size: 50,
            code_metrics: true,
            resample_dead: resample,
            dead_window: 300,
            ..TrainConfig::default()
        };
        let report = fit(&cpu, &mut model, &x, &tc);
        (model, report)
    };
    let (_, plain) = fit(false);
    let (model, resampled) = fit(true);
    let plain_dead = plain.last().code.as_ref().unwrap().dead_latents;
    assert!(plain_dead >= 10, "{plain_dead}");
    assert!(plain.last().resampled.is_none());
    assert_eq!(
        resampled.history[0].resampled,
        Some(plain.history[0].code.as_ref().unwrap().dead_latents)
    );
    let after = resampled.last().code.as_ref().unwrap().dead_latents;
    assert!(
        after < plain_dead,
        "{after} dead after resampling, {plain_dead} without"
    );
    let dec = cpu.download(&model.params()[2]).unwrap();
    for j in 0..10 {
        let n = (0..d)
            .map(|i| (dec.row(i)[j] as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((n - 1.0).abs() < 0.2, "unit {j}: decoder column norm {n}");
    }
}

/// Gao et al.'s recipe against dead latents, on 4,000 bundled MNIST digits with a 784-512 TopK
/// (k 16) code, 10 epochs, encoder started as the decoder's transpose, dead window 2,000
/// samples: AuxK leaves far fewer dead latents than the same run without it, and the
/// pre-encoder bias fewer still. (Measured here: 261 dead without AuxK, 51 with the normalised
/// AuxK, 38 with the pre-encoder bias alone.)
#[test]
fn auxk_and_the_pre_encoder_bias_revive_dead_latents_on_mnist() {
    let cpu = CpuBackend::<f32>::new();
    let all = ae_core::data::load_matrix(&common::mnist("images-idx3-ubyte.gz")).unwrap();
    let x = all.select_rows(&(0..4000).collect::<Vec<_>>());
    let dead = |aux_k: Option<usize>, pre_bias: bool| {
        let cfg = ModelConfig::mirrored(&[784, 512])
            .unwrap()
            .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
            .unwrap()
            .with_topk(Some(16))
            .unwrap()
            .with_pre_bias(pre_bias)
            .unwrap();
        let mut model = Autoencoder::new(&cpu, cfg, 0).unwrap();
        model.init_encoder_from_decoder(&cpu).unwrap();
        if pre_bias {
            model.init_pre_bias(&cpu, &x).unwrap();
        }
        let tc = TrainConfig {
            epochs: 10,
            batch_size: 256,
            code_metrics: true,
            dead_window: 2000,
            auxk: aux_k.map(|k| AuxK {
                k,
                coef: AuxK::DEFAULT_COEF,
                dead_window: 2000,
            }),
            ..TrainConfig::default()
        };
        let report = fit(&cpu, &mut model, &x, &tc);
        assert_eq!(report.last().code.as_ref().map(|c| c.l0), Some(16.0));
        report.last().code.as_ref().unwrap().dead_latents
    };
    let plain = dead(None, false);
    let with_aux = dead(Some(128), false);
    let pre_bias = dead(None, true);
    eprintln!("dead latents: plain {plain}, AuxK {with_aux}, pre-encoder bias {pre_bias}");
    assert!(plain >= 100, "{plain} dead latents without AuxK");
    assert!(
        (with_aux as f64) < 0.6 * plain as f64,
        "{with_aux} dead latents with AuxK, {plain} without"
    );
    assert!(
        pre_bias < with_aux,
        "{pre_bias} dead latents with the pre-encoder bias, {with_aux} with AuxK alone"
    );
}

/// The two initialisations: the encoder starts as the decoder's transpose, the output bias as
/// the data's mean; a model with a pre-encoder bias saves and loads with the flag, and encodes
/// `x` as the plain model encodes `x - b_out`.
#[test]
fn encoder_transpose_and_pre_bias_initialisation() {
    let cpu = CpuBackend::<f32>::new();
    let x = data(50, 12, 8);
    let cfg = ModelConfig::mirrored(&[12, 20])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap();
    let mut model = Autoencoder::new(&cpu, cfg.clone().with_pre_bias(true).unwrap(), 1).unwrap();
    model.init_encoder_from_decoder(&cpu).unwrap();
    model.init_pre_bias(&cpu, &x).unwrap();
    let enc = cpu.download(&model.params()[0]).unwrap(); // [20, 12]
    let dec = cpu.download(&model.params()[2]).unwrap(); // [12, 20]
    for i in 0..20 {
        for j in 0..12 {
            assert_eq!(enc.row(i)[j], dec.row(j)[i]);
        }
    }
    let b_out = cpu.download(&model.params()[3]).unwrap();
    for j in 0..12 {
        let mean = (0..50).map(|i| x.row(i)[j] as f64).sum::<f64>() / 50.0;
        assert!((b_out.data[j] as f64 - mean).abs() < 1e-6);
    }
    // The same weights without the pre-bias, fed x - b_out, give the same code.
    let plain = Autoencoder::from_named(&cpu, cfg, model.to_named(&cpu).unwrap()).unwrap();
    let mut centred = x.clone();
    for i in 0..50 {
        for j in 0..12 {
            centred.data[i * 12 + j] -= b_out.data[j];
        }
    }
    let a = model.encode(&cpu, &x).unwrap();
    let b = plain.encode(&cpu, &centred).unwrap();
    assert!(a.data.iter().any(|v| *v != 0.0));
    for (u, v) in a.data.iter().zip(&b.data) {
        assert!((u - v).abs() < 1e-5, "{u} vs {v}");
    }
    let not_mirrored = ModelConfig::mirrored(&[12, 8, 4])
        .unwrap()
        .with_decoder(vec![6])
        .unwrap();
    let mut m = Autoencoder::new(&cpu, not_mirrored, 1).unwrap();
    assert!(m.init_encoder_from_decoder(&cpu).is_err());
    let sigmoid_out = ModelConfig::mirrored(&[12, 4]).unwrap().with_pre_bias(true);
    assert!(sigmoid_out.unwrap_err().to_string().contains("identity"));
}

/// The classic sparse-autoencoder experiment, scaled down to 2,000 MNIST patches: with the
/// classic preprocessing (`ae patches --normalize`) and objective (`--reduction half-sum`), the
/// published hyper-parameters taken as written (KL rho 0.01, beta 3, weight decay 1e-4) bring
/// the mean activation within 0.01 of rho while the units learn (FVU well below 1); with ae's
/// default mean reduction the same numbers swamp the reconstruction and nothing is learned.
#[test]
fn classic_kl_hyper_parameters_work_as_written_under_the_half_sum_reduction() {
    let dir = tempfile::tempdir().unwrap();
    let patches = dir.path().join("p.npy");
    let mnist = common::mnist("images-idx3-ubyte.gz");
    let p = patches.to_str().unwrap();
    let out = ae(&[
        "patches",
        mnist.to_str().unwrap(),
        "--count",
        "2000",
        "--normalize",
        "--out",
        p,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = ae_core::data::load_matrix(&patches).unwrap();
    assert!(m.data.iter().all(|v| (0.1..=0.9).contains(v)));
    let run = |reduction: &str| {
        let out = ae(&[
            "train",
            p,
            "--out",
            dir.path().join(reduction).to_str().unwrap(),
            "--layers",
            "64,25",
            "--code-activation",
            "sigmoid",
            "--sparsity",
            "kl:0.01:3",
            "--weight-decay",
            "1e-4",
            "--reduction",
            reduction,
            "--lr",
            "1e-2",
            "--schedule",
            "cosine",
            "--warmup",
            "20",
            "--epochs",
            "1500",
            "--batch-size",
            "500",
            "--val-split",
            "0",
            "--backend",
            "cpu",
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v = json(&out);
        (
            v["mean_activation"].as_f64().unwrap(),
            v["fvu"].as_f64().unwrap(),
        )
    };
    let (mean, fvu) = run("half-sum");
    assert!((mean - 0.01).abs() < 0.01, "mean activation {mean}");
    assert!(fvu < 0.85, "FVU {fvu}: the units learned nothing");
    let (_, fvu_mean) = run("mean");
    assert!(fvu_mean > 0.95, "FVU {fvu_mean} under the mean reduction");
}

/// Plain L1 can be dodged: with a ReLU code, dividing a unit's encoder row and bias by `c` and
/// multiplying its decoder column by `c` leaves the reconstruction as it was and divides the
/// unit's L1 penalty by `c`. Weighting each unit by its decoder column's norm makes the penalty
/// invariant to that rescaling.
#[test]
fn decoder_norm_weighted_l1_is_invariant_to_rescaling_a_unit() {
    let cpu = CpuBackend::<f64>::new();
    let x = data(40, 16, 9);
    let cfg = ModelConfig::mirrored(&[16, 32])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap();
    let xt = cpu.upload(&x).unwrap();
    let terms = |model: &Autoencoder<CpuBackend<f64>>, decoder_norm: bool| {
        let penalty = CodePenalty::L1 {
            lambda: 0.1,
            decoder_norm,
        };
        let regs: Vec<&dyn Regularizer<CpuBackend<f64>>> = vec![&penalty];
        let mut ws = model.workspace(&cpu, 40).unwrap();
        let mut grads = model.gradients(&cpu).unwrap();
        model.forward_backward(
            &cpu,
            ae_core::Loss::Mse.into(),
            &xt,
            &xt,
            1.0,
            &mut ws,
            &mut grads,
            &regs,
        );
        (
            cpu.download_f64(&ws.loss_acc).unwrap()[0],
            cpu.download_f64(&ws.penalty_acc).unwrap()[0],
        )
    };
    let model = Autoencoder::new(&cpu, cfg.clone(), 2).unwrap();
    // Every unit rescaled by c = 4: encoder rows and biases / 4, decoder columns * 4.
    let mut named = model.to_named(&cpu).unwrap();
    for (name, m) in &mut named {
        match name.as_str() {
            "encoder.0.weight" | "encoder.0.bias" => m.data.iter_mut().for_each(|v| *v /= 4.0),
            "decoder.0.weight" => m.data.iter_mut().for_each(|v| *v *= 4.0),
            _ => {}
        }
    }
    let rescaled = Autoencoder::from_named(&cpu, cfg, named).unwrap();
    let (loss, plain) = terms(&model, false);
    let (loss_r, plain_r) = terms(&rescaled, false);
    assert!(plain > 0.0);
    assert!((loss - loss_r).abs() < 1e-6 * loss, "{loss} vs {loss_r}");
    assert!(
        (plain_r - plain / 4.0).abs() < 1e-6 * plain,
        "{plain} -> {plain_r}"
    );
    let (_, weighted) = terms(&model, true);
    let (_, weighted_r) = terms(&rescaled, true);
    assert!(
        (weighted - weighted_r).abs() < 1e-6 * weighted,
        "{weighted} -> {weighted_r}"
    );
    assert!((weighted - plain).abs() > 1e-3 * plain);
}

/// Sparsity warmup: over the first `penalty_warmup` steps the penalty's coefficient is
/// `(step + 1) / warmup` of its value. With every row the same and a learning rate too small to
/// move the weights, the first epoch's penalty (10 steps, warmup 40) is the plain run's times
/// the mean ramp, (1 + ... + 10) / 10 / 40; a warmup without a penalty is a config error.
#[test]
fn sparsity_warmup_ramps_the_penalty_coefficient() {
    let cpu = CpuBackend::<f64>::new();
    let row = data(1, 16, 10);
    let x = Matrix::new(200, 16, row.data.repeat(200)).unwrap();
    let penalty = |warmup: usize| {
        let tc = TrainConfig {
            epochs: 1,
            batch_size: 20,
            optimizer: OptimizerConfig {
                lr: 1e-12,
                ..OptimizerConfig::default()
            },
            penalty: Some(CodePenalty::L1 {
                lambda: 0.5,
                decoder_norm: false,
            }),
            penalty_warmup: warmup,
            ..TrainConfig::default()
        };
        let (_, report) = run(&cpu, sigmoid_code(&[16, 8]), &x, &tc);
        report.last().penalty.unwrap()
    };
    let (plain, warm) = (penalty(0), penalty(40));
    let want = plain * (55.0 / 10.0) / 40.0;
    assert!((warm - want).abs() < 1e-6 * want, "{warm} vs {want}");
    let bad = TrainConfig {
        penalty_warmup: 5,
        ..TrainConfig::default()
    };
    assert!(bad.validate().unwrap_err().to_string().contains("warmup"));
}

/// A model trained with the pre-encoder bias and the transposed initialisation saves the flag
/// and its bias: `ae reconstruct` on the saved model reproduces the reconstructions of the
/// model loaded through the library, and the same weights read without the pre-encoder bias
/// reconstruct differently.
#[test]
fn pre_bias_models_round_trip_through_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d.csv");
    write_csv(&d, 120, 16);
    let m = dir.path().join("m");
    let out = ae(&[
        "train",
        d.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
        "--layers",
        "16,24",
        "--output",
        "identity",
        "--sparsity",
        "topk:4:8",
        "--pre-bias",
        "--init-encoder-transpose",
        "--epochs",
        "3",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["l0"].as_f64(), Some(4.0));
    let recon = dir.path().join("r.npy");
    let out = ae(&[
        "reconstruct",
        m.to_str().unwrap(),
        d.to_str().unwrap(),
        "--out",
        recon.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = ae_core::data::load_matrix(&recon).unwrap();
    let cpu = CpuBackend::<f32>::new();
    let (model, saved) = ae_core::checkpoint::load(&m, &cpu).unwrap();
    assert!(saved.model.pre_bias);
    let x = ae_core::data::load_matrix(&d).unwrap();
    let want = model.reconstruct(&cpu, &x).unwrap();
    assert_eq!(r.data, want.data);
    let mut plain_cfg = saved.model.clone();
    plain_cfg.pre_bias = false;
    let plain = Autoencoder::from_named(&cpu, plain_cfg, model.to_named(&cpu).unwrap()).unwrap();
    let other = plain.reconstruct(&cpu, &x).unwrap();
    assert!(x.mse(&other).unwrap() > 1.01 * x.mse(&want).unwrap());
}
