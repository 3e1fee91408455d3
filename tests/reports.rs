//! The charts of the reports, read back from their SVG: the feature density of a sparse
//! training run, and compare-detectors' histograms, ROC and precision-recall curves and
//! per-feature errors (rendered in headless Chromium where it is installed).

mod common;
use common::{ae, json, sparse_data, stderr};
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `<polyline` elements of the SVG file `path`: one per line series or histogram group.
fn polylines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| l.starts_with("<polyline "))
        .map(str::to_string)
        .collect()
}

/// The points of a `<polyline`.
fn points(polyline: &str) -> usize {
    let start = polyline.find("points=\"").unwrap() + 8;
    let end = start + polyline[start..].find('"').unwrap();
    polyline[start..end].split(' ').count()
}

#[test]
fn a_sparse_training_report_shows_each_latents_firing_frequency() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    ae_core::data::save_npy(&x, &sparse_data(300, 8, 1)).unwrap();
    let report = dir.path().join("report");
    let model = dir.path().join("m");
    let train = |sparse: bool, report: &Path| {
        let mut args = vec![
            "train",
            s(&x),
            "--out",
            s(&model),
            "--layers",
            "8,32",
            "--epochs",
            "1",
            "--output",
            "identity",
            "--backend",
            "cpu",
            "--report",
            s(report),
        ];
        if sparse {
            args.extend(["--sparsity", "topk:3"]);
        }
        let o = ae(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    train(true, &report);
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("Feature density") && html.contains("density.svg"));
    // One group: the 32 latents.
    let lines = polylines(&report.join("density.svg"));
    assert_eq!(lines.len(), 1);
    // The outline: a start and an end, and two corners per bin of 40.
    assert_eq!(points(&lines[0]), 2 + 2 * 40);
    // A dense code has no density chart, and a code without prefixes no prefix chart.
    let dense = dir.path().join("dense");
    train(false, &dense);
    assert!(!dense.join("density.svg").exists());
    assert!(!report.join("prefix-fvu.svg").exists() && !dense.join("prefix-fvu.svg").exists());
}

/// A Matryoshka run's report charts each prefix's FVU per epoch and gives the last epoch's.
#[test]
fn a_matryoshka_training_report_charts_each_prefix_fvu() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    ae_core::data::save_npy(&x, &sparse_data(300, 8, 2)).unwrap();
    let report = dir.path().join("report");
    let out = ae(&[
        "train",
        s(&x),
        "--out",
        s(&dir.path().join("m")),
        "--layers",
        "8,32",
        "--sparsity",
        "topk:4",
        "--matryoshka",
        "8,16",
        "--epochs",
        "3",
        "--output",
        "identity",
        "--backend",
        "cpu",
        "--report",
        s(&report),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    // One line per prefix (8, 16 and the whole code, 32), one point per epoch.
    let lines = polylines(&report.join("prefix-fvu.svg"));
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| points(l) == 3), "{lines:?}");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    let last = v["history"].as_array().unwrap().last().unwrap()["prefix_fvu"].clone();
    assert_eq!(last.as_array().map(Vec::len), Some(3), "{last}");
    for p in last.as_array().unwrap() {
        let line = format!(
            "final FVU of the first {} units",
            p["prefix"].as_u64().unwrap()
        );
        assert!(html.contains(&line), "{line}");
        assert!(html.contains(&format!("{:.4}", p["fvu"].as_f64().unwrap())));
    }
}

