//! JumpReLU sparse autoencoders (Rajamanoharan et al. 2024) through the library and the
//! command: the L0 coefficient buys sparsity on held-out rows, the learned thresholds decide
//! the codes at inference, the GPU trains the curve the CPU does, and a JumpReLU (or BatchTopK)
//! model exports as SAELens `jumprelu` and encodes the same from the export.

mod common;
mod gpu;
use ae_core::trainer::{split, train, TrainEvent, TrainReport};
use ae_core::{
    Activation, Autoencoder, Backend, CodePenalty, JumpReluTraining, Matrix, ModelConfig,
    OptimizerConfig, TrainConfig,
};
use ae_cpu::CpuBackend;
use common::{ae, assert_clean_error, json, load_npy, sparse_data, stderr, write_csv};

/// A one-layer JumpReLU SAE `[d, n]` with an identity output.
fn jump_sae(d: usize, n: usize) -> ModelConfig {
    let mut cfg = ModelConfig::mirrored(&[d, n])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap();
    cfg.jump_relu = true;
    cfg.validate().unwrap();
    cfg
}

fn fit<B: Backend>(b: &B, model: &mut Autoencoder<B>, x: &Matrix, tc: &TrainConfig) -> TrainReport {
    train(b, model, x, None, tc, &[], &mut |_: TrainEvent<'_, B>| {
        Ok(())
    })
    .unwrap()
}

fn settings(l0: f32, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 50,
        optimizer: OptimizerConfig {
            lr: 1e-2,
            ..OptimizerConfig::default()
        },
        code_metrics: true,
        jump_relu: Some(JumpReluTraining {
            l0,
            bandwidth: 0.05,
        }),
        ..TrainConfig::default()
    }
}

/// Held-out codes `[rows, n]`, the model's own pre-activations worked out on the host and its
/// thresholds `exp(log_threshold)`.
fn host_pre_activations(
    cpu: &CpuBackend<f32>,
    model: &Autoencoder<CpuBackend<f32>>,
    x: &Matrix,
) -> (Vec<f64>, Vec<f64>) {
    let named = model.to_named(cpu).unwrap();
    let get = |name: &str| &named.iter().find(|(n, _)| n == name).unwrap().1;
    let (w, b) = (get("encoder.0.weight"), get("encoder.0.bias"));
    let theta = get("encoder.1.log_threshold")
        .data
        .iter()
        .map(|&l| (l as f64).exp())
        .collect();
    let (n, d) = (w.rows, w.cols);
    let z = (0..x.rows * n)
        .map(|i| {
            let (r, j) = (i / n, i % n);
            b.data[j] as f64
                + (0..d)
                    .map(|k| w.data[j * d + k] as f64 * x.row(r)[k] as f64)
                    .sum::<f64>()
        })
        .collect();
    (z, theta)
}

