//! Matryoshka SAEs (Bussmann et al. 2025) through the library: the objective is the sum of the
//! prefix losses (held against a host computation), its gradient against central differences in
//! f64, the GPU against the CPU (the column-block op and a whole step), and training makes the
//! smallest prefix reconstruct better than the same prefix of a plain TopK SAE.

mod common;
mod gpu;
use ae_core::prelude::*;
use ae_core::regularizer::Regularizer;
use ae_core::trainer::{train, TrainEvent};
use ae_core::{
    Activation, Autoencoder, Loss, Matrix, ModelConfig, OptimizerConfig, ParamKind, Reconstruction,
    Rng, TrainConfig,
};
use ae_cpu::{CpuBackend, CpuTensor};
use proptest::prelude::*;

type F64 = CpuBackend<f64>;

/// A one-layer TopK SAE `[d, n]` keeping `k`, with `output`, the given Matryoshka prefixes
/// (none: a plain TopK SAE) and optionally BatchTopK.
fn sae(d: usize, n: usize, k: usize, output: Activation, prefixes: &[usize]) -> ModelConfig {
    ModelConfig::mirrored(&[d, n])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, output)
        .unwrap()
        .with_topk(Some(k))
        .unwrap()
        .with_matryoshka(prefixes)
        .unwrap()
}

fn random(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| rng.uniform_in(-scale, scale)).collect()
}

/// A model with random biases too (zero biases put ReLU's kink under a finite difference).
fn model_f64(b: &F64, cfg: ModelConfig, seed: u64) -> Autoencoder<F64> {
    let mut rng = Rng::new(seed);
    let mut model = Autoencoder::new(b, cfg, seed).unwrap();
    for (i, spec) in model.param_specs().to_vec().iter().enumerate() {
        if spec.kind == ParamKind::Bias {
            let v = random(&mut rng, spec.cols, 0.3);
            model.params_mut()[i] = b.upload_f64(1, spec.cols, &v).unwrap();
        }
    }
    model
}

/// The objective `forward_backward` accumulates, with its gradients in `grads`.
fn objective(
    b: &F64,
    model: &Autoencoder<F64>,
    x: &CpuTensor<f64>,
    loss: Reconstruction,
    grads: &mut ae_core::Gradients<F64>,
) -> f64 {
    let rows = b.shape(x).0;
    let mut ws = model.workspace(b, rows).unwrap();
    ws.training = true;
    let regs: Vec<&dyn Regularizer<F64>> = Vec::new();
    model.forward_backward(b, loss, x, x, 1.0, &mut ws, grads, &regs);
    b.download_f64(&ws.loss_acc).unwrap()[0]
}

/// Every parameter's gradient of the Matryoshka objective against central differences.
fn check_gradient(cfg: ModelConfig, loss: Reconstruction, seed: u64) {
    let b = F64::new();
    let mut rng = Rng::new(seed);
    let (rows, d) = (7, cfg.input_dim);
    let x: Vec<f64> = (0..rows * d).map(|_| rng.uniform()).collect();
    let xt = b.upload_f64(rows, d, &x).unwrap();
    let mut model = model_f64(&b, cfg.clone(), seed);
    let mut grads = model.gradients(&b).unwrap();
    let total = objective(&b, &model, &xt, loss, &mut grads);
    assert!(total.is_finite());
    let h = 1e-5;
    for (i, spec) in model.param_specs().to_vec().iter().enumerate() {
        let p0 = b.download_f64(&model.params()[i]).unwrap();
        let analytic = b.download_f64(&grads.tensors[i]).unwrap();
        let mut scratch = model.gradients(&b).unwrap();
        let mut p = p0.clone();
        let numeric: Vec<f64> = (0..p.len())
            .map(|j| {
                let mut at = |v: f64, p: &mut Vec<f64>| {
                    p[j] = v;
                    model.params_mut()[i] = b.upload_f64(spec.rows, spec.cols, p).unwrap();
                    objective(&b, &model, &xt, loss, &mut scratch)
                };
                let (up, down) = (at(p0[j] + h, &mut p), at(p0[j] - h, &mut p));
                p[j] = p0[j];
                (up - down) / (2.0 * h)
            })
            .collect();
        model.params_mut()[i] = b.upload_f64(spec.rows, spec.cols, &p0).unwrap();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let diff: Vec<f64> = analytic.iter().zip(&numeric).map(|(a, n)| a - n).collect();
        let e = norm(&diff) / norm(&analytic).max(norm(&numeric)).max(1e-12);
        assert!(
            e < 1e-6,
            "{} ({cfg:?}, {loss:?}): relative error {e}",
            spec.name
        );
    }
}

