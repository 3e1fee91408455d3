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
//! import is never tied. What the formats hold that ae cannot express (JumpReLU, a skip
//! connection, run-time activation normalisation, ...) is an error naming it.

pub mod saelens;
pub mod sparsify;

use crate::data::normalize::{NormStats, Normalization};
use crate::{Activation, Error, Matrix, ModelConfig, Result};
use safetensors::tensor::{Dtype, TensorView};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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
    /// centre is the decoder bias; a JumpReLU code with thresholds) and named parameters for
    /// [`crate::Autoencoder::from_named`]. A threshold's logarithm is taken in f64; a threshold
    /// of 0 or below (which ReLU makes the same as 0) is stored as the smallest normal f32,
    /// which differs from it only for pre-activations in `(0, 1.2e-38]`.
    pub fn to_ae(&self) -> Result<(ModelConfig, Vec<(String, Matrix)>)> {
        self.validate()?;
        let pre_bias = self.centre == Centre::DecoderBias;
        let config = ModelConfig {
            input_dim: self.d_in(),
            encoder: vec![self.d_sae()],
            decoder: Vec::new(),
            activations: vec![Activation::Relu, Activation::Identity],
            tied: false,
            code_topk: self.topk,
            pre_bias,
            batch_topk: false,
            code_threshold: None,
            jump_relu: self.threshold.is_some(),
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
        if let Some(t) = &self.threshold {
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

/// Creates `dir`, or checks that everything in it belongs to an export in `format` (the atomic
/// writes' leftover temporary files included).
fn prepare_dir(dir: &Path, format: SaeFormat) -> Result<()> {
    if !dir.exists() {
        return std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e));
    }
    if !dir.is_dir() {
        return Err(Error::Model {
            path: dir.to_path_buf(),
            message: "is not a directory".into(),
        });
    }
    let ours = [CFG_FILE, format.weights_file()];
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    for name in names {
        let leftover = ours
            .iter()
            .any(|f| name.starts_with(&format!(".{f}.")) && name.ends_with(".tmp"));
        if !ours.contains(&name.as_str()) && !leftover {
            return Err(Error::Model {
                path: dir.to_path_buf(),
                message: format!(
                    "holds {name}, so it is not an earlier {format} export: export into a new \
                     or empty directory (an earlier export holds only {} and {})",
                    CFG_FILE,
                    format.weights_file()
                ),
            });
        }
    }
    Ok(())
}

/// A named f32 tensor of a given shape, to be written.
pub(crate) type Tensor = (&'static str, Vec<usize>, Vec<f32>);

/// `tensors` as a safetensors file (little-endian F32).
fn safetensors_bytes(tensors: &[Tensor]) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            TensorView::new(Dtype::F32, shape.clone(), b)
                .map(|v| (name.to_string(), v))
                .map_err(|e| Error::Backend(format!("safetensors: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| Error::Backend(format!("safetensors: {e}")))
}

/// The tensors of a weights file by name, each checked for its shape as it is taken; what is
/// left over at the end is an error naming the tensor.
pub(crate) struct Tensors {
    path: PathBuf,
    holds: &'static str,
    tensors: Vec<(String, Matrix)>,
}

impl Tensors {
    /// Reads `path` (any float dtype, as f32); `holds` says what the format expects in it, for
    /// the errors.
    pub(crate) fn read(path: &Path, holds: &'static str) -> Result<Tensors> {
        if !path.is_file() {
            return Err(Error::Model {
                path: path.to_path_buf(),
                message: format!("not found; it should hold {holds}"),
            });
        }
        Ok(Tensors {
            path: path.to_path_buf(),
            holds,
            tensors: crate::checkpoint::read_safetensors(path)?,
        })
    }

    fn error(&self, message: String) -> Error {
        Error::Model {
            path: self.path.clone(),
            message,
        }
    }

    /// Removes tensor `name` and checks that it is `[rows, cols]` (`cols == 0`: a vector of
    /// `rows` values, `[rows]` or `[1, rows]`); `why` says where the expected shape comes from.
    pub(crate) fn take(
        &mut self,
        name: &str,
        rows: usize,
        cols: usize,
        why: &str,
    ) -> Result<Matrix> {
        let Some(at) = self.tensors.iter().position(|(n, _)| n == name) else {
            return Err(self.error(format!(
                "has no tensor '{name}' (it should hold {})",
                self.holds
            )));
        };
        let (_, m) = self.tensors.remove(at);
        let (want, ok) = if cols == 0 {
            (format!("[{rows}]"), m.rows == 1 && m.cols == rows)
        } else {
            (
                format!("[{rows}, {cols}]"),
                m.rows == rows && m.cols == cols,
            )
        };
        if !ok {
            let got = if m.rows == 1 {
                format!("[{}] or [1, {}]", m.cols, m.cols)
            } else {
                format!("[{}, {}]", m.rows, m.cols)
            };
            return Err(self.error(format!("tensor '{name}' is {got}, expected {want} ({why})")));
        }
        if let Some((r, c, v)) = m.first_non_finite() {
            return Err(self.error(format!("tensor '{name}' holds {v} at [{r}, {c}]")));
        }
        Ok(m)
    }

    /// Errors naming a tensor that was not taken.
    pub(crate) fn finish(self, what: &str) -> Result<()> {
        match self.tensors.first() {
            None => Ok(()),
            Some((name, _)) => Err(self.error(format!(
                "holds tensor '{name}', which is not part of {what} (it should hold {})",
                self.holds
            ))),
        }
    }
}

/// `cfg.json` read as a JSON object, with typed, checked access to its keys.
pub(crate) struct Cfg {
    path: PathBuf,
    map: serde_json::Map<String, serde_json::Value>,
}

impl Cfg {
    pub(crate) fn read(dir: &Path) -> Result<Cfg> {
        let path = dir.join(CFG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::format(
                &path,
                format!("line {}, column {}", e.line(), e.column()),
                e.to_string(),
            )
        })?;
        match value {
            serde_json::Value::Object(map) => Ok(Cfg { path, map }),
            other => Err(Error::Model {
                path,
                message: format!("is not a JSON object but {other}"),
            }),
        }
    }

    pub(crate) fn error(&self, message: String) -> Error {
        Error::Model {
            path: self.path.clone(),
            message,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A positive integer at `key`, or `default` where it is absent (`None`: required).
    pub(crate) fn count(&self, key: &str, default: Option<usize>, what: &str) -> Result<usize> {
        match self.get(key) {
            None => default.ok_or_else(|| self.error(format!("has no \"{key}\" ({what})"))),
            Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| {
                self.error(format!(
                    "\"{key}\" ({what}) is {v}, expected a non-negative integer"
                ))
            }),
        }
    }

    /// A boolean at `key`, or `default` where it is absent.
    pub(crate) fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.error(format!("\"{key}\" is {v}, expected true or false"))),
        }
    }

    /// A string at `key`, or `default` where it is absent.
    pub(crate) fn text<'a>(&'a self, key: &str, default: &'a str) -> Result<&'a str> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_str()
                .ok_or_else(|| self.error(format!("\"{key}\" is {v}, expected a string"))),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
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
}
