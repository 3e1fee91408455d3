//! Sparse autoencoders through the command: `ae train --json` carries TopK's exact L0 and
//! KL's rho error, `ae patches` writes its patches, bad sparsity settings are clean errors, and
//! a model with a pre-encoder bias round-trips through `ae reconstruct`.

mod common;
use ae_core::Autoencoder;
use ae_cpu::CpuBackend;
use common::{ae, json, stderr, write_csv};

#[test]
fn cli_topk_json_carries_exact_l0_and_the_sparsity_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d.csv");
    write_csv(&d, 200, 16);
    let m = dir.path().join("m");
    let out = ae(&[
        "train",
        d.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
        "--layers",
        "16,32",
        "--sparsity",
        "topk:8",
        "--resample-dead",
        "--epochs",
        "5",
        "--batch-size",
        "50",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["l0"].as_f64(), Some(8.0), "{v}");
    // The run's total of resampled units: epochs 1 to 4 resample, the last does not.
    let history = v["history"].as_array().unwrap();
    let per_epoch: Vec<Option<u64>> = history.iter().map(|h| h["resampled"].as_u64()).collect();
    assert!(per_epoch[..4].iter().all(Option::is_some), "{per_epoch:?}");
    assert_eq!(per_epoch[4], None);
    assert_eq!(
        v["resampled"].as_u64(),
        Some(per_epoch.iter().flatten().sum::<u64>())
    );
    for key in ["fvu", "dead_latents", "mean_activation", "mse"] {
        assert!(v[key].is_number(), "{key} missing: {v}");
    }
    assert!(v.get("max_abs_rho_error").is_none());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(m.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["model"]["code_topk"], 8, "{saved}");
    assert!(saved["training"]["history"][4]["l0"].is_number());
    // AuxK on `auto` dead units: half the input width, Gao et al.'s choice.
    let aux = dir.path().join("aux");
    let out = ae(&[
        "train",
        d.to_str().unwrap(),
        "--out",
        aux.to_str().unwrap(),
        "--layers",
        "16,32",
        "--sparsity",
        "topk:4:auto",
        "--output",
        "identity",
        "--epochs",
        "1",
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(aux.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["training"]["settings"]["auxk"]["k"], 8, "{saved}");

    let png = dir.path().join("filters.png");
    let out = ae(&[
        "filters",
        m.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
        "--scale",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 32 tiles of 4x4, 6 across and 6 bands, 2-pixel gaps.
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (6 * 6 + 2, 6 * 6 + 2));
}

#[test]
fn cli_kl_json_carries_rho_error_and_patches_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let patches = dir.path().join("p.npy");
    let mnist = common::mnist("images-idx3-ubyte.gz");
    let out = ae(&[
        "patches",
        mnist.to_str().unwrap(),
        "--size",
        "8",
        "--count",
        "500",
        "--out",
        patches.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = ae_core::data::load_matrix(&patches).unwrap();
    assert_eq!((p.rows, p.cols), (500, 64));
    assert!(p.data.iter().all(|v| (0.0..=1.0).contains(v)));
    let out = ae(&[
        "train",
        patches.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
        "--layers",
        "64,25",
        "--code-activation",
        "sigmoid",
        "--sparsity",
        "kl:0.01:3",
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    for key in [
        "l0",
        "fvu",
        "dead_latents",
        "mean_activation",
        "max_abs_rho_error",
        "penalty",
    ] {
        assert!(v[key].is_number(), "{key} missing: {v}");
    }
}

#[test]
fn bad_sparsity_settings_are_clean_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d.csv");
    write_csv(&d, 50, 16);
    let m = dir.path().join("m");
    let base = [
        "train",
        d.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
        "--layers",
        "16,32",
        "--epochs",
        "1",
    ];
    for (extra, needle) in [
        (
            &["--sparsity", "topk:0"][..],
            "K must be a positive whole number",
        ),
        (
            &["--sparsity", "topk:33"][..],
            "1 <= k <= the code width 32",
        ),
        (&["--sparsity", "kl:0.05:3"][..], "needs sigmoid code units"),
        (
            &["--sparsity", "kl:1.5:3", "--code-activation", "sigmoid"][..],
            "rho in (0, 1)",
        ),
        (
            &["--sparsity", "topk:4", "--code-activation", "sigmoid"][..],
            "--code-activation relu",
        ),
        (&["--denoise", "mask:1"][..], "[0, 1)"),
        (&["--sparsity", "sparse"][..], "unknown sparsity"),
        (
            &["--sparsity", "topk:4:64"][..],
            "1 <= AUXK <= the code width 32",
        ),
        (
            &["--sparsity", "topk:2:4", "--layers", "16,8,4"][..],
            "one-hidden-layer, untied",
        ),
        (
            &["--sparsity", "topk:4:8", "--dead-window", "0"][..],
            "dead window must be positive",
        ),
        (&["--unit-norm-decoder", "--tied"][..], "untied model"),
        (
            &["--resample-dead", "--layers", "16,8,4"][..],
            "resampling dead units needs a one-hidden-layer",
        ),
        (
            &["--sparsity", "l1:0.1:norm"][..],
            "l1:LAMBDA[:decoder-norm]",
        ),
        (
            &["--sparsity", "l1:0.1:decoder-norm", "--tied"][..],
            "needs an untied model",
        ),
        (
            &["--sparsity-warmup", "100"][..],
            "warmup needs a code penalty",
        ),
        (
            &["--pre-bias", "--output", "sigmoid"][..],
            "--output identity",
        ),
        (
            &["--init-encoder-transpose", "--tied"][..],
            "decoder's transpose needs an untied model",
        ),
        (
            &["--reduction", "median"][..],
            "[possible values: mean, sum, half-sum]",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = ae(&args);
        let err = stderr(&out);
        assert!(
            !out.status.success() && !err.contains("panicked"),
            "{extra:?}: {err}"
        );
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
}

/// A model trained with the pre-encoder bias and the transposed initialisation saves the flag
/// and its bias: `ae reconstruct` on the saved model reproduces the reconstructions of the
/// model loaded through the library, and the same weights read without the pre-encoder bias
/// reconstruct differently.
#[test]
fn pre_bias_models_round_trip_through_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d.csv");
    write_csv(&d, 120, 16);
    let m = dir.path().join("m");
    let out = ae(&[
        "train",
        d.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
        "--layers",
        "16,24",
        "--output",
        "identity",
        "--sparsity",
        "topk:4:8",
        "--pre-bias",
        "--init-encoder-transpose",
        "--epochs",
        "3",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["l0"].as_f64(), Some(4.0));
    let recon = dir.path().join("r.npy");
    let out = ae(&[
        "reconstruct",
        m.to_str().unwrap(),
        d.to_str().unwrap(),
        "--out",
        recon.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = ae_core::data::load_matrix(&recon).unwrap();
    let cpu = CpuBackend::<f32>::new();
    let (model, saved) = ae_core::checkpoint::load(&m, &cpu).unwrap();
    assert!(saved.model.pre_bias);
    let x = ae_core::data::load_matrix(&d).unwrap();
    let want = model.reconstruct(&cpu, &x).unwrap();
    assert_eq!(r.data, want.data);
    let mut plain_cfg = saved.model.clone();
    plain_cfg.pre_bias = false;
    let plain = Autoencoder::from_named(&cpu, plain_cfg, model.to_named(&cpu).unwrap()).unwrap();
    let other = plain.reconstruct(&cpu, &x).unwrap();
    assert!(x.mse(&other).unwrap() > 1.01 * x.mse(&want).unwrap());
}