#[test]
fn matryoshka_gradient_matches_finite_differences() {
    let mse = Reconstruction::from(Loss::Mse);
    // Three segments of uneven widths, identity output, with and without a pre-encoder bias.
    let mut cfg = sae(5, 11, 4, Activation::Identity, &[2, 6]);
    assert_eq!(cfg.matryoshka, vec![2, 6, 11]);
    check_gradient(cfg.clone(), mse, 40);
    cfg.pre_bias = true;
    check_gradient(cfg.clone(), mse, 41);
    // BatchTopK selects over the batch; the prefixes are the same.
    cfg.batch_topk = true;
    check_gradient(cfg, mse, 42);
    // A sigmoid output under MSE and under BCE (whose gradient is with respect to the logits).
    let sig = sae(5, 9, 3, Activation::Sigmoid, &[1, 4, 9]);
    check_gradient(sig.clone(), mse, 43);
    check_gradient(sig, Loss::Bce.into(), 44);
}

/// `code[:, :m] W_dec[:, :m]ᵀ + b_dec` on the host, `[n, d]`.
fn host_prefix(code: &Matrix, w: &Matrix, bias: &Matrix, m: usize) -> Vec<f64> {
    let (n, d) = (code.rows, w.rows);
    (0..n * d)
        .map(|i| {
            let (r, c) = (i / d, i % d);
            bias.data[c] as f64
                + (0..m)
                    .map(|j| code.data[r * code.cols + j] as f64 * w.data[c * w.cols + j] as f64)
                    .sum::<f64>()
        })
        .collect()
}

