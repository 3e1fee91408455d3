//! Anomaly detection on tables, end to end: the output activation chosen from the data, scores
//! and rank measures without a threshold, and the bad inputs of tables (labels of one class).

mod common;
use common::{ae, assert_clean_error, json, load_npy, stderr};
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A CSV table of `rows` rows and 4 columns on a wide scale (one of them constant), each row
/// `i` with `i % every == 0` an outlier; writes the labels (1 = outlier) beside it. Returns
/// (table, labels).
fn write_table(dir: &Path, rows: usize, every: usize) -> (String, String) {
    let (mut table, mut labels) = (String::from("a,b,c,d\n"), String::new());
    for i in 0..rows {
        let t = i as f64 * 0.61;
        let outlier = i % every == 0;
        let (a, b) = (10.0 * t.sin(), 10.0 * t.sin() + 3.0 * t.cos());
        let b = if outlier { -b } else { b };
        table.push_str(&format!("{a:.4},{b:.4},7,{:.4}\n", 100.0 + a * 5.0));
        labels.push_str(if outlier { "1\n" } else { "0\n" });
    }
    let (tp, lp) = (dir.join("table.csv"), dir.join("labels.csv"));
    std::fs::write(&tp, table).unwrap();
    std::fs::write(&lp, labels).unwrap();
    (s(&tp).to_string(), s(&lp).to_string())
}

fn train(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["train"];
    all.extend_from_slice(args);
    all.extend(["--epochs", "3", "--backend", "cpu", "--json"]);
    let out = ae(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out)
}

#[test]
fn the_output_activation_defaults_to_what_the_normalised_data_allows() {
    let dir = tempfile::tempdir().unwrap();
    let (table, _) = write_table(dir.path(), 200, 20);
    let m = |name: &str| s(&dir.path().join(name)).to_string();
    // Standardised (or raw) values outside [0, 1]: identity, and the run says why.
    for normalize in ["standard", "none"] {
        let v = train(&[
            &table,
            "--out",
            &m(normalize),
            "--layers",
            "4,2",
            "--normalize",
            normalize,
        ]);
        assert_eq!(v["output_activation"], "identity", "{v}");
        let why = v["output_reason"].as_str().unwrap();
        assert!(why.contains("outside [0, 1]"), "{why}");
        let config =
            std::fs::read_to_string(dir.path().join(normalize).join("config.json")).unwrap();
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        assert_eq!(
            config["model"]["activations"]
                .as_array()
                .unwrap()
                .last()
                .unwrap(),
            "identity"
        );
    }
    // Min-max scaled into [0, 1]: sigmoid.
    let v = train(&[
        &table,
        "--out",
        &m("minmax"),
        "--layers",
        "4,2",
        "--normalize",
        "minmax",
    ]);
    assert_eq!(v["output_activation"], "sigmoid", "{v}");
    assert!(v["output_reason"]
        .as_str()
        .unwrap()
        .contains("lie in [0, 1]"));
    // A flag decides alone, and says nothing.
    let v = train(&[
        &table,
        "--out",
        &m("given"),
        "--layers",
        "4,2",
        "--output",
        "sigmoid",
    ]);
    assert_eq!(v["output_activation"], "sigmoid", "{v}");
    assert!(v["output_reason"].is_null());
    // The text output names it too.
    let out = ae(&[
        "train",
        &table,
        "--out",
        &m("text"),
        "--layers",
        "4,2",
        "--epochs",
        "1",
        "--normalize",
        "standard",
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("output activation identity: "), "{text}");
}

#[test]
fn a_model_without_a_threshold_scores_and_ranks_against_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (table, labels) = write_table(dir.path(), 300, 15);
    let model = s(&dir.path().join("m")).to_string();
    train(&[
        &table,
        "--out",
        &model,
        "--layers",
        "4,3,1",
        "--normalize",
        "standard",
    ]);
    let scores = dir.path().join("scores.npy");
    let out = ae(&[
        "score",
        &model,
        &table,
        "--labels",
        &labels,
        "--out",
        s(&scores),
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let (auc, ap) = (
        v["roc_auc"].as_f64().unwrap(),
        v["average_precision"].as_f64().unwrap(),
    );
    assert!(
        (0.0..=1.0).contains(&auc) && (0.0..=1.0).contains(&ap),
        "{v}"
    );
    for key in [
        "threshold",
        "predicted_anomalies",
        "precision",
        "recall",
        "f1",
        "confusion",
    ] {
        assert!(v[key].is_null(), "{key}: {v}");
    }
    assert_eq!(v["threshold_source"], "none");
    assert!(v["note"].as_str().unwrap().contains("no threshold"), "{v}");
    let written = load_npy(s(&scores));
    assert_eq!(written.rows * written.cols, 300);
    // The ROC AUC is that of the scores written, against the labels.
    let flags: Vec<bool> = (0..300).map(|i| i % 15 == 0).collect();
    let from_file: Vec<f64> = written.data.iter().map(|&x| x as f64).collect();
    let want = ae_core::metrics::roc_auc(&from_file, &flags).unwrap();
    assert!((auc - want).abs() < 1e-6, "{auc} vs {want}");
    // Text: the measures, and why there are no predictions.
    let out = ae(&[
        "score",
        &model,
        &table,
        "--labels",
        &labels,
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ROC AUC") && text.contains("no threshold, so no predictions"),
        "{text}"
    );
    // Predictions do need a threshold, and so does a run that would only flag rows.
    let preds = dir.path().join("p.npy");
    let out = ae(&[
        "score",
        &model,
        &table,
        "--predictions",
        s(&preds),
        "--backend",
        "cpu",
    ]);
    assert_clean_error(
        &out,
        &["--predictions needs a threshold", "--contamination"],
    );
    assert!(!preds.exists());
    let out = ae(&["score", &model, &table, "--backend", "cpu"]);
    assert_clean_error(&out, &["needs a threshold", "--threshold"]);
}

#[test]
fn labels_of_one_class_leave_the_auc_undefined_and_still_write_the_scores() {
    let dir = tempfile::tempdir().unwrap();
    let (table, _) = write_table(dir.path(), 120, 1000);
    let model = s(&dir.path().join("m")).to_string();
    train(&[
        &table,
        "--out",
        &model,
        "--layers",
        "4,2",
        "--normalize",
        "standard",
    ]);
    let ones = dir.path().join("all-normal.csv");
    std::fs::write(&ones, "0\n".repeat(120)).unwrap();
    let scores = dir.path().join("scores.npy");
    let out = ae(&[
        "score",
        &model,
        &table,
        "--labels",
        s(&ones),
        "--out",
        s(&scores),
        "--contamination",
        "0.1",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert!(
        v["roc_auc"].is_null() && v["average_precision"].is_null(),
        "{v}"
    );
    let note = v["note"].as_str().unwrap();
    assert!(
        note.contains("all one class") && note.contains("0 anomalies among 120"),
        "{note}"
    );
    // With a threshold, the counts are still there: every flagged row is a false positive.
    assert_eq!(v["confusion"]["tp"], 0);
    assert_eq!(v["predicted_anomalies"], v["confusion"]["fp"]);
    assert_eq!(load_npy(s(&scores)).data.len(), 120);
}
