//! The library's training loop on the CPU backend: determinism, early stopping, divergence,
//! checkpoints, and the linear autoencoder matching PCA on MNIST.

mod common;
use ae_core::checkpoint::{self, SavedConfig};
use ae_core::prelude::*;
use ae_core::trainer::{split, train, TrainEvent};
use ae_core::{
    data, Activation, Autoencoder, Error, LrSchedule, Matrix, ModelConfig, OptimizerConfig,
    OptimizerKind, Pca, TrainConfig,
};
use ae_cpu::CpuBackend;

type B = CpuBackend<f32>;

fn curve(rows: usize, cols: usize) -> Matrix {
    let data = (0..rows * cols)
        .map(|k| {
            let (i, j) = (k / cols, k % cols);
            let t = i as f32 / rows as f32;
            0.5 + 0.4 * (5.0 * t + j as f32).sin()
        })
        .collect();
    Matrix::new(rows, cols, data).unwrap()
}

fn no_events(_: TrainEvent<'_, B>) -> ae_core::Result<()> {
    Ok(())
}

#[test]
fn same_seed_same_run_and_other_seed_differs() {
    let cpu = B::new();
    let x = curve(100, 4);
    let cfg = ModelConfig::mirrored(&[4, 6, 2]).unwrap();
    let run = |seed: u64| {
        let mut m = Autoencoder::new(&cpu, cfg.clone(), seed).unwrap();
        let tc = TrainConfig {
            epochs: 3,
            batch_size: 16,
            seed,
            ..TrainConfig::default()
        };
        let r = train(&cpu, &mut m, &x, None, &tc, &[], &mut no_events).unwrap();
        r.history.iter().map(|h| h.train_loss).collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let cpu = B::new();
    let (train_x, val_x) = split(&curve(120, 4), 0.25, 0).unwrap();
    let cfg = ModelConfig::mirrored(&[4, 8, 2]).unwrap();
    let mut m = Autoencoder::new(&cpu, cfg, 0).unwrap();
    // A large constant SGD rate makes the validation loss bounce, so patience 2 ends it early.
    let tc = TrainConfig {
        epochs: 200,
        batch_size: 8,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.5,
            momentum: 0.9,
            ..OptimizerConfig::default()
        },
        early_stopping_patience: Some(2),
        ..TrainConfig::default()
    };
    let r = train(
        &cpu,
        &mut m,
        &train_x,
        Some(&val_x),
        &tc,
        &[],
        &mut no_events,
    )
    .unwrap();
    assert!(r.stopped_early, "ran all {} epochs", r.history.len());
    assert_eq!(r.history.len(), r.best_epoch + 2);
    let best = r.history[r.best_epoch - 1].val_loss.unwrap();
    assert!(r.history.iter().all(|h| h.val_loss.unwrap() >= best));
    // The model holds the best epoch's weights.
    let now = val_x.mse(&m.reconstruct(&cpu, &val_x).unwrap()).unwrap();
    assert!(
        (now - best).abs() < 1e-6 * best.max(1e-3),
        "{now} vs {best}"
    );
}

#[test]
fn divergence_stops_with_an_error_and_the_last_good_weights() {
    let cpu = B::new();
    let x = curve(64, 4);
    let cfg = ModelConfig::mirrored(&[4, 8, 2])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Identity, Activation::Identity)
        .unwrap();
    let mut m = Autoencoder::new(&cpu, cfg, 0).unwrap();
    let before = m.to_named(&cpu).unwrap();
    let tc = TrainConfig {
        epochs: 5,
        batch_size: 16,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 1e12,
            ..OptimizerConfig::default()
        },
        ..TrainConfig::default()
    };
    let err = train(&cpu, &mut m, &x, None, &tc, &[], &mut no_events).unwrap_err();
    assert!(matches!(err, Error::Diverged(_)), "{err}");
    assert!(err.to_string().contains("epoch 1"), "{err}");
    assert_eq!(
        m.to_named(&cpu).unwrap(),
        before,
        "weights were not put back"
    );
}

