//! One-layer sparse autoencoders to and from the two Python SAE libraries' directories:
//! [SAELens](saelens) (`cfg.json` + `sae_weights.safetensors`) and EleutherAI's
//! [sparsify] (`cfg.json` + `sae.safetensors`).
//!
//! An ae model is expressible when it is an input -> code -> input SAE: one encoder layer with
//! a ReLU code (TopK, BatchTopK, JumpReLU or plain), no decoder hidden layer, an identity
//! output, tied or not, with or without the pre-encoder bias. [`Sae`] is that model on *raw*
//! inputs, the form the three share:
//!
//! ```text
//! h = act((x - c) W_eᵀ + b_e)        act: ReLU, TopK (the k largest, ReLU on them), or
//! x̂ = h W_dᵀ + b_d                        JumpReLU (z where z > theta_j and z > 0)
//! ```
//!
//! A JumpReLU model's thresholds are `exp(log_threshold)`; a BatchTopK model is, outside
//! training, a JumpReLU with its learned threshold for every unit, and is exported so (its
//! import is a JumpReLU model). The normalisation's folding leaves the pre-activations, and so
//! the thresholds, as they are.
//!
//! with `W_e` `[d_sae, d_in]`, `W_d` `[d_in, d_sae]` (ae's `encoder.0.weight` and
//! `decoder.0.weight`, `nn.Linear` layout) and the centre `c` the encoder subtracts ([`Centre`]:
//! nothing, the decoder bias, or a fixed vector).
//!
//! # Folding the normalisation
//!
//! `ae encode` and `ae reconstruct` first normalise, `x' = (x - o) / s` per column (the model's
//! [`NormStats`]: offset `o`, scale `s`), and un-normalise the reconstruction, `x̂ = x̂' s + o`.
//! The model itself, with `p` its output bias when it has the pre-encoder bias and 0 otherwise,
//! computes `h = act((x' - p) W_eᵀ + b_e)`, `x̂' = h W_dᵀ + b_d`. With `D = diag(1 / s)`:
//!
//! ```text
//! x' - p = (x - (o + s ⊙ p)) D           so  h = act((x - c) W_e'ᵀ + b_e)
//!     W_e'[j, i] = W_e[j, i] / s_i,          c = o + s ⊙ p
//! x̂ = (h W_dᵀ + b_d) ⊙ s + o             so  x̂ = h W_d'ᵀ + b_d'
//!     W_d'[i, j] = s_i W_d[i, j],            b_d' = s ⊙ b_d + o
//! ```
//!
//! The codes are untouched (`b_e` stays). With the pre-encoder bias `c = o + s ⊙ b_d = b_d'`:
//! the folded model still subtracts its own output bias ([`Centre::DecoderBias`]). Without it
//! `c = o` ([`Centre::Fixed`]), or nothing without a normalisation.
//!
//! # Moving the centre into the encoder bias
//!
//! A format whose encoder subtracts `v` instead (SAELens: `b_dec` or nothing, after
//! `apply_b_dec_to_input`; sparsify: always `b_dec`) gets the encoder bias
//! [`Sae::encoder_bias_subtracting`]: `(x - c) W_eᵀ + b_e = (x - v) W_eᵀ + b_e + W_e (v - c)`, so
//! `b_e' = b_e + W_e (v - c)`, summed in f64. Where `v` is `c` the bias is copied bit for bit. So
//! sparsify's bias of a model without the pre-encoder bias and without a normalisation is
//! `b_e + W_e b_d`, and SAELens's of a normalised model without it `b_e - W_e' o`.
//!
//! # Precision
//!
//! The exports are f32, like ae's weights. Where a column's offset is large against its scale,
//! folding costs digits that ae's own `(x - o) / s` keeps: the folded centre (`b_d'`, near `o`)
//! is rounded to f32, an error of about `6e-8 |o| / s` in normalised units, and without the
//! pre-encoder bias SAELens's `b_e - W_e' o` also subtracts two large numbers. With `|o| / s`
//! near 1 (standardised activations) codes agree to about 1e-6; at `|o| / s` = 800 to about
//! 1e-4 (the unit tests hold both).
//!
//! Importing gives an ae model without a normalisation: the centre becomes the pre-encoder bias
//! (SAELens with `apply_b_dec_to_input`, and sparsify) or nothing (SAELens without it). The
//! import is never tied. What ae trained beyond the formats' inference architectures (a
//! Matryoshka model's prefixes, a BatchTopK model's `k`) travels in ae-specific `cfg.json` keys
//! ([`AeTraining`]). What the formats hold that ae cannot express (JumpReLU, a skip
//! connection, run-time activation normalisation, ...) is an error naming it.

