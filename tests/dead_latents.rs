//! Dead latents and the decoder's geometry in sparse codes: a unit-norm decoder keeps every
//! column at norm one, AuxK reaches only the dead units, resampling revives them, Gao et al.'s
//! recipe (AuxK, the pre-encoder bias) leaves fewer dead latents on MNIST, and the starts: the
//! encoder as the decoder's transpose, the pre-encoder bias at the mean or geometric median,
//! the decoder columns at a chosen norm.

mod common;
use ae_core::prelude::*;
use ae_core::{Activation, Autoencoder, AuxK, Matrix, ModelConfig, OptimizerConfig, TrainConfig};
use ae_cpu::CpuBackend;
use common::{ae, fit_model, sparse_data as data, stderr, trained, write_csv};

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
    let (model, report) = trained(&cpu, topk_config(&[16, 24], 4), &x, &tc);
    let norms = column_norms(&model);
    assert_eq!(norms.len(), 24);
    assert!(
        norms.iter().all(|n| (n - 1.0).abs() < 1e-5),
        "column norms {norms:?}"
    );
    assert!(report.last().train_loss < report.history[0].train_loss);
    tc.unit_norm_decoder = false;
    let (free, _) = trained(&cpu, topk_config(&[16, 24], 4), &x, &tc);
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
    let (_, report) = trained(&cpu, cfg, &x, &tc);
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
        let report = fit_model(&cpu, &mut model, &x, &tc);
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
        let report = fit_model(&cpu, &mut model, &x, &tc);
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

/// The SAE start options: `--decoder-init-norm` starts every decoder column at that norm, and
/// `--pre-bias-init geometric-median` starts the output bias at the training rows' geometric
/// median (a learning rate too small to move them keeps both visible after one epoch).
#[test]
fn decoder_norm_and_geometric_median_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.csv");
    write_csv(&data, 300, 5);
    let m = dir.path().join("m");
    let out = ae(&[
        "train",
        data.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
        "--layers",
        "5,16",
        "--sparsity",
        "topk:2",
        "--output",
        "identity",
        "--pre-bias",
        "--pre-bias-init",
        "geometric-median",
        "--decoder-init-norm",
        "0.1",
        "--epochs",
        "1",
        "--lr",
        "1e-12",
        "--val-split",
        "0",
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let w = ae_core::checkpoint::read_safetensors(&m.join("model.safetensors")).unwrap();
    let get = |name: &str| w.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let dec = get("decoder.0.weight"); // [5, 16]
    for c in 0..dec.cols {
        let norm = (0..dec.rows)
            .map(|r| (dec.data[r * dec.cols + c] as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((norm - 0.1).abs() < 1e-5, "column {c}: {norm}");
    }
    let x = ae_core::data::load_matrix(&data).unwrap();
    let median = ae_core::median::geometric_median(&x, 200, 1e-7).unwrap();
    let mean = x.column_means();
    let bias = get("decoder.0.bias");
    for (j, &b) in bias.data.iter().enumerate() {
        assert!(
            (b as f64 - median[j]).abs() < 1e-4,
            "{j}: {b} vs {}",
            median[j]
        );
    }
    assert!(
        median.iter().zip(&mean).any(|(a, b)| (a - b).abs() > 1e-3),
        "median differs from the mean here"
    );
}
