//! Bad input gets one clear error line naming the file and the place, a non-zero exit, and no
//! panic.

mod common;
use common::{ae, assert_clean_error, load_npy, stderr, write_csv};

#[test]
fn csv_with_non_numeric_cell() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.csv");
    std::fs::write(&p, "a,b\n1,2\n3,x\n").unwrap();
    let out = ae(&[
        "train",
        p.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
        "--layers",
        "2,1",
    ]);
    assert_clean_error(&out, &["bad.csv", "line 3, column 2", "\"x\""]);
}

#[test]
fn truncated_idx() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut-ubyte");
    // IDX3 header for [10, 2, 2] u8, then only 7 of the 40 data bytes.
    let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 2, 0, 0, 0, 2];
    bytes.extend_from_slice(&[1; 7]);
    std::fs::write(&p, bytes).unwrap();
    let out = ae(&[
        "train",
        p.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
    ]);
    assert_clean_error(&out, &["cut-ubyte", "40", "7"]);
}

#[test]
fn npy_of_unsupported_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("complex.npy");
    let header = "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }";
    let mut h = header.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(h.len() as u16).to_le_bytes());
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(&[0u8; 32]);
    std::fs::write(&p, bytes).unwrap();
    let out = ae(&[
        "train",
        p.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
    ]);
    assert_clean_error(&out, &["complex.npy", "<c8"]);
}

#[test]
fn nan_and_infinity_in_data() {
    let dir = tempfile::tempdir().unwrap();
    for (name, cell) in [("nan.csv", "nan"), ("inf.csv", "inf")] {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("1,2\n3,4\n5,{cell}\n")).unwrap();
        let out = ae(&[
            "train",
            p.to_str().unwrap(),
            "--out",
            dir.path().join("m").to_str().unwrap(),
            "--layers",
            "2,1",
        ]);
        assert_clean_error(&out, &[name, "line 3, column 2", "finite"]);
    }
}

