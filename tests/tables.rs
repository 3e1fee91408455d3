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

/// Reads `dir/config.json`.
fn config(dir: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(Path::new(dir).join("config.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_anomaly_preset_trains_an_ensemble_that_score_reads_as_one_model() {
    let dir = tempfile::tempdir().unwrap();
    let (table, labels) = write_table(dir.path(), 400, 20);
    let ens = s(&dir.path().join("ens")).to_string();
    let out = ae(&[
        "train",
        &table,
        "--out",
        &ens,
        "--preset",
        "anomaly",
        "--members",
        "3",
        "--epochs",
        "60",
        "--contamination",
        "0.05",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["members"].as_array().unwrap().len(), 3, "{v}");
    assert!(v["anomaly_threshold"].as_f64().is_some());
    // Every choice is in config.json, the flags given in place of the preset's.
    let c = config(&ens);
    assert_eq!(c["format"], "ae-ensemble");
    let recipe = &c["recipe"];
    assert_eq!(
        (recipe["members"].as_u64(), recipe["epochs"].as_u64()),
        (Some(3), Some(60))
    );
    assert_eq!(recipe["normalization"], "standard");
    for key in [
        "feature_fraction",
        "hidden_ratio",
        "max_hidden",
        "patience",
        "val_split",
        "lr",
        "weight_decay",
        "batch_size",
    ] {
        assert!(!recipe[key].is_null(), "{key}: {recipe}");
    }
    // The members are built as the recipe says: tanh hidden layers, identity output.
    let member = config(&format!("{ens}/member-0"));
    let acts = member["model"]["activations"].as_array().unwrap();
    assert_eq!(
        (&acts[0], acts.last().unwrap()),
        (&serde_json::json!("tanh"), &serde_json::json!("identity"))
    );
    assert_eq!(recipe["activation"], "tanh");
    for m in c["members"].as_array().unwrap() {
        let layers: Vec<u64> = m["plan"]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_u64().unwrap())
            .collect();
        assert!(layers.last() < layers.first(), "{layers:?}");
        let member = Path::new(&ens).join(m["dir"].as_str().unwrap());
        assert!(member.join("model.safetensors").exists());
    }
    // The constant column divides by nothing: every score is finite, the outliers rank high.
    let scores = dir.path().join("scores.npy");
    let out = ae(&[
        "score",
        &ens,
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
    assert_eq!(v["threshold_source"], "saved with the model");
    let auc = v["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.8, "ROC AUC {auc}");
    assert!(load_npy(s(&scores)).data.iter().all(|x| x.is_finite()));
    // --normalize replaces the preset's choice.
    let std_ens = s(&dir.path().join("std")).to_string();
    let out = ae(&[
        "train",
        &table,
        "--out",
        &std_ens,
        "--preset",
        "anomaly",
        "--members",
        "1",
        "--epochs",
        "2",
        "--normalize",
        "standard",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(config(&std_ens)["recipe"]["normalization"], "standard");
    // What an ensemble is not: one model to encode, a source of per-feature errors.
    let out = ae(&[
        "encode",
        &ens,
        &table,
        "--out",
        s(&dir.path().join("c.npy")),
        "--backend",
        "cpu",
    ]);
    assert_clean_error(&out, &["ensemble", "member-0"]);
    let out = ae(&[
        "score",
        &ens,
        &table,
        "--per-feature",
        s(&dir.path().join("f.npy")),
        "--backend",
        "cpu",
    ]);
    assert_clean_error(&out, &["--per-feature", "ensemble"]);
    let out = ae(&[
        "train",
        &table,
        "--out",
        &m_dir(dir.path()),
        "--preset",
        "anomaly",
        "--sparsity",
        "topk:1",
    ]);
    assert_clean_error(&out, &["--preset anomaly", "--sparsity"]);
}

#[test]
fn the_anomaly_preset_takes_the_image_recipe_for_wide_data_in_the_unit_range() {
    let dir = tempfile::tempdir().unwrap();
    let cols = 100;
    let mut csv = (0..cols)
        .map(|c| format!("p{c}"))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for i in 0..60 {
        let row: Vec<String> = (0..cols)
            .map(|c| format!("{:.3}", ((i * 7 + c * 3) % 11) as f64 / 10.0))
            .collect();
        csv.push_str(&(row.join(",") + "\n"));
    }
    let pixels = dir.path().join("pixels.csv");
    std::fs::write(&pixels, csv).unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out_dir = s(&dir.path().join(name)).to_string();
        let mut args = vec![
            "train",
            s(&pixels),
            "--out",
            &out_dir,
            "--preset",
            "anomaly",
            "--epochs",
            "2",
            "--backend",
            "cpu",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = ae(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        (json(&out), config(&out_dir)["recipe"].clone())
    };
    let (v, recipe) = run("images", &[]);
    assert_eq!(v["members"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(
        recipe["layers"],
        serde_json::json!([100, 100, 10]),
        "{recipe}"
    );
    assert_eq!(
        (
            &recipe["normalization"],
            &recipe["output"],
            &recipe["activation"]
        ),
        (
            &serde_json::json!("none"),
            &serde_json::json!("sigmoid"),
            &serde_json::json!("relu")
        ),
        "{recipe}"
    );
    assert!(
        v["recipe"].as_str().unwrap().contains("sigmoid output"),
        "{v}"
    );
    // Flags still replace the recipe's choices.
    let (v, recipe) = run(
        "flags",
        &[
            "--members",
            "2",
            "--output",
            "identity",
            "--layers",
            "100,20,4",
        ],
    );
    assert_eq!(v["members"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(recipe["output"], "identity", "{recipe}");
    assert_eq!(
        recipe["layers"],
        serde_json::json!([100, 20, 4]),
        "{recipe}"
    );
}

fn m_dir(p: &Path) -> String {
    s(&p.join("never")).to_string()
}

#[test]
fn compare_detectors_measures_every_detector_on_the_same_test_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (table, _) = write_table(dir.path(), 500, 25);
    // Train on the first 300 rows (their outliers unlabelled), test on the last 200.
    let text = std::fs::read_to_string(&table).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (train, test, labels) = (
        dir.path().join("train.csv"),
        dir.path().join("test.csv"),
        dir.path().join("test-labels.csv"),
    );
    std::fs::write(
        &train,
        format!("{}\n{}\n", lines[0], lines[1..301].join("\n")),
    )
    .unwrap();
    std::fs::write(
        &test,
        format!("{}\n{}\n", lines[0], lines[301..].join("\n")),
    )
    .unwrap();
    let flags: Vec<bool> = (300..500).map(|i| i % 25 == 0).collect();
    std::fs::write(
        &labels,
        flags
            .iter()
            .map(|&f| if f { "1\n" } else { "0\n" })
            .collect::<String>(),
    )
    .unwrap();
    let out_dir = dir.path().join("det");
    let out = ae(&[
        "compare-detectors",
        s(&train),
        s(&test),
        "--labels",
        s(&labels),
        "--out",
        s(&out_dir),
        "--members",
        "3",
        "--knn-k",
        "3",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(
        (
            v["train_rows"].as_u64(),
            v["test_rows"].as_u64(),
            v["test_anomalies"].as_u64()
        ),
        (Some(300), Some(200), Some(8))
    );
    let results = v["results"].as_array().unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["detector"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "preset (3 members)",
            "autoencoder",
            "pca-recon k=2",
            "pca-spectrum",
            "knn k=3"
        ]
    );
    for r in results {
        for key in ["roc_auc", "average_precision"] {
            let x = r[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&x), "{r}");
        }
    }
    // The outliers lie off the curve the normal rows trace: far from every training row.
    assert!(results[4]["roc_auc"].as_f64().unwrap() > 0.95, "{v}");
    // The autoencoders are saved, and `ae score` gives the same ROC AUC on the same rows.
    for (i, name) in [(0, "preset"), (1, "autoencoder")] {
        let out = ae(&[
            "score",
            s(&out_dir.join(name)),
            s(&test),
            "--labels",
            s(&labels),
            "--backend",
            "cpu",
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let got = json(&out)["roc_auc"].as_f64().unwrap();
        let want = results[i]["roc_auc"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{name}: {got} vs {want}");
    }
    // Without labels it has nothing to measure.
    let out = ae(&[
        "compare-detectors",
        s(&train),
        s(&test),
        "--out",
        s(&out_dir),
        "--backend",
        "cpu",
    ]);
    assert_clean_error(&out, &["no labels", "--labels"]);
}

#[test]
fn a_column_of_nan_or_of_nothing_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let nan = dir.path().join("nan.csv");
    let rows: String = (0..20).map(|i| format!("{i},nan,{}\n", i * 2)).collect();
    std::fs::write(&nan, format!("a,b,c\n{rows}")).unwrap();
    let out = ae(&[
        "train",
        s(&nan),
        "--out",
        &m_dir(dir.path()),
        "--preset",
        "anomaly",
        "--backend",
        "cpu",
    ]);
    assert_clean_error(&out, &["nan.csv", "column 2", "NaN"]);
    let empty = dir.path().join("empty.csv");
    let rows: String = (0..20).map(|i| format!("{i},,{}\n", i * 2)).collect();
    std::fs::write(&empty, format!("a,b,c\n{rows}")).unwrap();
    let out = ae(&[
        "train",
        s(&empty),
        "--out",
        &m_dir(dir.path()),
        "--preset",
        "anomaly",
        "--impute",
        "median",
        "--backend",
        "cpu",
    ]);
    assert_clean_error(
        &out,
        &["empty.csv", "column 2 (\"b\")", "every cell is empty"],
    );
}
