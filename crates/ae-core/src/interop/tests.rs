//! Tests of the SAE conversion and the SAELens / sparsify directories.

use super::*;

/// Deterministic values in [-1, 1).
pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = crate::Rng::new(seed);
    (0..n).map(|_| rng.uniform_in(-1.0, 1.0) as f32).collect()
}

/// A one-layer SAE's ae config and random parameters (`[d, n]`, k, tied, pre-bias).
pub(crate) fn ae_model(
    d: usize,
    n: usize,
    topk: Option<usize>,
    tied: bool,
    pre_bias: bool,
    seed: u64,
) -> (ModelConfig, Vec<(String, Matrix)>) {
    let config = ModelConfig::mirrored(&[d, n])
        .unwrap()
        .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
        .unwrap()
        .with_tied(tied)
        .unwrap()
        .with_topk(topk)
        .unwrap()
        .with_pre_bias(pre_bias)
        .unwrap();
    let m = |r, c, s| Matrix::new(r, c, values(r * c, seed + s)).unwrap();
    let mut named = vec![
        ("encoder.0.weight".to_string(), m(n, d, 1)),
        ("encoder.0.bias".to_string(), m(1, n, 2)),
        ("decoder.0.bias".to_string(), m(1, d, 4)),
    ];
    if !tied {
        named.push(("decoder.0.weight".to_string(), m(d, n, 3)));
    }
    (config, named)
}

/// `act(z)` in place: ReLU, or TopK (the k largest, lower index first among equals, ReLU
/// on them), as ae's forward pass computes it.
fn activate(z: &mut [f32], topk: Option<usize>) {
    if let Some(k) = topk {
        let mut order: Vec<usize> = (0..z.len()).collect();
        order.sort_by(|&a, &b| z[b].total_cmp(&z[a]).then(a.cmp(&b)));
        for &j in &order[k..] {
            z[j] = 0.0;
        }
    }
    for v in z {
        *v = v.max(0.0);
    }
}

/// Codes and reconstructions of raw rows `x` as `ae encode` / `ae reconstruct` compute them
/// (normalise, run the ae model, un-normalise), in f64 on the host.
pub(crate) fn ae_forward(
    config: &ModelConfig,
    named: &[(String, Matrix)],
    norm: Option<&NormStats>,
    x: &Matrix,
) -> (Matrix, Matrix) {
    let get = |name: &str| named.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let (d, n) = (config.input_dim, config.code_dim());
    let we = get("encoder.0.weight");
    let be = get("encoder.0.bias").data;
    let wd = if config.tied {
        transpose(&we)
    } else {
        get("decoder.0.weight")
    };
    let bd = get("decoder.0.bias").data;
    let (mut codes, mut recon) = (Vec::new(), Vec::new());
    for r in 0..x.rows {
        let mut xr: Vec<f64> = x.row(r).iter().map(|&v| v as f64).collect();
        if let Some(s) = norm.filter(|s| s.kind != Normalization::None) {
            for (i, v) in xr.iter_mut().enumerate() {
                *v = (*v - s.offset[i] as f64) / s.scale[i] as f64;
            }
        }
        if config.pre_bias {
            for (v, &b) in xr.iter_mut().zip(&bd) {
                *v -= b as f64;
            }
        }
        let mut h: Vec<f32> = (0..n)
            .map(|j| {
                let dot: f64 = (0..d).map(|i| we.data[j * d + i] as f64 * xr[i]).sum();
                (dot + be[j] as f64) as f32
            })
            .collect();
        // Outside training: BatchTopK is the JumpReLU of its threshold; JumpReLU's is
        // exp(log_threshold).
        let theta: Option<Vec<f32>> = match (config.jump_relu, config.code_threshold) {
            (true, _) => Some(
                get("encoder.1.log_threshold")
                    .data
                    .iter()
                    .map(|&l| (l as f64).exp() as f32)
                    .collect(),
            ),
            (false, Some(t)) if config.batch_topk => Some(vec![t; n]),
            _ => None,
        };
        match &theta {
            Some(theta) => h
                .iter_mut()
                .zip(theta)
                .for_each(|(v, &t)| *v = if *v > t && *v > 0.0 { *v } else { 0.0 }),
            None => activate(&mut h, config.code_topk),
        }
        for (i, &b) in bd.iter().enumerate() {
            let mut y: f64 = (0..n)
                .map(|j| wd.data[i * n + j] as f64 * h[j] as f64)
                .sum();
            y += b as f64;
            if let Some(s) = norm.filter(|s| s.kind != Normalization::None) {
                y = y * s.scale[i] as f64 + s.offset[i] as f64;
            }
            recon.push(y as f32);
        }
        codes.extend(h);
    }
    (
        Matrix::new(x.rows, n, codes).unwrap(),
        Matrix::new(x.rows, d, recon).unwrap(),
    )
}

