//! Criterion benchmarks of every backend op at the reference autoencoder's shapes, and of one
//! whole training step. Generic over `Backend`, so every backend runs the same cases; GPU
//! backends are synchronised inside the timed closure.
//!
//!     cargo bench --bench ops            # all (CPU, and wgpu on a hardware adapter)
//!     cargo bench --bench ops -- matmul  # a filter

use ae::bench::reference_model;
use ae_core::backend::AdamStep;
use ae_core::{Activation, Autoencoder, Backend, Loss, Matrix, Optimizer, OptimizerConfig, Rng};
use ae_cpu::CpuBackend;
use ae_wgpu::{AdapterChoice, WgpuBackend};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn random(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    Matrix::new(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.uniform() as f32).collect(),
    )
    .unwrap()
}

fn bench_backend<B: Backend>(c: &mut Criterion, backend: &B, large: bool) {
    let name = backend.name();
    let up = |rows, cols, seed| backend.upload(&random(rows, cols, seed)).unwrap();

    let mut g = c.benchmark_group(format!("matmul/{name}"));
    // [m, k] x [k, n] with the transposes a training step uses.
    let mut cases: Vec<(&str, usize, usize, usize, bool, bool)> = vec![
        ("fwd 256x784 . (512x784)T", 256, 784, 512, false, true),
        ("fwd 256x512 . (128x512)T", 256, 512, 128, false, true),
        ("fwd 256x128 . (32x128)T", 256, 128, 32, false, true),
        ("dW (256x512)T . 256x784", 512, 256, 784, true, false),
        ("dX 256x512 . 512x784", 256, 512, 784, false, false),
    ];
    if large {
        cases.push(("square 1024", 1024, 1024, 1024, false, false));
        cases.push(("square 4096", 4096, 4096, 4096, false, false));
    }
    for (label, m, k, n, ta, tb) in cases {
        let a = if ta { up(k, m, 1) } else { up(m, k, 1) };
        let b = if tb { up(n, k, 2) } else { up(k, n, 2) };
        let mut out = backend.zeros(m, n).unwrap();
        g.throughput(Throughput::Elements((2 * m * n * k) as u64));
        g.bench_function(label, |bench| {
            bench.iter(|| {
                backend.matmul(&a, ta, &b, tb, 1.0, 0.0, &mut out);
                backend.sync().unwrap();
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("elementwise/{name}"));
    let (r, cols) = (256, 512);
    g.throughput(Throughput::Elements((r * cols) as u64));
    let z = up(r, cols, 3);
    let mut a = backend.zeros(r, cols).unwrap();
    let mut grad = up(r, cols, 4);
    for act in [Activation::Relu, Activation::Sigmoid, Activation::Gelu] {
        g.bench_function(format!("{act} forward 256x512"), |bench| {
            bench.iter(|| {
                backend.activation(act, &z, &mut a);
                backend.sync().unwrap();
            })
        });
        g.bench_function(format!("{act} backward 256x512"), |bench| {
            bench.iter(|| {
                backend.activation_backward(act, &z, &a, &mut grad);
                backend.sync().unwrap();
            })
        });
    }
    let bias = up(1, cols, 5);
    let mut db = backend.zeros(1, cols).unwrap();
    let mut x = up(r, cols, 6);
    g.bench_function("add_bias 256x512", |bench| {
        bench.iter(|| {
            backend.add_bias(&mut x, &bias);
            backend.sync().unwrap();
        })
    });
    g.bench_function("bias_grad 256x512", |bench| {
        bench.iter(|| {
            backend.bias_grad(&z, &mut db);
            backend.sync().unwrap();
        })
    });
    let target = up(r, cols, 7);
    let mut acc = backend.zeros(1, 1).unwrap();
    for loss in [Loss::Mse, Loss::Bce] {
        g.bench_function(format!("{loss} loss+grad 256x512"), |bench| {
            bench.iter(|| {
                backend.loss(loss, &z, &target, 1.0, 1.0, &mut acc, Some(&mut grad));
                backend.sync().unwrap();
            })
        });
    }
    let (pr, pc) = (512, 784);
    g.throughput(Throughput::Elements((pr * pc) as u64));
    let mut p = up(pr, pc, 8);
    let gp = up(pr, pc, 9);
    let (mut m1, mut m2) = (
        backend.zeros(pr, pc).unwrap(),
        backend.zeros(pr, pc).unwrap(),
    );
    let step = AdamStep {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        decoupled_weight_decay: 0.0,
        bias_correction1: 0.1,
        bias_correction2: 0.001,
    };
    g.bench_function("adam_step 512x784", |bench| {
        bench.iter(|| {
            backend.adam_step(&step, &mut p, &gp, &mut m1, &mut m2);
            backend.sync().unwrap();
        })
    });
    let data = up(8000, 784, 10);
    let mut batch = backend.zeros(256, 784).unwrap();
    let rows: Vec<u32> = Rng::new(1).permutation(8000)[..256]
        .iter()
        .map(|&i| i as u32)
        .collect();
    g.throughput(Throughput::Elements((256 * 784) as u64));
    g.bench_function("gather_rows 256 of 8000x784", |bench| {
        bench.iter(|| {
            backend.gather_rows(&data, black_box(&rows), &mut batch);
            backend.sync().unwrap();
        })
    });
    g.finish();

    // One whole training step of the reference model (batch 256): forward, backward, Adam.
    let mut g = c.benchmark_group(format!("train_step/{name}"));
    g.throughput(Throughput::Elements(256));
    let mut model = Autoencoder::new(backend, reference_model(784).unwrap(), 0).unwrap();
    let mut ws = model.workspace(backend, 256).unwrap();
    let mut grads = model.gradients(backend).unwrap();
    let mut opt = Optimizer::new(backend, OptimizerConfig::default(), &model).unwrap();
    let x = up(256, 784, 11);
    g.bench_function("784-512-128-32-128-512-784 batch 256", |bench| {
        bench.iter(|| {
            model.forward_backward(
                backend,
                Loss::Mse.into(),
                &x,
                &x,
                1.0,
                &mut ws,
                &mut grads,
                &[],
            );
            opt.step(backend, &mut model, &grads, 1e-3);
            backend.sync().unwrap();
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_backend(c, &CpuBackend::<f32>::new(), true);
    // The wgpu backend on a hardware adapter; a software one (lavapipe) only with
    // AE_BENCH_SOFTWARE_GPU=1, and without the large squares (it runs at about 1 GFLOP/s).
    match WgpuBackend::new(&AdapterChoice::default()) {
        Ok(gpu) if !gpu.is_software() => bench_backend(c, &gpu, true),
        Ok(gpu) if std::env::var("AE_BENCH_SOFTWARE_GPU").as_deref() == Ok("1") => {
            bench_backend(c, &gpu, false)
        }
        Ok(gpu) => eprintln!(
            "wgpu: skipping the software adapter {} (AE_BENCH_SOFTWARE_GPU=1 includes it)",
            gpu.adapter().name
        ),
        Err(e) => eprintln!("wgpu: no adapter, skipped ({e})"),
    }
}

criterion_group! {
    name = ops;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = benches
}
criterion_main!(ops);
