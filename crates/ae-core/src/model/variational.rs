//! The variational autoencoder (Kingma & Welling 2014) on a [`ModelConfig::variational`] model.
//!
//! The code layer is one dense layer with `2 * code` identity outputs `[rows, 2 code]`: columns
//! `0..code` are the mean `mu`, columns `code..2 code` the raw log-variance `r`. The
//! log-variance is soft-clamped, `logvar = L tanh(r / L)` with `L` = [`LOGVAR_LIMIT`], so that
//! `exp(logvar)` stays within `[e^-L, e^L]` whatever the weights do (no overflow, no zero
//! variance) while its gradient never vanishes outright, as a hard clamp's would. The decoder
//! reads `z = mu + exp(logvar / 2) * eps` `[rows, code]` with `eps ~ N(0, I)` drawn on the device
//! from a seed (the same counter-based Gaussian as denoising noise, [`crate::Noise::Gauss`]), or
//! `z = mu` when no seed is set (inference).
//!
//! The objective is the reconstruction loss (a batch mean) plus `beta * KL`, with
//! `KL = (1 / rows) sum_b 0.5 sum_j (mu^2 + exp(logvar) - 1 - logvar)`, the batch mean of
//! `KL(N(mu, diag exp(logvar)) || N(0, I))`. Everything is composed from existing ops (column
//! copies, elementwise products, tanh, exp, the L1 op as a sum): no kernels of its own.

use super::{Autoencoder, Workspace};
use crate::{Activation, Backend, Error, ModelConfig, Noise, Result};

/// `L` in `logvar = L tanh(r / L)`: variances within `[e^-10, e^10]` (standard deviations
/// within `[0.0067, 148]`).
pub const LOGVAR_LIMIT: f32 = 10.0;

/// How a variational model trains: `beta` on the KL term, ramped linearly from 0 over the
/// first `warmup` epochs (per step: `beta * min(1, (step + 1) / (warmup * steps_per_epoch))`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Variational {
    /// The KL coefficient, finite and `>= 0` (1: the ELBO; Higgins et al.'s beta-VAE above).
    pub beta: f32,
    /// Epochs over which beta ramps up from 0 (0: none).
    #[serde(default)]
    pub warmup: usize,
}

impl Default for Variational {
    fn default() -> Self {
        Variational {
            beta: 1.0,
            warmup: 0,
        }
    }
}

