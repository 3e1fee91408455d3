//! The flags of `ae train` (architecture, fit, data, SAE and preset options), shared with the
//! commands that train too (`compare`, `oneclass`) and with the preset and report modules.

use super::values::{
    ActivationArg, CodeProductsArg, LossArg, NormalizeArg, OptimizerArg, ReductionArg, ScheduleArg,
};
use ae::Result;
use ae_core::{Activation, ModelConfig, Noise, OptimizerConfig, SparsitySpec, TrainConfig};
use clap::Args;
use std::path::PathBuf;

/// Epochs and batch size when not given, for `train` and `compare`.
pub const FIT_DEFAULTS: (usize, usize) = (20, 256);

/// Architecture flags, shared by `train` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Activation of the hidden layers [default: relu; tanh with --preset anomaly].
    #[arg(long, value_enum, ignore_case = true)]
    pub activation: Option<ActivationArg>,
    /// Activation of the code (bottleneck) layer [default: identity; relu with --sparsity topk].
    #[arg(long, value_enum, ignore_case = true)]
    pub code_activation: Option<ActivationArg>,
    /// Output activation: identity, or sigmoid (for data in [0, 1]) [default: chosen from the
    /// data: sigmoid when the normalised training rows all lie in [0, 1], else identity; the
    /// run says which and why. Identity with --pre-bias, sigmoid with --loss bce].
    #[arg(long = "output", value_enum, ignore_case = true)]
    pub output_activation: Option<ActivationArg>,
    /// Decoder hidden widths, comma-separated (default: the encoder's, mirrored).
    #[arg(long, value_delimiter = ',')]
    pub decoder: Option<Vec<usize>>,
    /// Tie decoder weights to the encoder's (transposed).
    #[arg(long)]
    pub tied: bool,
    /// Pre-encoder bias (Gao et al. 2024): the encoder reads x - b, b being the output bias,
    /// which starts at the training data's mean. Without it, data with a large common
    /// component (MNIST in [0, 1]) turns the same TopK units on for every sample and leaves
    /// most units dead. Needs --output identity.
    #[arg(long)]
    pub pre_bias: bool,
}

/// Optimisation flags, shared by `train` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct FitArgs {
    /// Reconstruction loss: mse, or bce (needs --output sigmoid).
    #[arg(long, value_enum, ignore_case = true, default_value_t = LossArg::Mse)]
    pub loss: LossArg,
    /// How a sample's per-feature losses add up: mean, sum, or half-sum (1/2 the sum: the
    /// classic sparse autoencoder's 1/2 ||x_hat - x||^2, under which its published KL beta and
    /// weight decay apply as written). Reported losses use it too.
    #[arg(long, value_enum, ignore_case = true, default_value_t = ReductionArg::Mean)]
    pub reduction: ReductionArg,
    /// Optimiser: adam, adamw (decoupled weight decay) or sgd (with --momentum).
    #[arg(long, value_enum, ignore_case = true, default_value_t = OptimizerArg::Adam)]
    pub optimizer: OptimizerArg,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Weight decay (an L2 penalty for sgd and adam, decoupled for adamw) [default: 0; the
    /// anomaly preset's with --preset].
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f32,
    /// Learning-rate schedule: constant, or cosine (linear warmup, then cosine decay to 1%).
    #[arg(long, value_enum, ignore_case = true, default_value_t = ScheduleArg::Constant)]
    pub schedule: ScheduleArg,
    /// Warmup steps for --schedule cosine.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// Passes over the training data [default: 20; oneclass: 100].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Samples per step [default: 256; oneclass: 64].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed for initialisation, shuffling and splits.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl FitArgs {
    /// The trainer settings these flags describe, with `defaults` = (epochs, batch size) for
    /// the flags not given.
    pub fn train_config(&self, patience: Option<usize>, defaults: (usize, usize)) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs.unwrap_or(defaults.0),
            batch_size: self.batch_size.unwrap_or(defaults.1),
            seed: self.seed,
            loss: self.loss.into(),
            reduction: self.reduction.into(),
            optimizer: OptimizerConfig {
                kind: self.optimizer.into(),
                lr: self.lr,
                momentum: self.momentum,
                weight_decay: self.weight_decay.unwrap_or(0.0),
                ..OptimizerConfig::default()
            },
            schedule: self.schedule.schedule(self.warmup),
            early_stopping_patience: patience,
            ..TrainConfig::default()
        }
    }
}