/// Trains a tiny model on a 4-column CSV and returns (tempdir, data path, model dir).
fn tiny_model() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_csv(&data, 64, 4);
    let model = dir.path().join("model");
    let out = ae(&[
        "train",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--layers",
        "4,3,2",
        "--epochs",
        "2",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    (dir, data, model)
}

#[test]
fn model_whose_weights_do_not_match_its_config() {
    let (_dir, data, model) = tiny_model();
    let cfg_path = model.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    let mut cfg: serde_json::Value = serde_json::from_str(&text).unwrap();
    cfg["model"]["encoder"] = serde_json::json!([5, 2]);
    cfg["model"]["decoder"] = serde_json::json!([5]);
    std::fs::write(&cfg_path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let out = ae(&[
        "encode",
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        "--out",
        "/dev/null",
    ]);
    assert_clean_error(
        &out,
        &["model.safetensors", "encoder.0.weight", "[3, 4]", "[5, 4]"],
    );
}

#[test]
fn data_wider_than_the_model_input() {
    let (dir, _data, model) = tiny_model();
    let wide = dir.path().join("wide.csv");
    write_csv(&wide, 8, 6);
    let out = ae(&[
        "score",
        model.to_str().unwrap(),
        wide.to_str().unwrap(),
        "--out",
        dir.path().join("s.npy").to_str().unwrap(),
    ]);
    assert_clean_error(&out, &["wide.csv", "6 columns", "4 inputs"]);
}

#[test]
fn unknown_layers_and_activation_values() {
    let data = common::mnist("images-idx3-ubyte.gz");
    let d = data.to_str().unwrap();
    let out = ae(&["train", d, "--out", "/tmp/never", "--layers", "784,abc,32"]);
    assert_clean_error(&out, &["--layers", "abc"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ae(&["train", d, "--out", "/tmp/never", "--activation", "swish"]);
    assert_clean_error(&out, &["--activation", "swish"]);
    let out = ae(&["train", d, "--out", "/tmp/never", "--layers", "100,32"]);
    assert_clean_error(&out, &["784 columns", "--layers starts with 100"]);
}

/// `--matryoshka` takes ascending prefix sizes up to the code width, with a TopK code; each
/// mistake is one error naming the flag and what it expected.
#[test]
fn bad_matryoshka_prefixes() {
    let data = common::mnist("images-idx3-ubyte.gz");
    let d = data.to_str().unwrap();
    let run = |sparsity: &[&str], prefixes: &str| {
        let mut args = vec!["train", d, "--out", "/tmp/never", "--layers", "784,64"];
        args.extend(sparsity);
        args.extend(["--matryoshka", prefixes, "--epochs", "1"]);
        ae(&args)
    };
    let topk = ["--sparsity", "topk:4"];
    for (prefixes, says) in [
        ("16,8", "ascending"),
        ("8,8", "ascending"),
        ("0,8", "ascending"),
        ("8,65", "up to the code width 64"),
    ] {
        assert_clean_error(&run(&topk, prefixes), &["--matryoshka", says]);
    }
    let out = run(&topk, "8,x");
    assert_clean_error(&out, &["--matryoshka", "x"]);
    assert_eq!(out.status.code(), Some(2));
    for sparsity in [&[][..], &["--sparsity", "l1:0.1"]] {
        let out = run(sparsity, "8,16");
        assert_clean_error(&out, &["--matryoshka", "topk:K or batchtopk:K"]);
    }
    let out = run(&["--sparsity", "jumprelu:0.1"], "8");
    assert_clean_error(&out, &["--matryoshka", "TopK code"]);
}

#[test]
fn missing_file_and_unknown_adapter() {
    let out = ae(&["train", "/no/such/file.csv", "--out", "/tmp/never"]);
    assert_clean_error(&out, &["/no/such/file.csv"]);
    let data = common::mnist("images-idx3-ubyte.gz");
    let out = ae(&[
        "train",
        data.to_str().unwrap(),
        "--out",
        "/tmp/never",
        "--backend",
        "wgpu",
        "--adapter",
        "no-such-gpu",
    ]);
    // With no adapter at all the error says so; with adapters, it names the one asked for.
    assert_clean_error(&out, &["adapter"]);
    let out = ae(&[
        "encode",
        "/tmp/never",
        "x.csv",
        "--out",
        "y.npy",
        "--backend",
        "all",
    ]);
    assert_clean_error(&out, &["--backend all"]);
}

#[test]
fn a_value_outside_a_flag_s_set_is_refused_by_name_and_help_lists_the_set() {
    let data = common::mnist("images-idx3-ubyte.gz");
    let d = data.to_str().unwrap();
    for (flag, bad, listed) in [
        (
            "--activation",
            "swish",
            "identity, relu, leaky_relu, sigmoid",
        ),
        ("--code-activation", "swish", "identity, relu, leaky_relu"),
        ("--output", "softmax", "identity, relu"),
        ("--loss", "l1", "mse, bce"),
        ("--reduction", "max", "mean, sum, half-sum"),
        ("--optimizer", "rmsprop", "adam, adamw, sgd"),
        ("--schedule", "linear", "constant, cosine"),
        ("--normalize", "zscore", "none, minmax, standard"),
        ("--backend", "tpu", "auto, cpu, wgpu, all"),
    ] {
        let out = ae(&["train", d, "--out", "/tmp/never", flag, bad]);
        assert_clean_error(&out, &[flag, bad]);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains(listed), "{flag}: {}", stderr(&out));
    }
    let out = ae(&["compare", d, "--normalize", "zscore"]);
    assert_clean_error(&out, &["--normalize", "zscore"]);
    let out = ae(&["synth", "torus", "--out", "/tmp/never.npy"]);
    assert_clean_error(&out, &["<KIND>", "torus"]);
    assert!(stderr(&out).contains("swiss-roll, s-curve, blobs"));

    let help = ae(&["train", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for listed in [
        "[possible values: identity, relu, leaky_relu, sigmoid, tanh, gelu, softplus]",
        "[possible values: mse, bce]",
        "[possible values: mean, sum, half-sum]",
        "[possible values: adam, adamw, sgd]",
        "[possible values: constant, cosine]",
        "[possible values: none, minmax, standard, robust]",
    ] {
        assert!(
            help.contains(listed),
            "ae train --help lacks {listed}: {help}"
        );
    }
}

#[test]
fn flag_values_ignore_case_and_take_the_library_s_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_csv(&data, 32, 3);
    let out = ae(&[
        "train",
        data.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
        "--layers",
        "3,4,2",
        "--epochs",
        "1",
        "--activation",
        "Leaky-ReLU",
        "--output",
        "LINEAR",
        "--optimizer",
        "AdamW",
        "--normalize",
        "MinMax",
        "--schedule",
        "Cosine",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m/config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["model"]["activations"][0], "leaky_relu", "{cfg}");
    assert_eq!(
        cfg["model"]["activations"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        "identity"
    );
    assert_eq!(cfg["normalization"]["kind"], "minmax", "{cfg}");
    assert_eq!(cfg["training"]["settings"]["optimizer"]["kind"], "adamw");
    assert_eq!(
        cfg["training"]["settings"]["schedule"]["kind"],
        "warmup_cosine"
    );
    let out = ae(&[
        "synth",
        "Swiss_Roll",
        "--n",
        "10",
        "--out",
        dir.path().join("r.npy").to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(common::json(&out)["kind"], "swiss-roll");
}

/// `ae args` under a file-size limit of 16 blocks (8 or 16 KiB as the shell counts them): every
/// write past it fails part way, as on a disk that fills (`EFBIG` here, `ENOSPC` there; the same
/// error path), with SIGXFSZ ignored so that the write returns the error instead of killing.
#[cfg(unix)]
fn ae_on_a_full_disk(args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 16; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ae"))
        .args(args)
        .env("NODEVICE_SELECT", "1")
        .output()
        .expect("sh runs")
}

/// Names in `dir` (and `dir/resume`) that are temporary files of atomic writes.
#[cfg(unix)]
fn temporaries(dir: &std::path::Path) -> Vec<String> {
    [dir.to_path_buf(), dir.join("resume")]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[cfg(unix)]
#[test]
fn a_disk_that_fills_is_an_error_naming_the_file_and_what_was_saved_stays() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_csv(&data, 2000, 40);
    let model = dir.path().join("model");
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    let train =
        |layers: &'static str| ["train", d, "--out", m, "--layers", layers, "--epochs", "1"];
    let out = ae(&train("40,128,8"));
    assert!(out.status.success(), "{}", stderr(&out));
    let saved = |name: &str| std::fs::read(model.join(name)).unwrap();
    let (weights, config) = (saved("model.safetensors"), saved("config.json"));
    assert!(weights.len() > 32 << 10, "the model must outgrow the limit");

    // Training again into the same directory: the new files cannot be written in full.
    let out = ae_on_a_full_disk(&train("40,96,8"));
    assert_clean_error(&out, &[m]);
    assert_eq!(saved("model.safetensors"), weights);
    assert_eq!(saved("config.json"), config);
    assert_eq!(temporaries(&model), Vec::<String>::new());

    // Codes of 2,000 rows x 8 (64 KB) into a file that exists: it keeps its old contents.
    let codes = dir.path().join("codes.npy");
    std::fs::write(&codes, b"keep").unwrap();
    let c = codes.to_str().unwrap();
    let out = ae_on_a_full_disk(&["encode", m, d, "--out", c]);
    assert_clean_error(&out, &["codes.npy"]);
    assert!(
        !stderr(&out).contains(".codes.npy."),
        "names a temporary: {}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&codes).unwrap(), b"keep");
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    // The model saved before still loads and encodes.
    let out = ae(&["encode", m, d, "--out", c]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(load_npy(c).cols, 8);
}

/// `--contractive` refuses a coefficient that is negative or not finite, codes whose units
/// switch (TopK), the projection estimate with a pre-encoder bias, and the anomaly preset.
#[test]
fn contractive_flag_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.csv");
    write_csv(&p, 40, 6);
    let m = dir.path().join("m");
    let (data, out) = (p.to_str().unwrap(), m.to_str().unwrap());
    let run = |extra: &[&str]| {
        let mut args = vec!["train", data, "--out", out, "--epochs", "1"];
        args.extend_from_slice(extra);
        ae(&args)
    };
    for bad in ["-0.5", "NaN", "inf"] {
        let o = run(&["--layers", "6,3", "--contractive", bad]);
        assert_clean_error(&o, &["--contractive", ">= 0"]);
    }
    let o = run(&[
        "--layers",
        "6,8",
        "--sparsity",
        "topk:2",
        "--contractive",
        "0.1",
    ]);
    assert_clean_error(&o, &["contractive", "TopK"]);
    let o = run(&["--layers", "6,4,2", "--pre-bias", "--contractive", "0.1"]);
    assert_clean_error(&o, &["contractive", "pre-encoder bias"]);
    let o = run(&["--preset", "anomaly", "--contractive", "0.1"]);
    assert_clean_error(&o, &["--contractive", "--preset"]);
    assert!(!m.join("model.safetensors").exists());
}
