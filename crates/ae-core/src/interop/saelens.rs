//! SAELens directories (`sae_lens` 6.x, `SAE.save_model` / `SAE.load_from_disk`): `cfg.json`, the
//! dict `SAEConfig.to_dict()` writes, and `sae_weights.safetensors` with `W_enc` `[d_in, d_sae]`,
//! `b_enc` `[d_sae]`, `W_dec` `[d_sae, d_in]` and `b_dec` `[d_in]`.
//!
//! SAELens encodes `h = act((x - a b_dec) W_enc + b_enc)`, `a` the config's
//! `apply_b_dec_to_input`, `act` ReLU (architecture `standard`) or TopK (`topk`: the `k` largest
//! pre-activations, `k` a top-level key, ReLU on them; with `rescale_acts_by_decoder_norm` the
//! pre-activations are first multiplied by the norms of `W_dec`'s rows and the codes divided by
//! them again before decoding), and decodes `h W_dec + b_dec`. So `W_enc` is ae's
//! `encoder.0.weight` transposed and `W_dec` its `decoder.0.weight` transposed.
//!
//! JumpReLU (`jumprelu`) adds `threshold` `[d_sae]`: unit `j` is on where its pre-activation
//! exceeds `threshold[j]` (`relu(z) * (z > threshold)`).
//!
//! Export writes `standard`, `topk` (`rescale_acts_by_decoder_norm` false) or `jumprelu` (a
//! JumpReLU model, and a BatchTopK one with its learned threshold), `dtype` `float32`,
//! `normalize_activations` and `reshape_activations` `none`, `apply_b_dec_to_input` true exactly
//! when the model has the pre-encoder bias, and `metadata.sae_lens_version` `6.0.0`: SAELens
//! reads a config without that version as a pre-6.0 one and converts it. Import takes those,
//! configs from before 6.0 (no `architecture`; `activation_fn` `topk` with
//! `activation_fn_kwargs.k`), and a `topk` SAE with `rescale_acts_by_decoder_norm`, whose norms
//! it folds into the weights (`W_enc`'s column and `b_enc`'s entry of unit `j` times `n_j`,
//! `W_dec`'s row divided by it; a zero row stays, and its unit's encoder becomes 0), and
//! `jumprelu` SAEs (SAELens saves its BatchTopK ones so too). Gated and the other
//! architectures, and `normalize_activations` other than `none`, are errors naming them.

use super::{
    transpose, AeTraining, Centre, Cfg, Sae, Tensor, Tensors, AE_BATCHTOPK_KEY, AE_MATRYOSHKA_KEY,
};
use crate::{Error, Result};
use serde_json::json;
use std::path::Path;

/// The weights file.
pub const WEIGHTS_FILE: &str = "sae_weights.safetensors";

/// What export writes as `metadata.sae_lens_version`: the first release with this `cfg.json`
/// layout (SAELens's `handle_config_defaulting` takes configs without it for pre-6.0 ones).
pub const CFG_LAYOUT_VERSION: &str = "6.0.0";

const HOLDS: &str = "W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in] and b_dec [d_in] \
                     (and threshold [d_sae] for jumprelu)";

/// The code of a SAELens architecture.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Code {
    /// `standard`: ReLU.
    Relu,
    /// `topk` with its `k`.
    TopK(usize),
    /// `jumprelu`: the tensor `threshold`.
    JumpRelu,
}

impl Code {
    fn name(self) -> &'static str {
        match self {
            Code::Relu => "standard",
            Code::TopK(_) => "topk",
            Code::JumpRelu => "jumprelu",
        }
    }
}

/// SAELens's default `k` of a `topk` config without one (`TopKSAEConfig.k`).
const DEFAULT_K: usize = 100;

