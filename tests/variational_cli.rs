//! `ae train --variational`, `ae encode`, `ae score` and `ae sample` on variational models, and
//! `--resume` of a variational run (the library's side is in `variational.rs`).

mod common;
use common::{ae, assert_clean_error, json, stderr};

/// `ae train --variational` on the bundled MNIST digits reports a positive KL each epoch and a
/// falling loss; `ae encode` writes the means, `ae score` the negative ELBO (seeded: the same
/// twice), `ae sample` a PNG grid of the right size; bad combinations fail cleanly.
#[test]
fn cli_trains_encodes_scores_and_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |f: &str| tmp.path().join(f).to_string_lossy().into_owned();
    let images = common::mnist("images-idx3-ubyte.gz");
    let images = images.to_str().unwrap();
    let out = ae(&[
        "train",
        images,
        "--out",
        &p("vae"),
        "--layers",
        "784,64,8",
        "--variational",
        "--loss",
        "bce",
        "--reduction",
        "sum",
        "--kl-warmup",
        "1",
        "--epochs",
        "3",
        "--batch-size",
        "128",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let history = v["history"].as_array().unwrap();
    let kl: Vec<f64> = history.iter().map(|e| e["kl"].as_f64().unwrap()).collect();
    let loss: Vec<f64> = history
        .iter()
        .map(|e| e["train_loss"].as_f64().unwrap())
        .collect();
    assert!(kl.iter().all(|&k| k > 0.0), "{kl:?}");
    assert!(loss[2] < loss[0], "{loss:?}");
    assert!(v["kl"].as_f64().unwrap() > 0.0, "{v}");
    // Codes are the means: 8 wide.
    let codes = p("codes.npy");
    let out = ae(&[
        "encode",
        &p("vae"),
        images,
        "--out",
        &codes,
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["code_dim"], 8);
    // Scores: the negative ELBO, seeded.
    let score_as = |seed: &str, f: &str, kind: &str| {
        let o = ae(&[
            "score",
            &p("vae"),
            images,
            "--contamination",
            "0.1",
            "--samples",
            "3",
            "--sample-seed",
            seed,
            "--vae-score",
            kind,
            "--out",
            &p(f),
            "--backend",
            "cpu",
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        common::load_npy(&p(f))
    };
    let score = |seed: &str, f: &str| score_as(seed, f, "elbo");
    let (a, b, c) = (
        score("1", "a.npy"),
        score("1", "b.npy"),
        score("2", "c.npy"),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.data.iter().all(|&s| s.is_finite() && s > 0.0));
    // The reconstruction probability's score: the same draws without the KL, so lower on
    // every row.
    let r = score_as("1", "r.npy", "reconstruction");
    assert!(r.data.iter().zip(&a.data).all(|(&r, &a)| r > 0.0 && r < a));
    // Samples: ceil(sqrt(10)) = 4 across, 3 bands, 28 x 2 pixels a cell and 2-pixel gaps.
    let png = p("samples.png");
    let out = ae(&[
        "sample",
        &p("vae"),
        "--n",
        "10",
        "--out",
        &png,
        "--seed",
        "3",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (w, h) = image::image_dimensions(&png).unwrap();
    assert_eq!((w, h), (4 * 58 + 2, 3 * 58 + 2));
    assert_eq!(
        (json(&out)["width"].as_u64(), json(&out)["height"].as_u64()),
        (Some(234), Some(176))
    );
    let out = ae(&[
        "sample",
        &p("vae"),
        "--n",
        "10",
        "--out",
        &p("s.npy"),
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = common::load_npy(&p("s.npy"));
    assert_eq!((m.rows, m.cols), (10, 784));
    // Refusals.
    let t = [
        "train",
        images,
        "--out",
        &p("bad"),
        "--variational",
        "--epochs",
        "1",
    ];
    assert_clean_error(
        &ae(&[&t[..], &["--sparsity", "topk:4", "--backend", "cpu"]].concat()),
        &["--variational", "--sparsity"],
    );
    assert_clean_error(
        &ae(&[&t[..], &["--code-activation", "relu", "--backend", "cpu"]].concat()),
        &["--code-activation", "identity"],
    );
    let no_vae = ae(&[
        "train",
        images,
        "--out",
        &p("bad"),
        "--beta",
        "2",
        "--epochs",
        "1",
    ]);
    assert!(!no_vae.status.success());
    assert!(
        stderr(&no_vae).contains("--variational"),
        "{}",
        stderr(&no_vae)
    );
    let plain = ae(&[
        "train",
        images,
        "--out",
        &p("plain"),
        "--layers",
        "784,8",
        "--epochs",
        "1",
        "--max-rows",
        "256",
        "--backend",
        "cpu",
    ]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_clean_error(
        &ae(&["sample", &p("plain"), "--out", &png, "--backend", "cpu"]),
        &["not variational"],
    );
    assert_clean_error(
        &ae(&[
            "sample",
            &p("vae"),
            "--out",
            &p("s.txt"),
            "--backend",
            "cpu",
        ]),
        &[".png", ".npy"],
    );
}

/// `ae sample` on a model of rows that are not square images writes NPY, and refuses PNG.
#[test]
fn sample_refuses_png_for_non_images() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |f: &str| tmp.path().join(f).to_string_lossy().into_owned();
    common::write_csv(std::path::Path::new(&p("x.csv")), 256, 8);
    let out = ae(&[
        "train",
        &p("x.csv"),
        "--out",
        &p("vae"),
        "--layers",
        "8,6,2",
        "--variational",
        "--epochs",
        "1",
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean_error(
        &ae(&[
            "sample",
            &p("vae"),
            "--out",
            &p("s.png"),
            "--backend",
            "cpu",
        ]),
        &["not a square image", "samples.npy"],
    );
    let out = ae(&[
        "sample",
        &p("vae"),
        "--n",
        "5000",
        "--out",
        &p("s.npy"),
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = common::load_npy(&p("s.npy"));
    assert_eq!((m.rows, m.cols), (5000, 8));
}

/// A VAE run stopped after 2 of 4 epochs and resumed with `--resume` ends as the
/// uninterrupted one (the same losses and KL, the same weights to the bit on the CPU: the noise
/// is a function of the seed and the step, the warmup of the step); resuming it without
/// `--variational` is another architecture.
#[test]
fn a_resumed_run_ends_as_the_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("x.csv");
    common::write_csv(&data, 200, 6);
    let d = data.to_str().unwrap();
    let train = |out: &str, epochs: &str, more: &[&str]| {
        let base = [
            "train",
            d,
            "--out",
            out,
            "--epochs",
            epochs,
            "--layers",
            "6,4,2",
            "--backend",
            "cpu",
            "--json",
        ];
        let out = ae(&[&base[..], more].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        json(&out)
    };
    let vae = ["--variational", "--kl-warmup", "3", "--beta", "0.5"];
    let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
    let (w, s) = (whole.to_str().unwrap(), split.to_str().unwrap());
    let full = train(w, "4", &vae);
    train(s, "2", &vae);
    let resumed = train(s, "4", &[&vae[..], &["--resume"]].concat());
    for key in ["final_train_loss", "final_val_loss", "kl"] {
        assert_eq!(full[key], resumed[key], "{key}");
    }
    let kls = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kl"].clone())
            .collect()
    };
    assert_eq!(kls(&full), kls(&resumed));
    let weights = |p: &std::path::Path| {
        let mut w = ae_core::checkpoint::read_safetensors(&p.join("model.safetensors")).unwrap();
        w.sort_by(|a, b| a.0.cmp(&b.0));
        w
    };
    assert_eq!(weights(&whole), weights(&split));
    let out = ae(&[
        "train",
        d,
        "--out",
        s,
        "--epochs",
        "5",
        "--layers",
        "6,4,2",
        "--backend",
        "cpu",
        "--resume",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another architecture"),
        "{}",
        stderr(&out)
    );
}

/// `ae oneclass --variational` trains a VAE per class and scores the held-out digits by the
/// negative ELBO or by the reconstruction probability (`--vae-score`): both rank the other
/// digits above the ones, and the two scores rank them differently. `--vae-score
/// reconstruction` on a plain model is refused (`ae oneclass` and `ae score`).
#[test]
fn oneclass_scores_a_vae_either_way() {
    let images = common::mnist("images-idx3-ubyte.gz");
    let labels = common::mnist("labels-idx1-ubyte.gz");
    let auc = |kind: &str| {
        let o = ae(&[
            "oneclass",
            images.to_str().unwrap(),
            "--labels",
            labels.to_str().unwrap(),
            "--classes",
            "1",
            "--layers",
            "784,64,8",
            "--variational",
            "--loss",
            "bce",
            "--reduction",
            "sum",
            "--epochs",
            "3",
            "--vae-score",
            kind,
            "--backend",
            "cpu",
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        json(&o)["mean_roc_auc_ae"].as_f64().unwrap()
    };
    let (elbo, recon) = (auc("elbo"), auc("reconstruction"));
    assert!(elbo > 0.8 && recon > 0.8, "{elbo} {recon}");
    assert_ne!(elbo, recon);
    // On a plain model the reconstruction probability would be ignored: refused instead.
    let plain = [
        "oneclass",
        images.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--classes",
        "1",
        "--epochs",
        "1",
        "--vae-score",
        "reconstruction",
        "--backend",
        "cpu",
    ];
    assert_clean_error(&ae(&plain), &["--vae-score reconstruction", "variational"]);
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("plain");
    let model = model.to_str().unwrap();
    let o = ae(&[
        "train",
        images.to_str().unwrap(),
        "--out",
        model,
        "--layers",
        "784,8",
        "--epochs",
        "1",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let score = [
        "score",
        model,
        images.to_str().unwrap(),
        "--contamination",
        "0.1",
        "--vae-score",
        "reconstruction",
        "--backend",
        "cpu",
    ];
    assert_clean_error(&ae(&score), &["--vae-score reconstruction", model]);
}