#[test]
fn the_detectors_report_charts_every_detector() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs.npy");
    let o = ae(&["synth", "blobs", "--n", "300", "--out", s(&blobs), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cols = json(&o)["cols"].as_u64().unwrap() as usize;
    let report = dir.path().join("report");
    let o = ae(&[
        "compare-detectors",
        s(&blobs),
        s(&blobs),
        "--labels",
        s(&dir.path().join("blobs.labels.npy")),
        "--out",
        s(&dir.path().join("det")),
        "--members",
        "2",
        "--report",
        s(&report),
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert!(v["report"].as_str().unwrap().ends_with("index.html"), "{v}");
    let detectors = v["results"].as_array().unwrap().len();
    assert_eq!(detectors, 5);
    // ROC and precision-recall: one curve per detector, each from its first point to its last.
    for chart in ["roc.svg", "pr.svg"] {
        let lines = polylines(&report.join(chart));
        assert_eq!(lines.len(), detectors, "{chart}");
        assert!(lines.iter().all(|l| points(l) >= 2), "{chart}");
    }
    // A histogram per detector, normal against anomalous rows.
    for i in 1..=detectors {
        assert_eq!(polylines(&report.join(format!("scores-{i}.svg"))).len(), 2);
    }
    // The top 5 anomalies, a point per input column each.
    let lines = polylines(&report.join("contributions.svg"));
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| points(l) == cols), "{lines:?}");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    for name in ["roc.svg", "pr.svg", "scores-1.svg", "contributions.svg"] {
        assert!(html.contains(&format!("<a href=\"{name}\">")), "{name}");
    }
    let charts = 3 + detectors;
    let Some(dom) = common::chromium_dom(&report.join("index.html"), &dir.path().join("p")) else {
        return;
    };
    let drawn = format!("data-charts-drawn=\"{charts}/{charts}\"");
    assert!(dom.contains(&drawn), "{}", &dom[..dom.len().min(400)]);
}

/// `ae score --report` shows where the top anomalies' errors come from: a table naming each
/// row's largest columns by their header names, and a chart of every column's error; for one
/// model and for an ensemble.
#[test]
fn the_score_report_names_the_columns_of_the_top_anomalies() {
    let dir = tempfile::tempdir().unwrap();
    // Four columns on a line through the origin (a 1-wide code fits them) and `d`, noise the
    // others do not predict. The model trains on such rows; of the scored ones, row 58
    // (counted from 1) is far out in column `d` alone.
    let write = |path: &Path, planted: Option<usize>| {
        let mut text = String::from("a,b,c,d,e\n");
        let mut rng = ae_core::rng::Rng::new(5);
        for r in 0..200 {
            let t = rng.uniform_in(-1.0, 1.0);
            let mut row: Vec<f64> = [1.0, -0.5, 0.8, 0.0, -1.2]
                .iter()
                .map(|w| w * t + 0.01 * rng.uniform_in(-1.0, 1.0))
                .collect();
            row[3] = 0.5 * rng.uniform_in(-1.0, 1.0);
            if planted == Some(r) {
                row[3] = 2.0;
            }
            let cells: Vec<String> = row.iter().map(|v| format!("{v:.5}")).collect();
            text.push_str(&(cells.join(",") + "\n"));
        }
        std::fs::write(path, text).unwrap();
    };
    let (csv, test) = (dir.path().join("t.csv"), dir.path().join("test.csv"));
    write(&csv, None);
    write(&test, Some(57));
    let cases: [(&str, &[&str]); 2] = [
        (
            "one",
            &[
                "--layers",
                "5,8,1",
                "--normalize",
                "standard",
                "--epochs",
                "100",
                "--batch-size",
                "16",
                "--lr",
                "3e-3",
            ],
        ),
        ("ensemble", &["--preset", "anomaly", "--members", "2"]),
    ];
    for (name, flags) in cases {
        let model = dir.path().join(name);
        let mut args = vec!["train", s(&csv), "--out", s(&model), "--backend", "cpu"];
        args.extend(flags);
        let o = ae(&args);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let report = dir.path().join(format!("{name}-report"));
        let o = ae(&[
            "score",
            s(&model),
            s(&test),
            "--contamination",
            "0.05",
            "--report",
            s(&report),
            "--backend",
            "cpu",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let html = std::fs::read_to_string(report.join("index.html")).unwrap();
        // The table's first row: row 58, its error mostly column d's.
        let first = html
            .lines()
            .find(|l| l.contains("<tr><td>"))
            .unwrap_or_else(|| panic!("{name}: no table in {html}"));
        assert!(first.starts_with("<tr><td>58</td>"), "{name}: {first}");
        let largest = first.rsplit("<td>").next().unwrap();
        assert!(largest.starts_with("d ("), "{name}: {first}");
        let share: f64 = largest[3..largest.find('%').unwrap()].parse().unwrap();
        assert!(share > 50.0, "{name}: {first}");
        // Five rows, one line each over the five columns.
        let lines = polylines(&report.join("contributions.svg"));
        assert_eq!(lines.len(), 5, "{name}");
        assert!(lines.iter().all(|l| points(l) == 5), "{name}: {lines:?}");
    }
}
