//! Models in and out: loading an ae model directory or a SAELens / sparsify SAE
//! ([`load_model`]), and exporting a one-layer SAE to those formats ([`export_model`]).

use ae_core::checkpoint::{self, SavedConfig};
use ae_core::data::normalize::Normalization;
use ae_core::interop;
use ae_core::{Autoencoder, Backend, Error, Result};
use std::path::Path;

/// Loads a model onto `backend`: a directory `ae train` wrote (`config.json` +
/// `model.safetensors`), or a SAELens (`cfg.json` + `sae_weights.safetensors`) or sparsify
/// (`cfg.json` + `sae.safetensors`) SAE, imported ([`interop`]) as an ae model on raw inputs
/// (no normalisation, no threshold). The one place that tells them apart, by their files.
pub fn load_model<B: Backend>(backend: &B, dir: &Path) -> Result<(Autoencoder<B>, SavedConfig)> {
    if super::ensemble::is_ensemble(dir) {
        return Err(Error::Model {
            path: dir.join(checkpoint::CONFIG_FILE),
            message: "this is an ensemble of autoencoders (ae train --preset anomaly), which \
                      `ae score` reads; this command takes one model, such as the ensemble's \
                      member-0"
                .into(),
        });
    }
    if !dir.join(checkpoint::CONFIG_FILE).exists() && interop::detect(dir)?.is_some() {
        let (format, sae) = interop::load(dir)?;
        let (config, named) = sae.to_ae()?;
        let model =
            Autoencoder::from_named(backend, config.clone(), named).map_err(|e| Error::Model {
                path: dir.join(format.weights_file()),
                message: e.to_string(),
            })?;
        return Ok((model, SavedConfig::new(config)));
    }
    checkpoint::load(dir, backend)
}

/// What [`export_model`] wrote.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Exported {
    /// The directory written.
    pub out: std::path::PathBuf,
    /// `saelens` or `sparsify`.
    pub format: String,
    /// Input width.
    pub d_in: usize,
    /// Code width.
    pub d_sae: usize,
    /// TopK's k (null: a ReLU or JumpReLU code, SAELens `standard` or `jumprelu`).
    pub k: Option<usize>,
    /// The code is a JumpReLU (a JumpReLU model, or a BatchTopK one with its learned
    /// threshold): SAELens `jumprelu`, with the tensor `threshold`.
    pub jump_relu: bool,
    /// The model's normalisation was folded into the weights (the export reads raw inputs).
    pub normalization_folded: bool,
    /// The encoder subtracts `b_dec` from its input (the pre-encoder bias; always in sparsify).
    pub subtracts_b_dec: bool,
    /// The columns of the training file the model reads, in its input order (header names, or
    /// numbers counted from 1), where it was trained on a selection of them: the exported file
    /// cannot record it, so its user must feed these columns in this order. Null: all of them.
    pub input_columns: Option<Vec<String>>,
    /// The model fills empty cells with saved medians, which the exported file cannot carry:
    /// its user must fill them before encoding.
    pub fill_values_dropped: bool,
}