impl ModelArgs {
    /// Whether the output activation is left to the data ([`workflow::choose_output`]): no
    /// `--output`, no `--pre-bias` (identity) and no `--loss bce` (sigmoid).
    pub fn output_from_data(&self, fit: &FitArgs) -> bool {
        self.output_activation.is_none() && !self.pre_bias && fit.loss != LossArg::Bce
    }

    /// The architecture for `layers` = `[input, hidden..., code]`.
    pub fn model_config(&self, layers: &[usize]) -> Result<ModelConfig> {
        self.model_config_topk(layers, None, false)
    }

    /// The architecture, with a TopK code keeping `topk` units per sample (whose code
    /// activation defaults to ReLU).
    pub fn model_config_topk(
        &self,
        layers: &[usize],
        topk: Option<usize>,
        jump_relu: bool,
    ) -> Result<ModelConfig> {
        let mut cfg = ModelConfig::mirrored(layers)?;
        if let Some(decoder) = &self.decoder {
            cfg = cfg.with_decoder(decoder.clone())?;
        }
        let code = self.code_activation.map_or(
            if topk.is_some() || jump_relu {
                Activation::Relu
            } else {
                Activation::Identity
            },
            Activation::from,
        );
        let output = match (self.output_activation, self.pre_bias) {
            (Some(given), _) => given.into(),
            (None, true) => Activation::Identity,
            // Replaced after the normalisation is fitted where `output_from_data` says so.
            (None, false) => Activation::Sigmoid,
        };
        let hidden = self.activation.unwrap_or(ActivationArg::Relu).into();
        let mut cfg = cfg
            .with_activations(hidden, code, output)?
            .with_tied(self.tied)?
            .with_topk(topk)?
            .with_pre_bias(self.pre_bias)?;
        cfg.jump_relu = jump_relu;
        cfg.validate()?;
        Ok(cfg)
    }
}

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Training data: IDX (gzipped or raw), CSV (header optional), NPY, safetensors, Parquet, or a directory or pattern of shards; rows are samples.
    pub data: PathBuf,
    #[command(flatten)]
    pub input: super::columns::ColumnArgs,
    /// Directory to write model.safetensors and config.json into.
    #[arg(long)]
    pub out: PathBuf,
    /// Layer widths, input first and code last, comma-separated (default: D,512,128,32).
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fit: FitArgs,
    /// Fraction of rows held out for validation [default: 0.1; the anomaly preset's with
    /// --preset].
    #[arg(long)]
    pub val_split: Option<f64>,
    /// Stop after this many epochs without a better validation loss (and keep the best).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Time each kernel (wgpu) or op (cpu) over up to 20 full steps of the first epoch and
    /// print the table (as `ae bench --profile`; those steps run slower while timed).
    #[arg(long)]
    pub profile: bool,
    /// A budget in steps: stop after this many, mid-epoch if need be (for data sets counted in
    /// tokens rather than epochs; --epochs still caps it).
    #[arg(long, conflicts_with = "max_rows")]
    pub max_steps: Option<usize>,
    /// A budget in training rows (samples seen): stop after ceil(ROWS / batch size) steps.
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// Products with a TopK code: over its active columns (sparse), dense, or auto (sparse when
    /// at most one code unit in 64 is kept, the crossover measured on the CPU). The results agree
    /// within rounding.
    #[arg(long, value_enum, default_value_t = CodeProductsArg::Auto)]
    pub code_products: CodeProductsArg,
    /// Where the pre-encoder bias (--pre-bias) starts: the training rows' means, or their
    /// geometric median (Weiszfeld's iteration over the first 4,096 rows; Gao et al. 2024). A
    /// fresh model's: --init-from takes the bias from its model.
    #[arg(long, value_enum, default_value_t = PreBiasInitArg::Mean, conflicts_with = "init_from")]
    pub pre_bias_init: PreBiasInitArg,
    /// Start every decoder column (a code unit's direction) at this L2 norm, as SAE recipes do
    /// (0.1); untied models; a fresh model's (not with --init-from).
    #[arg(long, value_name = "NORM", conflicts_with = "init_from")]
    pub decoder_init_norm: Option<f32>,
    /// Where a JumpReLU code's thresholds start (--sparsity jumprelu or jumprelu-tanh;
    /// SAELens's default 0.01); a fresh model's: --init-from takes the thresholds from its
    /// model.
    #[arg(long, value_name = "THETA", conflicts_with = "init_from")]
    pub jump_init_threshold: Option<f32>,
    /// Continue the run in --out from the state it saved after its last finished epoch (also
    /// after Ctrl-C or a crash), with the same data and flags, up to --epochs in all (--epochs,
    /// --max-steps and --patience may change).
    #[arg(long)]
    pub resume: bool,
    /// Start from the weights (and normalisation) of this model instead of a fresh
    /// initialisation: an ae model directory, or a SAELens or sparsify SAE directory. Its
    /// architecture must be the one the flags give; the optimiser starts afresh.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Read the training rows from the file a batch at a time (shuffled over a window of
    /// blocks, by a reader thread) even when they would fit in memory; files over 1 GiB always
    /// are.
    #[arg(long)]
    pub stream: bool,
    /// Input normalisation (statistics saved with the model) [default: none; the anomaly
    /// preset's with --preset].
    #[arg(long, value_enum, ignore_case = true)]
    pub normalize: Option<NormalizeArg>,
    /// A recipe: `anomaly` trains an ensemble of small autoencoders for anomaly detection on a
    /// table of any width (after RandNet, Chen et al. 2017): 10 members, each but the first on
    /// a random 50-100% of the columns, hidden width 0.5-1x its input (at most 64), a code of
    /// 2 units (1 for a member of 2 columns; chosen over round(sqrt(input)) by measurement), standard normalisation (chosen over
    /// robust by measurement), tanh hidden layers with identity code and output, Adam lr 1e-3
    /// with weight decay 1e-4,
    /// batch 32, up to 200 epochs stopping after 10 without a better loss on 20% held-out
    /// training rows; each member's scores standardised on the training rows and averaged.
    /// Data of at least 100 columns that all lie in [0, 1] (images' pixels) take the image
    /// recipe instead: 5 members of [D, min(512, D), min(16, round(sqrt D))] on every column,
    /// no normalisation, ReLU hidden layers, a sigmoid output.
    /// Every choice is saved in config.json; --members, --layers, --activation, --output, --epochs,
    /// --batch-size, --lr, --weight-decay, --denoise, --normalize, --val-split, --patience and
    /// --seed replace the preset's. `ae score` scores the ensemble as one model.
    #[arg(long, value_enum)]
    pub preset: Option<PresetArg>,
    /// Autoencoders in the ensemble [default: 10 with --preset anomaly].
    #[arg(long, requires = "preset")]
    pub members: Option<usize>,
    /// Save an anomaly threshold with the model: the (1 - C) quantile of the training rows'
    /// scores, so that `ae score` flags about this fraction. C in (0, 0.5].
    #[arg(long)]
    pub contamination: Option<f64>,
    /// Write a report (loss curves, reconstructions, the 2-D code, scores, index.html) here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Values to colour the code picture by, one per row (class labels, or any number such as
    /// the position along a manifold): IDX, NPY or CSV.
    #[arg(long)]
    pub colour_by: Option<PathBuf>,
    /// Sparse code: l1:LAMBDA (L1 penalty on the code; l1:LAMBDA:decoder-norm weights each
    /// unit by its decoder column's norm), kl:RHO:BETA (KL sparsity, needs
    /// --code-activation sigmoid), topk:K (keep the K largest code units of each sample) or
    /// topk:K:AUXK (TopK plus the AuxK loss of Gao et al. 2024: the residual x - x_hat is also
    /// reconstructed from the AUXK largest pre-activations of the dead units, meant to revive
    /// them, its MSE divided by the batch's residual variance; AUXK auto is half the input
    /// width, Gao et al.'s choice; needs --layers IN,CODE), or batchtopk:K[:AUXK] (BatchTopK, Bussmann et al. 2024:
    /// the K x batch largest over the whole batch in training; the threshold it learns, saved
    /// with the model, makes it a JumpReLU at inference), jumprelu:COEF[:BANDWIDTH] (JumpReLU,
    /// Rajamanoharan et al. 2024: each code unit zero below a trained threshold of its own,
    /// with the L0 penalty COEF x mean active units per sample; the thresholds learn through a
    /// straight-through estimator with a rectangle kernel of width BANDWIDTH, default 0.05) or
    /// jumprelu-tanh:COEF[:BANDWIDTH] (the same code with the tanh penalty COEF x sum of
    /// tanh(4 |h_j| ||d_j||), d_j unit j's decoder column, instead of L0; untied models). Turns
    /// on the code metrics (L0, FVU, dead latents, mean activation).
    #[arg(long)]
    pub sparsity: Option<SparsitySpec>,
    /// Matryoshka SAE (Bussmann et al. 2025): ascending code prefix sizes, comma-separated
    /// (64,256,1024); the code width is the last prefix, added when not listed. The loss sums
    /// the reconstruction loss of every prefix (x from its first M code units and the decoder
    /// bias), so the first units learn the coarsest features; each prefix's FVU is reported.
    /// Needs --sparsity topk:K or batchtopk:K and --layers IN,CODE; products are dense.
    #[arg(long, value_delimiter = ',', value_name = "M1,M2,...")]
    pub matryoshka: Option<Vec<usize>>,
    /// Sparsity warmup (L1 warmup): the l1, kl, tanh or JumpReLU L0 coefficient ramps linearly
    /// up to its value over the first STEPS steps ((step + 1) / STEPS of it at step `step`).
    #[arg(long, value_name = "STEPS", default_value_t = 0)]
    pub sparsity_warmup: usize,
    /// Coefficient of the AuxK loss (topk:K:AUXK): coef * MSE(residual, its reconstruction
    /// from the dead units) / the residual's variance over the batch.
    #[arg(long, default_value_t = ae_core::AuxK::DEFAULT_COEF)]
    pub auxk_coef: f32,
    /// A code unit is dead when it was active on none of the last N training samples: the
    /// dead-latent count of the code metrics, and the units AuxK uses.
    #[arg(long, value_name = "N", default_value_t = ae_core::AuxK::DEFAULT_DEAD_WINDOW)]
    pub dead_window: usize,
    /// Keep each code unit's decoder direction (each column of the decoder weight reading the
    /// code) at unit L2 norm: renormalised after every step, the gradient's component along it
    /// removed before the step. Needs an untied model.
    #[arg(long)]
    pub unit_norm_decoder: bool,
    /// Start the encoder as the decoder's transpose (Gao et al. 2024), so that each unit first
    /// fires on the inputs its decoder direction reconstructs. Needs an untied model with a
    /// mirrored decoder.
    #[arg(long)]
    pub init_encoder_transpose: bool,
    /// After each epoch but the last, re-initialise the dead code units (active on no training
    /// row) for the next: encoder
    /// row toward a worst-reconstructed input (scaled to 0.2 x the live rows' mean norm), bias 0,
    /// decoder column along that input's residual, optimiser state zeroed. Needs --layers
    /// IN,CODE.
    #[arg(long)]
    pub resample_dead: bool,
    /// Denoising: corrupt each training input with mask:P (a fraction P of inputs zeroed) or
    /// gauss:SIGMA (Gaussian noise), seeded by --seed; the loss compares to the clean input.
    #[arg(long)]
    pub denoise: Option<Noise>,
    /// Contractive autoencoder (Rifai et al. 2011): add LAMBDA x (1/B) sum_b ||J_f(x_b)||_F^2
    /// to the loss, J_f(x_b) the [code, input] Jacobian of the encoder f at sample b of a batch
    /// of B (a batch mean, like the reconstruction loss under any --reduction). Exact for a
    /// one-layer encoder (--layers IN,CODE) with an identity, relu, leaky-relu, sigmoid or tanh
    /// code: sum_j f'(z_j)^2 sum_i W_ji^2. Otherwise (deeper encoders, gelu or softplus codes) a
    /// random projection: ||(f(x + eps v) - f(x)) / eps||^2 with v ~ N(0, I) drawn per sample
    /// and step from --seed and eps = 0.01, which estimates ||J||_F^2 without bias but for the
    /// finite difference's O(eps). Its value is reported per epoch as `contractive`. LAMBDA
    /// >= 0; not with TopK, BatchTopK or JumpReLU codes.
    #[arg(
        long,
        value_name = "LAMBDA",
        allow_negative_numbers = true,
        conflicts_with = "preset"
    )]
    pub contractive: Option<f32>,
    #[command(flatten)]
    pub vae: VaeArgs,
    /// Measure the code after every epoch (MSE, FVU, L0, dead latents, mean activation) even
    /// without --sparsity.
    #[arg(long)]
    pub code_metrics: bool,
}

