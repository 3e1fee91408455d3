//! `ae train`: train an autoencoder on a data file and save it.

use super::progress::TrainProgress;
use super::values::{
    ActivationArg, CodeProductsArg, LossArg, NormalizeArg, OptimizerArg, ReductionArg, ScheduleArg,
};
use super::{open_device, print_result, GlobalArgs};
use ae::workflow::{self, PreBiasInit, TrainSettings};
use ae::{Job, Result};
use ae_core::data::RowSource;
use ae_core::{
    Activation, Backend, EpochMetrics, ModelConfig, Noise, OptimizerConfig, SparsitySpec,
    TrainConfig,
};
use clap::Args;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

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

#[derive(Args, Debug)]
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
    /// A budget in steps: stop after this many, mid-epoch if need be (for data sets counted in
    /// tokens rather than epochs; --epochs still caps it).
    #[arg(long, conflicts_with = "max_rows")]
    pub max_steps: Option<usize>,
    /// A budget in training rows (samples seen): stop after ceil(ROWS / batch size) steps.
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// Products with a TopK code: over its active columns (sparse), dense, or auto (sparse when
    /// at most one code unit in 8 is kept). The results agree within rounding.
    #[arg(long, value_enum, default_value_t = CodeProductsArg::Auto)]
    pub code_products: CodeProductsArg,
    /// Where the pre-encoder bias (--pre-bias) starts: the training rows' means, or their
    /// geometric median (Weiszfeld's iteration over the first 4,096 rows; Gao et al. 2024).
    #[arg(long, value_enum, default_value_t = PreBiasInitArg::Mean)]
    pub pre_bias_init: PreBiasInitArg,
    /// Start every decoder column (a code unit's direction) at this L2 norm, as SAE recipes do
    /// (0.1); untied models.
    #[arg(long, value_name = "NORM")]
    pub decoder_init_norm: Option<f32>,
    /// Where a JumpReLU code's thresholds start (--sparsity jumprelu or jumprelu-tanh;
    /// SAELens's default 0.01).
    #[arg(long, value_name = "THETA")]
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
    /// a random 50-100% of the columns, hidden width 0.5-1x its input (at most 64), code
    /// round(sqrt(input)) (never wider than the input), standard normalisation (chosen over
    /// robust by measurement), tanh hidden layers with identity code and output, Adam lr 1e-3
    /// with weight decay 1e-4,
    /// batch 32, up to 200 epochs stopping after 10 without a better loss on 20% held-out
    /// training rows; each member's scores standardised on the training rows and averaged.
    /// Every choice is saved in config.json; --members, --layers, --activation, --epochs,
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
    /// Measure the code after every epoch (MSE, FVU, L0, dead latents, mean activation) even
    /// without --sparsity.
    #[arg(long)]
    pub code_metrics: bool,
}

struct TrainJob<'a> {
    args: &'a TrainArgs,
    settings: TrainSettings,
    /// The training data, read lazily (NPY, safetensors, Parquet, CSV, shards) or held whole.
    data: Box<dyn RowSource>,
    json: bool,
}

/// What `ae train` prints: the last epoch's losses, the whole history, where the model went.
#[derive(Debug, serde::Serialize)]
pub struct TrainOutput {
    /// The last epoch's training loss.
    pub final_train_loss: f64,
    /// The last epoch's validation loss (null without validation rows).
    pub final_val_loss: Option<f64>,
    /// The epoch whose weights were saved.
    pub best_epoch: usize,
    /// Early stopping ended the run.
    pub stopped_early: bool,
    /// The data was uploaded batch by batch.
    pub streamed: bool,
    /// Every epoch's metrics.
    pub history: Vec<EpochMetrics>,
    /// The model directory.
    pub model_dir: PathBuf,
    /// The backend that trained it.
    pub backend: String,
    /// The output activation of the model.
    pub output_activation: String,
    /// Why, where the data chose it (null where a flag did).
    pub output_reason: Option<String>,
    /// Trainable parameters.
    pub parameters: usize,
    /// The threshold saved with `--contamination` (null without).
    pub anomaly_threshold: Option<f64>,
    /// The report's index.html (null without `--report`).
    pub report: Option<PathBuf>,
    /// The last epoch's code metrics, each present only when measured.
    #[serde(flatten)]
    pub code: CodeMetrics,
    /// Units re-initialised over the whole run (with `--resample-dead`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resampled: Option<usize>,
}

