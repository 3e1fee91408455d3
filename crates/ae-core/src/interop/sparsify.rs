//! EleutherAI sparsify directories (`SparseCoder.save_to_disk` / `SparseCoder.load_from_disk`):
//! `cfg.json`, the `SparseCoderConfig` fields with `d_in` added, and `sae.safetensors` with
//! `encoder.weight` `[num_latents, d_in]`, `encoder.bias` `[num_latents]`, `W_dec`
//! `[num_latents, d_in]` and `b_dec` `[d_in]`.
//!
//! sparsify encodes `topk(relu((x - b_dec) encoder.weightᵀ + encoder.bias), k)`, always
//! subtracting `b_dec`, and decodes `h W_dec + b_dec`. ReLU before TopK or after it keeps the
//! same units at the same values, so this is ae's TopK code: `encoder.weight` is ae's
//! `encoder.0.weight`, `W_dec` its `decoder.0.weight` transposed, and a model without the
//! pre-encoder bias gets the encoder bias `b_e + W_e b_dec` (see the [parent](super) module).
//!
//! Export writes `activation` `topk`, `num_latents`, `k`, `d_in`, `expansion_factor`
//! `num_latents / d_in` (sparsify reads `num_latents` first), and `normalize_decoder`,
//! `multi_topk`, `skip_connection`, `transcode` false, and a Matryoshka model's prefixes as
//! `ae_matryoshka` (see [`AeTraining`]; sparsify drops unknown keys on load). Import takes a missing `num_latents` or
//! 0 as `expansion_factor * d_in` (default 32) and a missing `k` as 32, as sparsify does, and
//! refuses `groupmax`, a skip connection (`W_skip`) and transcoders, naming them. A directory
//! of several hookpoints (`load_many`) is one SAE per subdirectory: pass one of them.

use super::{transpose, AeTraining, Centre, Cfg, Sae, Tensor, Tensors, AE_MATRYOSHKA_KEY};
use crate::{Error, Result};
use serde_json::json;
use std::path::Path;

/// The weights file.
pub const WEIGHTS_FILE: &str = "sae.safetensors";

const HOLDS: &str = "encoder.weight [num_latents, d_in], encoder.bias [num_latents], \
                     W_dec [num_latents, d_in] and b_dec [d_in]";

/// `cfg.json` and the tensors of `sae`; an error unless it is a TopK SAE.
pub(super) fn encode(sae: &Sae) -> Result<(serde_json::Value, Vec<Tensor>)> {
    let k = sae.topk.ok_or_else(|| {
        Error::Config(format!(
            "sparsify holds TopK sparse coders only, and this model has a {} code (no \
             --sparsity topk:K): export it as saelens",
            if sae.threshold.is_some() {
                "JumpReLU"
            } else {
                "plain ReLU"
            }
        ))
    })?;
    let (d, n) = (sae.d_in(), sae.d_sae());
    let mut cfg = json!({
        "activation": "topk",
        "expansion_factor": (n / d).max(1),
        "normalize_decoder": false,
        "num_latents": n,
        "k": k,
        "multi_topk": false,
        "skip_connection": false,
        "transcode": false,
        "d_in": d,
    });
    if !sae.ae_training.matryoshka.is_empty() {
        cfg[AE_MATRYOSHKA_KEY] = json!(sae.ae_training.matryoshka);
    }
    let tensors = vec![
        (
            "encoder.weight",
            vec![n, d],
            sae.encoder_weight.data.clone(),
        ),
        ("encoder.bias", vec![n], sae.encoder_bias_subtracting(true)),
        ("W_dec", vec![n, d], transpose(&sae.decoder_weight).data),
        ("b_dec", vec![d], sae.decoder_bias.clone()),
    ];
    Ok((cfg, tensors))
}

