//! The settings of one training run ([`TrainConfig`]) and their checks.

use crate::regularizer::{Regularizer, WeightDecay};
use crate::sparsity::{AuxK, CodePenalty, JumpReluTraining, Noise};
use crate::{
    Backend, CodeProducts, Contractive, Error, Loss, LrSchedule, OptimizerConfig, OptimizerKind,
    Reduction, Result, Variational,
};

/// Settings of one training run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// A budget in steps: training ends after this many, mid-epoch if need be (the last epoch's
    /// losses are then means over the rows it saw). `None`: `epochs` decide.
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Seed of the shuffling.
    pub seed: u64,
    /// Reconstruction loss.
    pub loss: Loss,
    /// How a sample's element losses add up (the reported losses use it too).
    #[serde(default)]
    pub reduction: Reduction,
    /// Optimiser and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Learning rate over the run.
    pub schedule: LrSchedule,
    /// Stop after this many epochs without a better validation loss (needs validation data);
    /// the best weights are restored at the end.
    pub early_stopping_patience: Option<usize>,
    /// A sparsity penalty on the code (L1 or KL): [`train`] checks it against the model, applies
    /// it (see [`TrainConfig::regularizers`]) and reports it.
    #[serde(default)]
    pub penalty: Option<CodePenalty>,
    /// Sparsity warmup: the penalty's coefficient ramps linearly up to its value over this
    /// many steps (`(step + 1) / warmup` at step `step`), so that the code can form before it
    /// is made sparse. 0: no warmup.
    #[serde(default)]
    pub penalty_warmup: usize,
    /// Denoising: the input of each step is corrupted with this seeded noise, the loss compares
    /// against the clean input.
    #[serde(default)]
    pub noise: Option<Noise>,
    /// Measure the code after each epoch (MSE, FVU, L0, dead latents, mean activation) over the
    /// training data.
    #[serde(default)]
    pub code_metrics: bool,
    /// The AuxK loss against dead latents (one-hidden-layer TopK models); its value is reported
    /// as the epoch's penalty.
    #[serde(default)]
    pub auxk: Option<AuxK>,
    /// Keep every column of the decoder weight that reads the code at unit L2 norm: normalised
    /// before training and after every step, and each step's gradient loses its component along
    /// the column first (Gao et al. 2024). Needs an untied model.
    #[serde(default)]
    pub unit_norm_decoder: bool,
    /// After each epoch but the last, re-initialise the code units active on no training
    /// sample (see [`resample_dead`]). Needs a one-hidden-layer, untied model.
    #[serde(default)]
    pub resample_dead: bool,
    /// The dead-latent window of the code metrics: a code unit counts as dead when it was
    /// active on none of the last `dead_window` training samples (as seen in training, noise
    /// included). Units cannot count as dead before that many samples have been seen.
    #[serde(default = "default_dead_window")]
    pub dead_window: usize,
    /// How products with a TopK code are computed (the results agree within rounding).
    #[serde(default)]
    pub code_products: CodeProducts,
    /// How a JumpReLU code's thresholds train (its L0 penalty, reported as the epoch's
    /// penalty, and the estimator's bandwidth); `None` for a JumpReLU model means
    /// [`JumpReluTraining::default`]: no L0 penalty.
    #[serde(default)]
    pub jump_relu: Option<JumpReluTraining>,
    /// The contractive penalty `lambda * mean_b ||J_f(x_b)||_F^2` on the encoder `f`
    /// ([`Contractive`]: exact for one-layer encoders, a random-projection estimate otherwise);
    /// its value is reported as the epoch's `contractive` term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contractive: Option<Contractive>,
    /// How a variational model ([`crate::ModelConfig::variational`]) trains: the KL's beta and
    /// its warmup in epochs ([`Variational`]); `None` for a variational model means
    /// [`Variational::default`] (beta 1, no warmup). The KL is reported as the epoch's `kl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variational: Option<Variational>,
}

fn default_dead_window() -> usize {
    AuxK::DEFAULT_DEAD_WINDOW
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 256,
            seed: 0,
            loss: Loss::Mse,
            reduction: Reduction::Mean,
            optimizer: OptimizerConfig::default(),
            schedule: LrSchedule::Constant,
            early_stopping_patience: None,
            max_steps: None,
            penalty: None,
            penalty_warmup: 0,
            noise: None,
            code_metrics: false,
            auxk: None,
            unit_norm_decoder: false,
            resample_dead: false,
            dead_window: default_dead_window(),
            code_products: CodeProducts::Auto,
            jump_relu: None,
            contractive: None,
            variational: None,
        }
    }
}

impl TrainConfig {
    /// The penalties this config implies, which [`train`] applies: coupled L2 weight decay for
    /// SGD and Adam (AdamW's is decoupled, inside the optimiser) and the code penalty.
    pub fn regularizers<B: Backend>(&self) -> Vec<Box<dyn Regularizer<B>>> {
        let wd = self.optimizer.weight_decay;
        let mut out: Vec<Box<dyn Regularizer<B>>> = Vec::new();
        if wd > 0.0 && self.optimizer.kind != OptimizerKind::AdamW {
            out.push(Box::new(WeightDecay { lambda: wd }));
        }
        if let Some(penalty) = self.penalty {
            out.push(Box::new(penalty));
        }
        out
    }

    /// Checks the ranges of the settings.
    pub fn validate(&self) -> Result<()> {
        if self.max_steps == Some(0) {
            return Err(Error::Config(
                "a step budget (`train.max_steps`) must be positive".into(),
            ));
        }
        if self.early_stopping_patience == Some(0) {
            return Err(Error::Config(
                "early-stopping patience must be at least 1 epoch".into(),
            ));
        }
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(Error::Config(
                "epochs and batch size must be positive".into(),
            ));
        }
        let o = &self.optimizer;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return Err(Error::Config(format!(
                "learning rate must be positive, got {}",
                o.lr
            )));
        }
        if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
            return Err(Error::Config(format!(
                "weight decay must be non-negative, got {}",
                o.weight_decay
            )));
        }
        if let Some(noise) = self.noise {
            noise.validate()?;
        }
        if let Some(c) = self.contractive {
            c.check()?;
        }
        let l0 = self.jump_relu.is_some_and(|j| j.l0 > 0.0);
        if self.penalty_warmup > 0 && self.penalty.is_none() && !l0 {
            return Err(Error::Config(
                "a sparsity warmup needs a code penalty (`train.penalty`) or a JumpReLU L0 \
                 coefficient (`train.jump_relu`)"
                    .into(),
            ));
        }
        if self.dead_window == 0 {
            return Err(Error::Config("the dead window must be positive".into()));
        }
        Ok(())
    }
}
