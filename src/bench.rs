//! `ae bench`: training throughput of the reference model on the bundled MNIST, the same work as
//! the PyTorch reference (`scripts/pytorch_bench.py`).

mod profile;

pub use profile::{fp32_peak, KernelRow, ProfileWindow, StepProfile, FP32_PEAKS};

use crate::Job;
use ae_core::trainer::{self, TrainEvent};
use ae_core::{
    Activation, Autoencoder, Backend, Loss, LrSchedule, Matrix, ModelConfig, OptimizerConfig,
    Result, TrainConfig,
};

/// The reference model: 784-512-128-32-128-512-784, ReLU everywhere but a sigmoid output.
pub fn reference_model(input_dim: usize) -> Result<ModelConfig> {
    ModelConfig::mirrored(&[input_dim, 512, 128, 32])?.with_activations(
        Activation::Relu,
        Activation::Relu,
        Activation::Sigmoid,
    )
}

/// The matrix products of one training step of `config` at batch `batch`, as
/// `(m, k, n, trans_a, trans_b)` of `c [m, n] = op(a) [m, k] op(b) [k, n]`, per layer (weights
/// `[out, in]`): the forward `x Wᵀ` (batch, in, out, nt), the weight gradient `dzᵀ x` (out,
/// batch, in, tn) and, for every layer but the first, the input gradient `dz W` (batch, out, in,
/// nn).
pub fn step_products(config: &ModelConfig, batch: usize) -> Vec<(usize, usize, usize, bool, bool)> {
    let mut out = Vec::new();
    for (i, l) in config.layers().iter().enumerate() {
        out.push((batch, l.inputs, l.outputs, false, true));
        out.push((l.outputs, batch, l.inputs, true, false));
        if i > 0 {
            out.push((batch, l.outputs, l.inputs, false, false));
        }
    }
    out
}

/// One backend's result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchResult {
    /// Backend name and device.
    pub backend: String,
    /// Training samples per second: rows / wall time of one epoch, median over epochs 2..
    pub samples_per_sec: f64,
    /// Every epoch's samples per second, first included.
    pub epochs_samples_per_sec: Vec<f64>,
    /// Matrix-multiply rate implied by `samples_per_sec` (forward, input- and weight-gradient
    /// products, 2 flops per multiply-add).
    pub gflops: f64,
    /// Training rows.
    pub rows: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Kernels one training step launches, where the backend counts them (wgpu).
    pub dispatches_per_step: Option<Dispatches>,
    /// With `--profile`: each kernel's time per step.
    pub profile: Option<StepProfile>,
}

/// The kernels of one training step: how many in all, and how many of each entry point.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Dispatches {
    /// Dispatches in the step.
    pub total: u64,
    /// Dispatches of each kernel launched in the step, most first.
    pub by_kernel: Vec<(String, u64)>,
}

impl Dispatches {
    /// The dispatches between two readings of [`ae_core::backend::ops::TensorOps::dispatch_counts`].
    fn between(before: &[(&'static str, u64)], after: &[(&'static str, u64)]) -> Dispatches {
        let mut by_kernel: Vec<(String, u64)> = before
            .iter()
            .zip(after)
            .map(|(&(name, b), &(_, a))| (name.to_string(), a - b))
            .filter(|&(_, n)| n > 0)
            .collect();
        by_kernel.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        Dispatches {
            total: by_kernel.iter().map(|(_, n)| n).sum(),
            by_kernel,
        }
    }
}

/// Trains the reference model for `epochs` epochs on `data` and times each epoch.
pub struct ThroughputBench {
    /// Training rows `[n, 784]`.
    pub data: Matrix,
    /// Epochs to time (the first is warm-up).
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Steps of the warm-up epoch to profile kernel by kernel (0: none): from the end of its
    /// second step on, as many full batches as it has after that.
    pub profile_steps: usize,
}

impl Job for ThroughputBench {
    type Output = BenchResult;