/// The largest `|a - b| / max(1, |b|)`.
pub(crate) fn max_rel(a: &Matrix, b: &Matrix) -> f64 {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols));
    a.data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| (x as f64 - y as f64).abs() / (y as f64).abs().max(1.0))
        .fold(0.0, f64::max)
}

fn stats(d: usize, big_offset: bool) -> NormStats {
    NormStats {
        kind: Normalization::Standard,
        offset: (0..d)
            .map(|i| if big_offset { 100.0 } else { 0.5 } * (i as f32 - 2.0))
            .collect(),
        scale: (0..d).map(|i| 0.25 + 0.5 * i as f32).collect(),
    }
}

/// Raw rows around the normalisation's offsets, spread by its scales.
fn raw_rows(rows: usize, stats: &NormStats, seed: u64) -> Matrix {
    let d = stats.offset.len();
    let v = values(rows * d, seed);
    let data = (0..rows * d)
        .map(|k| stats.offset[k % d] + 2.0 * v[k] * stats.scale[k % d])
        .collect();
    Matrix::new(rows, d, data).unwrap()
}

#[test]
fn formats_parse_by_name() {
    for f in SaeFormat::ALL {
        assert_eq!(f.name().parse::<SaeFormat>().unwrap(), f);
        assert_eq!(
            f.to_string().to_uppercase().parse::<SaeFormat>().unwrap(),
            f
        );
    }
    let err = "pytorch".parse::<SaeFormat>().unwrap_err().to_string();
    assert!(err.contains("saelens or sparsify"), "{err}");
}

#[test]
fn the_sae_of_an_unnormalised_model_is_its_weights() {
    for (tied, pre_bias) in [(false, false), (false, true), (true, false), (true, true)] {
        let (config, named) = ae_model(6, 10, Some(3), tied, pre_bias, 1);
        let sae = Sae::from_ae(&config, &named, None).unwrap();
        let (back_config, back) = sae.to_ae().unwrap();
        assert_eq!(back_config.pre_bias, pre_bias);
        assert!(!back_config.tied);
        for (name, m) in &named {
            let got = &back.iter().find(|(n, _)| n == name).unwrap().1;
            assert_eq!(
                got.data, m.data,
                "{name} (tied {tied}, pre-bias {pre_bias})"
            );
        }
        if tied {
            let we = &named[0].1;
            assert_eq!(back[2].1, transpose(we), "the tied decoder, written out");
        }
    }
}

#[test]
fn folding_the_normalisation_keeps_codes_and_reconstructions() {
    for (pre_bias, big) in [(false, false), (true, false), (false, true), (true, true)] {
        let (config, named) = ae_model(5, 12, Some(4), false, pre_bias, 7);
        let norm = stats(5, big);
        let x = raw_rows(64, &norm, 3);
        let (want_codes, want_recon) = ae_forward(&config, &named, Some(&norm), &x);
        let sae = Sae::from_ae(&config, &named, Some(&norm)).unwrap();
        let (c2, n2) = sae.to_ae().unwrap();
        let (codes, recon) = ae_forward(&c2, &n2, None, &x);
        let (ec, er) = (max_rel(&codes, &want_codes), max_rel(&recon, &want_recon));
        // Offsets of 200 against scales of 0.25 cost digits (see "Precision" above).
        let tol = if big { 1e-3 } else { 1e-5 };
        eprintln!("pre-bias {pre_bias}, large offsets {big}: codes {ec:e}, recon {er:e}");
        assert!(
            ec < tol && er < tol,
            "pre-bias {pre_bias}, offsets x{big}: {ec} {er}"
        );
    }
}

#[test]
fn a_none_normalisation_is_not_folded() {
    let (config, named) = ae_model(4, 8, None, false, false, 2);
    let mut norm = stats(4, false);
    norm.kind = Normalization::None;
    let plain = Sae::from_ae(&config, &named, None).unwrap();
    assert_eq!(Sae::from_ae(&config, &named, Some(&norm)).unwrap(), plain);
}