impl Variational {
    /// Checks beta and the model: a [`ModelConfig::variational`] one.
    pub fn validate(&self, config: &ModelConfig) -> Result<()> {
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(Error::Config(format!(
                "the variational beta (`train.variational.beta`) must be finite and >= 0, got {}",
                self.beta
            )));
        }
        if !config.variational {
            return Err(Error::Config(
                "variational training (`train.variational`) needs a variational model \
                 (`model.variational`)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Beta at 0-based step `step` of a run with `steps_per_epoch` steps an epoch.
    pub fn beta_at(&self, step: usize, steps_per_epoch: usize) -> f32 {
        match self.warmup * steps_per_epoch {
            0 => self.beta,
            w => self.beta * ((step + 1) as f32 / w as f32).min(1.0),
        }
    }
}

/// The Gaussian code's buffers for one batch size, all `[rows, code]` but `kl_acc` `[1, 1]`;
/// made by [`Autoencoder::workspace`] for a variational model ([`Workspace::vae`]).
pub struct VaeBuffers<B: Backend> {
    /// The mean.
    pub(super) mu: B::Tensor,
    /// `logvar = L tanh(r / L)`.
    pub(super) logvar: B::Tensor,
    /// `r / L`.
    pub(super) scaled: B::Tensor,
    /// `tanh(r / L)`.
    pub(super) squashed: B::Tensor,
    /// `exp(logvar / 2)`.
    pub(super) std: B::Tensor,
    /// `eps` (zero without a seed).
    pub(super) eps: B::Tensor,
    /// What the decoder reads: `mu + std * eps`.
    pub(super) z: B::Tensor,
    /// `d objective / d z`, from the decoder's backward.
    pub(super) dz: B::Tensor,
    scratch: B::Tensor,
    scratch2: B::Tensor,
    ones: B::Tensor,
    /// `[1, 1]`: each batch adds `scale * KL` (without beta) into it.
    pub kl_acc: B::Tensor,
    /// The seed of the next forward pass's `eps`; `None`: `z = mu` (set by the trainer every
    /// step, and by sampling inference).
    pub seed: Option<u32>,
    /// The KL's coefficient in the gradient (set by the trainer's warmup; 1 by default).
    pub beta: f32,
}

impl<B: Backend> VaeBuffers<B> {
    /// Buffers for `rows` samples of a `code`-unit Gaussian code.
    pub(super) fn new(backend: &B, rows: usize, code: usize) -> Result<Self> {
        let z = || backend.zeros(rows, code);
        let mut ones = z()?;
        backend.fill(&mut ones, 1.0);
        Ok(VaeBuffers {
            mu: z()?,
            logvar: z()?,
            scaled: z()?,
            squashed: z()?,
            std: z()?,
            eps: z()?,
            z: z()?,
            dz: z()?,
            scratch: z()?,
            scratch2: z()?,
            ones,
            kl_acc: backend.zeros(1, 1)?,
            seed: None,
            beta: 1.0,
        })
    }

    /// The decoder's input after a forward pass: `[rows, code]`.
    pub fn z(&self) -> &B::Tensor {
        &self.z
    }

    /// The mean after a forward pass: `[rows, code]`.
    pub fn mu(&self) -> &B::Tensor {
        &self.mu
    }

    /// The (soft-clamped) log-variance after a forward pass: `[rows, code]`.
    pub fn logvar(&self) -> &B::Tensor {
        &self.logvar
    }
}

impl<B: Backend> Autoencoder<B> {
    /// After the code layer: splits its output `[rows, 2 code]` into `mu` and `logvar` and
    /// samples `z` (or sets `z = mu` without a seed).
    pub(super) fn reparameterize(&self, backend: &B, out: &B::Tensor, v: &mut VaeBuffers<B>) {
        let code = self.config.code_dim();
        backend.copy_columns(out, 0, &mut v.mu, 0, code);
        backend.copy_columns(out, code, &mut v.scratch, 0, code);
        backend.fill(&mut v.scaled, 0.0);
        backend.scale_add(1.0 / LOGVAR_LIMIT, &v.scratch, &mut v.scaled);
        backend.activation(Activation::Tanh, &v.scaled, &mut v.squashed);
        backend.fill(&mut v.logvar, 0.0);
        backend.scale_add(LOGVAR_LIMIT, &v.squashed, &mut v.logvar);
        backend.fill(&mut v.scratch, 0.0);
        backend.scale_add(0.5, &v.logvar, &mut v.scratch);
        backend.exponential(&v.scratch, &mut v.std);
        match v.seed {
            Some(seed) => {
                backend.fill(&mut v.scratch, 0.0);
                backend.corrupt(Noise::Gauss { sigma: 1.0 }, seed, &v.scratch, &mut v.eps);
            }
            None => backend.fill(&mut v.eps, 0.0),
        }
        backend.copy(&v.std, &mut v.z);
        backend.mul_assign(&mut v.z, &v.eps);
        backend.scale_add(1.0, &v.mu, &mut v.z);
    }

    /// After a forward pass: `v.kl_acc += scale * KL` (the batch mean, without beta).
    pub(super) fn add_kl(&self, backend: &B, scale: f32, v: &mut VaeBuffers<B>) {
        // mu^2 + exp(logvar) - 1 - logvar >= 0 elementwise, so the L1 op sums it.
        backend.copy(&v.std, &mut v.scratch);
        backend.mul_assign(&mut v.scratch, &v.std);
        backend.copy(&v.mu, &mut v.scratch2);
        backend.mul_assign(&mut v.scratch2, &v.mu);
        backend.scale_add(1.0, &v.scratch2, &mut v.scratch);
        backend.scale_add(-1.0, &v.ones, &mut v.scratch);
        backend.scale_add(-1.0, &v.logvar, &mut v.scratch);
        backend.fill(&mut v.scratch2, 0.0);
        backend.l1_penalty(
            &v.scratch,
            None,
            0.5,
            0.0,
            scale,
            &mut v.kl_acc,
            &mut v.scratch2,
        );
    }

    /// The code layer's output gradient `grad` `[rows, 2 code]` from `v.dz` and `beta * KL`:
    /// `d / d mu = dz + beta / rows * mu`, `d / d logvar = dz * eps * std / 2 + beta / rows *
    /// (exp(logvar) - 1) / 2`, then through `L tanh(r / L)` to the raw log-variance.
    pub(super) fn reparameterize_backward(
        &self,
        backend: &B,
        rows: usize,
        v: &mut VaeBuffers<B>,
        grad: &mut B::Tensor,
    ) {
        let code = self.config.code_dim();
        let k = v.beta / rows.max(1) as f32;
        backend.copy(&v.dz, &mut v.scratch);
        backend.scale_add(k, &v.mu, &mut v.scratch);
        backend.copy_columns(&v.scratch, 0, grad, 0, code);
        backend.copy(&v.dz, &mut v.scratch);
        backend.mul_assign(&mut v.scratch, &v.eps);
        backend.mul_assign(&mut v.scratch, &v.std);
        backend.copy(&v.std, &mut v.scratch2);
        backend.mul_assign(&mut v.scratch2, &v.std);
        backend.scale_add(-1.0, &v.ones, &mut v.scratch2);
        backend.fill(&mut v.dz, 0.0);
        backend.scale_add(0.5, &v.scratch, &mut v.dz);
        backend.scale_add(0.5 * k, &v.scratch2, &mut v.dz);
        backend.activation_backward(Activation::Tanh, &v.scaled, &v.squashed, &mut v.dz);
        backend.copy_columns(&v.dz, 0, grad, code, code);
    }

    /// The Gaussian code's buffers of `ws` (a variational model's workspace).
    pub fn vae<'w>(&self, ws: &'w mut Workspace<B>) -> Option<&'w mut VaeBuffers<B>> {
        ws.vae.as_mut()
    }
}