#[test]
fn checkpoint_round_trip_is_exact() {
    let cpu = B::new();
    let cfg = ModelConfig::mirrored(&[6, 4, 2])
        .unwrap()
        .with_tied(true)
        .unwrap();
    let m = Autoencoder::new(&cpu, cfg, 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let saved = SavedConfig::new(m.config().clone());
    checkpoint::save(dir.path(), &cpu, &m, &saved).unwrap();
    let (loaded, cfg) = checkpoint::load(dir.path(), &cpu).unwrap();
    let sum = cfg.weights_checksum.as_deref().unwrap();
    assert!(
        sum.len() == 14
            && sum.starts_with("crc32:")
            && sum[6..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{sum}"
    );
    assert_eq!(
        SavedConfig {
            weights_checksum: None,
            ..cfg
        },
        saved
    );
    assert_eq!(loaded.to_named(&cpu).unwrap(), m.to_named(&cpu).unwrap());
    // A tied model stores no decoder weights.
    let names: Vec<String> = m.param_specs().iter().map(|s| s.name.clone()).collect();
    assert_eq!(
        names,
        [
            "encoder.0.weight",
            "encoder.0.bias",
            "encoder.2.weight",
            "encoder.2.bias",
            "decoder.0.bias",
            "decoder.2.bias"
        ]
    );
}

/// A linear autoencoder (identity activations, MSE) with a 16-unit code reaches PCA-16's test
/// MSE within 3% on MNIST-10k (8,000 train / 2,000 test).
#[test]
fn linear_autoencoder_matches_pca_on_mnist() {
    let images = data::load_matrix(&common::mnist("images-idx3-ubyte.gz")).unwrap();
    let train_x = images.select_rows(&(0..8000).collect::<Vec<_>>());
    let test_x = images.select_rows(&(8000..10000).collect::<Vec<_>>());
    let pca = Pca::fit(&train_x, 16).unwrap();
    let pca_mse = test_x.mse(&pca.reconstruct(&test_x).unwrap()).unwrap();

    let cpu = B::new();
    let cfg = ModelConfig::mirrored(&[784, 16])
        .unwrap()
        .with_activations(
            Activation::Identity,
            Activation::Identity,
            Activation::Identity,
        )
        .unwrap();
    let mut m = Autoencoder::new(&cpu, cfg, 0).unwrap();
    let tc = TrainConfig {
        epochs: 60,
        batch_size: 64,
        optimizer: OptimizerConfig {
            lr: 2e-3,
            ..OptimizerConfig::default()
        },
        schedule: LrSchedule::WarmupCosine {
            warmup_steps: 100,
            final_fraction: 0.01,
        },
        ..TrainConfig::default()
    };
    train(&cpu, &mut m, &train_x, None, &tc, &[], &mut no_events).unwrap();
    let ae_mse = test_x.mse(&m.reconstruct(&cpu, &test_x).unwrap()).unwrap();
    eprintln!(
        "linear AE-16 test mse {ae_mse:.6}, PCA-16 {pca_mse:.6}, ratio {:.4}",
        ae_mse / pca_mse
    );
    assert!(
        ae_mse <= 1.03 * pca_mse,
        "linear AE {ae_mse} vs PCA {pca_mse}"
    );
    // And it cannot beat the optimal linear projection by much on held-out data either.
    assert!(
        ae_mse >= 0.97 * pca_mse,
        "linear AE {ae_mse} vs PCA {pca_mse}"
    );
}

#[test]
fn a_torn_checkpoint_pair_is_detected() {
    let cpu = B::new();
    let cfg = ModelConfig::mirrored(&[6, 4, 2]).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, seed) in [(&a, 1), (&b, 2)] {
        let m = Autoencoder::new(&cpu, cfg.clone(), seed).unwrap();
        checkpoint::save(dir.path(), &cpu, &m, &SavedConfig::new(cfg.clone())).unwrap();
    }
    // The same architecture, other weights: as if a save died between its two renames.
    std::fs::copy(
        b.path().join(checkpoint::WEIGHTS_FILE),
        a.path().join(checkpoint::WEIGHTS_FILE),
    )
    .unwrap();
    let err = checkpoint::load(a.path(), &cpu)
        .err()
        .expect("a torn pair must not load");
    assert!(err.to_string().contains("interrupted"), "{err}");
    assert!(checkpoint::load(b.path(), &cpu).is_ok());
}

/// `tests/data/legacy-fnv-model` was saved by `ae train` before checksums were CRC-32: its
/// `config.json` holds a 64-bit FNV-1a of the weights, which loading still verifies.
#[test]
fn a_model_saved_with_the_legacy_fnv_checksum_loads_and_is_still_checked() {
    let cpu = B::new();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/legacy-fnv-model");
    let (m, cfg) = checkpoint::load(&fixture, &cpu).unwrap();
    assert_eq!(cfg.weights_checksum.as_deref(), Some("1e5e2040d03f8608"));
    assert_eq!(m.config().input_dim, 3);

    // Saved again, it gets a CRC-32, and the same weights.
    let resaved = tempfile::tempdir().unwrap();
    checkpoint::save(resaved.path(), &cpu, &m, &cfg).unwrap();
    let (back, back_cfg) = checkpoint::load(resaved.path(), &cpu).unwrap();
    assert!(back_cfg.weights_checksum.unwrap().starts_with("crc32:"));
    assert_eq!(back.to_named(&cpu).unwrap(), m.to_named(&cpu).unwrap());

    // The legacy checksum still catches other weights: the fixture with one weight byte changed
    // (the last byte of the file, inside the last tensor's data, so it still parses).
    let torn = tempfile::tempdir().unwrap();
    for file in [checkpoint::CONFIG_FILE, checkpoint::WEIGHTS_FILE] {
        std::fs::copy(fixture.join(file), torn.path().join(file)).unwrap();
    }
    let weights = torn.path().join(checkpoint::WEIGHTS_FILE);
    let mut bytes = std::fs::read(&weights).unwrap();
    *bytes.last_mut().unwrap() ^= 0x01;
    std::fs::write(&weights, &bytes).unwrap();
    assert!(checkpoint::read_safetensors(&weights).is_ok());
    let err = checkpoint::load(torn.path(), &cpu)
        .err()
        .expect("a changed weights file must not load");
    assert!(err.to_string().contains("interrupted"), "{err}");
    assert!(err.to_string().contains("1e5e2040d03f8608"), "{err}");
}

#[test]
fn zero_patience_is_a_config_error() {
    let tc = TrainConfig {
        early_stopping_patience: Some(0),
        ..TrainConfig::default()
    };
    assert!(tc.validate().unwrap_err().to_string().contains("patience"));
}

/// The penalties a `TrainConfig` names reach the gradient through `train` alone: a library user
/// who passes no extra regularisers gets the L1 penalty and the coupled weight decay they asked
/// for (before, both were reported but only applied when also passed as regularisers).
#[test]
fn the_config_penalties_apply_without_extra_regularisers() {
    let cpu = B::new();
    let x = curve(200, 6);
    let cfg = ModelConfig::mirrored(&[6, 16])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap();
    let run = |tc: &TrainConfig| {
        let mut m = Autoencoder::new(&cpu, cfg.clone(), 0).unwrap();
        let report = train(&cpu, &mut m, &x, None, tc, &[], &mut no_events).unwrap();
        let code = m.encode(&cpu, &x).unwrap();
        let l1 = code.data.iter().map(|v| v.abs() as f64).sum::<f64>() / x.rows as f64;
        let weights: f64 = m
            .params()
            .iter()
            .map(|p| {
                cpu.download(p)
                    .unwrap()
                    .data
                    .iter()
                    .map(|v| (*v as f64).powi(2))
                    .sum::<f64>()
            })
            .sum();
        (report, l1, weights)
    };
    let base = TrainConfig {
        epochs: 30,
        batch_size: 20,
        ..TrainConfig::default()
    };
    let (_, plain_l1, plain_weights) = run(&base);
    let (report, sparse_l1, _) = run(&TrainConfig {
        penalty: Some(ae_core::CodePenalty::L1 {
            lambda: 0.2,
            decoder_norm: false,
        }),
        ..base.clone()
    });
    assert!(report.last().penalty.is_some_and(|p| p > 0.0));
    assert!(
        sparse_l1 < 0.5 * plain_l1,
        "L1 in the config must shrink the code: {sparse_l1} vs {plain_l1} without it"
    );
    let (_, _, decayed_weights) = run(&TrainConfig {
        optimizer: OptimizerConfig {
            weight_decay: 0.05,
            ..OptimizerConfig::default()
        },
        ..base
    });
    assert!(
        decayed_weights < 0.9 * plain_weights,
        "weight decay in the config must shrink the weights: {decayed_weights} vs {plain_weights}"
    );
}

/// A model directory written by another version of the format is refused with a message that
/// names the file and both versions, before its other fields are read.
#[test]
fn a_config_of_another_version_is_a_clear_error() {
    let cpu = B::new();
    let cfg = ModelConfig::mirrored(&[6, 4, 2]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = Autoencoder::new(&cpu, cfg.clone(), 1).unwrap();
    checkpoint::save(dir.path(), &cpu, &m, &SavedConfig::new(cfg)).unwrap();
    let path = dir.path().join(checkpoint::CONFIG_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["version"] = 7.into();
    json["model"] = "a future layout".into();
    std::fs::write(&path, json.to_string()).unwrap();
    let err = checkpoint::load(dir.path(), &cpu)
        .err()
        .expect("another version must not load")
        .to_string();
    assert!(err.contains("config.json"), "{err}");
    assert!(
        err.contains("version 7") && err.contains("version 1"),
        "{err}"
    );
    assert!(err.contains("newer"), "{err}");
}

/// Training on rows read lazily from an NPY file (normalised batch by batch as they are read)
/// is the same run as training on the same rows in memory: the same losses, code metrics and
/// weights, to the bit on the CPU, with the order each way of reading makes.
#[test]
fn training_on_rows_read_from_a_file_equals_training_in_memory() {
    use ae_core::data::normalize::{NormStats, Normalization};
    use ae_core::trainer::{train_rows, Rows};
    let cpu = B::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    let x = curve(300, 6);
    data::save_npy(&path, &x).unwrap();
    // Every third row held out; the rest train, in a shuffled order.
    let train_idx: Vec<u32> = (0..300).filter(|i| i % 3 != 0).rev().collect();
    let val_idx: Vec<u32> = (0..300).filter(|i| i % 3 == 0).collect();
    let pick = |idx: &[u32]| x.select_rows(&idx.iter().map(|&i| i as usize).collect::<Vec<_>>());
    let stats = NormStats::fit(Normalization::Standard, &pick(&train_idx));
    let (mut tx, mut vx) = (pick(&train_idx), pick(&val_idx));
    stats.apply(&mut tx).unwrap();
    stats.apply(&mut vx).unwrap();
    let cfg = ModelConfig::mirrored(&[6, 12, 3])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Identity, Activation::Identity)
        .unwrap();
    let tc = TrainConfig {
        epochs: 4,
        batch_size: 32,
        code_metrics: true,
        ..TrainConfig::default()
    };
    let mut in_memory = Autoencoder::new(&cpu, cfg.clone(), 5).unwrap();
    let a = train(
        &cpu,
        &mut in_memory,
        &tx,
        Some(&vx),
        &tc,
        &[],
        &mut no_events,
    )
    .unwrap();
    let (train_idx, val_idx) = (train_idx.leak(), val_idx.leak());
    let stream = |source: &dyn data::RowSource| {
        let rows = |idx: &'static [u32]| Rows::Source {
            source,
            rows: idx,
            stats: Some(&stats),
        };
        let mut mapped = Autoencoder::new(&cpu, cfg.clone(), 5).unwrap();
        let r = train_rows(
            &cpu,
            &mut mapped,
            rows(train_idx),
            Some(rows(val_idx)),
            &tc,
            &[],
            &mut no_events,
        )
        .unwrap();
        (r, mapped.to_named(&cpu).unwrap())
    };
    let strip = |r: &ae_core::TrainReport| {
        r.history
            .iter()
            .map(|h| (h.train_loss, h.val_loss, h.code.clone()))
            .collect::<Vec<_>>()
    };
    // Rows in memory, read through the streaming reader: the same permutation, the same run.
    let (b, weights) = stream(&data::MatrixSource::borrowed("x", &x));
    assert!(b.streamed && !a.streamed);
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(in_memory.to_named(&cpu).unwrap(), weights);
    // Rows read from the file are shuffled over a window of blocks instead: the same run as
    // the same rows in memory shuffled that way, to the bit.
    let on_disk = data::source::open(&path).unwrap();
    let (c, from_file) = stream(on_disk.as_ref());
    let (d, from_memory) = stream(&NotInMemory(data::MatrixSource::borrowed("x", &x)));
    assert_eq!(strip(&c), strip(&d));
    assert_eq!(from_file, from_memory);
    assert_ne!(
        strip(&c),
        strip(&a),
        "a windowed order is not the full permutation"
    );
    let last = |r: &ae_core::TrainReport| r.history.last().unwrap().val_loss.unwrap();
    assert!(last(&c) < 1.5 * last(&a), "{} vs {}", last(&c), last(&a));
}

/// A source that says its rows are not in memory, so the trainer streams it as it would a file.
struct NotInMemory<S>(S);

impl<S: data::RowSource> data::RowSource for NotInMemory<S> {
    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
    fn rows(&self) -> usize {
        self.0.rows()
    }
    fn cols(&self) -> usize {
        self.0.cols()
    }
    fn read(&self, start: usize, count: usize) -> ae_core::Result<Matrix> {
        self.0.read(start, count)
    }
}

/// A step budget ends the run mid-epoch; the cut epoch's loss is a mean over the rows it saw
/// (with a learning rate too small to move the model, it equals a whole epoch's).
#[test]
fn a_step_budget_ends_the_run_mid_epoch_with_mean_losses() {
    let cpu = B::new();
    let x = curve(100, 4);
    let cfg = ModelConfig::mirrored(&[4, 6, 2]).unwrap();
    let run = |max_steps: Option<usize>| {
        let mut m = Autoencoder::new(&cpu, cfg.clone(), 1).unwrap();
        let tc = TrainConfig {
            epochs: 5,
            batch_size: 32,
            max_steps,
            optimizer: OptimizerConfig {
                lr: 1e-12,
                ..OptimizerConfig::default()
            },
            ..TrainConfig::default()
        };
        train(&cpu, &mut m, &x, None, &tc, &[], &mut no_events).unwrap()
    };
    let whole = run(None);
    // 4 steps an epoch: 6 steps are one epoch and half of the next.
    let cut = run(Some(6));
    assert_eq!(cut.history.len(), 2);
    assert!(cut.stopped_early && !whole.stopped_early);
    let (a, b) = (cut.history[1].train_loss, whole.history[1].train_loss);
    assert!(
        (a - b).abs() < 0.1 * b,
        "cut epoch mean {a} vs whole epoch {b}"
    );
    assert!(TrainConfig {
        max_steps: Some(0),
        ..TrainConfig::default()
    }
    .validate()
    .is_err());
}

/// A NaN met mid-epoch in rows read from a file stops training with an error naming the file
/// and the row, and the model is put back to the last finished epoch's weights.
#[test]
fn a_nan_met_mid_epoch_names_its_row_and_keeps_the_last_good_weights() {
    use ae_core::trainer::{train_rows, Rows};
    let cpu = B::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.npy");
    let mut x = curve(300, 4);
    x.data[4 * 150 + 2] = f32::NAN;
    data::save_npy(&path, &x).unwrap();
    let source = data::source::open(&path).unwrap();
    // Epoch 1 trains on the first 150 rows only; from epoch 2 on, row 150 is among them.
    let cfg = ModelConfig::mirrored(&[4, 6, 2]).unwrap();
    let mut m = Autoencoder::new(&cpu, cfg, 0).unwrap();
    let good: Vec<u32> = (0..150).collect();
    let tc = TrainConfig {
        epochs: 1,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let rows = |idx| Rows::Source {
        source: source.as_ref(),
        rows: idx,
        stats: None,
    };
    train_rows(&cpu, &mut m, rows(&good), None, &tc, &[], &mut no_events).unwrap();
    let after_first = m.to_named(&cpu).unwrap();
    let all: Vec<u32> = (0..300).collect();
    let tc = TrainConfig { epochs: 3, ..tc };
    let err = train_rows(&cpu, &mut m, rows(&all), None, &tc, &[], &mut no_events)
        .expect_err("a NaN must stop training")
        .to_string();
    assert!(
        err.contains("bad.npy") && err.contains("row 150, column 2"),
        "{err}"
    );
    assert_eq!(
        m.to_named(&cpu).unwrap(),
        after_first,
        "the weights from before this run"
    );
}