/// `cfg.json` and the tensors of `sae`.
pub(super) fn encode(sae: &Sae) -> (serde_json::Value, Vec<Tensor>) {
    let apply = sae.centre == Centre::DecoderBias;
    let code = match (sae.topk, &sae.threshold) {
        (Some(k), _) => Code::TopK(k),
        (None, Some(_)) => Code::JumpRelu,
        (None, None) => Code::Relu,
    };
    let mut cfg = json!({
        "architecture": code.name(),
        "d_in": sae.d_in(),
        "d_sae": sae.d_sae(),
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": apply,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {
            "sae_lens_version": CFG_LAYOUT_VERSION,
            "exported_by": concat!("ae ", env!("CARGO_PKG_VERSION")),
        },
    });
    if let Some(k) = sae.topk {
        cfg["k"] = json!(k);
        cfg["rescale_acts_by_decoder_norm"] = json!(false);
    }
    if !sae.ae_training.matryoshka.is_empty() {
        cfg["metadata"][AE_MATRYOSHKA_KEY] = json!(sae.ae_training.matryoshka);
    }
    if let Some(k) = sae.ae_training.batch_topk {
        cfg["metadata"][AE_BATCHTOPK_KEY] = json!(k);
    }
    let (d, n) = (sae.d_in(), sae.d_sae());
    let mut tensors = vec![
        ("W_enc", vec![d, n], transpose(&sae.encoder_weight).data),
        ("b_enc", vec![n], sae.encoder_bias_subtracting(apply)),
        ("W_dec", vec![n, d], transpose(&sae.decoder_weight).data),
        ("b_dec", vec![d], sae.decoder_bias.clone()),
    ];
    if let Some(t) = &sae.threshold {
        tensors.push(("threshold", vec![n], t.clone()));
    }
    (cfg, tensors)
}

/// The architecture (`standard`, `topk` with its `k`, or `jumprelu`) of a config.
fn architecture(cfg: &Cfg) -> Result<Code> {
    let legacy_k = cfg
        .get("activation_fn_kwargs")
        .and_then(|kw| kw.get("k"))
        .filter(|k| !k.is_null());
    let arch = match cfg.get("architecture") {
        Some(_) => cfg.text("architecture", "")?.to_string(),
        // Before 6.0: `standard` unless the activation is TopK with a k (as SAELens converts).
        None => {
            let act = match cfg.get("activation_fn") {
                Some(_) => cfg.text("activation_fn", "relu")?,
                None => cfg.text("activation_fn_str", "relu")?,
            };
            if act == "topk" && legacy_k.is_some() {
                "topk".into()
            } else {
                "standard".into()
            }
        }
    };
    match arch.as_str() {
        "standard" => Ok(Code::Relu),
        "topk" => {
            let k = match (cfg.get("k"), legacy_k) {
                (None, Some(k)) => k.as_u64().map(|k| k as usize).ok_or_else(|| {
                    cfg.error(format!(
                        "\"activation_fn_kwargs\".\"k\" is {k}, expected an integer"
                    ))
                })?,
                _ => cfg.count("k", Some(DEFAULT_K), "TopK's k")?,
            };
            Ok(Code::TopK(k))
        }
        "jumprelu" => Ok(Code::JumpRelu),
        other => Err(cfg.error(format!(
            "architecture \"{other}\" is not supported; supported: standard, topk, jumprelu"
        ))),
    }
}