/// The penalty and code metrics of an epoch, copied from its [`EpochMetrics`] (all but the
/// per-unit means); absent ones are left out.
#[derive(Debug, Default, serde::Serialize)]
pub struct CodeMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fvu: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l0: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_latents: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_activation: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_abs_rho_error: Option<f64>,
}

impl CodeMetrics {
    fn of(m: &EpochMetrics) -> Self {
        let code = m.code.as_ref();
        CodeMetrics {
            penalty: m.penalty,
            mse: code.map(|c| c.mse),
            fvu: code.map(|c| c.fvu),
            l0: code.map(|c| c.l0),
            dead_latents: code.map(|c| c.dead_latents),
            mean_activation: code.map(|c| c.mean_activation),
            max_abs_rho_error: code.and_then(|c| c.max_abs_rho_error),
        }
    }
}

impl fmt::Display for TrainOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "final train loss {:.6}, validation loss {}, best epoch {}",
            self.final_train_loss,
            self.final_val_loss
                .map_or("-".to_string(), |v| format!("{v:.6}")),
            self.best_epoch
        )?;
        if let Some(l0) = self.code.l0 {
            write!(
                f,
                ", L0 {l0:?}, FVU {:.4}, dead latents {}",
                self.code.fvu.unwrap_or(f64::NAN),
                self.code
                    .dead_latents
                    .map_or("-".to_string(), |d| d.to_string())
            )?;
        }
        write!(f, "; model saved in {}", self.model_dir.display())?;
        if let Some(why) = &self.output_reason {
            write!(f, "\noutput activation {}: {why}", self.output_activation)?;
        }
        if let Some(t) = self.anomaly_threshold {
            write!(f, "\nanomaly threshold {t:.6} saved with the model")?;
        }
        if let Some(p) = &self.report {
            write!(f, "\nreport: {}", p.display())?;
        }
        Ok(())
    }
}

impl Job for TrainJob<'_> {
    type Output = TrainOutput;

    fn run<B: Backend>(self, backend: &B) -> Result<TrainOutput> {
        let mut progress = TrainProgress::new(
            &self.settings.train,
            self.data.rows(),
            self.settings.val_split,
            self.json,
        );
        let trained = workflow::train_source_from(
            backend,
            self.data.as_ref(),
            &self.settings,
            self.args.init_from.as_deref(),
            Some(&self.args.out),
            &mut |e| {
                progress.update(e);
                match (e, interrupted()) {
                    (ae_core::TrainEvent::Step { epoch, step, .. }, true) => Err(
                        ae::Error::Interrupted(format!("epoch {epoch}, step {step}")),
                    ),
                    _ => Ok(()),
                }
            },
        );
        progress.finish();
        let trained = trained?;
        let report = match &self.args.report {
            Some(dir) => Some(super::train_report::write_report(
                backend,
                dir,
                self.args,
                self.data.as_ref(),
                &trained,
            )?),
            None => None,
        };
        let last = trained.report.last();
        let (final_train_loss, final_val_loss) = (last.train_loss, last.val_loss);
        let code = CodeMetrics::of(last);
        let history = trained.report.history;
        // Units re-initialised over the whole run (none after the last epoch).
        let resampled = history
            .iter()
            .any(|m| m.resampled.is_some())
            .then(|| history.iter().filter_map(|m| m.resampled).sum());
        Ok(TrainOutput {
            final_train_loss,
            final_val_loss,
            best_epoch: trained.report.best_epoch,
            stopped_early: trained.report.stopped_early,
            streamed: trained.report.streamed,
            history,
            model_dir: self.args.out.clone(),
            backend: backend.name(),
            output_activation: trained
                .model
                .config()
                .activations
                .last()
                .map_or("-".into(), |a| a.name().to_string()),
            output_reason: trained.output_choice.as_ref().map(|c| c.reason.clone()),
            parameters: trained.model.num_parameters(),
            anomaly_threshold: trained.saved.anomaly_threshold,
            report,
            code,
            resampled,
        })
    }
}

/// Set by Ctrl-C: training stops after the current step and saves the model.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