#[test]
fn moving_the_centre_into_the_bias_is_exact_algebra() {
    let (config, named) = ae_model(5, 9, None, false, true, 4);
    let sae = Sae::from_ae(&config, &named, Some(&stats(5, false))).unwrap();
    assert_eq!(sae.encoder_bias_subtracting(true), sae.encoder_bias);
    let moved = sae.encoder_bias_subtracting(false);
    let x = raw_rows(16, &stats(5, false), 9);
    let d = sae.d_in();
    for r in 0..x.rows {
        for (j, &b) in moved.iter().enumerate() {
            let w = &sae.encoder_weight.data[j * d..(j + 1) * d];
            let centred: f64 = (0..d)
                .map(|i| w[i] as f64 * (x.row(r)[i] as f64 - sae.decoder_bias[i] as f64))
                .sum::<f64>()
                + sae.encoder_bias[j] as f64;
            let plain: f64 = (0..d)
                .map(|i| w[i] as f64 * x.row(r)[i] as f64)
                .sum::<f64>()
                + b as f64;
            assert!((centred - plain).abs() < 1e-5 * centred.abs().max(1.0));
        }
    }
}

#[test]
fn models_that_are_not_one_layer_saes_are_refused_naming_why() {
    let relu = |c: ModelConfig| {
        c.with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
            .unwrap()
    };
    let cases = [
        (
            relu(ModelConfig::mirrored(&[6, 4, 3]).unwrap()),
            "2 encoder layers (6 -> 4 -> 3)",
        ),
        (
            relu(ModelConfig::mirrored(&[6, 4]).unwrap())
                .with_decoder(vec![5])
                .unwrap(),
            "decoder has hidden layers [5]",
        ),
        (
            ModelConfig::mirrored(&[6, 4])
                .unwrap()
                .with_activations(Activation::Relu, Activation::Sigmoid, Activation::Identity)
                .unwrap(),
            "code activation is sigmoid",
        ),
        (
            ModelConfig::mirrored(&[6, 4])
                .unwrap()
                .with_activations(Activation::Relu, Activation::Relu, Activation::Sigmoid)
                .unwrap(),
            "output activation is sigmoid",
        ),
    ];
    for (config, needle) in cases {
        let err = Sae::from_ae(&config, &[], None).unwrap_err().to_string();
        assert!(
            err.contains(needle) && err.contains("one encoder layer"),
            "{err}"
        );
    }
    let (config, mut named) = ae_model(4, 6, None, false, false, 1);
    named.retain(|(n, _)| n != "decoder.0.bias");
    let err = Sae::from_ae(&config, &named, None).unwrap_err().to_string();
    assert!(err.contains("no tensor 'decoder.0.bias'"), "{err}");
}

#[test]
fn detection_by_files_and_directory_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    assert_eq!(detect(&dir).unwrap(), None);
    std::fs::write(dir.join(CFG_FILE), "{}").unwrap();
    let err = detect(&dir).unwrap_err().to_string();
    assert!(err.contains("neither sae_weights.safetensors"), "{err}");
    std::fs::write(dir.join(saelens::WEIGHTS_FILE), "").unwrap();
    assert_eq!(detect(&dir).unwrap(), Some(SaeFormat::SaeLens));
    std::fs::write(dir.join(sparsify::WEIGHTS_FILE), "").unwrap();
    let err = detect(&dir).unwrap_err().to_string();
    assert!(err.contains("ambiguous"), "{err}");
    std::fs::remove_file(dir.join(saelens::WEIGHTS_FILE)).unwrap();
    assert_eq!(detect(&dir).unwrap(), Some(SaeFormat::Sparsify));

    // An export goes over an earlier one of its format only.
    let (config, named) = ae_model(4, 6, Some(2), false, true, 1);
    let sae = Sae::from_ae(&config, &named, None).unwrap();
    let err = save(&dir, SaeFormat::SaeLens, &sae)
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds sae.safetensors"), "{err}");
    save(&dir, SaeFormat::Sparsify, &sae).unwrap();
    save(&dir, SaeFormat::Sparsify, &sae).unwrap();
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    let err = save(&dir, SaeFormat::Sparsify, &sae)
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds config.json"), "{err}");
}