mod files;
pub mod saelens;
pub mod sparsify;

use crate::data::normalize::{NormStats, Normalization};
use crate::{Activation, Error, Matrix, ModelConfig, Result};
use safetensors::tensor::{Dtype, TensorView};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use self::files::{prepare_dir, safetensors_bytes};
pub(crate) use self::files::{Cfg, Tensor, Tensors};

/// The config file of both formats.
pub const CFG_FILE: &str = "cfg.json";

/// A Python SAE library's directory layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaeFormat {
    /// SAELens: `cfg.json` + `sae_weights.safetensors` (`W_enc` `[d_in, d_sae]`, `b_enc`,
    /// `W_dec` `[d_sae, d_in]`, `b_dec`).
    SaeLens,
    /// EleutherAI's sparsify: `cfg.json` + `sae.safetensors` (`encoder.weight` `[d_sae, d_in]`,
    /// `encoder.bias`, `W_dec` `[d_sae, d_in]`, `b_dec`); TopK only.
    Sparsify,
}

impl SaeFormat {
    /// Both formats.
    pub const ALL: [SaeFormat; 2] = [SaeFormat::SaeLens, SaeFormat::Sparsify];

    /// The name `FromStr` takes and `Display` prints: `saelens`, `sparsify`.
    pub fn name(self) -> &'static str {
        match self {
            SaeFormat::SaeLens => "saelens",
            SaeFormat::Sparsify => "sparsify",
        }
    }

    /// The weights file beside `cfg.json`.
    pub fn weights_file(self) -> &'static str {
        match self {
            SaeFormat::SaeLens => saelens::WEIGHTS_FILE,
            SaeFormat::Sparsify => sparsify::WEIGHTS_FILE,
        }
    }
}

impl fmt::Display for SaeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SaeFormat {
    type Err = Error;

    /// `saelens` or `sparsify`, in any case.
    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase();
        SaeFormat::ALL
            .into_iter()
            .find(|f| f.name() == key)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown SAE format {s:?}; expected saelens or sparsify"
                ))
            })
    }
}

/// The SAE format a directory holds, told by its files: `cfg.json` beside
/// `sae_weights.safetensors` is SAELens, beside `sae.safetensors` sparsify. `Ok(None)` without a
/// `cfg.json`; an error naming the files when `cfg.json` has neither or both beside it.
pub fn detect(dir: &Path) -> Result<Option<SaeFormat>> {
    let cfg = dir.join(CFG_FILE);
    if !cfg.is_file() {
        return Ok(None);
    }
    let found: Vec<SaeFormat> = SaeFormat::ALL
        .into_iter()
        .filter(|f| dir.join(f.weights_file()).is_file())
        .collect();
    match found.as_slice() {
        [format] => Ok(Some(*format)),
        [] => Err(Error::Model {
            path: cfg,
            message: format!(
                "has neither {} (SAELens) nor {} (sparsify) beside it",
                saelens::WEIGHTS_FILE,
                sparsify::WEIGHTS_FILE
            ),
        }),
        _ => Err(Error::Model {
            path: dir.to_path_buf(),
            message: format!(
                "holds both {} (SAELens) and {} (sparsify) beside {CFG_FILE}: which one \
                 {CFG_FILE} describes is ambiguous; remove the other",
                saelens::WEIGHTS_FILE,
                sparsify::WEIGHTS_FILE
            ),
        }),
    }
}