/// The objective is the sum over prefixes of each prefix's MSE, worked out on the host from the
/// code and the decoder; `prefix_reconstructions` gives those reconstructions, for a plain
/// TopK model read through its first units too.
#[test]
fn the_objective_sums_the_prefix_losses_worked_out_on_the_host() {
    let b = CpuBackend::<f32>::new();
    let (rows, d, n) = (9, 6, 13);
    let mut rng = Rng::new(3);
    let x = Matrix::new(
        rows,
        d,
        (0..rows * d).map(|_| rng.uniform() as f32).collect(),
    )
    .unwrap();
    let xt = b.upload(&x).unwrap();
    for prefixes in [&[3usize, 8][..], &[]] {
        let model = Autoencoder::new(&b, sae(d, n, 5, Activation::Identity, prefixes), 5).unwrap();
        let code = model.encode(&b, &x).unwrap();
        let named = model.to_named(&b).unwrap();
        let get = |name: &str| named.iter().find(|(k, _)| k == name).unwrap().1.clone();
        let (w, bias) = (get("decoder.0.weight"), get("decoder.0.bias"));
        let ends = model.config().prefixes();
        let mse = |r: &[f64]| -> f64 {
            r.iter()
                .zip(&x.data)
                .map(|(a, &v)| (a - v as f64).powi(2))
                .sum::<f64>()
                / (rows * d) as f64
        };
        let want: f64 = ends
            .iter()
            .map(|&m| mse(&host_prefix(&code, &w, &bias, m)))
            .sum();
        let mut ws = model.workspace(&b, rows).unwrap();
        model.evaluate(&b, Loss::Mse.into(), &xt, &xt, 1.0, &mut ws);
        let got = b.download_f64(&ws.loss_acc).unwrap()[0];
        assert!(
            (got - want).abs() < 1e-5 * want,
            "{prefixes:?}: {got} vs {want}"
        );
        // Prefixes 3 and 8 of either model.
        let recons = model.prefix_reconstructions(&b, &x, &[3, 8]).unwrap();
        for (r, m) in recons.iter().zip([3, 8]) {
            let host = host_prefix(&code, &w, &bias, m);
            let err = r
                .data
                .iter()
                .zip(&host)
                .map(|(a, h)| (*a as f64 - h).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-5, "prefix {m}: {err}");
        }
    }
    let model = Autoencoder::new(&b, sae(d, n, 5, Activation::Identity, &[]), 5).unwrap();
    for bad in [&[0usize, 4][..], &[4, 4], &[5, 3], &[14]] {
        assert!(
            model.prefix_reconstructions(&b, &x, bad).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn bad_prefixes_are_config_errors() {
    let base = sae(4, 10, 2, Activation::Identity, &[]);
    for (bad, says) in [
        (&[0usize, 5][..], "ascending"),
        (&[5, 3], "ascending"),
        (&[5, 5], "ascending"),
        (&[11], "code width 10"),
    ] {
        let err = base.clone().with_matryoshka(bad).unwrap_err().to_string();
        assert!(
            err.contains(says) && err.contains("`model.matryoshka`"),
            "{bad:?}: {err}"
        );
    }
    let dense = ModelConfig::mirrored(&[4, 10])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap();
    let err = dense.with_matryoshka(&[5]).unwrap_err().to_string();
    assert!(err.contains("topk"), "{err}");
    let deep = ModelConfig::mirrored(&[4, 6, 10])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_topk(Some(2))
        .unwrap();
    let err = deep.with_matryoshka(&[5]).unwrap_err().to_string();
    assert!(err.contains("one-hidden-layer"), "{err}");
    // An older config.json, without the field, reads as no prefixes.
    let mut json = serde_json::to_value(&base).unwrap();
    assert!(json.get("matryoshka").is_none());
    json.as_object_mut().unwrap().remove("matryoshka");
    let back: ModelConfig = serde_json::from_value(json).unwrap();
    assert!(back.matryoshka.is_empty() && back.prefixes() == vec![10]);
    let m = base.with_matryoshka(&[2, 5]).unwrap();
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["matryoshka"], serde_json::json!([2, 5, 10]));
}

/// `config.json` records the prefixes; a resumed run (or one started from the weights) with
/// other prefixes is refused, one with the same ones goes on.
#[test]
fn resume_and_init_from_refuse_other_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.csv");
    common::write_csv(&data, 60, 8);
    let (d, out) = (data.to_str().unwrap(), dir.path().join("m"));
    let o = out.to_str().unwrap();
    let run = |prefixes: &str, epochs: &str, more: &[&str]| {
        let mut args = vec![
            "train", d, "--out", o, "--layers", "8,16", "--output", "identity",
        ];
        args.extend([
            "--sparsity",
            "topk:2",
            "--matryoshka",
            prefixes,
            "--epochs",
            epochs,
        ]);
        args.extend(["--backend", "cpu", "--batch-size", "20"]);
        args.extend(more);
        common::ae(&args)
    };
    let first = run("4,8", "1", &[]);
    assert!(first.status.success(), "{}", common::stderr(&first));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        cfg["model"]["matryoshka"],
        serde_json::json!([4, 8, 16]),
        "{cfg}"
    );
    let other = run("4,12", "2", &["--resume"]);
    common::assert_clean_error(&other, &["another architecture", "matryoshka"]);
    let again = run("4,8", "2", &["--resume"]);
    assert!(again.status.success(), "{}", common::stderr(&again));
    let init = dir.path().join("n");
    let mut args = vec![
        "train",
        d,
        "--out",
        init.to_str().unwrap(),
        "--layers",
        "8,16",
    ];
    args.extend([
        "--output",
        "identity",
        "--sparsity",
        "topk:2",
        "--matryoshka",
        "8",
    ]);
    args.extend(["--epochs", "1", "--backend", "cpu", "--init-from", o]);
    common::assert_clean_error(&common::ae(&args), &["matryoshka [4, 8, 16]", "[8, 16]"]);
}

/// Data from a dictionary of 24 directions in 16 dimensions whose frequencies fall off (a
/// few common features, many rare ones), each row a sum of about three of them.
fn hierarchical_data(rows: usize, seed: u64) -> Matrix {
    let (d, atoms) = (16, 24);
    let mut rng = Rng::new(seed);
    let dict: Vec<f64> = (0..atoms * d).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
    let data = (0..rows)
        .flat_map(|_| {
            let mut row = vec![0.0f64; d];
            for a in 0..atoms {
                if rng.uniform() < 0.6 / (1.0 + a as f64 * 0.5) {
                    let c = 0.5 + rng.uniform();
                    for (v, w) in row.iter_mut().zip(&dict[a * d..(a + 1) * d]) {
                        *v += c * w;
                    }
                }
            }
            row.into_iter().map(|v| v as f32).collect::<Vec<_>>()
        })
        .collect();
    Matrix::new(rows, d, data).unwrap()
}