/// The JumpReLU claim in small: on held-out rows L0 falls as the L0 coefficient grows
/// (with the FVU paying for it), because the thresholds rise; and the held-out codes are the
/// pre-activations above each unit's learned threshold.
#[test]
fn l0_falls_as_the_l0_coefficient_grows_and_the_thresholds_decide_the_codes() {
    let cpu = CpuBackend::<f32>::new();
    let x = sparse_data(1600, 16, 5);
    let (train_x, held) = split(&x, 0.25, 1).unwrap();
    let mut results = Vec::new();
    for l0 in [1e-4f32, 3e-3, 3e-2] {
        let mut model = Autoencoder::new(&cpu, jump_sae(16, 64), 3).unwrap();
        model.set_jump_thresholds(&cpu, 0.05).unwrap();
        let report = fit(&cpu, &mut model, &train_x, &settings(l0, 30));
        assert!(
            report.last().penalty.unwrap() > 0.0,
            "the L0 penalty is reported"
        );
        let codes = model.encode(&cpu, &held).unwrap();
        let recon = model.reconstruct(&cpu, &held).unwrap();
        let m = ae_core::CodeMetrics::compute(&held, &codes, &recon).unwrap();
        let (z, theta) = host_pre_activations(&cpu, &model, &held);
        let mean_theta = theta.iter().sum::<f64>() / theta.len() as f64;
        for (i, &h) in codes.data.iter().enumerate() {
            let (z, t) = (z[i], theta[i % 64]);
            // Exact but for pre-activations within rounding of their threshold.
            if (z - t).abs() > 1e-5 * t.max(1e-3) {
                let want = if z > t { z } else { 0.0 };
                assert!(
                    (h as f64 - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "{h} vs {want}"
                );
            }
        }
        eprintln!(
            "l0 coefficient {l0}: held-out L0 {:.2}, FVU {:.4}, mean threshold {mean_theta:.4}",
            m.l0, m.fvu
        );
        results.push((m.l0, m.fvu, mean_theta));
    }
    for w in results.windows(2) {
        assert!(w[1].0 < w[0].0, "L0 falls: {results:?}");
        assert!(w[1].2 > w[0].2, "thresholds rise: {results:?}");
    }
    assert!(
        results[2].1 > results[0].1,
        "sparser codes reconstruct worse: {results:?}"
    );
}

/// The tanh penalty instead of L0 also makes the code sparser than without it.
#[test]
fn the_tanh_penalty_sparsifies_a_jumprelu_code() {
    let cpu = CpuBackend::<f32>::new();
    let x = sparse_data(800, 16, 6);
    let mut l0s = Vec::new();
    for lambda in [0.0f32, 1e-3] {
        let mut model = Autoencoder::new(&cpu, jump_sae(16, 48), 4).unwrap();
        let tc = TrainConfig {
            penalty: (lambda > 0.0).then_some(CodePenalty::Tanh { lambda, scale: 4.0 }),
            ..settings(0.0, 25)
        };
        let report = fit(&cpu, &mut model, &x, &tc);
        let code = report.last().code.clone().unwrap();
        eprintln!(
            "tanh {lambda}: {:?} {:?}",
            report.last().penalty,
            report.last().code.as_ref().map(|c| c.l0)
        );
        assert_eq!(report.last().penalty.is_some_and(|p| p > 0.0), lambda > 0.0);
        l0s.push(code.l0);
    }
    assert!(
        l0s[1] > 0.0 && l0s[1] < 0.8 * l0s[0],
        "tanh penalty: L0 {l0s:?}"
    );
}

/// The same JumpReLU run (L0 penalty, warmup, thresholds trained) on the GPU and the CPU: loss
/// curves within 1e-3 and the same thresholds within 1e-3.
#[test]
fn jumprelu_runs_agree_between_gpu_and_cpu() {
    let Some(gpu) = gpu::gpu() else { return };
    let cpu = CpuBackend::<f32>::new();
    let x = sparse_data(64, 16, 4);
    let tc = TrainConfig {
        epochs: 20,
        batch_size: 16,
        penalty_warmup: 10,
        penalty: Some(CodePenalty::Tanh {
            lambda: 1e-3,
            scale: 4.0,
        }),
        ..settings(1e-3, 20)
    };
    let thresholds = |named: Vec<(String, Matrix)>| {
        named
            .into_iter()
            .find(|(n, _)| n.ends_with("log_threshold"))
            .unwrap()
            .1
    };
    let mut on_cpu = Autoencoder::new(&cpu, jump_sae(16, 24), 7).unwrap();
    on_cpu.set_jump_thresholds(&cpu, 0.05).unwrap();
    let start = on_cpu.to_named(&cpu).unwrap();
    let mut on_gpu = Autoencoder::from_named(&gpu, jump_sae(16, 24), start).unwrap();
    let rc = fit(&cpu, &mut on_cpu, &x, &tc);
    let rg = fit(&gpu, &mut on_gpu, &x, &tc);
    for (c, g) in rc.history.iter().zip(&rg.history) {
        let rel = (c.train_loss - g.train_loss).abs() / c.train_loss.abs().max(1e-12);
        assert!(
            rel < 1e-3,
            "epoch {}: {} vs {}",
            c.epoch,
            c.train_loss,
            g.train_loss
        );
    }
    let (tc_, tg) = (
        thresholds(on_cpu.to_named(&cpu).unwrap()),
        thresholds(on_gpu.to_named(&gpu).unwrap()),
    );
    let start = (0.05f64).ln();
    assert!(
        tc_.data.iter().any(|&l| (l as f64 - start).abs() > 1e-3),
        "the thresholds moved"
    );
    for (a, b) in tc_.data.iter().zip(&tg.data) {
        assert!((a - b).abs() < 1e-3, "log thresholds {a} vs {b}");
    }
}

/// `ae train --sparsity jumprelu:COEF` saves `encoder.1.log_threshold`; `ae encode` applies the
/// thresholds; `ae export --format saelens` writes architecture `jumprelu` with `threshold`
/// their exponential, and the export encodes as the model does. A BatchTopK model exports so
/// too. Then the errors.
#[test]
fn a_jumprelu_sae_trains_encodes_and_exports_through_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_csv(&data, 300, 8);
    let d = data.to_str().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let train = |out: &str, sparsity: &str, more: &[&str]| {
        let base = [
            "train",
            d,
            "--out",
            out,
            "--layers",
            "8,32",
            "--sparsity",
            sparsity,
            "--output",
            "identity",
            "--epochs",
            "6",
            "--batch-size",
            "32",
            "--backend",
            "cpu",
            "--json",
        ];
        let out = ae(&[&base[..], more].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        json(&out)
    };
    let run = |cmd: &str, model: &str, file: &str| {
        let out = ae(&[cmd, model, d, "--out", &path(file), "--backend", "cpu"]);
        assert!(out.status.success(), "{cmd} {model}: {}", stderr(&out));
        load_npy(&path(file))
    };
    let model = path("jump");
    let v = train(
        &model,
        "jumprelu:1e-3:0.1",
        &["--jump-init-threshold", "0.2", "--pre-bias"],
    );
    assert!(v["penalty"].as_f64().unwrap() > 0.0, "{v}");
    let weights =
        ae_core::checkpoint::read_safetensors(&dir.path().join("jump/model.safetensors")).unwrap();
    let logs = &weights
        .iter()
        .find(|(n, _)| n == "encoder.1.log_threshold")
        .unwrap()
        .1;
    assert_eq!((logs.rows * logs.cols), 32);
    assert!(
        logs.data.iter().any(|&l| (l - 0.2f32.ln()).abs() > 1e-4),
        "the thresholds trained"
    );
    let codes = run("encode", &model, "codes.npy");
    let active = codes.data.iter().filter(|&&v| v > 0.0).count();
    assert!(active > 0 && active < 300 * 32, "{active} active units");

    let export = path("jump-saelens");
    let out = ae(&[
        "export", &model, "--format", "saelens", "--out", &export, "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(
        (v["jump_relu"].as_bool(), v["k"].as_u64()),
        (Some(true), None),
        "{v}"
    );
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("jump-saelens/cfg.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["architecture"], "jumprelu");
    let t = ae_core::checkpoint::read_safetensors(
        &dir.path().join("jump-saelens/sae_weights.safetensors"),
    )
    .unwrap();
    let threshold = &t.iter().find(|(n, _)| n == "threshold").unwrap().1;
    for (&th, &l) in threshold.data.iter().zip(&logs.data) {
        assert_eq!(th, (l as f64).exp() as f32);
    }
    let c = run("encode", &export, "export-codes.npy");
    let worst = c
        .data
        .iter()
        .zip(&codes.data)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "codes from the export differ by {worst}");
    let out = ae(&[
        "export",
        &model,
        "--format",
        "sparsify",
        "--out",
        &path("sp"),
    ]);
    assert_clean_error(
        &out,
        &["sparsify holds TopK sparse coders only", "JumpReLU"],
    );

    // BatchTopK: the JumpReLU of its learned threshold.
    let btk = path("btk");
    train(&btk, "batchtopk:4", &[]);
    let codes = run("encode", &btk, "btk-codes.npy");
    let export = path("btk-saelens");
    let out = ae(&["export", &btk, "--format", "saelens", "--out", &export]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("btk-saelens/cfg.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["architecture"], "jumprelu");
    let c = run("encode", &export, "btk-export-codes.npy");
    let worst = c
        .data
        .iter()
        .zip(&codes.data)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-5,
        "BatchTopK codes from the export differ by {worst}"
    );

    // The tanh form trains, and what does not fit is refused naming why.
    let v = train(&path("tanh"), "jumprelu-tanh:1e-2", &[]);
    assert!(v["penalty"].as_f64().unwrap() > 0.0, "{v}");
    let fails = |sparsity: &str, more: &[&str], needles: &[&str]| {
        let base = [
            "train",
            d,
            "--out",
            &path("bad"),
            "--layers",
            "8,32",
            "--sparsity",
            sparsity,
            "--output",
            "identity",
            "--epochs",
            "1",
            "--backend",
            "cpu",
        ];
        assert_clean_error(&ae(&[&base[..], more].concat()), needles);
    };
    fails(
        "jumprelu-tanh:1e-2",
        &["--tied"],
        &["tanh penalty", "untied"],
    );
    fails(
        "topk:4",
        &["--jump-init-threshold", "0.1"],
        &["--jump-init-threshold needs a JumpReLU"],
    );
    fails(
        "jumprelu:0.1",
        &["--jump-init-threshold", "0"],
        &["threshold must be positive"],
    );
    fails("jumprelu:0.1:0", &[], &["BANDWIDTH must be positive"]);
    fails("jumprelu", &[], &["jumprelu:COEF[:BANDWIDTH]"]);
}

/// `ae train --init-from` starts a JumpReLU SAE from a model's thresholds and weights: from the
/// ae directory and from its SAELens export (thresholds as `threshold`, read back as logs) the
/// runs are the same and start below a fresh one; the flags that set a fresh model's
/// thresholds or biases are refused beside it rather than ignored.
#[test]
fn a_jumprelu_sae_starts_from_a_model_or_its_saelens_export() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_csv(&data, 300, 8);
    let d = data.to_str().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let train =
        |out: &str, more: &[&str]| common::train_small_sae(d, out, "jumprelu:1e-3:0.1", more);
    let losses = |out: std::process::Output| common::epoch_losses(&out);
    let fresh = losses(train(&path("a"), &["--jump-init-threshold", "0.2"]));
    let out = ae(&[
        "export",
        &path("a"),
        "--format",
        "saelens",
        "--out",
        &path("s"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let from_ae = losses(train(&path("b1"), &["--init-from", &path("a")]));
    let from_saelens = losses(train(&path("b2"), &["--init-from", &path("s")]));
    assert_eq!(from_ae, from_saelens);
    assert!(from_ae[0] < fresh[0], "{from_ae:?} vs fresh {fresh:?}");
    for flag in [
        ["--jump-init-threshold", "0.5"],
        ["--decoder-init-norm", "0.1"],
        ["--pre-bias-init", "geometric-median"],
    ] {
        let out = train(
            &path("c"),
            &[&flag[..], &["--init-from", &path("a")]].concat(),
        );
        assert_clean_error(&out, &[flag[0], "--init-from"]);
    }
}
