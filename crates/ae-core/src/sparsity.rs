//! Sparse autoencoders: the scalar maths of the sparsity ops every backend implements (KL
//! divergence, TopK's ordering key, JumpReLU's straight-through estimator, the seeded
//! corruption of denoising), the code penalties ([`CodePenalty`]: L1, KL and tanh, as
//! [`Regularizer`]s), JumpReLU's training settings ([`JumpReluTraining`]), the input noise
//! ([`Noise`]) and the code metrics reported per epoch ([`CodeMetrics`]).

use crate::params::CodeTerms;
use crate::regularizer::Regularizer;
use crate::{Activation, Backend, Error, ModelConfig, Result};
pub use ae_backend::ops::data::{hash_u32, hash_uniform, Noise};
pub use ae_backend::ops::sparsity::{
    jump_log_threshold_grad, jump_on, kl_clamp, kl_divergence, kl_gradient, rectangle, saturated,
    topk_key, ACTIVE_THRESHOLD, KL_EPS, MASKED,
};
use std::str::FromStr;

pub use crate::code_metrics::{
    density_bin, CodeMetrics, CodeMetricsAccumulator, PrefixFvu, DENSE_FREQUENCY, DENSITY_BINS,
};

fn parse_f32(what: &str, s: &str, spec: &str) -> Result<f32> {
    s.trim()
        .parse::<f32>()
        .map_err(|_| Error::Config(format!("'{spec}': {what} must be a number, got '{s}'")))
}

/// A penalty on the code, added to the reconstruction loss.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodePenalty {
    /// `lambda * mean over samples of sum over units j of |h_j|`, each unit weighted by its
    /// decoder column's L2 norm `||d_j||` with `decoder_norm` (Anthropic's April 2024 SAE
    /// update: the model cannot then dodge the penalty by shrinking codes and growing decoder
    /// columns); the gradient then also reaches the decoder weight.
    L1 {
        /// The coefficient.
        lambda: f32,
        /// Weight each unit by its decoder column's norm (needs an untied model).
        #[serde(default)]
        decoder_norm: bool,
    },
    /// `beta * sum over units j of KL(rho || rho_hat_j)`, `rho_hat_j` unit `j`'s mean activation
    /// over the batch (needs sigmoid code units).
    Kl {
        /// Target mean activation, in `(0, 1)`.
        rho: f32,
        /// The coefficient.
        beta: f32,
    },
    /// `lambda * mean over samples of sum_j tanh(c * |h_j| * ||d_j||)`, `d_j` unit `j`'s
    /// decoder column: the smooth stand-in for L0 that Anthropic (2025) and SAELens's
    /// `jumprelu_sparsity_loss_mode: tanh` train JumpReLU codes with (SAELens: `c` =
    /// `jumprelu_tanh_scale`, default 4). Its gradient reaches the code and the decoder (needs
    /// an untied model).
    Tanh {
        /// The coefficient.
        lambda: f32,
        /// `c`, inside the tanh.
        scale: f32,
    },
}

impl CodePenalty {
    /// SAELens's `jumprelu_tanh_scale` default.
    pub const DEFAULT_TANH_SCALE: f32 = 4.0;
}