/// The paper's claim in small: after the same training, the first 4 units of a Matryoshka SAE
/// reconstruct held-out rows much better than the first 4 of a plain TopK SAE, whose units are in
/// no order; the training history reports each prefix's FVU.
#[test]
fn the_smallest_prefix_of_a_matryoshka_sae_reconstructs_better_than_a_plain_ones() {
    let b = CpuBackend::<f32>::new();
    let all = hierarchical_data(2500, 7);
    let (fit, held_out) = (
        all.select_rows(&(0..2000).collect::<Vec<_>>()),
        all.select_rows(&(2000..2500).collect::<Vec<_>>()),
    );
    let config = TrainConfig {
        epochs: 15,
        batch_size: 50,
        optimizer: OptimizerConfig {
            lr: 3e-3,
            ..OptimizerConfig::default()
        },
        code_metrics: true,
        ..TrainConfig::default()
    };
    let mut fvu = Vec::new();
    for prefixes in [&[][..], &[4, 12]] {
        let cfg = sae(16, 32, 6, Activation::Identity, prefixes);
        let mut model = Autoencoder::new(&b, cfg, 1).unwrap();
        let report = train(
            &b,
            &mut model,
            &fit,
            None,
            &config,
            &[],
            &mut |_: TrainEvent<'_, CpuBackend<f32>>| Ok(()),
        )
        .unwrap();
        let last = report.last().code.as_ref().unwrap();
        let reported: Vec<usize> = last.prefix_fvu.iter().map(|p| p.prefix).collect();
        assert_eq!(reported, model.config().matryoshka);
        if let Some(full) = last.prefix_fvu.last() {
            assert!((full.fvu - last.fvu).abs() < 1e-6 * last.fvu.max(1.0));
        }
        let recons = model
            .prefix_reconstructions(&b, &held_out, &[4, 32])
            .unwrap();
        let sst: f64 = {
            let means = held_out.column_means();
            (0..held_out.data.len())
                .map(|i| (held_out.data[i] as f64 - means[i % 16]).powi(2))
                .sum()
        };
        let f: Vec<f64> = recons
            .iter()
            .map(|r| held_out.row_squared_errors(r).unwrap().iter().sum::<f64>() / sst)
            .collect();
        fvu.push(f);
    }
    let (plain, nested) = (&fvu[0], &fvu[1]);
    assert!(
        nested[0] < 0.8 * plain[0],
        "prefix 4: matryoshka FVU {:.4}, plain {:.4}",
        nested[0],
        plain[0]
    );
    // Both learn the data with the whole code.
    assert!(plain[1] < 0.3 && nested[1] < 0.3, "{plain:?} {nested:?}");
}

use gpu::{rel_err as tensor_err, shared as device};

fn uniform(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    let data = (0..rows * cols)
        .map(|_| rng.uniform_in(-1.0, 1.0) as f32)
        .collect();
    Matrix::new(rows, cols, data).unwrap()
}