/// What a one-layer SAE's encoder subtracts from its input before the affine map.
#[derive(Clone, Debug, PartialEq)]
pub enum Centre {
    /// Nothing: the encoder reads `x`.
    Zero,
    /// The decoder bias `b_d` (ae's pre-encoder bias; SAELens's `apply_b_dec_to_input`;
    /// sparsify always).
    DecoderBias,
    /// A fixed vector `[d_in]` (the normalisation's offset, folded, of a model without the
    /// pre-encoder bias).
    Fixed(Vec<f64>),
}

/// A one-layer SAE on raw inputs: `h = act((x - c) W_eᵀ + b_e)`, `x̂ = h W_dᵀ + b_d`, `act`
/// ReLU or TopK (see the [module](self) documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct Sae {
    /// `W_e` `[d_sae, d_in]`.
    pub encoder_weight: Matrix,
    /// `b_e` `[d_sae]`, the bias when the encoder reads `x - centre`.
    pub encoder_bias: Vec<f32>,
    /// `c`.
    pub centre: Centre,
    /// `W_d` `[d_in, d_sae]`.
    pub decoder_weight: Matrix,
    /// `b_d` `[d_in]`.
    pub decoder_bias: Vec<f32>,
    /// TopK's `k`, or `None` for a plain ReLU or JumpReLU code.
    pub topk: Option<usize>,
    /// JumpReLU's thresholds `[d_sae]` (unit `j` on where `z_j > threshold[j]` and `z_j > 0`),
    /// or `None`.
    pub threshold: Option<Vec<f32>>,
    /// How ae trained it, beyond what the formats' inference architectures say (see
    /// [`AeTraining`]); the default for a SAE that ae did not train.
    pub ae_training: AeTraining,
}

/// What an ae-trained SAE was trained as that neither format's inference architecture holds,
/// kept in ae-specific keys of `cfg.json` (SAELens: `metadata.ae_matryoshka` and
/// `metadata.ae_batchtopk_k`, in the free-form metadata that SAELens keeps when it loads and
/// saves; sparsify: a top-level `ae_matryoshka`, which sparsify drops on load) so that
/// `ae train --init-from` of an export restores the architecture. Neither changes the codes:
/// a BatchTopK code at inference is the JumpReLU of its threshold, and the prefixes only
/// weight the training loss. Import keeps them only where they fit the file (a BatchTopK `k`
/// on a `jumprelu` SAE whose thresholds are all one value, prefixes on a TopK or BatchTopK
/// code) and drops them otherwise, the file being read as its architecture says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AeTraining {
    /// The Matryoshka prefix ends ([`ModelConfig::matryoshka`]), or empty.
    pub matryoshka: Vec<usize>,
    /// A BatchTopK model's `k` (its code exported as the JumpReLU of its threshold), or `None`.
    pub batch_topk: Option<usize>,
}

/// The key of [`AeTraining::matryoshka`] in `cfg.json` (SAELens: under `metadata`).
pub const AE_MATRYOSHKA_KEY: &str = "ae_matryoshka";
/// The key of [`AeTraining::batch_topk`] under `cfg.json`'s `metadata` (SAELens).
pub const AE_BATCHTOPK_KEY: &str = "ae_batchtopk_k";

impl AeTraining {
    /// Reads the keys' values (`None` where absent); a value of the wrong kind is an error of
    /// `cfg` naming the key.
    pub(crate) fn read(
        cfg: &Cfg,
        matryoshka: Option<&serde_json::Value>,
        batch_topk: Option<&serde_json::Value>,
    ) -> Result<AeTraining> {
        let count = |v: &serde_json::Value| v.as_u64().map(|n| n as usize).filter(|&n| n > 0);
        let matryoshka = match matryoshka.filter(|v| !v.is_null()) {
            None => Vec::new(),
            Some(v) => v
                .as_array()
                .and_then(|a| a.iter().map(count).collect::<Option<Vec<_>>>())
                .ok_or_else(|| {
                    cfg.error(format!(
                        "\"{AE_MATRYOSHKA_KEY}\" (ae's Matryoshka prefixes) is {v}, expected \
                         a list of positive integers"
                    ))
                })?,
        };
        let batch_topk = match batch_topk.filter(|v| !v.is_null()) {
            None => None,
            Some(v) => Some(count(v).ok_or_else(|| {
                cfg.error(format!(
                    "\"{AE_BATCHTOPK_KEY}\" (ae's BatchTopK k) is {v}, expected a positive \
                     integer"
                ))
            })?),
        };
        Ok(AeTraining {
            matryoshka,
            batch_topk,
        })
    }
}