impl CodePenalty {
    /// Checks the coefficients and that the model's code layer suits the penalty.
    pub fn validate(&self, model: &ModelConfig) -> Result<()> {
        match *self {
            CodePenalty::L1 { lambda, .. } if !(lambda.is_finite() && lambda >= 0.0) => Err(
                Error::Config(format!("l1 needs a lambda >= 0, got {lambda}")),
            ),
            CodePenalty::L1 {
                decoder_norm: true, ..
            } if model.tied => Err(Error::Config(
                "l1 weighted by decoder norms needs an untied model (a tied decoder is the \
                 encoder's weight)"
                    .into(),
            )),
            CodePenalty::Kl { rho, beta } => {
                if !(rho > 0.0 && rho < 1.0) {
                    return Err(Error::Config(format!("kl needs rho in (0, 1), got {rho}")));
                }
                if !(beta.is_finite() && beta >= 0.0) {
                    return Err(Error::Config(format!("kl needs a beta >= 0, got {beta}")));
                }
                let code = model.activations[model.encoder_depth() - 1];
                if code != Activation::Sigmoid {
                    return Err(Error::Config(format!(
                        "kl sparsity needs sigmoid code units (`model.code_activation` sigmoid), \
                         got {code}"
                    )));
                }
                Ok(())
            }
            CodePenalty::Tanh { lambda, scale } => {
                if !(lambda.is_finite() && lambda >= 0.0) {
                    return Err(Error::Config(format!(
                        "the tanh penalty needs a coefficient >= 0, got {lambda}"
                    )));
                }
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(Error::Config(format!(
                        "the tanh penalty needs a scale > 0, got {scale}"
                    )));
                }
                if model.tied {
                    return Err(Error::Config(
                        "the tanh penalty weighs each unit by its decoder column's norm and needs \
                         an untied model (a tied decoder is the encoder's weight)"
                            .into(),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The target mean activation of a KL penalty.
    pub fn rho(&self) -> Option<f32> {
        match *self {
            CodePenalty::Kl { rho, .. } => Some(rho),
            CodePenalty::L1 { .. } | CodePenalty::Tanh { .. } => None,
        }
    }
}

impl<B: Backend> Regularizer<B> for CodePenalty {
    fn name(&self) -> String {
        match self {
            CodePenalty::L1 {
                lambda,
                decoder_norm,
            } => format!(
                "l1({lambda}{})",
                if *decoder_norm { ", decoder-norm" } else { "" }
            ),
            CodePenalty::Kl { rho, beta } => format!("kl(rho {rho}, beta {beta})"),
            CodePenalty::Tanh { lambda, scale } => format!("tanh({lambda}, scale {scale})"),
        }
    }

    fn code_gradient(
        &self,
        backend: &B,
        code: &B::Tensor,
        grad: &mut B::Tensor,
        terms: &mut CodeTerms<'_, B>,
    ) {
        match *self {
            CodePenalty::L1 {
                lambda,
                decoder_norm,
            } => l1_code_gradient(backend, code, grad, terms, lambda, decoder_norm, 0.0),
            CodePenalty::Tanh { lambda, scale } => {
                l1_code_gradient(backend, code, grad, terms, lambda, true, scale)
            }
            CodePenalty::Kl { rho, beta } => backend.kl_sparsity(
                code,
                rho,
                beta * terms.strength,
                terms.scale,
                terms.penalty,
                grad,
                terms.unit_scratch,
            ),
        }
    }
}

/// The L1 penalty (`tanh_scale` 0) or its tanh form on `code`, each unit weighted by its
/// decoder column's norm with `decoder_norm` (then the decoder's gradient too).
fn l1_code_gradient<B: Backend>(
    backend: &B,
    code: &B::Tensor,
    grad: &mut B::Tensor,
    terms: &mut CodeTerms<'_, B>,
    lambda: f32,
    decoder_norm: bool,
    tanh_scale: f32,
) {
    let lambda = lambda * terms.strength;
    // Decoder-norm weights: the column norms, and the decoder's gradient after.
    let decoder = decoder_norm.then(|| {
        terms
            .decoder
            .as_mut()
            .expect("a decoder-norm penalty is validated against a tied model")
    });
    if let Some((w, _)) = &decoder {
        backend.column_norms(w, terms.unit_scratch);
    }
    let weights = decoder.is_some().then_some(&*terms.unit_scratch);
    let (scale, acc) = (terms.scale, &mut *terms.penalty);
    backend.l1_penalty(code, weights, lambda, tanh_scale, scale, acc, grad);
    if let Some((w, grad_w)) = decoder {
        let alpha = lambda / backend.shape(code).0.max(1) as f32;
        backend.l1_decoder_norm_backward(code, w, alpha, tanh_scale, grad_w);
    }
}

/// How a JumpReLU code ([`ModelConfig::jump_relu`]) trains its thresholds (Rajamanoharan et
/// al. 2024): the pseudo-derivatives of [`jump_log_threshold_grad`] with the rectangle kernel
/// of width `bandwidth`, and the L0 penalty `l0 * mean over samples of sum_j H(z_j - theta_j)`,
/// whose gradient reaches the thresholds only. With the tanh penalty ([`CodePenalty::Tanh`])
/// `l0` is 0.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JumpReluTraining {
    /// The L0 coefficient (0: none).
    pub l0: f32,
    /// The kernel's bandwidth `eps` (SAELens's `jumprelu_bandwidth`).
    pub bandwidth: f32,
}

impl JumpReluTraining {
    /// SAELens's default bandwidth, 0.05.
    pub const DEFAULT_BANDWIDTH: f32 = 0.05;

    /// Checks the coefficient and the bandwidth, and that the model has a JumpReLU code.
    pub fn validate(&self, model: &ModelConfig) -> Result<()> {
        if !model.jump_relu {
            return Err(Error::Config(
                "JumpReLU training (`train.jump_relu`) needs a JumpReLU code (`model.jump_relu`)"
                    .into(),
            ));
        }
        if !(self.l0.is_finite() && self.l0 >= 0.0) {
            return Err(Error::Config(format!(
                "the L0 coefficient must be >= 0, got {}",
                self.l0
            )));
        }
        if !(self.bandwidth.is_finite() && self.bandwidth > 0.0) {
            return Err(Error::Config(format!(
                "the JumpReLU bandwidth must be positive, got {}",
                self.bandwidth
            )));
        }
        Ok(())
    }
}

impl Default for JumpReluTraining {
    /// No L0 penalty, the default bandwidth.
    fn default() -> Self {
        JumpReluTraining {
            l0: 0.0,
            bandwidth: Self::DEFAULT_BANDWIDTH,
        }
    }
}

/// What `--sparsity` names: a code penalty, or TopK (an architecture option, see
/// [`ModelConfig::code_topk`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SparsitySpec {
    /// `l1:LAMBDA`, `l1:LAMBDA:decoder-norm` or `kl:RHO:BETA`.
    Penalty(CodePenalty),
    /// `topk:K`, optionally `topk:K:AUXK` (`AUXK` a count or `auto`); `batchtopk:K[:AUXK]` for
    /// BatchTopK.
    TopK {
        /// Units kept per sample (on average over a batch with BatchTopK).
        k: usize,
        /// Dead units the auxiliary loss reconstructs the residual with.
        aux_k: Option<AuxKUnits>,
        /// BatchTopK ([`crate::ModelConfig::batch_topk`]).
        batch: bool,
    },
    /// `jumprelu:COEF[:BANDWIDTH]` (the L0 penalty) or `jumprelu-tanh:COEF[:BANDWIDTH]` (the
    /// tanh penalty, scale [`CodePenalty::DEFAULT_TANH_SCALE`]): a JumpReLU code
    /// ([`crate::ModelConfig::jump_relu`]).
    JumpRelu {
        /// The penalty's coefficient.
        coef: f32,
        /// The straight-through estimator's bandwidth.
        bandwidth: f32,
        /// The tanh penalty instead of L0.
        tanh: bool,
    },
}

/// How many dead units AuxK uses: a count, or `auto`, Gao et al.'s `d_in / 2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuxKUnits {
    /// This many.
    Count(usize),
    /// Half the input width (Gao et al. 2024, dictionary_learning), at least 1 and at most the
    /// code width.
    HalfInput,
}

impl AuxKUnits {
    /// The count for a model of `d_in` inputs and `code` code units.
    pub fn resolve(self, d_in: usize, code: usize) -> usize {
        match self {
            AuxKUnits::Count(k) => k,
            AuxKUnits::HalfInput => (d_in / 2).clamp(1, code.max(1)),
        }
    }
}

impl SparsitySpec {
    /// A JumpReLU spec's training settings and penalty.
    pub fn jump_relu(&self) -> Option<(JumpReluTraining, Option<CodePenalty>)> {
        match *self {
            SparsitySpec::JumpRelu {
                coef,
                bandwidth,
                tanh,
            } => Some((
                JumpReluTraining {
                    l0: if tanh { 0.0 } else { coef },
                    bandwidth,
                },
                tanh.then_some(CodePenalty::Tanh {
                    lambda: coef,
                    scale: CodePenalty::DEFAULT_TANH_SCALE,
                }),
            )),
            _ => None,
        }
    }
}

impl FromStr for SparsitySpec {
    type Err = Error;
    /// `l1:LAMBDA[:decoder-norm]`, `kl:RHO:BETA`, `topk:K[:AUXK]`, `batchtopk:K[:AUXK]`,
    /// `jumprelu:COEF[:BANDWIDTH]` or `jumprelu-tanh:COEF[:BANDWIDTH]`.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let count = |what: &str, v: &str| -> Result<usize> {
            match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(Error::Config(format!(
                    "'{s}': {what} must be a positive whole number, got '{v}'"
                ))),
            }
        };
        Ok(match parts.as_slice() {
            ["l1", lambda] => SparsitySpec::Penalty(CodePenalty::L1 {
                lambda: parse_f32("LAMBDA", lambda, s)?,
                decoder_norm: false,
            }),
            ["l1", lambda, "decoder-norm"] => SparsitySpec::Penalty(CodePenalty::L1 {
                lambda: parse_f32("LAMBDA", lambda, s)?,
                decoder_norm: true,
            }),
            ["kl", rho, beta] => SparsitySpec::Penalty(CodePenalty::Kl {
                rho: parse_f32("RHO", rho, s)?,
                beta: parse_f32("BETA", beta, s)?,
            }),
            [kind @ ("topk" | "batchtopk"), k] => SparsitySpec::TopK {
                k: count("K", k)?,
                aux_k: None,
                batch: *kind == "batchtopk",
            },
            [kind @ ("topk" | "batchtopk"), k, aux] => SparsitySpec::TopK {
                k: count("K", k)?,
                aux_k: Some(match aux.trim() {
                    "auto" => AuxKUnits::HalfInput,
                    _ => AuxKUnits::Count(count("AUXK", aux)?),
                }),
                batch: *kind == "batchtopk",
            },
            [kind @ ("jumprelu" | "jumprelu-tanh"), coef, rest @ ..] if rest.len() <= 1 => {
                let coef = parse_f32("COEF", coef, s)?;
                let bandwidth = match rest {
                    [b] => parse_f32("BANDWIDTH", b, s)?,
                    _ => JumpReluTraining::DEFAULT_BANDWIDTH,
                };
                if !(coef.is_finite() && coef >= 0.0) {
                    return Err(Error::Config(format!(
                        "'{s}': COEF must be >= 0, got {coef}"
                    )));
                }
                if !(bandwidth.is_finite() && bandwidth > 0.0) {
                    return Err(Error::Config(format!(
                        "'{s}': BANDWIDTH must be positive, got {bandwidth}"
                    )));
                }
                SparsitySpec::JumpRelu {
                    coef,
                    bandwidth,
                    tanh: *kind == "jumprelu-tanh",
                }
            }
            _ => {
                return Err(Error::Config(format!(
                    "unknown sparsity '{s}': expected l1:LAMBDA[:decoder-norm], kl:RHO:BETA, \
                     topk:K[:AUXK], batchtopk:K[:AUXK], jumprelu:COEF[:BANDWIDTH] or \
                     jumprelu-tanh:COEF[:BANDWIDTH]"
                )))
            }
        })
    }
}

