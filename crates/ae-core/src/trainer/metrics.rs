//! What an epoch measured: the losses and throughput always, and with `code_metrics` what the
//! code looks like ([`EpochCodeMetrics`]).

use super::{Rows, CHUNK_ROWS};
use crate::sparsity::{CodeMetrics, CodeMetricsAccumulator, PrefixFvu};
use crate::{Autoencoder, Backend, Result};

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean reconstruction loss over the epoch's training batches.
    pub train_loss: f64,
    /// Reconstruction loss on the validation data after the epoch.
    pub val_loss: Option<f64>,
    /// Learning rate at the epoch's last step.
    pub lr: f32,
    /// Wall time of the epoch (training and validation).
    pub seconds: f64,
    /// Training samples per second.
    pub samples_per_sec: f64,
    /// Mean code penalty over the epoch's training batches (with a penalty), plus the AuxK
    /// loss (with AuxK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty: Option<f64>,
    /// Code units re-initialised after the epoch, for the next one (with `resample_dead`; none
    /// after the last epoch). The other metrics are of the weights before it; it is set after
    /// the epoch's `TrainEvent::Epoch`, so only the history carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resampled: Option<usize>,
    /// Mean contractive penalty `lambda * mean_b ||J_f(x_b)||_F^2` over the epoch's training
    /// batches (with `TrainConfig::contractive`), not part of `penalty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contractive: Option<f64>,
    /// Mean KL divergence of the Gaussian code from the prior, `mean_b KL(q(z | x_b) || N(0, I))`
    /// over the epoch's training batches (variational models; without beta), not part of
    /// `train_loss`: the training objective is `train_loss + beta * kl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl: Option<f64>,
    /// The code after the epoch, over the training data (with `code_metrics`); its fields sit
    /// beside the others in JSON.
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub code: Option<EpochCodeMetrics>,
}

/// The code of the training data after an epoch (with `TrainConfig::code_metrics`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochCodeMetrics {
    /// Mean squared reconstruction error per element.
    pub mse: f64,
    /// Fraction of variance unexplained.
    pub fvu: f64,
    /// Mean active code units per sample.
    pub l0: f64,
    /// Code units active on none of the last `TrainConfig::dead_window` training samples.
    pub dead_latents: usize,
    /// Mean over units of each unit's mean activation.
    pub mean_activation: f64,
    /// Largest `|unit mean activation - rho|` (with a KL penalty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_abs_rho_error: Option<f64>,
    /// Each code unit's mean activation, to hold against rho (with a KL penalty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_mean_activation: Option<Vec<f64>>,
    /// Mean cosine between a sample and its reconstruction.
    #[serde(default)]
    pub cosine_similarity: f64,
    /// Mean `|x_hat| / |x|`.
    #[serde(default)]
    pub l2_ratio: f64,
    /// `sum |x_hat|^2 / sum x . x_hat` (1: unbiased).
    #[serde(default)]
    pub relative_reconstruction_bias: f64,
    /// Units active on more than 10% of the samples.
    #[serde(default)]
    pub dense_latents: usize,
    /// Units by firing frequency: never, below 1e-6, then one decade a bin up to [0.1, 1].
    #[serde(default)]
    pub density_histogram: Vec<usize>,
    /// The FVU of each Matryoshka prefix's reconstruction (Matryoshka models only; the last
    /// prefix's is `fvu`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix_fvu: Vec<PrefixFvu>,
}

impl EpochCodeMetrics {
    /// The epoch's view of `code`: with `dead_latents` counted over the window, and the
    /// per-unit means held against KL's target `rho` where there is one.
    pub fn new(code: CodeMetrics, dead_latents: usize, rho: Option<f32>) -> Self {
        EpochCodeMetrics {
            mse: code.mse,
            fvu: code.fvu,
            l0: code.l0,
            dead_latents,
            mean_activation: code.mean_activation,
            max_abs_rho_error: rho.map(|rho| code.max_abs_rho_error(rho as f64)),
            cosine_similarity: code.cosine_similarity,
            l2_ratio: code.l2_ratio,
            relative_reconstruction_bias: code.relative_reconstruction_bias,
            dense_latents: code.dense_latents,
            density_histogram: code.density_histogram.clone(),
            unit_mean_activation: rho.map(|_| code.unit_means),
            prefix_fvu: code.prefix_fvu,
        }
    }
}

/// Rows the per-epoch code metrics are measured on at most: every row of a set up to this size,
/// else this many evenly spaced ones (so that an epoch of a data set of 10^7 rows cut short by a
/// step budget is not followed by a pass over all of them).
pub const CODE_METRICS_ROWS: usize = 1 << 16;

/// Code metrics of `model` over `data` (at most [`CODE_METRICS_ROWS`] of its rows, evenly
/// spaced), read a chunk at a time (the codes and reconstructions of one chunk held at once);
/// for a Matryoshka model with each prefix's FVU.
pub fn code_metrics<B: Backend>(
    backend: &B,
    model: &Autoencoder<B>,
    data: Rows<'_>,
) -> Result<CodeMetrics> {
    let config = model.config();
    let mut acc = CodeMetricsAccumulator::new(config.input_dim, config.code_dim());
    let (n, m) = (data.len(), data.len().min(CODE_METRICS_ROWS));
    let picked: Vec<u32> = (0..m).map(|i| (i * n / m.max(1)) as u32).collect();
    for ids in picked.chunks(CHUNK_ROWS) {
        let x = data.gather(ids)?;
        let (code, recon) = model.code_and_reconstruction(backend, &x)?;
        acc.add(&x, &code, &recon)?;
        if !config.matryoshka.is_empty() {
            let prefixes = &config.matryoshka;
            let recons = model.prefix_reconstructions(backend, &x, prefixes)?;
            acc.add_prefixes(&x, prefixes, &recons)?;
        }
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(code: Option<EpochCodeMetrics>) -> EpochMetrics {
        EpochMetrics {
            epoch: 1,
            train_loss: 0.5,
            val_loss: None,
            lr: 1e-3,
            seconds: 1.0,
            samples_per_sec: 10.0,
            penalty: None,
            resampled: None,
            contractive: None,
            kl: None,
            code,
        }
    }

    #[test]
    fn code_metrics_sit_beside_the_others_in_json_and_read_back() {
        let with = epoch(Some(EpochCodeMetrics {
            mse: 0.1,
            fvu: 0.2,
            l0: 3.0,
            dead_latents: 4,
            mean_activation: 0.5,
            max_abs_rho_error: None,
            unit_mean_activation: None,
            cosine_similarity: 0.9,
            l2_ratio: 0.95,
            relative_reconstruction_bias: 0.97,
            dense_latents: 1,
            density_histogram: vec![4, 0, 0, 0, 0, 1, 2, 3],
            prefix_fvu: Vec::new(),
        }));
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(json["l0"], 3.0);
        assert_eq!(json["dead_latents"], 4);
        assert!(json.get("code").is_none() && json.get("max_abs_rho_error").is_none());
        assert_eq!(serde_json::from_value::<EpochMetrics>(json).unwrap(), with);
        let without = epoch(None);
        let json = serde_json::to_value(&without).unwrap();
        assert!(json.get("l0").is_none());
        assert_eq!(
            serde_json::from_value::<EpochMetrics>(json).unwrap(),
            without
        );
    }
}