/// Reads the sparsify SAE in `dir`.
pub(super) fn read(dir: &Path) -> Result<Sae> {
    let cfg = Cfg::read(dir)?;
    let d = cfg.count("d_in", None, "the input width")?;
    let latents = cfg.count("num_latents", Some(0), "the code width")?;
    let n = match latents {
        0 => d * cfg.count("expansion_factor", Some(32), "num_latents / d_in")?,
        n => n,
    };
    if d == 0 || n == 0 {
        return Err(cfg.error(format!(
            "d_in {d} and num_latents {n}: both widths must be positive"
        )));
    }
    let k = cfg.count("k", Some(32), "TopK's k")?;
    match cfg.text("activation", "topk")? {
        "topk" => {}
        "groupmax" => {
            return Err(cfg.error(
                "activation \"groupmax\" (the largest unit of each of k groups) is not \
                 supported; ae's TopK code is activation \"topk\""
                    .into(),
            ))
        }
        other => {
            return Err(cfg.error(format!(
                "activation \"{other}\" is not supported; supported: topk"
            )))
        }
    }
    if cfg.flag("transcode", false)? {
        return Err(cfg.error(
            "transcode is true: a transcoder predicts another activation than its input, \
             which an autoencoder does not; supported: sparse autoencoders"
                .into(),
        ));
    }
    if cfg.flag("skip_connection", false)? {
        return Err(cfg.error(
            "skip_connection is true: the linear skip connection W_skip adds x W_skipᵀ to the \
             reconstruction, which ae's one decoder layer does not have"
                .into(),
        ));
    }

    let mut t = Tensors::read(&dir.join(WEIGHTS_FILE), HOLDS)?;
    let why = format!("cfg.json's d_in {d} and num_latents {n}");
    let w_enc = t.take("encoder.weight", n, d, &why)?;
    let b_enc = t.take("encoder.bias", n, 0, &why)?;
    let w_dec = t.take("W_dec", n, d, &why)?;
    let b_dec = t.take("b_dec", d, 0, &why)?;
    t.finish("a sparsify TopK sparse autoencoder")?;

    let mut sae = Sae {
        encoder_weight: w_enc,
        encoder_bias: b_enc.data,
        centre: Centre::DecoderBias,
        decoder_weight: transpose(&w_dec),
        decoder_bias: b_dec.data,
        topk: Some(k),
        threshold: None,
        ae_training: AeTraining::default(),
    };
    sae.validate().map_err(|e| Error::Model {
        path: dir.join(super::CFG_FILE),
        message: e.to_string(),
    })?;
    sae.keep_fitting(AeTraining::read(&cfg, cfg.get(AE_MATRYOSHKA_KEY), None)?);
    Ok(sae)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ae_forward, ae_model, max_rel, values};
    use super::super::{load, save, SaeFormat, CFG_FILE};
    use super::*;
    use crate::data::normalize::{NormStats, Normalization};
    use crate::Matrix;

    /// Codes and reconstructions as sparsify computes them from its own tensors and config:
    /// ReLU first, then the top k.
    fn sparsify_forward(dir: &Path, x: &Matrix) -> (Matrix, Matrix) {
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(CFG_FILE)).unwrap()).unwrap();
        let t = crate::checkpoint::read_safetensors(&dir.join(WEIGHTS_FILE)).unwrap();
        let get = |n: &str| t.iter().find(|(name, _)| name == n).unwrap().1.clone();
        let (w, b, w_dec, b_dec) = (
            get("encoder.weight"),
            get("encoder.bias"),
            get("W_dec"),
            get("b_dec"),
        );
        let (n, d) = (w.rows, w.cols);
        let k = cfg["k"].as_u64().unwrap() as usize;
        let (mut codes, mut recon) = (Vec::new(), Vec::new());
        for r in 0..x.rows {
            let mut h: Vec<f32> = (0..n)
                .map(|j| {
                    let z: f64 = (0..d)
                        .map(|i| {
                            (x.row(r)[i] as f64 - b_dec.data[i] as f64) * w.data[j * d + i] as f64
                        })
                        .sum();
                    ((z + b.data[j] as f64) as f32).max(0.0)
                })
                .collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &c| h[c].total_cmp(&h[a]).then(a.cmp(&c)));
            for &j in &order[k..] {
                h[j] = 0.0;
            }
            for i in 0..d {
                let y: f64 = (0..n)
                    .map(|j| h[j] as f64 * w_dec.data[j * d + i] as f64)
                    .sum();
                recon.push((y + b_dec.data[i] as f64) as f32);
            }
            codes.extend(h);
        }
        (
            Matrix::new(x.rows, n, codes).unwrap(),
            Matrix::new(x.rows, d, recon).unwrap(),
        )
    }

    #[test]
    fn ae_to_sparsify_to_ae_is_bit_exact_with_the_pre_encoder_bias() {
        for tied in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let (config, named) = ae_model(6, 10, Some(3), tied, true, 21);
            let sae = Sae::from_ae(&config, &named, None).unwrap();
            save(tmp.path(), SaeFormat::Sparsify, &sae).unwrap();
            let (format, back) = load(tmp.path()).unwrap();
            assert_eq!(format, SaeFormat::Sparsify);
            assert_eq!(back, sae, "tied {tied}");
            let (_, back_named) = back.to_ae().unwrap();
            for (name, m) in &named {
                let got = &back_named.iter().find(|(n, _)| n == name).unwrap().1;
                assert_eq!(got.data, m.data, "{name}");
            }
        }
    }

    #[test]
    fn without_the_pre_encoder_bias_and_with_a_normalisation_the_codes_stay() {
        let norm = NormStats {
            kind: Normalization::MinMax,
            offset: vec![-2.0, 0.0, 5.0, 1.0],
            scale: vec![4.0, 1.0, 0.5, 3.0],
        };
        for (pre_bias, stats) in [(false, None), (false, Some(&norm)), (true, Some(&norm))] {
            let tmp = tempfile::tempdir().unwrap();
            let (config, named) = ae_model(4, 9, Some(2), false, pre_bias, 5);
            let sae = Sae::from_ae(&config, &named, stats).unwrap();
            save(tmp.path(), SaeFormat::Sparsify, &sae).unwrap();
            let v = values(48 * 4, 6);
            let data = (0..48 * 4)
                .map(|k| norm.offset[k % 4] + (v[k] + 0.5) * norm.scale[k % 4])
                .collect();
            let x = Matrix::new(48, 4, data).unwrap();
            let (want_c, want_r) = ae_forward(&config, &named, stats, &x);
            let (c, r) = sparsify_forward(tmp.path(), &x);
            let (ec, er) = (max_rel(&c, &want_c), max_rel(&r, &want_r));
            eprintln!(
                "sparsify, pre-bias {pre_bias}, normalised {}: codes {ec:e}, recon {er:e}",
                stats.is_some()
            );
            assert!(ec < 1e-5 && er < 1e-5, "pre-bias {pre_bias}: {ec} {er}");
            // And back into ae: a pre-encoder-bias model with the same codes.
            let (_, back) = load(tmp.path()).unwrap();
            let (bc, bn) = back.to_ae().unwrap();
            assert!(bc.pre_bias && bc.code_topk == Some(2));
            let (c2, r2) = ae_forward(&bc, &bn, None, &x);
            assert!(max_rel(&c2, &want_c) < 1e-5 && max_rel(&r2, &want_r) < 1e-5);
        }
    }

    #[test]
    fn a_dense_relu_model_is_not_a_sparsify_coder() {
        let (config, named) = ae_model(4, 6, None, false, false, 1);
        let sae = Sae::from_ae(&config, &named, None).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let err = save(tmp.path(), SaeFormat::Sparsify, &sae)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TopK sparse coders only") && err.contains("saelens"),
            "{err}"
        );
    }

    fn write_dir(dir: &Path, cfg: serde_json::Value, tensors: &[Tensor]) {
        std::fs::write(dir.join(CFG_FILE), cfg.to_string()).unwrap();
        let blob = super::super::safetensors_bytes(tensors).unwrap();
        std::fs::write(dir.join(WEIGHTS_FILE), blob).unwrap();
    }

    fn tensors(d: usize, n: usize) -> Vec<Tensor> {
        vec![
            ("encoder.weight", vec![n, d], values(d * n, 1)),
            ("encoder.bias", vec![n], values(n, 2)),
            ("W_dec", vec![n, d], values(n * d, 3)),
            ("b_dec", vec![d], values(d, 4)),
        ]
    }

    #[test]
    fn configs_as_sparsify_reads_them_and_errors() {
        let tmp = tempfile::tempdir().unwrap();
        // num_latents 0: expansion_factor * d_in; k defaults to 32.
        write_dir(
            tmp.path(),
            json!({"d_in": 2, "num_latents": 0, "expansion_factor": 20}),
            &tensors(2, 40),
        );
        let (_, sae) = load(tmp.path()).unwrap();
        assert_eq!((sae.d_sae(), sae.topk), (40, Some(32)));

        let base = json!({"d_in": 4, "num_latents": 6, "k": 2});
        let with = |key: &str, v: serde_json::Value| {
            let mut c = base.clone();
            c[key] = v;
            c
        };
        let mut skip = tensors(4, 6);
        skip.push(("W_skip", vec![4, 4], values(16, 7)));
        let mut short = tensors(4, 6);
        short.remove(1);
        let cases: Vec<(serde_json::Value, Vec<Tensor>, &str)> = vec![
            (
                with("activation", json!("groupmax")),
                tensors(4, 6),
                "\"groupmax\"",
            ),
            (with("transcode", json!(true)), tensors(4, 6), "transcoder"),
            (with("skip_connection", json!(true)), skip.clone(), "W_skip"),
            (
                base.clone(),
                skip,
                "tensor 'W_skip', which is not part of a sparsify",
            ),
            (base.clone(), short, "has no tensor 'encoder.bias'"),
            (
                base.clone(),
                tensors(4, 5),
                "tensor 'encoder.weight' is [5, 4], expected [6, 4]",
            ),
            (with("k", json!(9)), tensors(4, 6), "k <= d_sae 6"),
        ];
        for (cfg, t, needle) in cases {
            let tmp = tempfile::tempdir().unwrap();
            write_dir(tmp.path(), cfg, &t);
            let err = load(tmp.path()).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
