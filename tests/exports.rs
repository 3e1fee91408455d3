//! SAE files the field reads, end to end: a TopK SAE exported as SAELens and sparsify encodes
//! and reconstructs as the model does, `ae train --init-from` starts from a model or its export,
//! and an export names what it cannot carry.

mod common;
use common::{ae, json, stderr, write_csv};
use std::path::Path;

/// A TopK SAE trained by `ae train` (pre-encoder bias, standardised inputs) and exported as
/// SAELens and as sparsify: `ae encode` and `ae reconstruct` on the export directories, which
/// read raw rows, give what they give on the model. Then the errors: a model that is no
/// one-layer SAE, a directory that is not an export, an architecture ae lacks, a missing tensor.
#[test]
fn a_topk_sae_exported_to_saelens_and_sparsify_encodes_the_same() {
    use common::{assert_clean_error, load_npy};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_csv(&data, 300, 8);
    let d = data.to_str().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let model = path("m");
    let out = ae(&[
        "train",
        d,
        "--out",
        &model,
        "--layers",
        "8,32",
        "--sparsity",
        "topk:4",
        "--output",
        "identity",
        "--pre-bias",
        "--normalize",
        "standard",
        "--epochs",
        "5",
        "--batch-size",
        "32",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = |cmd: &str, model: &str, file: &str| {
        let out = ae(&[
            cmd,
            model,
            d,
            "--out",
            &path(file),
            "--backend",
            "cpu",
            "--json",
        ]);
        assert!(out.status.success(), "{cmd} {model}: {}", stderr(&out));
        load_npy(&path(file))
    };
    let codes = run("encode", &model, "codes.npy");
    let recon = run("reconstruct", &model, "recon.npy");
    assert_eq!((codes.rows, codes.cols), (300, 32));
    let active = codes.data.iter().filter(|&&v| v > 0.0).count();
    assert!(active > 0 && active <= 300 * 4, "{active} active units");
    for (format, weights) in [
        ("saelens", "sae_weights.safetensors"),
        ("sparsify", "sae.safetensors"),
    ] {
        let export = path(format);
        let out = ae(&[
            "export", &model, "--format", format, "--out", &export, "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v = json(&out);
        assert_eq!(
            (v["d_in"].as_u64(), v["d_sae"].as_u64(), v["k"].as_u64()),
            (Some(8), Some(32), Some(4))
        );
        assert_eq!(v["normalization_folded"], true);
        assert!(
            Path::new(&export).join(weights).exists()
                && Path::new(&export).join("cfg.json").exists()
        );
        let c = run("encode", &export, &format!("{format}-codes.npy"));
        let r = run("reconstruct", &export, &format!("{format}-recon.npy"));
        let (ec, er) = (max_rel(&c, &codes), max_rel(&r, &recon));
        eprintln!("{format}: codes differ by at most {ec:e}, reconstructions by {er:e} (relative)");
        assert!(ec < 1e-5 && er < 1e-5, "{format}: {ec} {er}");
        // Scored on raw rows; no threshold travels with an export.
        let out = ae(&["score", &export, d, "--backend", "cpu"]);
        assert_clean_error(&out, &["carries no anomaly threshold", "--contamination"]);
        let out = ae(&[
            "score",
            &export,
            d,
            "--contamination",
            "0.1",
            "--backend",
            "cpu",
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(json(&out)["rows"].as_u64(), Some(300));
        // Exporting again over the same export is fine.
        let out = ae(&["export", &model, "--format", format, "--out", &export]);
        assert!(out.status.success(), "{}", stderr(&out));
    }

    // A model that is not a one-layer SAE, named with what is not supported.
    let deep = path("deep");
    let out = ae(&[
        "train",
        d,
        "--out",
        &deep,
        "--layers",
        "8,4,2",
        "--output",
        "identity",
        "--epochs",
        "1",
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ae(&["export", &deep, "--format", "saelens", "--out", &path("x")]);
    assert_clean_error(&out, &["cannot be exported as saelens", "2 encoder layers"]);
    // Not over an ae model, nor over another format's export.
    let out = ae(&["export", &model, "--format", "saelens", "--out", &deep]);
    assert_clean_error(
        &out,
        &["holds config.json", "not an earlier saelens export"],
    );
    let out = ae(&[
        "export",
        &model,
        "--format",
        "saelens",
        "--out",
        &path("sparsify"),
    ]);
    assert_clean_error(&out, &["holds sae.safetensors"]);

    // An architecture ae lacks.
    let saelens = dir.path().join("saelens");
    let cfg_path = saelens.join("cfg.json");
    let cfg_text = std::fs::read_to_string(&cfg_path).unwrap();
    let mut cfg: serde_json::Value = serde_json::from_str(&cfg_text).unwrap();
    cfg["architecture"] = "gated".into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let args = [
        "encode",
        saelens.to_str().unwrap(),
        d,
        "--out",
        &path("j.npy"),
    ];
    assert_clean_error(&ae(&args), &["cfg.json", "\"gated\" is not supported"]);
    std::fs::write(&cfg_path, cfg_text).unwrap();

    // A missing tensor, and a file cut short.
    let weights = saelens.join("sae_weights.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView<'_>)> = st
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "b_dec")
        .collect();
    let without = safetensors::serialize(kept, None).unwrap();
    std::fs::write(&weights, &without).unwrap();
    assert_clean_error(
        &ae(&args),
        &[
            "sae_weights.safetensors",
            "has no tensor 'b_dec'",
            "W_enc [d_in, d_sae]",
        ],
    );
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    assert_clean_error(
        &ae(&args),
        &["sae_weights.safetensors", "not a valid safetensors file"],
    );
}

/// The largest `|a - b| / max(1, |b|)`.
fn max_rel(a: &ae_core::Matrix, b: &ae_core::Matrix) -> f64 {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols));
    a.data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| (x as f64 - y as f64).abs() / (y as f64).abs().max(1.0))
        .fold(0.0, f64::max)
}

/// `ae train --init-from` starts from a model's weights: from an ae directory and from its
/// SAELens export (the same weights, bit for bit) the runs are the same, both start below a fresh
/// run, and a model of another architecture or normalisation is refused.
#[test]
fn training_starts_from_an_ae_model_or_its_saelens_export() {
    use common::assert_clean_error;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_csv(&data, 300, 8);
    let d = data.to_str().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let train = |out: &str, extra: &[&str]| common::train_small_sae(d, out, "topk:4", extra);
    let losses = common::epoch_losses;
    let fresh = losses(&train(&path("a"), &[]));
    let out = ae(&[
        "export",
        &path("a"),
        "--format",
        "saelens",
        "--out",
        &path("s"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let from_ae = losses(&train(&path("b1"), &["--init-from", &path("a")]));
    let from_saelens = losses(&train(&path("b2"), &["--init-from", &path("s")]));
    assert_eq!(from_ae, from_saelens);
    assert!(from_ae[0] < fresh[0], "{from_ae:?} vs fresh {fresh:?}");

    let out = ae(&[
        "train",
        d,
        "--out",
        &path("c"),
        "--layers",
        "8,16",
        "--sparsity",
        "topk:4",
        "--output",
        "identity",
        "--pre-bias",
        "--init-from",
        &path("a"),
        "--json",
    ]);
    assert_clean_error(&out, &["architecture", "[8, 32]", "[8, 16]"]);
    let out = train(
        &path("c"),
        &["--init-from", &path("a"), "--normalize", "standard"],
    );
    assert_clean_error(&out, &["normalises its inputs with None", "--normalize"]);
    let out = train(&path("a"), &["--init-from", &path("a"), "--resume"]);
    assert_clean_error(&out, &["--resume"]);
}

/// What an SAE export cannot carry is said, not dropped silently: the columns of the training
/// table the model reads (by name, in order) and the medians it fills empty cells with.
#[test]
fn an_export_names_the_columns_and_fill_values_it_cannot_carry() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,a,b,c\n");
    for i in 0..200 {
        let b = if i == 5 {
            String::new()
        } else {
            format!("{}", i % 5)
        };
        text += &format!("r{i},{},{b},{}\n", i % 7, i % 3);
    }
    let data = dir.path().join("t.csv");
    std::fs::write(&data, text).unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let train = |extra: &[&str], out: &str| {
        let mut args = vec![
            "train",
            data.to_str().unwrap(),
            "--out",
            out,
            "--layers",
            "3,16",
            "--sparsity",
            "topk:2",
            "--output",
            "identity",
            "--epochs",
            "1",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = ae(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    train(&["--drop-columns", "id", "--impute", "median"], &path("m"));
    let out = ae(&[
        "export",
        &path("m"),
        "--format",
        "saelens",
        "--out",
        &path("s"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(
        v["input_columns"],
        serde_json::json!(["a", "b", "c"]),
        "{v}"
    );
    assert_eq!(v["fill_values_dropped"], true, "{v}");
    let out = ae(&[
        "export",
        &path("m"),
        "--format",
        "saelens",
        "--out",
        &path("s"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("a, b, c") && text.contains("medians"),
        "{text}"
    );

    // A table of numbers only, read whole: nothing to say.
    let plain = dir.path().join("p.csv");
    write_csv(&plain, 100, 3);
    let out = ae(&[
        "train",
        plain.to_str().unwrap(),
        "--out",
        &path("p"),
        "--layers",
        "3,16",
        "--sparsity",
        "topk:2",
        "--output",
        "identity",
        "--epochs",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ae(&[
        "export",
        &path("p"),
        "--format",
        "saelens",
        "--out",
        &path("ps"),
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(v["input_columns"], serde_json::Value::Null, "{v}");
    assert_eq!(v["fill_values_dropped"], false, "{v}");
}
