//! `ae sweep` end to end: a 2x2 grid of tiny TopK SAEs on synthetic sparse data, its table,
//! report, rerun, shards and errors.

mod common;
use common::{ae, assert_clean_error, json, sparse_data, stderr};
use serde_json::Value;
use std::path::Path;

/// `ae sweep` of `grid` on `data` into `out` with the tiny base settings and `extra` flags;
/// its JSON.
fn sweep(data: &Path, out: &Path, grid: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "sweep",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--grid",
        grid,
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--lr",
        "0.01",
        "--output",
        "identity",
        "--backend",
        "cpu",
        "--threads",
        "1",
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = ae(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    json(&o)
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

fn data(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("x.npy");
    ae_core::data::save_npy(&path, &sparse_data(600, 8, 3)).unwrap();
    path
}

#[test]
fn a_grid_trains_every_point_and_tables_its_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(dir.path());
    let out = dir.path().join("sweep");
    let v = sweep(&x, &out, "k=2,4 n=8,16", &["--parallel", "2"]);
    let order = ["k2-n8", "k2-n16", "k4-n8", "k4-n16"];
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        order
    );
    assert_eq!(
        (v["points"].as_u64(), v["parallel"].as_u64()),
        (Some(4), Some(2))
    );
    let mut trained = names(&v["trained"]);
    trained.sort_unstable();
    let mut want = order.to_vec();
    want.sort_unstable();
    assert_eq!(trained, want);
    let grid = [(2.0, 8.0), (2.0, 16.0), (4.0, 8.0), (4.0, 16.0)];
    for (r, (k, n)) in runs.iter().zip(grid) {
        assert_eq!(
            (r["values"]["k"].as_f64(), r["values"]["n"].as_f64()),
            (Some(k), Some(n))
        );
        assert_eq!(r["code_dim"].as_f64(), Some(n));
        // Measured on the 10% held out by --val-split's default.
        assert_eq!(
            (r["split"].as_str(), r["rows"].as_u64()),
            (Some("validation"), Some(60))
        );
        let (l0, fvu) = (r["l0"].as_f64().unwrap(), r["fvu"].as_f64().unwrap());
        assert!(fvu > 0.0 && fvu < 1.5, "{r}");
        assert!(l0 > 0.0 && l0 <= k + 1e-9, "{r}");
        let dead = r["dead_fraction"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&dead), "{r}");
        assert!(out
            .join(r["dir"].as_str().unwrap())
            .join("model.safetensors")
            .is_file());
    }
    // The front: exactly the runs no other run matches or beats on L0 and FVU.
    let point = |r: &Value| (r["l0"].as_f64().unwrap(), r["fvu"].as_f64().unwrap());
    for r in runs {
        let (l0, fvu) = point(r);
        let beaten = runs.iter().any(|q| {
            let (a, b) = point(q);
            a <= l0 && b <= fvu && (a < l0 || b < fvu)
        });
        assert_eq!(r["pareto"].as_bool(), Some(!beaten), "{r}");
    }
    let front: Vec<&str> = runs
        .iter()
        .filter(|r| r["pareto"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let mut listed = names(&v["pareto"]);
    listed.sort_unstable();
    let mut front_sorted = front.clone();
    front_sorted.sort_unstable();
    assert_eq!(listed, front_sorted);

    // The files: the same rows in JSON and CSV, and a report with the chart and the table.
    let table: Value =
        serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(&table["runs"], &v["runs"]);
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("name,k,n,split,"), "{}", lines[0]);
    assert!(
        lines[2].starts_with("k2-n16,2,16,validation,60,16,"),
        "{}",
        lines[2]
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("L0 against FVU") && html.contains("pareto.svg"));
    let big_dots = html.matches("r=\"4\"").count();
    assert_eq!(big_dots, front.len(), "one big dot per front run");
    assert_eq!(
        html.matches("<tr><td>k").count(),
        4,
        "one table row per run"
    );
    if let Some(dom) = common::chromium_dom(&out.join("report.html"), &dir.path().join("p")) {
        assert!(
            dom.contains("data-charts-drawn=\"1/1\""),
            "{}",
            &dom[..dom.len().min(400)]
        );
    }

    // Each run is a model directory the other commands read.
    let codes = dir.path().join("codes.npy");
    let model = out.join("run-k2-n16");
    let o = ae(&[
        "encode",
        model.to_str().unwrap(),
        x.to_str().unwrap(),
        "--out",
        codes.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(common::load_npy(codes.to_str().unwrap()).cols, 16);

    // A rerun trains nothing and leaves the models as they were.
    let weights = model.join("model.safetensors");
    let before = std::fs::metadata(&weights).unwrap().modified().unwrap();
    let again = sweep(&x, &out, "k=2,4 n=8,16", &[]);
    assert!(names(&again["trained"]).is_empty(), "{again}");
    assert_eq!(names(&again["skipped"]), order);
    assert_eq!(again["runs"], v["runs"]);
    assert_eq!(
        std::fs::metadata(&weights).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn shards_split_a_sweep_and_a_last_run_collects_it() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(dir.path());
    let out = dir.path().join("sweep");
    let v = sweep(&x, &out, "k=1,2 n=8,16", &["--shard", "1/2"]);
    // Points 1 and 3 of the grid's order.
    assert_eq!(names(&v["trained"]), ["k1-n16", "k2-n16"]);
    assert_eq!(v["shard"], "1/2");
    assert_eq!(v["runs"].as_array().unwrap().len(), 2);
    let all = sweep(&x, &out, "k=1,2 n=8,16", &[]);
    assert_eq!(names(&all["trained"]), ["k1-n8", "k2-n8"]);
    assert_eq!(names(&all["skipped"]), ["k1-n16", "k2-n16"]);
    assert_eq!(all["runs"].as_array().unwrap().len(), 4);
}

#[test]
fn bad_grids_and_points_fail_naming_the_key_or_point() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(dir.path());
    let out = dir.path().join("sweep");
    let run = |grid: &str, extra: &[&str]| {
        let mut args = vec![
            "sweep",
            x.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--grid",
            grid,
            "--backend",
            "cpu",
        ];
        args.extend_from_slice(extra);
        ae(&args)
    };
    assert_clean_error(&run("k=2 width=3", &[]), &["--grid", "unknown key `width`"]);
    assert_clean_error(&run("k=2,x", &[]), &["--grid", "k=x is not a number"]);
    // k above the code width: refused before anything trains, naming the point.
    assert_clean_error(&run("k=4,32", &["--layers", "8,16"]), &["grid point k32"]);
    assert!(!out.join("run-k4").exists());
    assert_clean_error(
        &run("coef=0.1", &["--sparsity", "topk:2"]),
        &["--grid coef"],
    );
    assert_clean_error(&run("k=2", &["--resume"]), &["does not take --resume"]);
}