pub fn run(g: &GlobalArgs, args: TrainArgs) -> Result<()> {
    // Ctrl-C stops after the current step; a second one ends the process at once.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
    if let Some(preset) = args.preset {
        return super::preset::run(g, &args, preset);
    }
    let table = args.input.open(&args.data)?;
    let (data, input) = (table.source, table.input);
    let layers = args
        .layers
        .clone()
        .unwrap_or_else(|| vec![data.cols(), 512, 128, 32]);
    if layers.first() != Some(&data.cols()) {
        return Err(ae::Error::Shape(format!(
            "{} has {} columns but --layers starts with {}",
            args.data.display(),
            data.cols(),
            layers.first().copied().unwrap_or(0)
        )));
    }
    let batch_topk = matches!(args.sparsity, Some(SparsitySpec::TopK { batch: true, .. }));
    let (topk, penalty, auxk) = match args.sparsity {
        Some(SparsitySpec::TopK { k, aux_k, .. }) => (
            Some(k),
            None,
            aux_k.map(|units| ae_core::AuxK {
                k: units.resolve(layers[0], *layers.last().unwrap_or(&0)),
                coef: args.auxk_coef,
                dead_window: args.dead_window,
            }),
        ),
        Some(SparsitySpec::Penalty(p)) => (None, Some(p), None),
        Some(ref jump @ SparsitySpec::JumpRelu { .. }) => {
            (None, jump.jump_relu().and_then(|(_, p)| p), None)
        }
        None => (None, None, None),
    };
    let jump_relu = args
        .sparsity
        .as_ref()
        .and_then(|s| s.jump_relu())
        .map(|(j, _)| j);
    if args.jump_init_threshold.is_some() && jump_relu.is_none() {
        return Err(ae::Error::Config(
            "--jump-init-threshold needs a JumpReLU code (--sparsity jumprelu:COEF or \
             jumprelu-tanh:COEF)"
                .into(),
        ));
    }
    let mut model = args
        .model
        .model_config_topk(&layers, topk, jump_relu.is_some())?;
    model.batch_topk = batch_topk;
    if let Some(p) = &penalty {
        p.validate(&model)?;
    }
    if let Some(a) = &auxk {
        a.validate(&model)?;
    }
    let mut train = args.fit.train_config(args.patience, FIT_DEFAULTS);
    train.max_steps = args
        .max_steps
        .or(args.max_rows.map(|r| r.div_ceil(train.batch_size.max(1))));
    train.penalty = penalty;
    train.penalty_warmup = args.sparsity_warmup;
    train.noise = args.denoise;
    train.auxk = auxk;
    train.unit_norm_decoder = args.unit_norm_decoder;
    train.resample_dead = args.resample_dead;
    train.dead_window = args.dead_window;
    train.code_products = args.code_products.into();
    train.jump_relu = jump_relu;
    train.code_metrics = args.code_metrics || args.sparsity.is_some();
    let settings = TrainSettings {
        model,
        train,
        normalization: args
            .normalize
            .map_or(ae_core::data::normalize::Normalization::None, Into::into),
        val_split: args.val_split.unwrap_or(0.1),
        contamination: args.contamination,
        encoder_from_decoder: args.init_encoder_transpose,
        stream: args.stream,
        input: Some(input),
        resume: args.resume,
        pre_bias_init: match args.pre_bias_init {
            PreBiasInitArg::Mean => PreBiasInit::Mean,
            PreBiasInitArg::GeometricMedian => PreBiasInit::GeometricMedian,
        },
        decoder_init_norm: args.decoder_init_norm,
        output_from_data: args.model.output_from_data(&args.fit),
        jump_init_threshold: args.jump_init_threshold,
    };
    let plan = workflow::memory_plan(data.as_ref(), &settings);
    let free = workflow::available_memory();
    if let Some(free) = free.filter(|&f| plan.total() > f) {
        return Err(ae::Error::Config(format!(
            "{}: the run needs {} of memory ({plan}) but the machine has {} free; use a smaller \
             --batch-size or model, or split the data",
            args.data.display(),
            ae_core::trainer::human_bytes(plan.total()),
            ae_core::trainer::human_bytes(free)
        )));
    }
    if plan.total() > 1 << 30
        || !data.in_memory() && plan.data < (data.rows() * data.cols()) as u64 * 4
    {
        eprintln!("{plan}");
    }
    let device = open_device(g)?;
    let out = device.run(TrainJob {
        args: &args,
        settings,
        data,
        json: g.json,
    })?;
    print_result(g, &out);
    Ok(())
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