/// Reads the SAELens SAE in `dir`.
pub(super) fn read(dir: &Path) -> Result<Sae> {
    let cfg = Cfg::read(dir)?;
    let code = architecture(&cfg)?;
    let d = cfg.count("d_in", None, "the input width")?;
    let n = cfg.count("d_sae", None, "the code width")?;
    if d == 0 || n == 0 {
        return Err(cfg.error(format!(
            "d_in {d} and d_sae {n}: both widths must be positive"
        )));
    }
    let apply = cfg.flag("apply_b_dec_to_input", true)?;
    let norm = match cfg.get("normalize_activations") {
        Some(serde_json::Value::Bool(b)) => {
            if *b {
                "expected_average_only_in"
            } else {
                "none"
            }
        }
        _ => cfg.text("normalize_activations", "none")?,
    };
    match norm {
        "none" => {}
        "expected_average_only_in" => {
            return Err(cfg.error(
                "normalize_activations \"expected_average_only_in\" is not supported: the SAE \
                 expects its inputs scaled by a factor that this directory does not hold; fold \
                 it into the weights (SAE.fold_activation_norm_scaling_factor), which sets \
                 \"none\", and save again"
                    .into(),
            ))
        }
        per_row @ ("layer_norm" | "constant_norm_rescale") => {
            return Err(cfg.error(format!(
                "normalize_activations \"{per_row}\" is not supported: it rescales each row by \
                 that row's own statistics, which ae's fixed per-column normalisation cannot \
                 express; supported: none"
            )))
        }
        other => {
            return Err(cfg.error(format!(
                "normalize_activations \"{other}\" is not supported: SAELens transforms the \
                 inputs with it at run time, outside these weights (fold it in, as \
                 SAE.fold_activation_whitening does for covariance_whitening, and save again); \
                 supported: none"
            )))
        }
    }
    let reshape = cfg.text("reshape_activations", "none")?;
    // hook_z only flattens heads into one row, which the rows ae reads already are.
    if !matches!(reshape, "none" | "hook_z") {
        return Err(cfg.error(format!(
            "reshape_activations \"{reshape}\" is not supported; supported: none, hook_z"
        )));
    }
    let rescale =
        matches!(code, Code::TopK(_)) && cfg.flag("rescale_acts_by_decoder_norm", false)?;

    let mut t = Tensors::read(&dir.join(WEIGHTS_FILE), HOLDS)?;
    let why = format!("cfg.json's d_in {d} and d_sae {n}");
    let w_enc = t.take("W_enc", d, n, &why)?;
    let b_enc = t.take("b_enc", n, 0, &why)?;
    let w_dec = t.take("W_dec", n, d, &why)?;
    let b_dec = t.take("b_dec", d, 0, &why)?;
    let threshold = match code {
        Code::JumpRelu => Some(t.take("threshold", n, 0, &why)?.data),
        _ => None,
    };
    t.finish(&format!("a SAELens {} SAE", code.name()))?;

    let mut sae = Sae {
        encoder_weight: transpose(&w_enc),
        encoder_bias: b_enc.data,
        centre: if apply {
            Centre::DecoderBias
        } else {
            Centre::Zero
        },
        decoder_weight: transpose(&w_dec),
        decoder_bias: b_dec.data,
        topk: match code {
            Code::TopK(k) => Some(k),
            _ => None,
        },
        threshold,
        ae_training: AeTraining::default(),
    };
    if rescale {
        fold_decoder_norms(&mut sae);
    }
    sae.validate().map_err(|e| Error::Model {
        path: dir.join(super::CFG_FILE),
        message: e.to_string(),
    })?;
    let metadata = cfg.get("metadata");
    sae.keep_fitting(AeTraining::read(
        &cfg,
        metadata.and_then(|m| m.get(AE_MATRYOSHKA_KEY)),
        metadata.and_then(|m| m.get(AE_BATCHTOPK_KEY)),
    )?);
    Ok(sae)
}

