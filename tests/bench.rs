//! `ae bench` end to end: throughput on each backend, the dispatches of a training step, and
//! the per-kernel profile (`--profile`).

mod common;
use common::{ae, assert_clean_error, json, stderr};

#[test]
fn bench_reports_throughput() {
    let out = ae(&[
        "bench",
        "--backend",
        "cpu",
        "--epochs",
        "2",
        "--rows",
        "512",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let r = &v["results"][0];
    assert!(r["backend"].as_str().unwrap().starts_with("cpu"));
    assert!(r["samples_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(r["epochs_samples_per_sec"].as_array().unwrap().len(), 2);
    let all = ae(&[
        "bench",
        "--backend",
        "all",
        "--epochs",
        "1",
        "--rows",
        "256",
        "--json",
    ]);
    assert!(all.status.success(), "{}", stderr(&all));
    let results = json(&all)["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 2);
    assert!(results[0]["backend"].as_str().unwrap().starts_with("cpu"));
    // The wgpu entry ran, or says why it was skipped.
    assert!(results[1]["samples_per_sec"].as_f64().is_some() || results[1]["skipped"].is_string());
}

/// `ae bench` on the wgpu backend counts the kernels of one training step: each layer's bias and
/// activation are one dispatch, and so are the activation's backward and the bias gradient.
#[test]
fn bench_counts_the_dispatches_of_a_training_step() {
    let out = ae(&[
        "bench",
        "--backend",
        "wgpu",
        "--epochs",
        "1",
        "--rows",
        "768",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let r = &v["results"][0];
    if let Some(why) = r["skipped"].as_str() {
        assert!(
            std::env::var_os("AE_REQUIRE_GPU").is_none(),
            "AE_REQUIRE_GPU is set but wgpu was skipped: {why}"
        );
        eprintln!("skipped: no wgpu adapter ({why})");
        return;
    }
    let d = &r["dispatches_per_step"];
    let count = |kernel: &str| {
        d["by_kernel"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e[0] == kernel)
            .map_or(0, |e| e[1].as_u64().unwrap())
    };
    // 784-512-128-32-128-512-784: six layers, 17 products (no input gradient of the first),
    // twelve parameter tensors updated by one kernel, one loss.
    // Each layer's forward is one matmul_bias_activation; the 11 backward products are plain.
    assert_eq!(count("matmul"), 11, "{d}");
    assert_eq!(count("matmul_bias_activation"), 6, "{d}");
    assert_eq!(count("bias_activation"), 0, "{d}");
    assert_eq!(count("activation_bias_backward"), 6, "{d}");
    // One Adam dispatch for all twelve parameter tensors (made together: zeros_many).
    assert_eq!(count("adam_step"), 1, "{d}");
    assert_eq!(
        (count("add_bias"), count("activation"), count("bias_grad")),
        (0, 0, 0),
        "{d}"
    );
    assert_eq!(d["total"], 27, "{d}");
}

/// The `results[0]` of `ae bench --json` with `args`, or `None` where wgpu was asked for, had
/// no adapter and `AE_REQUIRE_GPU` is unset.
fn bench(args: &[&str]) -> Option<serde_json::Value> {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = ae(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json(&out)["results"][0].clone();
    if let Some(why) = r["skipped"].as_str() {
        assert!(
            std::env::var_os("AE_REQUIRE_GPU").is_none(),
            "AE_REQUIRE_GPU is set but wgpu was skipped: {why}"
        );
        eprintln!("skipped: no wgpu adapter ({why})");
        return None;
    }
    Some(r)
}

/// The profile's row of `kernel`.
fn row<'a>(p: &'a serde_json::Value, kernel: &str) -> &'a serde_json::Value {
    p["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kernel"] == kernel)
        .unwrap_or_else(|| panic!("no {kernel} in {p}"))
}

/// `ae bench --profile` on the wgpu backend times every kernel of a training step: the calls
/// per step add up to the dispatches counted, the matrix products have a rate, the shares sum
/// to one and the kernels' time is that of the rows.
#[test]
fn bench_profiles_the_kernels_of_a_wgpu_training_step() {
    let Some(r) = bench(&[
        "--backend",
        "wgpu",
        "--epochs",
        "1",
        "--rows",
        "1536",
        "--profile",
    ]) else {
        return;
    };
    let p = &r["profile"];
    // 1536 rows at batch 256: six steps, of which steps 3 to 5 (full ones) are profiled.
    assert_eq!(p["steps"], 3, "{p}");
    // lavapipe has timestamp queries; the clock is named either way.
    assert!(p["clock"] == "timestamps" || p["clock"] == "wall", "{p}");
    let kernels = p["kernels"].as_array().unwrap();
    let calls: f64 = kernels
        .iter()
        .map(|k| k["calls_per_step"].as_f64().unwrap())
        .sum();
    assert_eq!(
        calls,
        r["dispatches_per_step"]["total"].as_f64().unwrap(),
        "{p}"
    );
    let mm = row(p, "matmul");
    assert_eq!(mm["calls_per_step"], 11.0, "{p}");
    assert!(mm["gflops"].as_f64().unwrap() > 0.0, "{p}");
    let fused = row(p, "matmul_bias_activation");
    assert_eq!(fused["calls_per_step"], 6.0, "{p}");
    assert!(fused["gflops"].as_f64().unwrap() > 0.0, "{p}");
    assert!(
        mm["peak_fraction"].is_null(),
        "no known peak for a software adapter: {p}"
    );
    assert!(row(p, "adam_step")["gflops"].is_null(), "{p}");
    let share: f64 = kernels.iter().map(|k| k["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-9, "{p}");
    let ms: f64 = kernels
        .iter()
        .map(|k| k["ms_per_step"].as_f64().unwrap())
        .sum();
    let total = p["kernel_ms_per_step"].as_f64().unwrap();
    assert!(
        total > 0.0 && (ms - total).abs() < 1e-9 * total.max(1.0),
        "{p}"
    );
}

/// On the CPU the profile times each op by the wall clock: the products' count and rate, and a
/// row for the optimiser; without `--profile` there is none; too few steps is refused.
#[test]
fn bench_profiles_the_ops_of_a_cpu_training_step() {
    let r = bench(&[
        "--backend",
        "cpu",
        "--epochs",
        "1",
        "--rows",
        "1280",
        "--profile",
    ])
    .expect("the CPU is always there");
    let p = &r["profile"];
    assert_eq!(
        (p["clock"].as_str(), p["steps"].as_u64()),
        (Some("wall"), Some(2)),
        "{p}"
    );
    let mm = row(p, "matmul");
    assert_eq!(mm["calls_per_step"], 17.0, "{p}");
    assert!(mm["gflops"].as_f64().unwrap() > 0.0, "{p}");
    // The CPU backend does not fuse the layer forward: a product, then the bias and activation.
    assert_eq!(row(p, "bias_activation")["calls_per_step"], 6.0, "{p}");
    assert_eq!(row(p, "adam_step")["calls_per_step"], 12.0, "{p}");
    assert!(
        r["dispatches_per_step"].is_null(),
        "the CPU counts no dispatches: {r}"
    );

    let plain = bench(&["--backend", "cpu", "--epochs", "1", "--rows", "1280"]).unwrap();
    assert!(plain["profile"].is_null(), "{plain}");

    let out = ae(&[
        "bench",
        "--backend",
        "cpu",
        "--epochs",
        "1",
        "--rows",
        "512",
        "--profile",
    ]);
    assert_clean_error(&out, &["--profile", "4 steps", "512 rows"]);
}

/// `ae train --profile` profiles the model it trains (here a TopK SAE on the CPU, whose
/// decoder runs through the sparse kernels), and prints the table without --json.
#[test]
fn train_profiles_the_model_it_trains() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    common::write_csv(&data, 600, 16);
    let model = dir.path().join("m");
    let args = |json: bool| {
        let mut a = vec![
            "train",
            data.to_str().unwrap(),
            "--out",
            model.to_str().unwrap(),
            "--layers",
            "16,256",
            "--sparsity",
            "topk:4",
            "--code-products",
            "sparse",
            "--output",
            "identity",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--val-split",
            "0",
            "--backend",
            "cpu",
            "--profile",
        ];
        if json {
            a.push("--json");
        }
        ae(&a)
    };
    let out = args(true);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = json(&out)["profile"].clone();
    // 600 rows at batch 64: ten steps, steps 3 to 9 profiled.
    assert_eq!(
        (p["clock"].as_str(), p["steps"].as_u64()),
        (Some("wall"), Some(7)),
        "{p}"
    );
    assert_eq!(
        row(&p, "sparse_matmul")["calls_per_step"],
        1.0,
        "the decoder: {p}"
    );
    assert_eq!(row(&p, "topk")["calls_per_step"], 1.0, "{p}");
    let text = args(false);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("profile of 7 steps") && text.contains("sparse_matmul"),
        "{text}"
    );
}
