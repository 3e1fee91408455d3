//! The `--json` output of every command: its exact top-level keys and the JSON type of each, so
//! that a renamed, dropped or retyped key fails here before it breaks a script that reads it.

mod common;
use common::{ae, json, mnist, stderr};
use serde_json::Value;
use std::path::Path;

/// The JSON type a key must hold.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Number,
    String,
    Bool,
    Array,
    Object,
    /// A number, or null when there is none (e.g. no validation rows).
    NumberOrNull,
    /// A string, or null.
    StringOrNull,
    /// An object, or null (e.g. what only some backends count).
    ObjectOrNull,
}
use Kind::*;

fn is(kind: Kind, v: &Value) -> bool {
    match kind {
        Number => v.is_number(),
        String => v.is_string(),
        Bool => v.is_boolean(),
        Array => v.is_array(),
        Object => v.is_object(),
        NumberOrNull => v.is_number() || v.is_null(),
        StringOrNull => v.is_string() || v.is_null(),
        ObjectOrNull => v.is_object() || v.is_null(),
    }
}

/// `v` is an object with exactly `keys`, each of its kind.
fn assert_exact(what: &str, v: &Value, keys: &[(&str, Kind)]) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    let mut got: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
    let mut want: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "{what}: keys differ: {v}");
    assert_kinds(what, v, keys);
}

/// `v` has at least `keys`, each of its kind.
fn assert_kinds(what: &str, v: &Value, keys: &[(&str, Kind)]) {
    for &(k, kind) in keys {
        let x = v
            .get(k)
            .unwrap_or_else(|| panic!("{what}: no key {k:?}: {v}"));
        assert!(is(kind, x), "{what}: {k:?} is not {kind:?}: {x}");
    }
}