    fn run<B: Backend>(self, backend: &B) -> Result<BenchResult> {
        let cfg = reference_model(self.data.cols)?;
        let mut model = Autoencoder::new(backend, cfg, 0)?;
        let train_cfg = TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: 0,
            loss: Loss::Mse,
            optimizer: OptimizerConfig::default(),
            schedule: LrSchedule::Constant,
            early_stopping_patience: None,
            ..TrainConfig::default()
        };
        // The dispatches of one steady step: from the end of the first epoch's second step to
        // the end of its third (the first of a run allocates; all full batches do the same work).
        // The profile starts at the same place, in the warm-up epoch, so that the timed epochs
        // run unprofiled.
        let (mut before, mut per_step) = (None, None);
        let mut window = ProfileWindow::new(self.profile_steps);
        let report = trainer::train(
            backend,
            &mut model,
            &self.data,
            None,
            &train_cfg,
            &[],
            &mut |e: TrainEvent<'_, B>| {
                if let TrainEvent::Step {
                    epoch: 1,
                    step,
                    steps_per_epoch,
                } = e
                {
                    let counts = backend.dispatch_counts();
                    match (step, steps_per_epoch >= 3, before.take()) {
                        (2, true, _) => before = Some(counts),
                        (3, true, Some(b)) => per_step = Some(Dispatches::between(&b, &counts)),
                        _ => {}
                    }
                    window.on_step(backend, 1, step, steps_per_epoch)?;
                }
                Ok(())
            },
        )?;
        let per_epoch: Vec<f64> = report.history.iter().map(|m| m.samples_per_sec).collect();
        let mut steady: Vec<f64> = per_epoch.iter().skip(1).copied().collect();
        if steady.is_empty() {
            steady = per_epoch.clone();
        }
        steady.sort_by(f64::total_cmp);
        let median = steady[steady.len() / 2];
        // Multiply-adds per sample: forward for every layer, weight gradient for every layer,
        // input gradient for every layer but the first.
        let layers = model.config().layers();
        let macs: usize = layers.iter().map(|l| l.inputs * l.outputs).sum::<usize>() * 3
            - layers[0].inputs * layers[0].outputs;
        Ok(BenchResult {
            backend: backend.name(),
            samples_per_sec: median,
            epochs_samples_per_sec: per_epoch,
            gflops: median * macs as f64 * 2.0 / 1e9,
            rows: self.data.rows,
            batch_size: self.batch_size,
            dispatches_per_step: per_step.filter(|d| d.total > 0),
            profile: window.take(),
        })
    }
}

/// One matrix-multiply timing.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KernelTiming {
    /// Backend name and device.
    pub backend: String,
    /// What was multiplied, e.g. `256x784 . (512x784)T`.
    pub case: String,
    /// Median seconds per call (synchronised).
    pub seconds: f64,
    /// `2 m n k / seconds / 1e9`.
    pub gflops: f64,
}

/// Times `matmul` at the reference model's layer shapes and at `square_sizes` cubed.
pub struct MatmulBench {
    /// Sizes `s` of `s x s x s` products to time besides the layer shapes.
    pub square_sizes: Vec<usize>,
    /// Timed repetitions per case (after one warm-up call).
    pub reps: usize,
}

impl Job for MatmulBench {
    type Output = Vec<KernelTiming>;

    fn run<B: Backend>(self, backend: &B) -> Result<Vec<KernelTiming>> {
        // (label, m, k, n, trans_a, trans_b): the products of one training step at batch 256.
        let mut cases: Vec<(String, usize, usize, usize, bool, bool)> = vec![
            (
                "fwd 256x784 . (512x784)T".into(),
                256,
                784,
                512,
                false,
                true,
            ),
            (
                "fwd 256x512 . (128x512)T".into(),
                256,
                512,
                128,
                false,
                true,
            ),
            ("dW (256x512)T . 256x784".into(), 512, 256, 784, true, false),
            ("dX 256x512 . 512x784".into(), 256, 512, 784, false, false),
        ];
        for &s in &self.square_sizes {
            cases.push((format!("square {s}"), s, s, s, false, false));
        }
        let mut rng = ae_core::Rng::new(0);
        let mut random = |r: usize, c: usize| {
            Matrix::new(r, c, (0..r * c).map(|_| rng.uniform() as f32).collect())
        };
        let mut out = Vec::new();
        for (label, m, k, n, ta, tb) in cases {
            let a = backend.upload(&if ta { random(k, m)? } else { random(m, k)? })?;
            let b = backend.upload(&if tb { random(n, k)? } else { random(k, n)? })?;
            let mut c = backend.zeros(m, n)?;
            backend.matmul(&a, ta, &b, tb, 1.0, 0.0, &mut c);
            backend.sync()?;
            let mut times = Vec::with_capacity(self.reps);
            for _ in 0..self.reps.max(1) {
                let t = std::time::Instant::now();
                backend.matmul(&a, ta, &b, tb, 1.0, 0.0, &mut c);
                backend.sync()?;
                times.push(t.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            let seconds = times[times.len() / 2];
            out.push(KernelTiming {
                backend: backend.name(),
                case: label,
                seconds,
                gflops: 2.0 * (m * n * k) as f64 / seconds / 1e9,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_products_are_the_three_per_layer_with_the_bench_flop_count() {
        let cfg = ModelConfig::mirrored(&[8, 4]).unwrap(); // 8-4-8
        let p = step_products(&cfg, 5);
        assert_eq!(
            p,
            vec![
                (5, 8, 4, false, true),
                (4, 5, 8, true, false),
                (5, 4, 8, false, true),
                (8, 5, 4, true, false),
                (5, 8, 4, false, false),
            ]
        );
        // The multiply-adds ThroughputBench counts per sample, times the batch.
        let cfg = reference_model(784).unwrap();
        let layers = cfg.layers();
        let macs: usize = layers.iter().map(|l| l.inputs * l.outputs).sum::<usize>() * 3
            - layers[0].inputs * layers[0].outputs;
        let total: usize = step_products(&cfg, 256)
            .iter()
            .map(|p| p.0 * p.1 * p.2)
            .sum();
        assert_eq!(total, 256 * macs);
    }
}