/// The AuxK auxiliary loss of TopK sparse autoencoders (Gao et al. 2024, "Scaling and
/// evaluating sparse autoencoders"), against dead latents.
///
/// A code unit is dead when it has not been active on any of the last `dead_window` training
/// samples. After the main forward pass of a one-hidden-layer TopK model, the residual
/// `e = x - x_hat` `[rows, d]` is reconstructed from the `k` largest pre-activations among the
/// dead units only (ReLU on them, others zero: `h_aux` `[rows, code]`), decoded by the decoder
/// weight without bias, `e_hat = h_aux W_decᵀ`, and
/// `coef * mean((e_hat - e)^2) / mean((e - mean_rows(e))^2)` is added to the objective: the MSE
/// over `rows * d` elements normalised by the batch's residual variance, as Gao et al.'s code
/// does (`normalized_mse`; 0 when the variance is 0), so that the coefficient does not depend
/// on the data's scale (the [`crate::Reduction`] weight cancels). Its gradient reaches the
/// decoder weight and, through the dead units' pre-activations, their encoder rows and biases
/// (and the output bias with a pre-encoder bias); `e`, and so the variance, is a constant. With
/// no dead unit the term is `coef` times the residual's mean square over its variance and has
/// no gradient.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuxK {
    /// Dead units used per sample.
    pub k: usize,
    /// The coefficient of the auxiliary loss (Gao et al.: 1/32).
    pub coef: f32,
    /// Training samples without activation after which a unit counts as dead.
    pub dead_window: usize,
}