/// `m` transposed.
pub(crate) fn transpose(m: &Matrix) -> Matrix {
    let mut data = Vec::with_capacity(m.data.len());
    for c in 0..m.cols {
        data.extend((0..m.rows).map(|r| m.data[r * m.cols + c]));
    }
    Matrix {
        rows: m.cols,
        cols: m.rows,
        data,
    }
}

/// Why an ae model is not a one-layer SAE: `Error::Config` naming what is not supported.
fn unsupported(what: String) -> Error {
    Error::Config(format!(
        "{what}; a SAELens or sparsify SAE is one encoder layer (input -> code) with a ReLU, \
         TopK or JumpReLU code and one linear decoder layer back to the input"
    ))
}

impl Sae {
    /// Input width.
    pub fn d_in(&self) -> usize {
        self.encoder_weight.cols
    }

    /// Code width.
    pub fn d_sae(&self) -> usize {
        self.encoder_weight.rows
    }

    /// Checks the shapes against each other, `k`, and that every value is finite.
    pub fn validate(&self) -> Result<()> {
        let (n, d) = (self.d_sae(), self.d_in());
        let shape = |what: &str, got: (usize, usize), want: (usize, usize)| {
            if got == want {
                Ok(())
            } else {
                Err(Error::Shape(format!(
                    "{what} is [{}, {}], expected [{}, {}]",
                    got.0, got.1, want.0, want.1
                )))
            }
        };
        if n == 0 || d == 0 {
            return Err(Error::Shape(format!(
                "a SAE needs positive widths, got d_in {d} and d_sae {n}"
            )));
        }
        shape("the encoder bias", (1, self.encoder_bias.len()), (1, n))?;
        shape(
            "the decoder weight",
            (self.decoder_weight.rows, self.decoder_weight.cols),
            (d, n),
        )?;
        shape("the decoder bias", (1, self.decoder_bias.len()), (1, d))?;
        if let Centre::Fixed(c) = &self.centre {
            shape("the encoder's centre", (1, c.len()), (1, d))?;
        }
        if let Some(k) = self.topk {
            if k == 0 || k > n {
                return Err(Error::Config(format!(
                    "topk needs 1 <= k <= d_sae {n}, got k = {k}"
                )));
            }
        }
        if let Some(t) = &self.threshold {
            shape("the JumpReLU threshold", (1, t.len()), (1, n))?;
            if self.topk.is_some() {
                return Err(Error::Config(
                    "a SAE has a TopK or a JumpReLU code, not both".into(),
                ));
            }
        }
        if let Some(k) = self.ae_training.batch_topk {
            if k == 0 || k > n || self.uniform_threshold().is_none() {
                return Err(Error::Config(format!(
                    "a BatchTopK SAE needs 1 <= k <= d_sae {n} (got {k}) and one threshold for \
                     every unit"
                )));
            }
        }
        let m = &self.ae_training.matryoshka;
        if !m.is_empty() {
            if self.topk.is_none() && self.ae_training.batch_topk.is_none() {
                return Err(Error::Config(
                    "Matryoshka prefixes need a TopK or BatchTopK code".into(),
                ));
            }
            if m[0] == 0 || m.windows(2).any(|w| w[0] >= w[1]) || m[m.len() - 1] != n {
                return Err(Error::Config(format!(
                    "Matryoshka prefixes must be ascending from 1 up to d_sae {n} (which ends \
                     the list), got {m:?}"
                )));
            }
        }
        let finite = self
            .encoder_weight
            .data
            .iter()
            .chain(&self.encoder_bias)
            .chain(self.threshold.iter().flatten())
            .chain(&self.decoder_weight.data)
            .chain(&self.decoder_bias)
            .all(|v| v.is_finite());
        if !finite {
            return Err(Error::Shape("a SAE weight is not finite".into()));
        }
        Ok(())
    }