/// The variational autoencoder's flags, shared by `train` and `oneclass`.
#[derive(Args, Debug, Clone)]
pub struct VaeArgs {
    /// Variational autoencoder (Kingma & Welling 2014): the code layer outputs 2 x CODE units,
    /// a mean mu and a raw log-variance r per code unit (logvar = 10 tanh(r / 10), so that
    /// exp(logvar) stays in [e^-10, e^10]); the decoder reads z = mu + exp(logvar / 2) * eps,
    /// eps ~ N(0, I) drawn per sample and step from --seed. The loss is the reconstruction
    /// loss plus beta x KL(q(z|x) || N(0, I)) (a batch mean, reported per epoch as `kl`);
    /// --loss bce --reduction sum gives the textbook ELBO. ae encode gives mu, ae reconstruct
    /// decodes mu, ae score gives the negative ELBO over --samples draws, ae sample draws from
    /// the prior. Needs an identity code (the default); not with --sparsity, --matryoshka,
    /// --contractive, --tied or --resample-dead.
    #[arg(long, conflicts_with = "preset")]
    pub variational: bool,
    /// The KL's coefficient beta with --variational (1: the ELBO; above 1: a beta-VAE).
    #[arg(long, requires = "variational", default_value_t = 1.0)]
    pub beta: f32,
    /// Ramp beta linearly from 0 over this many epochs (per step) with --variational; 0: none.
    #[arg(
        long,
        value_name = "EPOCHS",
        requires = "variational",
        default_value_t = 0
    )]
    pub kl_warmup: usize,
}

impl VaeArgs {
    /// The KL term's settings, with `--variational`.
    pub fn variational(&self) -> Option<ae_core::Variational> {
        self.variational.then_some(ae_core::Variational {
            beta: self.beta,
            warmup: self.kl_warmup,
        })
    }
}

/// `--preset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PresetArg {
    Anomaly,
}

/// `--pre-bias-init`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PreBiasInitArg {
    Mean,
    GeometricMedian,
}