/// One training step's loss and gradients of a Matryoshka model on `be`.
fn step<B: ae_core::Backend>(be: &B, cfg: &ModelConfig, x: &Matrix) -> Vec<Matrix> {
    let model = Autoencoder::new(be, cfg.clone(), 9).unwrap();
    let xt = be.upload(x).unwrap();
    let mut ws = model.workspace(be, x.rows).unwrap();
    ws.training = true;
    let mut grads = model.gradients(be).unwrap();
    model.forward_backward(
        be,
        Loss::Mse.into(),
        &xt,
        &xt,
        1.0,
        &mut ws,
        &mut grads,
        &[],
    );
    let mut out = vec![be.download(&ws.loss_acc).unwrap()];
    out.extend(grads.tensors.iter().map(|g| be.download(g).unwrap()));
    out.extend(
        model
            .prefix_reconstructions(be, x, &model.config().matryoshka)
            .unwrap(),
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The column-block copy writes exactly its block, in either direction, GPU == CPU bit for
    /// bit; the rest of the destination keeps its (poisoned) values.
    #[test]
    fn copy_columns_matches_cpu(rows in 1..40usize, a in 1..300usize, b in 1..300usize,
                                f in 0.0f64..1.0, g in 0.0f64..1.0, h in 0.0f64..1.0, seed: u64) {
        let Some(gpu) = device() else { return Ok(()) };
        let cols = ((a.min(b) as f64 * f) as usize).max(1);
        let (src_col, dst_col) = (((a - cols) as f64 * g) as usize, ((b - cols) as f64 * h) as usize);
        let src = uniform(rows, a, seed);
        let dst0 = Matrix::new(rows, b, vec![f32::NAN; rows * b]).unwrap();
        let cpu = CpuBackend::<f32>::new();
        let mut dc = cpu.upload(&dst0).unwrap();
        cpu.copy_columns(&cpu.upload(&src).unwrap(), src_col, &mut dc, dst_col, cols);
        let mut dg = gpu.upload(&dst0).unwrap();
        gpu.copy_columns(&gpu.upload(&src).unwrap(), src_col, &mut dg, dst_col, cols);
        let (c, g) = (cpu.download(&dc).unwrap(), gpu.download(&dg).unwrap());
        for (i, (u, v)) in c.data.iter().zip(&g.data).enumerate() {
            let (r, j) = (i / b, i % b);
            let inside = (dst_col..dst_col + cols).contains(&j);
            prop_assert_eq!(u.to_bits(), v.to_bits(), "[{}, {}]", r, j);
            prop_assert_eq!(inside, !u.is_nan(), "[{}, {}]", r, j);
            if inside {
                prop_assert_eq!(*u, src.data[r * a + src_col + j - dst_col]);
            }
        }
    }

    /// A Matryoshka training step (loss, every gradient, the prefix reconstructions) on the GPU
    /// equals the CPU's, on shapes that are no tile multiple.
    #[test]
    fn matryoshka_step_matches_cpu(rows in 1..40usize, d in 1..40usize, n in 3..80usize,
                                   kf in 0.0f64..1.0, p1 in 0.0f64..1.0, p2 in 0.0f64..1.0,
                                   pre_bias: bool, batch: bool, seed: u64) {
        let Some(gpu) = device() else { return Ok(()) };
        let k = ((n as f64 * kf) as usize).clamp(1, n);
        let first = ((n as f64 * p1 * 0.5) as usize).max(1);
        let second = first + 1 + ((n - first - 1) as f64 * p2) as usize;
        let prefixes: Vec<usize> = [first, second].into_iter().filter(|&m| m < n).collect();
        let mut cfg = sae(d, n, k, Activation::Identity, &prefixes);
        cfg.pre_bias = pre_bias;
        cfg.batch_topk = batch;
        let x = uniform(rows, d, seed);
        let (want, got) = (step(&CpuBackend::<f32>::new(), &cfg, &x), step(gpu, &cfg, &x));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let e = tensor_err(g, w);
            prop_assert!(e <= 1e-4, "output {} ({:?}): relative error {}", i, cfg.matryoshka, e);
        }
    }
}

/// A Matryoshka SAE's export keeps its prefixes (SAELens: `metadata.ae_matryoshka`, and a
/// BatchTopK one's k as `metadata.ae_batchtopk_k`; sparsify: `ae_matryoshka`), so `--init-from`
/// of the export restores the architecture: the run is the one started from the ae directory.
#[test]
fn init_from_a_matryoshka_export_restores_the_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.csv");
    common::write_csv(&data, 300, 8);
    let d = data.to_str().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let m = ["--matryoshka", "8,16"];
    for (sparsity, formats) in [
        ("topk:4", &["saelens", "sparsify"][..]),
        ("batchtopk:4", &["saelens"][..]),
    ] {
        let train = |out: &str, more: &[&str]| {
            common::train_small_sae(d, out, sparsity, &[&m[..], more].concat())
        };
        let first = path(&format!("{sparsity}-a"));
        common::epoch_losses(&train(&first, &[]));
        let from_ae = common::epoch_losses(&train(
            &path(&format!("{sparsity}-b")),
            &["--init-from", &first],
        ));
        for format in formats {
            let export = path(&format!("{sparsity}-{format}"));
            let out = common::ae(&["export", &first, "--format", format, "--out", &export]);
            assert!(out.status.success(), "{}", common::stderr(&out));
            let cfg: serde_json::Value = serde_json::from_slice(
                &std::fs::read(std::path::Path::new(&export).join("cfg.json")).unwrap(),
            )
            .unwrap();
            let meta = if *format == "saelens" {
                &cfg["metadata"]
            } else {
                &cfg
            };
            assert_eq!(
                meta["ae_matryoshka"],
                serde_json::json!([8, 16, 32]),
                "{cfg}"
            );
            let k = sparsity.starts_with("batch").then_some(4);
            assert_eq!(meta["ae_batchtopk_k"], serde_json::json!(k), "{cfg}");
            let from_export = train(
                &path(&format!("{sparsity}-{format}-c")),
                &["--init-from", &export],
            );
            assert_eq!(
                common::epoch_losses(&from_export),
                from_ae,
                "{sparsity} from {format}"
            );
        }
    }
}