    /// The one value every JumpReLU threshold has, or `None` (no thresholds, or several values).
    pub fn uniform_threshold(&self) -> Option<f32> {
        let t = self.threshold.as_ref()?;
        let first = *t.first()?;
        t.iter()
            .all(|v| v.to_bits() == first.to_bits())
            .then_some(first)
    }

    /// Keeps what of `training` fits this SAE's code (see [`AeTraining`]): the BatchTopK `k` on
    /// a JumpReLU code of one threshold with `1 <= k <= d_sae`, then valid prefixes on a TopK or
    /// BatchTopK code; drops the rest.
    pub(crate) fn keep_fitting(&mut self, training: AeTraining) {
        self.ae_training = AeTraining {
            matryoshka: Vec::new(),
            batch_topk: training.batch_topk,
        };
        if self.validate().is_err() {
            self.ae_training.batch_topk = None;
        }
        self.ae_training.matryoshka = training.matryoshka;
        if self.validate().is_err() {
            self.ae_training.matryoshka = Vec::new();
        }
    }

    /// The SAE an ae model is, on raw inputs: `config` and its parameters `named` (as
    /// [`crate::Autoencoder::to_named`] gives them), with `normalization` (the model's saved
    /// statistics) folded into the weights as the [module](self) documentation derives. An
    /// architecture that is not a one-layer ReLU/TopK SAE with an identity output is an error
    /// naming what is not supported.
    pub fn from_ae(
        config: &ModelConfig,
        named: &[(String, Matrix)],
        normalization: Option<&NormStats>,
    ) -> Result<Sae> {
        config.validate()?;
        if config.variational {
            return Err(unsupported(
                "the model is variational (a Gaussian code of mean and log-variance)".into(),
            ));
        }
        if config.encoder.len() != 1 {
            return Err(unsupported(format!(
                "the model has {} encoder layers ({} -> {})",
                config.encoder.len(),
                config.input_dim,
                config
                    .encoder
                    .iter()
                    .map(|w| w.to_string())
                    .collect::<Vec<_>>()
                    .join(" -> ")
            )));
        }
        if !config.decoder.is_empty() {
            return Err(unsupported(format!(
                "the model's decoder has hidden layers {:?}",
                config.decoder
            )));
        }
        let n_units = config.code_dim();
        let threshold = if config.jump_relu {
            let name = "encoder.1.log_threshold";
            let lt = named
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, m)| m)
                .ok_or_else(|| Error::Shape(format!("the model has no tensor '{name}'")))?;
            if lt.data.len() != n_units {
                return Err(Error::Shape(format!(
                    "tensor '{name}' holds {} values, expected {n_units}",
                    lt.data.len()
                )));
            }
            Some(lt.data.iter().map(|&l| (l as f64).exp() as f32).collect())
        } else if config.batch_topk {
            let t = config.code_threshold.ok_or_else(|| {
                unsupported(
                    "the model is a BatchTopK SAE that has not learned its inference threshold \
                     yet (train it first)"
                        .into(),
                )
            })?;
            Some(vec![t; n_units])
        } else {
            None
        };
        let code = config.activations[0];
        if code != Activation::Relu {
            return Err(unsupported(format!(
                "the model's code activation is {code}, not relu"
            )));
        }
        let output = config.output_activation();
        if output != Activation::Identity {
            return Err(unsupported(format!(
                "the model's output activation is {output}, not identity"
            )));
        }
        let (n, d) = (config.code_dim(), config.input_dim);
        let get = |name: &str, rows: usize, cols: usize| -> Result<Matrix> {
            let m = named
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, m)| m.clone())
                .ok_or_else(|| Error::Shape(format!("the model has no tensor '{name}'")))?;
            if (m.rows, m.cols) != (rows, cols) {
                return Err(Error::Shape(format!(
                    "tensor '{name}' is [{}, {}], expected [{rows}, {cols}]",
                    m.rows, m.cols
                )));
            }
            Matrix::new(rows, cols, m.data)
        };
        let encoder_weight = get("encoder.0.weight", n, d)?;
        let encoder_bias = get("encoder.0.bias", 1, n)?.data;
        let decoder_weight = if config.tied {
            transpose(&encoder_weight)
        } else {
            get("decoder.0.weight", d, n)?
        };
        let decoder_bias = get("decoder.0.bias", 1, d)?.data;
        let mut sae = Sae {
            encoder_weight,
            encoder_bias,
            centre: if config.pre_bias {
                Centre::DecoderBias
            } else {
                Centre::Zero
            },
            decoder_weight,
            decoder_bias,
            // Outside training a BatchTopK code is the JumpReLU of its threshold.
            topk: config.code_topk.filter(|_| threshold.is_none()),
            threshold,
            ae_training: AeTraining {
                matryoshka: config.matryoshka.clone(),
                batch_topk: config.code_topk.filter(|_| config.batch_topk),
            },
        };
        if let Some(stats) = normalization.filter(|s| s.kind != Normalization::None) {
            sae.fold_normalization(stats)?;
        }
        sae.validate()?;
        Ok(sae)
    }

    /// Folds `x' = (x - o) / s` in front of the encoder and its inverse behind the decoder.
    fn fold_normalization(&mut self, stats: &NormStats) -> Result<()> {
        let d = self.d_in();
        if stats.offset.len() != d || stats.scale.len() != d {
            return Err(Error::Shape(format!(
                "the {} normalisation holds {} offsets and {} scales, the model takes {d} inputs",
                stats.kind,
                stats.offset.len(),
                stats.scale.len()
            )));
        }
        let (o, s) = (&stats.offset, &stats.scale);
        for row in self.encoder_weight.data.chunks_exact_mut(d) {
            for (w, &si) in row.iter_mut().zip(s) {
                *w = (*w as f64 / si as f64) as f32;
            }
        }
        for (i, row) in self
            .decoder_weight
            .data
            .chunks_exact_mut(self.decoder_weight.cols)
            .enumerate()
        {
            for w in row {
                *w = (*w as f64 * s[i] as f64) as f32;
            }
        }
        for (i, b) in self.decoder_bias.iter_mut().enumerate() {
            *b = (*b as f64 * s[i] as f64 + o[i] as f64) as f32;
        }
        // With the pre-encoder bias the centre o + s ⊙ b_d is the new decoder bias; without it,
        // the offset (nothing when every offset is 0).
        if self.centre == Centre::Zero && o.iter().any(|&v| v != 0.0) {
            self.centre = Centre::Fixed(o.iter().map(|&v| v as f64).collect());
        }
        Ok(())
    }

    /// The encoder bias for an encoder that subtracts the decoder bias from its input
    /// (`subtract_decoder_bias`) or nothing, instead of [`Sae::centre`]: `b_e + W_e (v - c)`,
    /// summed in f64; `b_e` itself, bit for bit, where `v` is `c`.
    pub fn encoder_bias_subtracting(&self, subtract_decoder_bias: bool) -> Vec<f32> {
        let d = self.d_in();
        let delta: Vec<f64> = match (&self.centre, subtract_decoder_bias) {
            (Centre::Zero, false) | (Centre::DecoderBias, true) => {
                return self.encoder_bias.clone()
            }
            (Centre::Zero, true) => self.decoder_bias.iter().map(|&b| b as f64).collect(),
            (Centre::DecoderBias, false) => {
                self.decoder_bias.iter().map(|&b| -(b as f64)).collect()
            }
            (Centre::Fixed(c), v) => (0..d)
                .map(|i| {
                    let v = if v { self.decoder_bias[i] as f64 } else { 0.0 };
                    v - c[i]
                })
                .collect(),
        };
        self.encoder_weight
            .data
            .chunks_exact(d)
            .zip(&self.encoder_bias)
            .map(|(row, &b)| {
                let dot: f64 = row.iter().zip(&delta).map(|(&w, &x)| w as f64 * x).sum();
                (b as f64 + dot) as f32
            })
            .collect()
    }

    /// The ae model this SAE is: its config (no normalisation; the pre-encoder bias when the
    /// centre is the decoder bias; a JumpReLU code with thresholds, or the BatchTopK code of
    /// [`AeTraining::batch_topk`] with the one threshold as its inference threshold; the
    /// Matryoshka prefixes of [`AeTraining::matryoshka`]) and named parameters for
    /// [`crate::Autoencoder::from_named`]. A threshold's logarithm is taken in f64; a threshold
    /// of 0 or below (which ReLU makes the same as 0) is stored as the smallest normal f32,
    /// which differs from it only for pre-activations in `(0, 1.2e-38]`.
    pub fn to_ae(&self) -> Result<(ModelConfig, Vec<(String, Matrix)>)> {
        self.validate()?;
        let pre_bias = self.centre == Centre::DecoderBias;
        let batch = self.ae_training.batch_topk.zip(self.uniform_threshold());
        let config = ModelConfig {
            input_dim: self.d_in(),
            encoder: vec![self.d_sae()],
            decoder: Vec::new(),
            activations: vec![Activation::Relu, Activation::Identity],
            tied: false,
            code_topk: self.topk.or(batch.map(|(k, _)| k)),
            pre_bias,
            batch_topk: batch.is_some(),
            code_threshold: batch.map(|(_, t)| t),
            jump_relu: self.threshold.is_some() && batch.is_none(),
            matryoshka: self.ae_training.matryoshka.clone(),
            variational: false,
        };
        config.validate()?;
        let row = |v: Vec<f32>| Matrix::new(1, v.len(), v);
        let mut named = vec![
            ("encoder.0.weight".to_string(), self.encoder_weight.clone()),
            (
                "encoder.0.bias".to_string(),
                row(self.encoder_bias_subtracting(pre_bias))?,
            ),
            ("decoder.0.weight".to_string(), self.decoder_weight.clone()),
            (
                "decoder.0.bias".to_string(),
                row(self.decoder_bias.clone())?,
            ),
        ];
        if let Some(t) = self.threshold.as_ref().filter(|_| batch.is_none()) {
            let logs = t
                .iter()
                .map(|&v| (v.max(f32::MIN_POSITIVE) as f64).ln() as f32)
                .collect();
            named.push(("encoder.1.log_threshold".to_string(), row(logs)?));
        }
        Ok((config, named))
    }
}

