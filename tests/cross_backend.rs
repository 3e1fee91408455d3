//! Whole training runs on the wgpu backend against the CPU backend: the same loss curve from the
//! same seed, checkpoints that move between backends, data streamed when it does not fit, and a
//! clear error when a layer does not fit.

mod common;
mod gpu;
use ae_core::backend::TensorOps;
use ae_core::checkpoint::{self, SavedConfig};
use ae_core::trainer::{train, TrainEvent, TrainReport};
use ae_core::{
    Activation, Autoencoder, Backend, Error, Loss, LrSchedule, Matrix, ModelConfig,
    OptimizerConfig, OptimizerKind, Rng, TrainConfig,
};
use ae_cpu::CpuBackend;
use ae_wgpu::AdapterChoice;

fn data(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    // Points near a 3-D subspace, squashed into (0, 1).
    let basis: Vec<f64> = (0..3 * cols).map(|_| rng.normal()).collect();
    let values = (0..rows)
        .flat_map(|_| {
            let z: Vec<f64> = (0..3).map(|_| rng.normal()).collect();
            let noise: Vec<f64> = (0..cols).map(|_| 0.05 * rng.normal()).collect();
            (0..cols)
                .map(|j| {
                    let v: f64 = (0..3).map(|i| z[i] * basis[i * cols + j]).sum::<f64>() + noise[j];
                    (1.0 / (1.0 + (-v).exp())) as f32
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Matrix::new(rows, cols, values).unwrap()
}

fn config() -> ModelConfig {
    ModelConfig::mirrored(&[40, 24, 6])
        .unwrap()
        .with_activations(Activation::Gelu, Activation::Identity, Activation::Sigmoid)
        .unwrap()
}

fn run<B: Backend>(
    backend: &B,
    model: &mut Autoencoder<B>,
    x: &Matrix,
    tc: &TrainConfig,
) -> ae_core::Result<TrainReport> {
    train(backend, model, x, None, tc, &[], &mut |_: TrainEvent<
        '_,
        B,
    >| Ok(()))
}

/// 100 steps, one per epoch, so every step's loss is in the history.
fn hundred_steps(loss: Loss, kind: OptimizerKind) -> TrainConfig {
    TrainConfig {
        epochs: 100,
        batch_size: 64,
        loss,
        optimizer: OptimizerConfig {
            kind,
            lr: if kind == OptimizerKind::Sgd {
                0.5
            } else {
                1e-2
            },
            weight_decay: 1e-3,
            ..OptimizerConfig::default()
        },
        schedule: LrSchedule::WarmupCosine {
            warmup_steps: 10,
            final_fraction: 0.1,
        },
        ..TrainConfig::default()
    }
}

fn max_rel_diff(a: &TrainReport, b: &TrainReport) -> f64 {
    a.history
        .iter()
        .zip(&b.history)
        .map(|(x, y)| (x.train_loss - y.train_loss).abs() / y.train_loss.abs())
        .fold(0.0, f64::max)
}

#[test]
fn hundred_step_loss_curves_agree_within_1e3() {
    let Some(gpu) = gpu::gpu() else { return };
    let cpu = CpuBackend::<f32>::new();
    let x = data(64, 40, 1);
    for (loss, kind) in [
        (Loss::Mse, OptimizerKind::Adam),
        (Loss::Bce, OptimizerKind::AdamW),
        (Loss::Mse, OptimizerKind::Sgd),
    ] {
        let tc = hundred_steps(loss, kind);
        let mut on_cpu = Autoencoder::new(&cpu, config(), 7).unwrap();
        let mut on_gpu = Autoencoder::new(&gpu, config(), 7).unwrap();
        let rc = run(&cpu, &mut on_cpu, &x, &tc).unwrap();
        let rg = run(&gpu, &mut on_gpu, &x, &tc).unwrap();
        assert_eq!(rg.history.len(), 100);
        let d = max_rel_diff(&rg, &rc);
        eprintln!("{loss} {kind}: largest relative difference over 100 steps {d:.2e}");
        assert!(d <= 1e-3, "{loss} {kind}: loss curves differ by {d}");
        let (first, last) = (rc.history[0].train_loss, rc.last().train_loss);
        assert!(
            last < 0.9 * first,
            "{loss} {kind}: it did not learn: {first} -> {last}"
        );
    }
}

/// Denoising on the GPU trains the curve the CPU does (Gaussian noise: the same seeded hash on
/// both backends), each step's batch gathered and corrupted by one dispatch.
#[test]
fn denoising_curves_agree_and_each_batch_is_one_gather_and_corruption() {
    let Some(gpu) = gpu::gpu() else { return };
    let cpu = CpuBackend::<f32>::new();
    let x = data(64, 40, 2);
    let tc = TrainConfig {
        noise: Some(ae_core::Noise::Gauss { sigma: 0.1 }),
        ..hundred_steps(Loss::Mse, OptimizerKind::Adam)
    };
    let mut on_cpu = Autoencoder::new(&cpu, config(), 7).unwrap();
    let mut on_gpu = Autoencoder::new(&gpu, config(), 7).unwrap();
    let rc = run(&cpu, &mut on_cpu, &x, &tc).unwrap();
    let rg = run(&gpu, &mut on_gpu, &x, &tc).unwrap();
    let d = max_rel_diff(&rg, &rc);
    assert!(d <= 1e-3, "denoising loss curves differ by {d}");
    let count = |name: &str| {
        gpu.dispatch_counts()
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(count("gather_rows_corrupted"), 100);
    assert_eq!((count("gather_rows"), count("corrupt")), (0, 0));
}

#[test]
fn a_model_moves_between_backends_and_keeps_training() {
    let Some(gpu) = gpu::gpu() else { return };
    let cpu = CpuBackend::<f32>::new();
    let x = data(96, 40, 2);
    let mut tc = hundred_steps(Loss::Mse, OptimizerKind::Adam);
    tc.epochs = 20;
    let dir = tempfile::tempdir().unwrap();
    // CPU -> GPU.
    let mut m = Autoencoder::new(&cpu, config(), 3).unwrap();
    let first = run(&cpu, &mut m, &x, &tc).unwrap();
    checkpoint::save(dir.path(), &cpu, &m, &SavedConfig::new(config())).unwrap();
    let (mut on_gpu, _) = checkpoint::load(dir.path(), &gpu).unwrap();
    let (rc, rg) = (
        m.reconstruct(&cpu, &x).unwrap(),
        on_gpu.reconstruct(&gpu, &x).unwrap(),
    );
    assert!(
        rc.mse(&rg).unwrap() < 1e-12,
        "the loaded model computes the same outputs"
    );
    let second = run(&gpu, &mut on_gpu, &x, &tc).unwrap();
    assert!(
        second.last().train_loss < first.last().train_loss,
        "{} !< {}",
        second.last().train_loss,
        first.last().train_loss
    );
    // GPU -> CPU.
    checkpoint::save(dir.path(), &gpu, &on_gpu, &SavedConfig::new(config())).unwrap();
    let (mut back, _) = checkpoint::load(dir.path(), &cpu).unwrap();
    let third = run(&cpu, &mut back, &x, &tc).unwrap();
    assert!(third.last().train_loss < second.last().train_loss);
}

#[test]
fn data_too_large_for_the_device_is_streamed() {
    // Cap tensors at 8 KiB: the [64, 40] dataset (10 KiB) does not fit, every layer does.
    let choice = AdapterChoice {
        max_tensor_bytes: Some(8 * 1024),
        ..AdapterChoice::default()
    };
    let Some(gpu) = gpu::gpu_with(&choice) else {
        return;
    };
    let cpu = CpuBackend::<f32>::new();
    let x = data(64, 40, 4);
    let mut tc = hundred_steps(Loss::Mse, OptimizerKind::Adam);
    tc.epochs = 10;
    tc.batch_size = 16;
    let mut on_gpu = Autoencoder::new(&gpu, config(), 5).unwrap();
    let mut on_cpu = Autoencoder::new(&cpu, config(), 5).unwrap();
    let rg = run(&gpu, &mut on_gpu, &x, &tc).unwrap();
    let rc = run(&cpu, &mut on_cpu, &x, &tc).unwrap();
    assert!(rg.streamed && !rc.streamed);
    assert!(max_rel_diff(&rg, &rc) <= 1e-3);
}

#[test]
fn a_layer_too_large_for_the_device_is_a_clear_error() {
    let choice = AdapterChoice {
        max_tensor_bytes: Some(2 * 1024),
        ..AdapterChoice::default()
    };
    let Some(gpu) = gpu::gpu_with(&choice) else {
        return;
    };
    let err = Autoencoder::new(&gpu, config(), 0)
        .err()
        .expect("a [24, 40] weight is 3840 bytes");
    let msg = err.to_string();
    assert!(matches!(err, Error::Backend(_)));
    assert!(
        msg.contains("encoder.0.weight") && msg.contains("max_tensor_bytes"),
        "{msg}"
    );
}

#[test]
fn cli_wgpu_training_matches_cpu_within_2_percent() {
    let Some(_) = gpu::gpu() else { return };
    let images = ae_core::data::load_matrix(&common::mnist("images-idx3-ubyte.gz")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let subset = dir.path().join("digits.npy");
    ae_core::data::save_npy(&subset, &images.select_rows(&(0..512).collect::<Vec<_>>())).unwrap();
    let mut finals = Vec::new();
    for backend in ["cpu", "wgpu"] {
        let out_dir = dir.path().join(backend);
        let out = common::ae(&[
            "train",
            subset.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--layers",
            "784,64,16",
            "--epochs",
            "3",
            "--batch-size",
            "64",
            "--backend",
            backend,
            "--json",
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        let v = common::json(&out);
        assert!(v["backend"].as_str().unwrap().starts_with(backend));
        finals.push(v["final_train_loss"].as_f64().unwrap());
    }
    let rel = (finals[1] - finals[0]).abs() / finals[0];
    assert!(rel <= 0.02, "cpu {} vs wgpu {}", finals[0], finals[1]);
}