/// `rescale_acts_by_decoder_norm` folded in: unit `j`'s encoder row and bias times `n_j`, its
/// decoder column (`W_dec`'s row) divided by it, `n_j` that column's norm.
fn fold_decoder_norms(sae: &mut Sae) {
    let (d, n) = (sae.d_in(), sae.d_sae());
    for j in 0..n {
        let norm = (0..d)
            .map(|i| (sae.decoder_weight.data[i * n + j] as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        for w in &mut sae.encoder_weight.data[j * d..(j + 1) * d] {
            *w = (*w as f64 * norm) as f32;
        }
        sae.encoder_bias[j] = (sae.encoder_bias[j] as f64 * norm) as f32;
        if norm > 0.0 {
            for i in 0..d {
                let w = &mut sae.decoder_weight.data[i * n + j];
                *w = (*w as f64 / norm) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ae_forward, ae_model, max_rel, values};
    use super::super::{load, save, SaeFormat, CFG_FILE};
    use super::*;
    use crate::{Matrix, ModelConfig};

    /// Codes and reconstructions as SAELens computes them from its own tensors and config.
    fn saelens_forward(dir: &Path, x: &Matrix) -> (Matrix, Matrix) {
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(CFG_FILE)).unwrap()).unwrap();
        let t = crate::checkpoint::read_safetensors(&dir.join(WEIGHTS_FILE)).unwrap();
        let get = |n: &str| t.iter().find(|(name, _)| name == n).unwrap().1.clone();
        let (w_enc, b_enc, w_dec, b_dec) = (get("W_enc"), get("b_enc"), get("W_dec"), get("b_dec"));
        let (d, n) = (w_enc.rows, w_enc.cols);
        let apply = cfg["apply_b_dec_to_input"].as_bool().unwrap();
        let k = cfg["k"].as_u64().map(|k| k as usize);
        let threshold = t
            .iter()
            .find(|(name, _)| name == "threshold")
            .map(|(_, m)| m.clone());
        assert_eq!(threshold.is_some(), cfg["architecture"] == "jumprelu");
        let (mut codes, mut recon) = (Vec::new(), Vec::new());
        for r in 0..x.rows {
            let xin: Vec<f64> = (0..d)
                .map(|i| x.row(r)[i] as f64 - if apply { b_dec.data[i] as f64 } else { 0.0 })
                .collect();
            let mut h: Vec<f32> = (0..n)
                .map(|j| {
                    let z: f64 = (0..d).map(|i| xin[i] * w_enc.data[i * n + j] as f64).sum();
                    (z + b_enc.data[j] as f64) as f32
                })
                .collect();
            if let Some(k) = k {
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&a, &b| h[b].total_cmp(&h[a]).then(a.cmp(&b)));
                for &j in &order[k..] {
                    h[j] = 0.0;
                }
            }
            h.iter_mut().for_each(|v| *v = v.max(0.0));
            // JumpReLU: relu(z) * (z > threshold).
            if let Some(t) = &threshold {
                h.iter_mut()
                    .zip(&t.data)
                    .for_each(|(v, &t)| *v = if *v > t { *v } else { 0.0 });
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
    fn ae_to_saelens_to_ae_is_bit_exact_without_folding() {
        for (topk, tied, pre_bias) in [
            (Some(3), false, true),
            (Some(3), true, false),
            (None, false, false),
            (None, true, true),
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let (config, named) = ae_model(6, 10, topk, tied, pre_bias, 11);
            let sae = Sae::from_ae(&config, &named, None).unwrap();
            save(tmp.path(), SaeFormat::SaeLens, &sae).unwrap();
            let (format, back) = load(tmp.path()).unwrap();
            assert_eq!(format, SaeFormat::SaeLens);
            assert_eq!(back, sae, "topk {topk:?}, tied {tied}, pre-bias {pre_bias}");
            let cfg: serde_json::Value =
                serde_json::from_slice(&std::fs::read(tmp.path().join(CFG_FILE)).unwrap()).unwrap();
            assert_eq!(
                cfg["architecture"],
                if topk.is_some() { "topk" } else { "standard" }
            );
            assert_eq!(cfg["apply_b_dec_to_input"], pre_bias);
            assert_eq!(cfg["k"], serde_json::json!(topk));
            assert_eq!(cfg["metadata"]["sae_lens_version"], CFG_LAYOUT_VERSION);

            let x = Matrix::new(32, 6, values(32 * 6, 5)).unwrap();
            let (want_c, want_r) = ae_forward(&config, &named, None, &x);
            let (c, r) = saelens_forward(tmp.path(), &x);
            assert!(max_rel(&c, &want_c) < 1e-6 && max_rel(&r, &want_r) < 1e-6);
        }
    }

    /// A JumpReLU model (thresholds `exp(log_threshold)`) exports as `jumprelu` with `threshold`
    /// and comes back bit for bit, log-thresholds included; a BatchTopK model exports as the
    /// JumpReLU of its learned threshold, which SAELens and ae then encode alike, and comes
    /// back as itself.
    #[test]
    fn jumprelu_round_trips_bit_exact_and_batch_topk_exports_as_jumprelu() {
        let x = Matrix::new(32, 6, values(32 * 6, 5)).unwrap();
        for pre_bias in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let (mut config, mut named) = ae_model(6, 10, None, false, pre_bias, 12);
            config.jump_relu = true;
            // Thresholds from 0.001 to 0.5, some below most pre-activations, some above.
            let logs = values(10, 9)
                .iter()
                .map(|v| {
                    ((0.001f64).ln() * (1.0 - v.abs() as f64) + (0.5f64).ln() * v.abs() as f64)
                        as f32
                })
                .collect();
            named.push((
                "encoder.1.log_threshold".into(),
                Matrix::new(1, 10, logs).unwrap(),
            ));
            let sae = Sae::from_ae(&config, &named, None).unwrap();
            save(tmp.path(), SaeFormat::SaeLens, &sae).unwrap();
            let cfg: serde_json::Value =
                serde_json::from_slice(&std::fs::read(tmp.path().join(CFG_FILE)).unwrap()).unwrap();
            assert_eq!(cfg["architecture"], "jumprelu");
            let (_, back) = load(tmp.path()).unwrap();
            assert_eq!(back, sae);
            let (back_config, mut back_named) = back.to_ae().unwrap();
            assert_eq!(back_config, config, "pre-bias {pre_bias}");
            let mut want = named.clone();
            want.sort_by(|a, b| a.0.cmp(&b.0));
            back_named.sort_by(|a, b| a.0.cmp(&b.0));
            for ((n1, m1), (n2, m2)) in want.iter().zip(&back_named) {
                assert_eq!(n1, n2);
                let bits = |m: &Matrix| m.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(m1), bits(m2), "{n1}, pre-bias {pre_bias}");
            }
            let (want_c, want_r) = ae_forward(&config, &named, None, &x);
            let (c, r) = saelens_forward(tmp.path(), &x);
            assert!(max_rel(&c, &want_c) < 1e-6 && max_rel(&r, &want_r) < 1e-6);
            // Some units on, some held off by their thresholds (on under plain ReLU).
            let on = |c: &Matrix| c.data.iter().filter(|&&v| v > 0.0).count();
            let relu = ModelConfig {
                jump_relu: false,
                ..config.clone()
            };
            let relu_c = ae_forward(&relu, &named[..named.len() - 1], None, &x).0;
            assert!(
                on(&want_c) > 0 && on(&want_c) < on(&relu_c),
                "{} of {}",
                on(&want_c),
                on(&relu_c)
            );
        }
        let tmp = tempfile::tempdir().unwrap();
        let (mut config, named) = ae_model(6, 10, Some(3), false, true, 13);
        config.batch_topk = true;
        let err = Sae::from_ae(&config, &named, None).unwrap_err().to_string();
        assert!(err.contains("not learned its inference threshold"), "{err}");
        config.code_threshold = Some(0.4);
        let sae = Sae::from_ae(&config, &named, None).unwrap();
        assert_eq!(
            (sae.topk, sae.threshold.as_deref()),
            (None, Some(&[0.4f32; 10][..]))
        );
        save(tmp.path(), SaeFormat::SaeLens, &sae).unwrap();
        let (want_c, want_r) = ae_forward(&config, &named, None, &x);
        let (c, r) = saelens_forward(tmp.path(), &x);
        assert!(max_rel(&c, &want_c) < 1e-6 && max_rel(&r, &want_r) < 1e-6);
        let on = want_c.data.iter().filter(|&&v| v > 0.0).count();
        assert!(on > 0 && on < want_c.data.len(), "{on} on");
        // ae reads its own BatchTopK export back as BatchTopK (`metadata.ae_batchtopk_k`).
        let (back, _) = load(tmp.path()).unwrap().1.to_ae().unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn a_normalised_model_exports_to_the_same_codes_on_raw_inputs() {
        for pre_bias in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let (config, named) = ae_model(5, 12, Some(4), false, pre_bias, 3);
            let norm = crate::data::normalize::NormStats {
                kind: crate::data::normalize::Normalization::Standard,
                offset: vec![3.0, -1.0, 0.5, 10.0, 0.0],
                scale: vec![0.5, 2.0, 1.0, 4.0, 0.1],
            };
            let sae = Sae::from_ae(&config, &named, Some(&norm)).unwrap();
            save(tmp.path(), SaeFormat::SaeLens, &sae).unwrap();
            let v = values(64 * 5, 8);
            let data = (0..64 * 5)
                .map(|k| norm.offset[k % 5] + 2.0 * v[k] * norm.scale[k % 5])
                .collect();
            let x = Matrix::new(64, 5, data).unwrap();
            let (want_c, want_r) = ae_forward(&config, &named, Some(&norm), &x);
            let (c, r) = saelens_forward(tmp.path(), &x);
            let (ec, er) = (max_rel(&c, &want_c), max_rel(&r, &want_r));
            eprintln!("SAELens, pre-bias {pre_bias}: codes {ec:e}, recon {er:e}");
            assert!(ec < 1e-5 && er < 1e-5, "pre-bias {pre_bias}: {ec} {er}");
        }
    }

    /// Writes a SAELens directory by hand: `cfg` and tensors (name, shape, values).
    fn write_dir(dir: &Path, cfg: serde_json::Value, tensors: &[Tensor]) {
        std::fs::write(dir.join(CFG_FILE), cfg.to_string()).unwrap();
        let blob = super::super::safetensors_bytes(tensors).unwrap();
        std::fs::write(dir.join(WEIGHTS_FILE), blob).unwrap();
    }

    fn tensors(d: usize, n: usize) -> Vec<Tensor> {
        vec![
            ("W_enc", vec![d, n], values(d * n, 1)),
            ("b_enc", vec![n], values(n, 2)),
            ("W_dec", vec![n, d], values(n * d, 3)),
            ("b_dec", vec![d], values(d, 4)),
        ]
    }

    #[test]
    fn decoder_norm_rescaling_is_folded_in() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = json!({"architecture": "topk", "d_in": 4, "d_sae": 6, "k": 2,
            "rescale_acts_by_decoder_norm": true, "apply_b_dec_to_input": true,
            "metadata": {"sae_lens_version": "6.18.0"}});
        write_dir(tmp.path(), cfg, &tensors(4, 6));
        let (_, sae) = load(tmp.path()).unwrap();
        // SAELens: h = topk(pre * norms), x̂ = (h / norms) W_dec + b_dec.
        let t = tensors(4, 6);
        let (w_enc, b_enc, w_dec, b_dec) = (&t[0].2, &t[1].2, &t[2].2, &t[3].2);
        let norms: Vec<f64> = (0..6)
            .map(|j| {
                (0..4)
                    .map(|i| (w_dec[j * 4 + i] as f64).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect();
        let x = Matrix::new(8, 4, values(32, 9)).unwrap();
        let (config, named) = sae.to_ae().unwrap();
        let (codes, recon) = ae_forward(&config, &named, None, &x);
        for r in 0..8 {
            let mut pre: Vec<f64> = (0..6)
                .map(|j| {
                    let z: f64 = (0..4)
                        .map(|i| (x.row(r)[i] - b_dec[i]) as f64 * w_enc[i * 6 + j] as f64)
                        .sum();
                    (z + b_enc[j] as f64) * norms[j]
                })
                .collect();
            let mut order: Vec<usize> = (0..6).collect();
            order.sort_by(|&a, &b| pre[b].total_cmp(&pre[a]));
            for &j in &order[2..] {
                pre[j] = 0.0;
            }
            pre.iter_mut().for_each(|v| *v = v.max(0.0));
            for (j, &p) in pre.iter().enumerate() {
                assert!((codes.row(r)[j] as f64 - p).abs() < 1e-5, "code {r} {j}");
            }
            for i in 0..4 {
                let y: f64 = (0..6)
                    .map(|j| pre[j] / norms[j] * w_dec[j * 4 + i] as f64)
                    .sum::<f64>()
                    + b_dec[i] as f64;
                assert!((recon.row(r)[i] as f64 - y).abs() < 1e-5, "recon {r} {i}");
            }
        }
    }

    #[test]
    fn pre_6_configs_load() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = json!({"d_in": 4, "d_sae": 6, "activation_fn_str": "topk",
            "activation_fn_kwargs": {"k": 3}, "normalize_activations": false});
        write_dir(tmp.path(), cfg, &tensors(4, 6));
        let (_, sae) = load(tmp.path()).unwrap();
        assert_eq!((sae.topk, &sae.centre), (Some(3), &Centre::DecoderBias));
        let cfg = json!({"d_in": 4, "d_sae": 6, "apply_b_dec_to_input": false});
        write_dir(tmp.path(), cfg, &tensors(4, 6));
        let (_, sae) = load(tmp.path()).unwrap();
        assert_eq!((sae.topk, &sae.centre), (None, &Centre::Zero));
    }

    #[test]
    fn what_ae_cannot_read_is_an_error_naming_it() {
        let base = json!({"architecture": "standard", "d_in": 4, "d_sae": 6});
        let with = |key: &str, v: serde_json::Value| {
            let mut c = base.clone();
            c[key] = v;
            c
        };
        let mut short = tensors(4, 6);
        short.pop();
        let mut extra = tensors(4, 6);
        extra.push(("threshold", vec![6], vec![0.5; 6]));
        let mut wrong = tensors(4, 6);
        wrong[0].1 = vec![6, 4];
        let cases: Vec<(serde_json::Value, Vec<Tensor>, &str)> = vec![
            (
                with("architecture", json!("jumprelu")),
                tensors(4, 6),
                "has no tensor 'threshold'",
            ),
            (
                with("architecture", json!("gated")),
                tensors(4, 6),
                "\"gated\" is not supported",
            ),
            (
                with("normalize_activations", json!("layer_norm")),
                tensors(4, 6),
                "\"layer_norm\"",
            ),
            (
                with("normalize_activations", json!("expected_average_only_in")),
                tensors(4, 6),
                "fold_activation_norm_scaling_factor",
            ),
            (
                with("d_in", json!("four")),
                tensors(4, 6),
                "\"d_in\" (the input width) is \"four\"",
            ),
            (
                json!({"architecture": "topk", "d_sae": 6}),
                tensors(4, 6),
                "has no \"d_in\"",
            ),
            (base.clone(), short, "has no tensor 'b_dec'"),
            (
                base.clone(),
                extra,
                "tensor 'threshold', which is not part of a SAELens standard",
            ),
            (
                base.clone(),
                wrong,
                "tensor 'W_enc' is [6, 4], expected [4, 6] (cfg.json's d_in 4",
            ),
            (with("k", json!(7)).clone(), tensors(4, 6), "ok"),
        ];
        for (cfg, t, needle) in cases {
            let tmp = tempfile::tempdir().unwrap();
            write_dir(tmp.path(), cfg.clone(), &t);
            match load(tmp.path()) {
                Ok(_) => assert_eq!(needle, "ok", "{cfg}"),
                Err(e) => assert!(e.to_string().contains(needle), "{needle}: {e}"),
            }
        }
        // k above d_sae, and a file cut short.
        let tmp = tempfile::tempdir().unwrap();
        write_dir(
            tmp.path(),
            json!({"architecture": "topk", "d_in": 4, "d_sae": 6, "k": 7}),
            &tensors(4, 6),
        );
        let err = load(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("cfg.json") && err.contains("k <= d_sae 6"),
            "{err}"
        );
        let weights = tmp.path().join(WEIGHTS_FILE);
        let bytes = std::fs::read(&weights).unwrap();
        std::fs::write(&weights, &bytes[..bytes.len() - 10]).unwrap();
        let err = load(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains(WEIGHTS_FILE) && err.contains("not a valid safetensors"),
            "{err}"
        );
        std::fs::write(tmp.path().join(CFG_FILE), "{\"d_in\": 4,").unwrap();
        let err = load(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("cfg.json") && err.contains("line 1"), "{err}");
    }
}