impl AuxK {
    /// The default coefficient, 1/32.
    pub const DEFAULT_COEF: f32 = 1.0 / 32.0;
    /// The default dead window, 10,000 samples.
    pub const DEFAULT_DEAD_WINDOW: usize = 10_000;

    /// Checks the settings and that the model is a one-hidden-layer, untied TopK autoencoder
    /// (one encoder layer, one decoder layer) whose code has at least `k` units.
    pub fn validate(&self, model: &ModelConfig) -> Result<()> {
        if model.code_topk.is_none() {
            return Err(Error::Config(
                "the AuxK loss (`train.auxk`) needs a topk code (`model.code_topk`)".into(),
            ));
        }
        if model.encoder.len() != 1 || !model.decoder.is_empty() || model.tied {
            return Err(Error::Config(format!(
                "the AuxK loss needs a one-hidden-layer, untied autoencoder (`model.layers` IN,CODE), \
                 got encoder {:?}, decoder {:?}{}",
                model.encoder,
                model.decoder,
                if model.tied { ", tied" } else { "" }
            )));
        }
        let code = model.code_dim();
        if self.k == 0 || self.k > code {
            return Err(Error::Config(format!(
                "AuxK needs 1 <= AUXK <= the code width {code}, got {}",
                self.k
            )));
        }
        if !(self.coef.is_finite() && self.coef >= 0.0) {
            return Err(Error::Config(format!(
                "the AuxK coefficient must be >= 0, got {}",
                self.coef
            )));
        }
        if self.dead_window == 0 {
            return Err(Error::Config("the dead window must be positive".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs_and_rejects_bad_ones() {
        assert_eq!(
            "topk:32:256".parse::<SparsitySpec>().unwrap(),
            SparsitySpec::TopK {
                k: 32,
                aux_k: Some(AuxKUnits::Count(256)),
                batch: false,
            }
        );
        let auto = "topk:32:auto".parse::<SparsitySpec>().unwrap();
        let SparsitySpec::TopK {
            aux_k: Some(units), ..
        } = auto
        else {
            panic!("{auto:?}")
        };
        assert_eq!(units, AuxKUnits::HalfInput);
        assert_eq!(
            (
                units.resolve(784, 4096),
                units.resolve(784, 100),
                units.resolve(1, 8)
            ),
            (392, 100, 1)
        );
        assert_eq!(
            "batchtopk:16".parse::<SparsitySpec>().unwrap(),
            SparsitySpec::TopK {
                k: 16,
                aux_k: None,
                batch: true,
            }
        );
        assert!(matches!(
            "kl:0.01:3".parse::<SparsitySpec>().unwrap(),
            SparsitySpec::Penalty(CodePenalty::Kl { .. })
        ));
        assert_eq!(
            "jumprelu:0.1".parse::<SparsitySpec>().unwrap(),
            SparsitySpec::JumpRelu {
                coef: 0.1,
                bandwidth: JumpReluTraining::DEFAULT_BANDWIDTH,
                tanh: false,
            }
        );
        let tanh = "jumprelu-tanh:2:0.1".parse::<SparsitySpec>().unwrap();
        let (training, penalty) = tanh.jump_relu().unwrap();
        assert_eq!(
            (training.l0, training.bandwidth, penalty),
            (
                0.0,
                0.1,
                Some(CodePenalty::Tanh {
                    lambda: 2.0,
                    scale: 4.0
                })
            )
        );
        for bad in [
            "topk:0",
            "topk:x",
            "l1",
            "kl:0.1",
            "dense:3",
            "jumprelu",
            "jumprelu:-1",
            "jumprelu:0.1:0",
            "jumprelu:0.1:0.05:3",
        ] {
            assert!(bad.parse::<SparsitySpec>().is_err(), "{bad}");
        }
        assert!("mask:1.5".parse::<Noise>().is_err());
        assert_eq!(
            "gauss:0.1".parse::<Noise>().unwrap(),
            Noise::Gauss { sigma: 0.1 }
        );
        let relu = ModelConfig::mirrored(&[4, 3]).unwrap();
        let err = CodePenalty::Kl {
            rho: 0.1,
            beta: 1.0,
        }
        .validate(&relu)
        .unwrap_err();
        assert!(err.to_string().contains("sigmoid"), "{err}");
    }
}