/// Writes `sae` into `dir` in `format`: `cfg.json` and the weights file, each atomically. `dir`
/// may be new, empty, or an earlier export in the same format (overwritten); anything else in it
/// (an ae model, another format's weights, other files) is refused, naming the file. An earlier
/// `cfg.json` is removed first and the new one written last, so an interrupted export leaves a
/// directory without `cfg.json`, which no loader takes for a model.
pub fn save(dir: &Path, format: SaeFormat, sae: &Sae) -> Result<()> {
    sae.validate()?;
    let (cfg, tensors) = match format {
        SaeFormat::SaeLens => saelens::encode(sae),
        SaeFormat::Sparsify => sparsify::encode(sae)?,
    };
    prepare_dir(dir, format)?;
    let blob = safetensors_bytes(&tensors)?;
    let json = serde_json::to_vec_pretty(&cfg).expect("a JSON value serialises");
    let cfg_path = dir.join(CFG_FILE);
    if cfg_path.exists() {
        std::fs::remove_file(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    }
    crate::atomic::write_atomic_all(&[
        (&dir.join(format.weights_file()), &blob),
        (&cfg_path, &json),
    ])
}

/// Reads the SAE in `dir`, of the format [`detect`] finds (an error when it finds none).
pub fn load(dir: &Path) -> Result<(SaeFormat, Sae)> {
    let format = detect(dir)?.ok_or_else(|| Error::Model {
        path: dir.join(CFG_FILE),
        message: "not found: a SAELens or sparsify directory holds cfg.json".into(),
    })?;
    let sae = match format {
        SaeFormat::SaeLens => saelens::read(dir)?,
        SaeFormat::Sparsify => sparsify::read(dir)?,
    };
    Ok((format, sae))
}

#[cfg(test)]
pub(crate) mod tests;