fn run(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = ae(&all);
    assert!(out.status.success(), "ae {args:?}: {}", stderr(&out));
    json(&out)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const EPOCH: &[(&str, Kind)] = &[
    ("epoch", Number),
    ("train_loss", Number),
    ("val_loss", NumberOrNull),
    ("lr", Number),
    ("seconds", Number),
    ("samples_per_sec", Number),
];

#[test]
fn every_command_prints_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let cpu = ["--backend", "cpu"];
    let with_cpu = |args: &[&str]| -> Value {
        let mut a = args.to_vec();
        a.extend_from_slice(&cpu);
        run(&a)
    };

    let blobs = p("blobs.npy");
    let v = run(&["synth", "blobs", "--n", "300", "--out", s(&blobs)]);
    assert_exact(
        "synth blobs",
        &v,
        &[
            ("kind", String),
            ("rows", Number),
            ("cols", Number),
            ("out", String),
            ("position", String),
            ("labels", String),
        ],
    );
    assert_eq!(v["kind"], "blobs");
    let v = run(&[
        "synth",
        "swiss-roll",
        "--n",
        "50",
        "--out",
        s(&p("roll.npy")),
    ]);
    assert!(v["labels"].is_null(), "{v}");
    let labels = p("blobs.labels.npy");

    // manifold: both codes' numbers, the settings and the figure.
    let v = with_cpu(&[
        "manifold",
        "s-curve",
        "--points",
        "200",
        "--epochs",
        "2",
        "--out",
        s(&p("manifold.svg")),
    ]);
    assert_exact(
        "manifold",
        &v,
        &[
            ("manifold", String),
            ("points", Number),
            ("settings", Object),
            ("pca_unrolling", Number),
            ("pca_trustworthiness", Number),
            ("ae_unrolling", Number),
            ("ae_trustworthiness", Number),
            ("final_train_loss", Number),
            ("train_seconds", Number),
            ("figure", String),
            ("backend", String),
        ],
    );
    assert_eq!(v["settings"]["recipe"]["kind"], "geometry", "{v}");

    // train: the keys every run has; a report and a threshold when asked for.
    let model = p("m");
    let report = p("report");
    let v = with_cpu(&[
        "train",
        s(&blobs),
        "--out",
        s(&model),
        "--layers",
        "8,6,3",
        "--epochs",
        "2",
        "--contamination",
        "0.1",
        "--report",
        s(&report),
    ]);
    let train_keys = [
        ("final_train_loss", Number),
        ("final_val_loss", NumberOrNull),
        ("best_epoch", Number),
        ("stopped_early", Bool),
        ("streamed", Bool),
        ("history", Array),
        ("model_dir", String),
        ("backend", String),
        ("parameters", Number),
        ("anomaly_threshold", NumberOrNull),
        ("report", StringOrNull),
        ("output_activation", String),
        ("output_reason", StringOrNull),
        ("profile", ObjectOrNull),
    ];
    assert_exact("train", &v, &train_keys);
    assert!(v["final_val_loss"].is_number() && v["anomaly_threshold"].is_number());
    assert!(v["report"].as_str().unwrap().ends_with("index.html"), "{v}");
    assert_eq!(v["history"].as_array().unwrap().len(), 2);
    for e in v["history"].as_array().unwrap() {
        assert_exact("train history entry", e, EPOCH);
    }
    let v = with_cpu(&[
        "train",
        s(&blobs),
        "--out",
        s(&p("plain")),
        "--layers",
        "8,3",
        "--epochs",
        "1",
        "--val-split",
        "0",
    ]);
    assert_exact("train, no validation", &v, &train_keys);
    for key in ["final_val_loss", "anomaly_threshold", "report"] {
        assert!(v[key].is_null(), "{key}: {v}");
    }

    // A sparse run adds the code metrics and the resampled count.
    let v = with_cpu(&[
        "train",
        s(&blobs),
        "--out",
        s(&p("sparse")),
        "--layers",
        "8,16",
        "--epochs",
        "2",
        "--sparsity",
        "topk:2:4",
        "--resample-dead",
        "--output",
        "identity",
    ]);
    let mut sparse_keys = train_keys.to_vec();
    sparse_keys.extend([
        ("penalty", Number),
        ("mse", Number),
        ("fvu", Number),
        ("l0", Number),
        ("dead_latents", Number),
        ("mean_activation", Number),
        ("resampled", Number),
    ]);
    assert_exact("train --sparsity topk", &v, &sparse_keys);
    // A Matryoshka run adds each prefix's FVU, at the top and in every epoch of the history.
    let v = with_cpu(&[
        "train",
        s(&blobs),
        "--out",
        s(&p("matryoshka")),
        "--layers",
        "8,16",
        "--epochs",
        "1",
        "--sparsity",
        "batchtopk:2",
        "--matryoshka",
        "4,8",
        "--output",
        "identity",
    ]);
    let mut matryoshka_keys = train_keys.to_vec();
    matryoshka_keys.extend([
        ("mse", Number),
        ("fvu", Number),
        ("l0", Number),
        ("dead_latents", Number),
        ("mean_activation", Number),
        ("prefix_fvu", Array),
    ]);
    assert_exact("train --matryoshka", &v, &matryoshka_keys);
    for prefixes in [&v["prefix_fvu"], &v["history"][0]["prefix_fvu"]] {
        let got: Vec<u64> = prefixes
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                assert_exact("a prefix's FVU", p, &[("prefix", Number), ("fvu", Number)]);
                p["prefix"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(got, vec![4, 8, 16], "{v}");
    }
    let v = with_cpu(&[
        "train",
        s(&blobs),
        "--out",
        s(&p("kl")),
        "--layers",
        "8,16",
        "--epochs",
        "1",
        "--sparsity",
        "kl:0.05:3",
        "--code-activation",
        "sigmoid",
    ]);
    let mut kl_keys = train_keys.to_vec();
    kl_keys.extend([
        ("penalty", Number),
        ("mse", Number),
        ("fvu", Number),
        ("l0", Number),
        ("dead_latents", Number),
        ("mean_activation", Number),
        ("max_abs_rho_error", Number),
    ]);
    assert_exact("train --sparsity kl", &v, &kl_keys);
    // A contractive run adds its term, to the result and to each epoch, and config.json keeps
    // the setting.
    let v = with_cpu(&[
        "train",
        s(&blobs),
        "--out",
        s(&p("cae")),
        "--layers",
        "8,3",
        "--code-activation",
        "sigmoid",
        "--epochs",
        "2",
        "--contractive",
        "0.05",
    ]);
    let mut cae_keys = train_keys.to_vec();
    cae_keys.push(("contractive", Number));
    assert_exact("train --contractive", &v, &cae_keys);
    let mut cae_epoch = EPOCH.to_vec();
    cae_epoch.push(("contractive", Number));
    for e in v["history"].as_array().unwrap() {
        assert_exact("train --contractive history entry", e, &cae_epoch);
        assert!(e["contractive"].as_f64().unwrap() > 0.0, "{e}");
    }
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(p("cae").join("config.json")).unwrap())
            .unwrap();
    assert_exact(
        "config.json contractive",
        &cfg["training"]["settings"]["contractive"],
        &[("lambda", Number)],
    );
    assert_eq!(
        cfg["training"]["settings"]["contractive"]["lambda"],
        0.05f32 as f64
    );
    // A VAE adds its KL to the result and each epoch, config.json its settings; then ae sample.
    let read = |f: std::path::PathBuf| std::fs::read_to_string(f).unwrap();
    let vae = "--layers 8,4,2 --epochs 2 --variational --kl-warmup 1";
    let vae: Vec<&str> = vae.split(' ').collect();
    let v = with_cpu(&[&["train", s(&blobs), "--out", s(&p("vae"))][..], &vae].concat());
    let with_kl = |keys: &[(&'static str, Kind)]| [keys, &[("kl", Number)]].concat();
    assert_exact("train --variational", &v, &with_kl(&train_keys));
    for e in v["history"].as_array().unwrap() {
        assert_exact("train --variational history", e, &with_kl(EPOCH));
    }
    let cfg: Value = serde_json::from_str(&read(p("vae").join("config.json"))).unwrap();
    assert_eq!(cfg["model"]["variational"], true);
    let setting = &cfg["training"]["settings"]["variational"];
    assert_exact(
        "config.json vae",
        setting,
        &[("beta", Number), ("warmup", Number)],
    );
    let v = with_cpu(&[
        "sample",
        s(&p("vae")),
        "--n",
        "5",
        "--out",
        s(&p("samples.npy")),
    ]);
    let sizes = [
        ("samples", Number),
        ("code_dim", Number),
        ("input_dim", Number),
    ];
    let files = [
        ("out", String),
        ("width", NumberOrNull),
        ("height", NumberOrNull),
    ];
    assert_exact("sample", &v, &[&sizes[..], &files].concat());

    // sweep: the summary, and one row per finished run.
    let v = with_cpu(&[
        "sweep",
        s(&blobs),
        "--out",
        s(&p("sweep")),
        "--grid",
        "k=1,2",
        "--layers",
        "8,4",
        "--epochs",
        "1",
        "--output",
        "identity",
    ]);
    assert_exact(
        "sweep",
        &v,
        &[
            ("out", String),
            ("table", String),
            ("csv", String),
            ("report", StringOrNull),
            ("points", Number),
            ("shard", String),
            ("parallel", Number),
            ("threads_per_run", Number),
            ("trained", Array),
            ("skipped", Array),
            ("pareto", Array),
            ("runs", Array),
        ],
    );
    assert_eq!(v["runs"].as_array().unwrap().len(), 2);
    assert_exact(
        "sweep row",
        &v["runs"][0],
        &[
            ("name", String),
            ("dir", String),
            ("values", Object),
            ("split", String),
            ("rows", Number),
            ("code_dim", Number),
            ("l0", Number),
            ("fvu", Number),
            ("mse", Number),
            ("dead_fraction", Number),
            ("dense_fraction", Number),
            ("cosine_similarity", Number),
            ("final_train_loss", Number),
            ("final_val_loss", NumberOrNull),
            ("best_epoch", Number),
            ("seconds", Number),
            ("pareto", Bool),
        ],
    );

    // What config.json records of the run.
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    assert_exact(
        "config.json training",
        &cfg["training"],
        &[
            ("contamination", Number),
            ("settings", Object),
            ("val_split", Number),
            ("train_rows", Number),
            ("val_rows", Number),
            ("best_epoch", Number),
            ("stopped_early", Bool),
            ("streamed", Bool),
            ("history", Array),
        ],
    );
    assert_kinds(
        "config.json training settings",
        &cfg["training"]["settings"],
        &[
            ("epochs", Number),
            ("batch_size", Number),
            ("loss", String),
            ("optimizer", Object),
            ("schedule", Object),
        ],
    );

    let v = with_cpu(&["encode", s(&model), s(&blobs), "--out", s(&p("c.npy"))]);
    assert_exact(
        "encode",
        &v,
        &[
            ("rows", Number),
            ("code_dim", Number),
            ("out", String),
            ("backend", String),
        ],
    );
    let v = with_cpu(&["reconstruct", s(&model), s(&blobs), "--out", s(&p("r.npy"))]);
    assert_exact(
        "reconstruct",
        &v,
        &[
            ("rows", Number),
            ("mse", Number),
            ("out", String),
            ("backend", String),
        ],
    );

    let score_keys = [
        ("rows", Number),
        ("threshold", Number),
        ("threshold_source", String),
        ("predicted_anomalies", Number),
        ("mean_score", Number),
        ("max_score", Number),
        ("backend", String),
    ];
    let v = with_cpu(&["score", s(&model), s(&blobs)]);
    assert_exact("score", &v, &score_keys);
    assert_eq!(v["threshold_source"], "saved with the model");
    let v = with_cpu(&[
        "score",
        s(&model),
        s(&blobs),
        "--labels",
        s(&labels),
        "--report",
        s(&p("score-report")),
    ]);
    let mut labelled = score_keys.to_vec();
    labelled.extend([
        ("roc_auc", Number),
        ("average_precision", Number),
        ("precision", Number),
        ("recall", Number),
        ("f1", Number),
        ("confusion", Object),
        ("note", StringOrNull),
        ("report", String),
    ]);
    assert_exact("score --labels --report", &v, &labelled);
    assert!(v["note"].is_null(), "{v}");
    assert_exact(
        "score confusion",
        &v["confusion"],
        &[
            ("threshold", Number),
            ("tp", Number),
            ("fp", Number),
            ("tn", Number),
            ("fn_", Number),
            ("precision", Number),
            ("recall", Number),
            ("f1", Number),
        ],
    );

    let v = with_cpu(&[
        "compare",
        s(&blobs),
        "--codes",
        "2,3",
        "--layers",
        "8,6",
        "--epochs",
        "1",
    ]);
    assert_exact(
        "compare",
        &v,
        &[
            ("results", Array),
            ("train_rows", Number),
            ("test_rows", Number),
            ("backend", String),
        ],
    );
    for r in v["results"].as_array().unwrap() {
        assert_exact(
            "compare result",
            r,
            &[
                ("code", Number),
                ("ae_test_mse", Number),
                ("pca_test_mse", Number),
                ("ae_final_train_loss", Number),
            ],
        );
    }

    let v = with_cpu(&[
        "oneclass",
        s(&blobs),
        "--labels",
        s(&p("blobs.position.npy")),
        "--layers",
        "8,4,2",
        "--epochs",
        "1",
        "--classes",
        "0,1",
    ]);
    assert_exact(
        "oneclass",
        &v,
        &[
            ("mean_roc_auc_ae", Number),
            ("mean_roc_auc_pca", Number),
            ("per_class", Array),
            ("train_rows", Number),
            ("test_rows", Number),
            ("backend", String),
        ],
    );
    for c in v["per_class"].as_array().unwrap() {
        assert_exact(
            "oneclass class",
            c,
            &[
                ("class", Number),
                ("train_rows", Number),
                ("roc_auc_ae", Number),
                ("roc_auc_pca", Number),
            ],
        );
    }

    let patches = p("patches.npy");
    let v = run(&[
        "patches",
        s(&mnist("images-idx3-ubyte.gz")),
        "--count",
        "40",
        "--out",
        s(&patches),
    ]);
    assert_exact(
        "patches",
        &v,
        &[("rows", Number), ("cols", Number), ("out", String)],
    );
    let square = p("square");
    with_cpu(&[
        "train",
        s(&patches),
        "--out",
        s(&square),
        "--layers",
        "64,4",
        "--epochs",
        "1",
    ]);
    let v = run(&["filters", s(&square), "--out", s(&p("filters.png"))]);
    assert_exact(
        "filters",
        &v,
        &[("units", Number), ("inputs", Number), ("out", String)],
    );

    let v = run(&["devices"]);
    assert_exact("devices", &v, &[("cpu", Object), ("adapters", Array)]);
    assert_exact("devices cpu", &v["cpu"], &[("threads", Number)]);
    for a in v["adapters"].as_array().unwrap() {
        assert_kinds(
            "devices adapter",
            a,
            &[
                ("name", String),
                ("backend", String),
                ("device_type", String),
                ("driver", String),
                ("is_software", Bool),
                ("limits", Object),
                ("features", Array),
            ],
        );
    }

    let v = with_cpu(&["bench", "--epochs", "1", "--rows", "256", "--matmul", "8"]);
    assert_exact("bench", &v, &[("results", Array)]);
    let r = &v["results"][0];
    assert_exact(
        "bench result",
        r,
        &[
            ("backend", String),
            ("samples_per_sec", Number),
            ("epochs_samples_per_sec", Array),
            ("gflops", Number),
            ("rows", Number),
            ("batch_size", Number),
            ("dispatches_per_step", ObjectOrNull),
            ("profile", ObjectOrNull),
            ("matmul", Array),
        ],
    );
    assert_kinds(
        "bench matmul",
        &r["matmul"][0],
        &[("case", String), ("seconds", Number), ("gflops", Number)],
    );

    let v = with_cpu(&["demo", "--epochs", "1", "--out", s(&p("demo"))]);
    assert_exact(
        "demo",
        &v,
        &[
            ("ae_test_mse", Number),
            ("pca_test_mse", Number),
            ("ratio", Number),
            ("code", Number),
            ("epochs", Number),
            ("final_train_loss", Number),
            ("train_seconds", Number),
            ("seconds", Number),
            ("png", String),
            ("anomaly_normal_digit", Number),
            ("anomaly_roc_auc_ae", Number),
            ("anomaly_roc_auc_pca", Number),
            ("model_dir", String),
            ("backend", String),
        ],
    );
}