/// Exports the one-layer SAE in `model_dir` (an ae model, or a SAELens or sparsify directory)
/// into `out` in `format`, its normalisation folded into the weights so that the export gives on
/// raw inputs the codes and reconstructions `ae encode` and `ae reconstruct` give
/// ([`interop::Sae::from_ae`]); written as [`interop::save`] writes. `backend` only holds the
/// weights while they are read.
pub fn export_model<B: Backend>(
    backend: &B,
    model_dir: &Path,
    format: interop::SaeFormat,
    out: &Path,
) -> Result<Exported> {
    let (model, saved) = load_model(backend, model_dir)?;
    let named = model.to_named(backend)?;
    let norm = saved
        .normalization
        .as_ref()
        .filter(|s| s.kind != Normalization::None);
    let sae = interop::Sae::from_ae(model.config(), &named, norm).map_err(|e| match e {
        Error::Config(m) => Error::Config(format!(
            "{} cannot be exported as {format}: {m}",
            model_dir.display()
        )),
        e => e,
    })?;
    interop::save(out, format, &sae)?;
    Ok(Exported {
        out: out.to_path_buf(),
        format: format.to_string(),
        d_in: sae.d_in(),
        d_sae: sae.d_sae(),
        k: sae.topk,
        jump_relu: sae.threshold.is_some(),
        normalization_folded: norm.is_some(),
        subtracts_b_dec: format == interop::SaeFormat::Sparsify
            || sae.centre == interop::Centre::DecoderBias,
        input_columns: saved
            .input
            .as_ref()
            .filter(|i| !i.columns.iter().copied().eq(0..i.width))
            .map(|i| {
                let name = |(n, &c): (usize, &usize)| match &i.names {
                    Some(names) => names
                        .get(n)
                        .cloned()
                        .unwrap_or_else(|| format!("{}", c + 1)),
                    None => format!("{}", c + 1),
                };
                i.columns.iter().enumerate().map(name).collect()
            }),
        fill_values_dropped: saved.input.as_ref().is_some_and(|i| i.fill.is_some()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::prepare_input;
    use ae_core::{Matrix, ModelConfig};
    use ae_cpu::CpuBackend;

    /// An ae SAE (TopK, pre-encoder bias or not, random weights and biases) saved with a
    /// standard normalisation, exported in both formats and loaded back through `load_model`:
    /// on raw rows, the codes and reconstructions `ae encode` / `ae reconstruct` compute.
    #[test]
    fn exports_load_back_with_the_codes_of_the_normalised_model() {
        use ae_core::data::normalize::NormStats;
        use ae_core::{Activation, Output, Rng};
        let cpu = CpuBackend::<f32>::new();
        let (d, n) = (6, 24);
        let mut rng = Rng::new(5);
        let mut m = |r: usize, c: usize| {
            Matrix::new(
                r,
                c,
                (0..r * c)
                    .map(|_| rng.uniform_in(-1.0, 1.0) as f32)
                    .collect(),
            )
            .unwrap()
        };
        let named = vec![
            ("encoder.0.weight".to_string(), m(n, d)),
            ("encoder.0.bias".to_string(), m(1, n)),
            ("decoder.0.weight".to_string(), m(d, n)),
            ("decoder.0.bias".to_string(), m(1, d)),
        ];
        let raw = {
            let z = m(200, d);
            let data = z
                .data
                .iter()
                .enumerate()
                .map(|(k, v)| 3.0 * v + (k % d) as f32 - 2.0);
            Matrix::new(200, d, data.collect()).unwrap()
        };
        for pre_bias in [true, false] {
            let config = ModelConfig::mirrored(&[d, n])
                .unwrap()
                .with_activations(Activation::Relu, Activation::Relu, Activation::Identity)
                .unwrap()
                .with_topk(Some(4))
                .unwrap()
                .with_pre_bias(pre_bias)
                .unwrap();
            let model = Autoencoder::from_named(&cpu, config.clone(), named.clone()).unwrap();
            let mut saved = SavedConfig::new(config);
            saved.normalization = Some(NormStats::fit(Normalization::Standard, &raw));
            let dir = tempfile::tempdir().unwrap();
            let model_dir = dir.path().join("m");
            checkpoint::save(&model_dir, &cpu, &model, &saved).unwrap();
            let mut x = raw.clone();
            prepare_input(&saved, &mut x, Path::new("x"), &model_dir).unwrap();
            let want_codes = model.map_rows(&cpu, &x, Output::Code).unwrap();
            let mut want_recon = model.map_rows(&cpu, &x, Output::Reconstruction).unwrap();
            saved
                .normalization
                .as_ref()
                .unwrap()
                .invert(&mut want_recon)
                .unwrap();
            for format in interop::SaeFormat::ALL {
                let out = dir.path().join(format.name());
                let exported = export_model(&cpu, &model_dir, format, &out).unwrap();
                assert!(exported.normalization_folded && exported.k == Some(4));
                let (back, back_saved) = load_model(&cpu, &out).unwrap();
                assert!(back_saved.normalization.is_none());
                let codes = back.map_rows(&cpu, &raw, Output::Code).unwrap();
                let recon = back.map_rows(&cpu, &raw, Output::Reconstruction).unwrap();
                let rel = |a: &Matrix, b: &Matrix| {
                    a.data
                        .iter()
                        .zip(&b.data)
                        .map(|(&p, &q)| ((p - q).abs() / q.abs().max(1.0)) as f64)
                        .fold(0.0, f64::max)
                };
                let (ec, er) = (rel(&codes, &want_codes), rel(&recon, &want_recon));
                eprintln!("{format}, pre-bias {pre_bias}: codes {ec:e}, recon {er:e}");
                assert!(
                    ec < 1e-5 && er < 1e-5,
                    "{format}, pre-bias {pre_bias}: {ec} {er}"
                );
            }
        }
    }

    #[test]
    fn a_model_that_is_not_a_one_layer_sae_is_not_exported() {
        let cpu = CpuBackend::<f32>::new();
        let config = ModelConfig::mirrored(&[5, 4, 2]).unwrap();
        let model = Autoencoder::new(&cpu, config.clone(), 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        checkpoint::save(dir.path(), &cpu, &model, &SavedConfig::new(config)).unwrap();
        let out = dir.path().join("out");
        let err = export_model(&cpu, dir.path(), interop::SaeFormat::SaeLens, &out)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("cannot be exported as saelens") && err.contains("2 encoder layers"),
            "{err}"
        );
        assert!(!out.exists(), "nothing is written");
    }
}