/// A Matryoshka TopK model keeps its prefixes through both formats, and a Matryoshka BatchTopK
/// one its prefixes and `k` through SAELens (`metadata.ae_matryoshka`, `metadata.ae_batchtopk_k`;
/// sparsify's top-level `ae_matryoshka`): `to_ae` gives back the config that was exported, the
/// BatchTopK threshold as its inference threshold. Where the keys do not fit the file (thresholds
/// edited apart, prefixes not ending at d_sae) they are dropped, and bad values are errors.
#[test]
fn matryoshka_prefixes_and_the_batch_topk_k_survive_an_export() {
    for (batch, formats) in [
        (false, &SaeFormat::ALL[..]),
        (true, &[SaeFormat::SaeLens][..]),
    ] {
        let (mut config, named) = ae_model(6, 12, Some(3), false, true, 31);
        config.matryoshka = vec![4, 8, 12];
        if batch {
            config.batch_topk = true;
            config.code_threshold = Some(0.25);
        }
        config.validate().unwrap();
        let sae = Sae::from_ae(&config, &named, None).unwrap();
        for &format in formats {
            let tmp = tempfile::tempdir().unwrap();
            save(tmp.path(), format, &sae).unwrap();
            let cfg: serde_json::Value =
                serde_json::from_slice(&std::fs::read(tmp.path().join(CFG_FILE)).unwrap()).unwrap();
            let meta = match format {
                SaeFormat::SaeLens => &cfg["metadata"],
                SaeFormat::Sparsify => &cfg,
            };
            assert_eq!(meta[AE_MATRYOSHKA_KEY], serde_json::json!([4, 8, 12]));
            assert_eq!(
                meta[AE_BATCHTOPK_KEY],
                serde_json::json!(batch.then_some(3))
            );
            let (_, back) = load(tmp.path()).unwrap();
            assert_eq!(back, sae, "{format}, batch {batch}");
            let (back_config, back_named) = back.to_ae().unwrap();
            assert_eq!(back_config, config, "{format}, batch {batch}");
            assert!(back_named.iter().all(|(n, _)| !n.contains("log_threshold")));
        }
    }
    // Thresholds edited apart: a JumpReLU SAE, without the k or the prefixes.
    let (mut config, named) = ae_model(6, 12, Some(3), false, true, 31);
    (config.batch_topk, config.code_threshold) = (true, Some(0.25));
    config.matryoshka = vec![4, 12];
    let mut sae = Sae::from_ae(&config, &named, None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    save(tmp.path(), SaeFormat::SaeLens, &sae).unwrap();
    let weights = tmp.path().join(SaeFormat::SaeLens.weights_file());
    let mut t = crate::checkpoint::read_safetensors(&weights).unwrap();
    t.iter_mut().find(|(n, _)| n == "threshold").unwrap().1.data[0] = 0.5;
    let names = ["W_enc", "b_enc", "W_dec", "b_dec", "threshold"];
    let tensors: Vec<Tensor> = names
        .iter()
        .map(|&name| {
            let m = &t.iter().find(|(n, _)| n == name).unwrap().1;
            let shape = match m.rows {
                1 => vec![m.cols],
                _ => vec![m.rows, m.cols],
            };
            (name, shape, m.data.clone())
        })
        .collect();
    std::fs::write(&weights, safetensors_bytes(&tensors).unwrap()).unwrap();
    let (_, back) = load(tmp.path()).unwrap();
    assert_eq!(back.ae_training, AeTraining::default());
    let (c, _) = back.to_ae().unwrap();
    assert!(c.jump_relu && !c.batch_topk && c.matryoshka.is_empty());
    // Prefixes that do not end at d_sae are dropped; a value of the wrong kind is an error.
    sae.threshold = None;
    sae.ae_training = AeTraining::default();
    sae.topk = Some(3);
    for (value, dropped) in [
        (serde_json::json!([4, 10]), true),
        (serde_json::json!("4,12"), false),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        save(tmp.path(), SaeFormat::Sparsify, &sae).unwrap();
        let path = tmp.path().join(CFG_FILE);
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        cfg[AE_MATRYOSHKA_KEY] = value;
        std::fs::write(&path, cfg.to_string()).unwrap();
        match load(tmp.path()) {
            Ok((_, back)) => assert!(dropped && back.ae_training.matryoshka.is_empty()),
            Err(e) => assert!(!dropped && e.to_string().contains(AE_MATRYOSHKA_KEY), "{e}"),
        }
    }
}
