//! The `ae` command end to end: train, encode, reconstruct, score, compare, demo.

mod common;
use common::{ae, json, stderr, write_csv};

#[test]
fn train_encode_reconstruct_score_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_csv(&data, 200, 5);
    let model = dir.path().join("m");
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    let out = ae(&[
        "train",
        d,
        "--out",
        m,
        "--layers",
        "5,16,2",
        "--activation",
        "tanh",
        "--output",
        "identity",
        "--normalize",
        "standard",
        "--epochs",
        "40",
        "--batch-size",
        "32",
        "--lr",
        "0.01",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 40);
    let first = history[0]["train_loss"].as_f64().unwrap();
    let last = v["final_train_loss"].as_f64().unwrap();
    assert!(
        last < 0.2 * first,
        "training did not learn: {first} -> {last}"
    );
    assert!(v["final_val_loss"].as_f64().unwrap().is_finite());
    assert!(model.join("model.safetensors").exists() && model.join("config.json").exists());

    let codes = dir.path().join("codes.npy");
    let out = ae(&["encode", m, d, "--out", codes.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = ae_core::data::load_matrix(&codes).unwrap();
    assert_eq!((c.rows, c.cols), (200, 2));

    let recon = dir.path().join("recon.npy");
    let out = ae(&[
        "reconstruct",
        m,
        d,
        "--out",
        recon.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = ae_core::data::load_matrix(&recon).unwrap();
    let x = ae_core::data::load_matrix(&data).unwrap();
    // In the data's own units (the standardisation is undone): close to the input.
    let mse = x.mse(&r).unwrap();
    assert!(mse < 0.01, "reconstruction mse {mse}");
    assert!((json(&out)["mse"].as_f64().unwrap() - mse).abs() < 1e-6);

    let scores = dir.path().join("scores.npy");
    let out = ae(&[
        "score",
        m,
        d,
        "--out",
        scores.to_str().unwrap(),
        "--contamination",
        "0.1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = ae_core::data::load_matrix(&scores).unwrap();
    assert_eq!((s.rows, s.cols), (200, 1));
    assert!(s.data.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert_eq!(json(&out)["predicted_anomalies"], 20);
}

#[test]
fn compare_reports_pca_and_autoencoder_per_code_size() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_csv(&data, 300, 6);
    // In memory (the permutation split), then read a chunk at a time (the row-hash split).
    for stream in [false, true] {
        let mut args = vec![
            "compare",
            data.to_str().unwrap(),
            "--codes",
            "1,3",
            "--layers",
            "6,16",
            "--activation",
            "tanh",
            "--output",
            "identity",
            "--epochs",
            "30",
            "--batch-size",
            "32",
            "--lr",
            "0.01",
            "--json",
        ];
        if stream {
            args.push("--stream");
        }
        let out = ae(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let v = json(&out);
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        for (r, code) in results.iter().zip([1, 3]) {
            assert_eq!(r["code"], code);
            assert!(r["ae_test_mse"].as_f64().unwrap() >= 0.0);
            assert!(r["pca_test_mse"].as_f64().unwrap() >= 0.0);
        }
        let (train, test) = (
            v["train_rows"].as_u64().unwrap(),
            v["test_rows"].as_u64().unwrap(),
        );
        assert_eq!(train + test, 300, "{v}");
        match stream {
            false => assert_eq!(test, 60, "{v}"),
            // About a fifth of the rows, each chosen by its hash.
            true => assert!((35..=85).contains(&test), "{v}"),
        }
        // The curve spans two directions about its mean: three components (or units) are enough.
        assert!(results[1]["pca_test_mse"].as_f64().unwrap() < 1e-9, "{v}");
        assert!(results[1]["ae_test_mse"].as_f64().unwrap() < 1e-3, "{v}");
        // The data is a 1-D curve: a nonlinear 1-unit code beats a 1-component PCA (on this
        // split and seed; the hashed split's run lands in a poorer fold of the closed curve).
        if !stream {
            assert!(
                results[0]["ae_test_mse"].as_f64() < results[0]["pca_test_mse"].as_f64(),
                "{v}"
            );
        }
    }
}

#[test]
fn demo_json_and_picture() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo");
    let out = ae(&[
        "demo",
        "--epochs",
        "2",
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let (ae_mse, pca_mse) = (
        v["ae_test_mse"].as_f64().unwrap(),
        v["pca_test_mse"].as_f64().unwrap(),
    );
    // PCA-32 on these digits: about 0.017; two epochs of the autoencoder are far from converged
    // but well below the variance of the data (about 0.095).
    assert!((0.015..0.02).contains(&pca_mse), "{pca_mse}");
    assert!(ae_mse > 0.0 && ae_mse < 0.06, "{ae_mse}");
    let png = image::open(out_dir.join("reconstructions.png")).unwrap();
    assert_eq!(png.height(), 3 * (56 + 2) + 2);
    assert!(out_dir.join("model/model.safetensors").exists());
}

/// A safetensors file of activations, as SAE users have them: `--tensor` picks one of several;
/// without it the error names the tensors and the flag; on another format it is refused.
#[test]
fn train_and_encode_a_tensor_of_a_safetensors_file() {
    use safetensors::tensor::TensorView;
    let dir = tempfile::tempdir().unwrap();
    let acts: Vec<u8> = (0..200 * 4)
        .flat_map(|i| (((i % 7) as f32) / 7.0).to_le_bytes())
        .collect();
    let other = vec![0u8; 4 * 3];
    let path = dir.path().join("acts.safetensors");
    safetensors::serialize_to_file(
        vec![
            (
                "layer3".to_string(),
                TensorView::new(safetensors::Dtype::F32, vec![200, 4], &acts).unwrap(),
            ),
            (
                "meta".to_string(),
                TensorView::new(safetensors::Dtype::F32, vec![3], &other).unwrap(),
            ),
        ],
        None,
        &path,
    )
    .unwrap();
    let (p, model) = (path.to_str().unwrap(), dir.path().join("m"));
    let m = model.to_str().unwrap();
    let base = [
        "train",
        p,
        "--out",
        m,
        "--layers",
        "4,2",
        "--epochs",
        "2",
        "--backend",
        "cpu",
    ];
    let out = ae(&[&base[..], &["--tensor", "layer3", "--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["final_train_loss"].as_f64().map(f64::is_finite),
        Some(true)
    );
    assert_eq!(json(&out)["streamed"].as_bool(), Some(false));
    // Streamed from the file (a reader thread, a shuffle window, a hashed split): it trains too.
    let out = ae(&[&base[..], &["--tensor", "layer3", "--stream", "--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["streamed"].as_bool(), Some(true));
    let loss = json(&out)["final_train_loss"].as_f64().unwrap();
    assert!(loss.is_finite() && loss > 0.0, "{loss}");
    let out = ae(&base);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--tensor") && err.contains("layer3") && err.contains("meta"),
        "{err}"
    );
    let codes = dir.path().join("codes.npy");
    let c = codes.to_str().unwrap();
    let out = ae(&[
        "encode",
        m,
        p,
        "--tensor",
        "layer3",
        "--out",
        c,
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = ae_core::data::load_matrix(&codes).unwrap();
    assert_eq!((read.rows, read.cols), (200, 2));
    let csv = dir.path().join("x.csv");
    write_csv(&csv, 10, 4);
    let out = ae(&[
        "encode",
        m,
        csv.to_str().unwrap(),
        "--tensor",
        "layer3",
        "--out",
        c,
    ]);
    assert!(
        stderr(&out).contains("safetensors files only"),
        "{}",
        stderr(&out)
    );
}

/// Ctrl-C (SIGINT) stops `ae train` after the current step: it saves the model as it was then,
/// says where it stopped, and exits non-zero (not killed by the signal); the saved model loads.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_training_and_keeps_a_model_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    let data = common::mnist("images-idx3-ubyte.gz");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ae"))
        .args([
            "train",
            data.to_str().unwrap(),
            "--out",
            model.to_str().unwrap(),
        ])
        .args([
            "--epochs",
            "500",
            "--backend",
            "cpu",
            "--layers",
            "784,64,16",
        ])
        .env("NODEVICE_SELECT", "1")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough to be training (the data loads in well under a second), far from done.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted: stopped at epoch"), "{err}");
    assert!(err.contains("saved in"), "{err}");
    let cpu = ae_cpu::CpuBackend::<f32>::new();
    let (m, _) = ae_core::checkpoint::load(&model, &cpu).unwrap();
    assert_eq!(m.config().code_dim(), 16);
}

/// A table as people have one: an id column of strings, a labels column and empty cells. The
/// id is refused at its first cell with the flag that leaves it out; with the flags the model
/// trains, remembers its columns and medians, and scores the same file (labels from its column)
/// and a copy with the columns in another order to the same scores.
#[test]
fn a_table_with_ids_labels_and_gaps_trains_and_scores_by_column_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,a,b,c,label\n");
    let mut moved = String::from("c,label,b,id,a\n");
    for r in 0..300 {
        let t = r as f32 / 300.0;
        let (a, b, c) = if r % 50 == 7 {
            (
                format!("{}", 5.0 - t),
                format!("{}", -4.0),
                format!("{}", 3.0),
            )
        } else {
            (
                format!("{t}"),
                format!("{}", 2.0 * t),
                format!("{}", 1.0 - t),
            )
        };
        // Every 40th row misses its b.
        let b = if r % 40 == 3 { String::new() } else { b };
        let label = (r % 50 == 7) as i32;
        text.push_str(&format!("u{r},{a},{b},{c},{label}\n"));
        moved.push_str(&format!("{c},{label},{b},u{r},{a}\n"));
    }
    let (table, other) = (dir.path().join("t.csv"), dir.path().join("moved.csv"));
    std::fs::write(&table, text).unwrap();
    std::fs::write(&other, moved).unwrap();
    let (t, o) = (table.to_str().unwrap(), other.to_str().unwrap());
    let m = dir.path().join("m");
    let m = m.to_str().unwrap();
    let base = [
        "train",
        t,
        "--out",
        m,
        "--layers",
        "3,2",
        "--output",
        "identity",
        "--normalize",
        "standard",
        "--epochs",
        "30",
        "--backend",
        "cpu",
        "--contamination",
        "0.05",
    ];
    let out = ae(&base);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("line 2, column 1") && err.contains("--drop-columns id"),
        "{err}"
    );
    let flags = ["--drop-columns", "id", "--labels-column", "label"];
    let out = ae(&[&base[..], &flags[..]].concat());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--impute median"), "{}", stderr(&out));
    let out = ae(&[&base[..], &flags[..], &["--impute", "median", "--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["input"]["names"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(config["input"]["fill"].as_array().map(Vec::len), Some(3));
    let score = |data: &str, name: &str| {
        let path = dir.path().join(name);
        let out = ae(&[
            "score",
            m,
            data,
            "--labels-column",
            "label",
            "--out",
            path.to_str().unwrap(),
            "--backend",
            "cpu",
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        (json(&out), ae_core::data::load_matrix(&path).unwrap())
    };
    let (report, scores) = score(t, "s1.npy");
    let (_, moved_scores) = score(o, "s2.npy");
    assert_eq!(scores, moved_scores, "columns found by name, in any order");
    assert_eq!(scores.rows, 300);
    let auc = report["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.9, "the planted rows score highest: ROC AUC {auc}");
    let codes = dir.path().join("codes.npy");
    let out = ae(&[
        "encode",
        m,
        t,
        "--out",
        codes.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = ae_core::data::load_matrix(&codes).unwrap();
    assert_eq!((c.rows, c.cols), (300, 2));
}

/// A run stopped after 2 of 4 epochs and resumed with `--resume --epochs 4` ends as the
/// uninterrupted run does (the same final losses and weights, to the bit on the CPU), also with
/// the state of a TopK code, AuxK and denoising, and a JumpReLU code's trained thresholds;
/// resuming another architecture, other settings or nothing is a clear error.
#[test]
fn a_resumed_run_ends_as_the_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.csv");
    write_csv(&data, 200, 6);
    let d = data.to_str().unwrap();
    let runs: [&[&str]; 3] = [
        &["--layers", "6,4,3"],
        &[
            "--layers",
            "6,12",
            "--sparsity",
            "topk:3:4",
            "--output",
            "identity",
            "--denoise",
            "gauss:0.05",
            "--pre-bias",
        ],
        &[
            "--layers",
            "6,12",
            "--sparsity",
            "jumprelu:1e-3:0.2",
            "--output",
            "identity",
            "--jump-init-threshold",
            "0.3",
        ],
    ];
    for (i, flags) in runs.iter().enumerate() {
        let train = |out: &str, epochs: &str, more: &[&str]| {
            let base = [
                "train",
                d,
                "--out",
                out,
                "--epochs",
                epochs,
                "--backend",
                "cpu",
                "--json",
            ];
            let out = ae(&[&base[..], flags, more].concat());
            assert!(out.status.success(), "{}", stderr(&out));
            json(&out)
        };
        let whole = dir.path().join(format!("whole{i}"));
        let split = dir.path().join(format!("split{i}"));
        let (w, s) = (whole.to_str().unwrap(), split.to_str().unwrap());
        let full = train(w, "4", &[]);
        let half = train(s, "2", &[]);
        assert_eq!(half["history"].as_array().unwrap().len(), 2);
        let resumed = train(s, "4", &["--resume"]);
        assert_eq!(resumed["history"].as_array().unwrap().len(), 4);
        for key in ["final_train_loss", "final_val_loss"] {
            assert_eq!(full[key], resumed[key], "{key} of run {i}");
        }
        let weights = |p: &std::path::Path| {
            let mut w =
                ae_core::checkpoint::read_safetensors(&p.join("model.safetensors")).unwrap();
            w.sort_by(|a, b| a.0.cmp(&b.0));
            w
        };
        assert_eq!(weights(&whole), weights(&split), "the weights of run {i}");
        if i == 2 {
            let w = weights(&whole);
            let logs = &w
                .iter()
                .find(|(n, _)| n == "encoder.1.log_threshold")
                .unwrap()
                .1;
            let moved = logs.data.iter().any(|&l| (l - 0.3f32.ln()).abs() > 1e-4);
            assert!(moved, "the thresholds trained");
        }
    }
    let s = dir.path().join("split0");
    let s = s.to_str().unwrap();
    let err = |more: &[&str]| {
        let out = ae(&[
            &[
                "train",
                d,
                "--out",
                s,
                "--epochs",
                "5",
                "--backend",
                "cpu",
                "--resume",
            ][..],
            more,
        ]
        .concat());
        assert!(!out.status.success());
        stderr(&out)
    };
    assert!(err(&["--layers", "6,5,3"]).contains("another architecture"));
    let e = err(&["--layers", "6,4,3", "--lr", "0.5"]);
    assert!(
        e.contains("other settings") && e.contains("train.optimizer"),
        "{e}"
    );
    let empty = dir.path().join("empty");
    let out = ae(&[
        "train",
        d,
        "--out",
        empty.to_str().unwrap(),
        "--layers",
        "6,4,3",
        "--resume",
    ]);
    assert!(
        stderr(&out).contains("nothing to resume"),
        "{}",
        stderr(&out)
    );
}

/// Parquet files as they come: a table with an id column of strings (refused, naming the flag
/// that leaves it out) trains with `--drop-columns id`, remembers its columns by name, and
/// encodes and scores (labels from their column) the same file; an activation dump of one list
/// column per row trains and encodes, streamed from the file too.
#[test]
fn train_encode_and_score_parquet_files() {
    use common::{write_parquet, write_parquet_lists};
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("x.parquet");
    write_parquet(&table, 300, 4);
    let (x, m) = (table.to_str().unwrap(), dir.path().join("m"));
    let m = m.to_str().unwrap();
    let base = [
        "train",
        x,
        "--out",
        m,
        "--layers",
        "4,2",
        "--output",
        "identity",
        "--normalize",
        "standard",
        "--epochs",
        "5",
        "--backend",
        "cpu",
    ];
    let out = ae(&base);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("x.parquet") && err.contains("(\"id\")") && err.contains("--drop-columns id"),
        "{err}"
    );
    let flags = [
        "--drop-columns",
        "id",
        "--labels-column",
        "label",
        "--contamination",
        "0.1",
        "--json",
    ];
    let out = ae(&[&base[..], &flags[..]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(json(&out)["final_train_loss"].as_f64().unwrap().is_finite());
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m/config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["input"]["names"],
        serde_json::json!(["x0", "x1", "x2", "x3"])
    );
    let codes = dir.path().join("codes.npy");
    let c = codes.to_str().unwrap();
    let out = ae(&["encode", m, x, "--out", c, "--backend", "cpu", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = ae_core::data::load_matrix(&codes).unwrap();
    assert_eq!((read.rows, read.cols), (300, 2));
    assert!(read.data.iter().all(|v| v.is_finite()));
    let scores = dir.path().join("scores.npy");
    let out = ae(&[
        "score",
        m,
        x,
        "--labels-column",
        "label",
        "--out",
        scores.to_str().unwrap(),
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(json(&out)["roc_auc"].as_f64().is_some(), "{}", json(&out));
    // An activation dump: the list column is the row.
    let acts = dir.path().join("acts.parquet");
    write_parquet_lists(&acts, 500, 8);
    let (a, m2) = (acts.to_str().unwrap(), dir.path().join("m2"));
    let m2 = m2.to_str().unwrap();
    for stream in [false, true] {
        let mut args = vec![
            "train",
            a,
            "--out",
            m2,
            "--layers",
            "8,3",
            "--epochs",
            "3",
            "--backend",
            "cpu",
            "--columns",
            "acts",
            "--json",
        ];
        if stream {
            args.push("--stream");
        }
        let out = ae(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(json(&out)["streamed"].as_bool(), Some(stream));
    }
    let out = ae(&["encode", m2, a, "--out", c, "--backend", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = ae_core::data::load_matrix(&codes).unwrap();
    assert_eq!((read.rows, read.cols), (500, 3));
}
