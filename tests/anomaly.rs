//! Anomaly detection end to end: thresholds saved at training time, scores measured against
//! labels, the one-class protocol, reports (rendered in headless Chromium where it is
//! installed), synthetic data, and the bad inputs that must be clear errors.

mod common;
use ae_core::trainer::{split, train, TrainEvent};
use ae_core::{
    synth, Activation, Autoencoder, LrSchedule, ModelConfig, OptimizerConfig, Pca, TrainConfig,
};
use ae_cpu::CpuBackend;
use common::{ae, assert_clean_error, json, mnist, stderr};
use std::path::Path;

/// Writes blobs with planted outliers and trains a model with a saved threshold; returns
/// (tempdir, data, labels, model dir).
fn blobs_model() -> (tempfile::TempDir, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("blobs.npy");
    let out = ae(&[
        "synth",
        "blobs",
        "--n",
        "600",
        "--seed",
        "3",
        "--out",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let labels = json(&out)["labels"].as_str().unwrap().to_string();
    let model = dir.path().join("model");
    let out = ae(&[
        "train",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--layers",
        "8,32,3",
        "--activation",
        "tanh",
        "--output",
        "identity",
        "--normalize",
        "standard",
        "--epochs",
        "60",
        "--batch-size",
        "32",
        "--lr",
        "3e-3",
        "--contamination",
        "0.05",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(json(&out)["anomaly_threshold"].as_f64().unwrap() > 0.0);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    (dir, s(&data), labels, s(&model))
}

#[test]
fn scores_with_a_saved_threshold_find_planted_outliers() {
    let (dir, data, labels, model) = blobs_model();
    let scores = dir.path().join("scores.npy");
    let report = dir.path().join("report");
    let out = ae(&[
        "score",
        &model,
        &data,
        "--labels",
        &labels,
        "--out",
        scores.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["threshold_source"], "saved with the model");
    let auc = v["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.9, "ROC AUC {auc}");
    assert!(v["average_precision"].as_f64().unwrap() > 0.5);
    for key in ["precision", "recall", "f1"] {
        assert!((0.0..=1.0).contains(&v[key].as_f64().unwrap()), "{key}");
    }
    assert_eq!(ae_core::data::load_matrix(&scores).unwrap().rows, 600);
    for file in ["index.html", "scores.svg", "roc.svg"] {
        assert!(report.join(file).exists(), "{file}");
    }
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    for chart in ["scores.svg", "roc.svg"] {
        let svg = std::fs::read_to_string(report.join(chart)).unwrap();
        assert!(svg.starts_with("<svg "), "{chart}");
        assert!(html.contains(&svg), "{chart} is not inlined whole");
        assert!(
            html.contains(&format!("<a href=\"{chart}\">")),
            "{chart} is not linked"
        );
    }
    assert!(html.contains(">ROC curve</text>") && html.contains(">threshold "));
    // --contamination on the scored rows flags that fraction of them.
    let out = ae(&["score", &model, &data, "--contamination", "0.1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["predicted_anomalies"], 60);
}

#[test]
fn bad_anomaly_inputs_are_clear_errors() {
    let (dir, data, _labels, model) = blobs_model();
    let short = dir.path().join("short.csv");
    std::fs::write(&short, "0\n1\n0\n").unwrap();
    let check = |args: &[&str], needles: &[&str]| assert_clean_error(&ae(args), needles);
    check(
        &["score", &model, &data, "--labels", short.to_str().unwrap()],
        &["short.csv", "3 labels", "600 rows"],
    );
    check(
        &["score", &model, &data, "--contamination", "0.7"],
        &["(0, 0.5]", "0.7"],
    );
    check(
        &["score", &model, &data, "--contamination", "0"],
        &["(0, 0.5]"],
    );
    check(
        &[
            "train",
            &data,
            "--out",
            "/tmp/never",
            "--layers",
            "8,2",
            "--contamination",
            "0.9",
        ],
        &["(0, 0.5]"],
    );
    // A model trained without --contamination has no threshold to predict with.
    let plain = dir.path().join("plain");
    let out = ae(&[
        "train",
        &data,
        "--out",
        plain.to_str().unwrap(),
        "--layers",
        "8,2",
        "--epochs",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    check(
        &["score", plain.to_str().unwrap(), &data],
        &["config.json", "no anomaly threshold", "--contamination"],
    );
}

#[test]
fn one_class_protocol_reports_per_class_and_means() {
    let out = ae(&[
        "oneclass",
        mnist("images-idx3-ubyte.gz").to_str().unwrap(),
        "--labels",
        mnist("labels-idx1-ubyte.gz").to_str().unwrap(),
        "--classes",
        "0,1",
        "--epochs",
        "5",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let per_class = v["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 2);
    for c in per_class {
        assert!(c["roc_auc_ae"].as_f64().unwrap() > 0.8, "{c}");
        assert!(c["roc_auc_pca"].as_f64().unwrap() > 0.8, "{c}");
    }
    let mean: f64 = per_class
        .iter()
        .map(|c| c["roc_auc_ae"].as_f64().unwrap())
        .sum::<f64>()
        / 2.0;
    assert!((v["mean_roc_auc_ae"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!(v["mean_roc_auc_pca"].as_f64().is_some());
    assert_eq!(v["test_rows"], 2000);
}

/// `ae oneclass --preset anomaly` refuses the flags its ensemble has no use for, as `ae train
/// --preset anomaly` does, instead of ignoring them.
#[test]
fn one_class_preset_refuses_flags_it_would_ignore() {
    let (images, labels) = (mnist("images-idx3-ubyte.gz"), mnist("labels-idx1-ubyte.gz"));
    for (flag, extra) in [
        ("--tied", &[][..]),
        ("--loss", &["bce"][..]),
        ("--optimizer", &["sgd"][..]),
    ] {
        let mut args = vec![
            "oneclass",
            images.to_str().unwrap(),
            "--labels",
            labels.to_str().unwrap(),
            "--preset",
            "anomaly",
            flag,
        ];
        args.extend_from_slice(extra);
        let out = ae(&args);
        assert_clean_error(&out, &["--preset anomaly", flag]);
    }
}

/// On the swiss roll a 2-unit bottleneck reconstructs better than PCA-2.
#[test]
fn swiss_roll_two_unit_code_beats_pca_two() {
    let roll = synth::swiss_roll(1500, 0.05, 1);
    let (mut tr, mut te) = split(&roll.data, 0.2, 0).unwrap();
    let stats = ae_core::data::normalize::NormStats::fit(
        ae_core::data::normalize::Normalization::Standard,
        &tr,
    );
    stats.apply(&mut tr).unwrap();
    stats.apply(&mut te).unwrap();
    let cpu = CpuBackend::<f32>::new();
    let cfg = ModelConfig::mirrored(&[3, 128, 128, 2])
        .unwrap()
        .with_activations(Activation::Gelu, Activation::Identity, Activation::Identity)
        .unwrap();
    let mut m = Autoencoder::new(&cpu, cfg, 0).unwrap();
    let tc = TrainConfig {
        epochs: 150,
        batch_size: 64,
        optimizer: OptimizerConfig {
            lr: 3e-3,
            ..OptimizerConfig::default()
        },
        schedule: LrSchedule::WarmupCosine {
            warmup_steps: 50,
            final_fraction: 0.01,
        },
        ..TrainConfig::default()
    };
    train(&cpu, &mut m, &tr, None, &tc, &[], &mut |_: TrainEvent<
        '_,
        CpuBackend,
    >| Ok(()))
    .unwrap();
    let ae_mse = te.mse(&m.reconstruct(&cpu, &te).unwrap()).unwrap();
    let pca_mse = te
        .mse(&Pca::fit(&tr, 2).unwrap().reconstruct(&te).unwrap())
        .unwrap();
    eprintln!("swiss roll: autoencoder-2 {ae_mse:.4}, PCA-2 {pca_mse:.4}");
    assert!(
        ae_mse < 0.5 * pca_mse,
        "autoencoder {ae_mse} vs PCA {pca_mse}"
    );
}

/// The report's index.html renders in headless Chromium with every picture loaded. Skips (with
/// a reason) where Chromium is not installed, unless AE_REQUIRE_CHROMIUM=1 (as .ci/run sets).
#[test]
fn train_report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("roll.npy");
    let out = ae(&[
        "synth",
        "swiss-roll",
        "--n",
        "400",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = dir.path().join("report");
    let out = ae(&[
        "train",
        data.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
        "--layers",
        "3,16,2",
        "--output",
        "identity",
        "--normalize",
        "standard",
        "--epochs",
        "5",
        "--contamination",
        "0.05",
        "--report",
        report.to_str().unwrap(),
        "--colour-by",
        dir.path().join("roll.position.npy").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for file in ["index.html", "loss.svg", "code.svg", "scores.svg"] {
        assert!(report.join(file).exists(), "{file} missing");
    }
    let profile = dir.path().join("profile");
    let Some(html) = common::chromium_dom(&report.join("index.html"), &profile) else {
        return;
    };
    let count = |ext: &str| {
        std::fs::read_dir(&report)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == ext)
            })
            .count()
    };
    // 3-column data has no image grid: three charts and no PNG.
    let (svgs, pngs) = (count("svg"), count("png"));
    assert_eq!((svgs, pngs), (3, 0));
    let start = &html[..html.len().min(400)];
    let drawn = format!("data-charts-drawn=\"{svgs}/{svgs}\"");
    assert!(html.contains(&drawn), "not every chart drawn: {start}");
    let loaded = format!("data-images-loaded=\"{pngs}/{pngs}\"");
    assert!(html.contains(&loaded), "not every image loaded: {start}");
    // Each standalone chart is well-formed XML: Chromium's XML parser reports no error.
    for chart in ["loss.svg", "code.svg", "scores.svg"] {
        let dom = common::chromium_dom(&report.join(chart), &profile).unwrap();
        assert!(
            dom.contains("<svg") && dom.contains("</text>"),
            "{chart}: {dom}"
        );
        assert!(
            !dom.contains("parsererror"),
            "{chart} does not parse: {dom}"
        );
    }
    let shot = dir.path().join("shot.png");
    let url = format!("file://{}", report.join("index.html").display());
    let out = std::process::Command::new(common::chromium().unwrap())
        .args(common::CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args([
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,900",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&shot).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1200, 900));
}
