//! `ae train`: train an autoencoder on a data file and save it.

use super::progress::TrainProgress;
use super::{open_device, print_json, GlobalArgs};
use ae::workflow::{self, TrainSettings};
use ae::{Job, Result};
use ae_core::data::normalize::Normalization;
use ae_core::{
    Activation, Backend, Loss, LrSchedule, ModelConfig, Noise, OptimizerConfig, OptimizerKind,
    SparsitySpec, TrainConfig,
};
use clap::Args;
use std::path::PathBuf;

/// Architecture flags, shared by `train` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Activation of the hidden layers: identity, relu, leaky_relu, sigmoid, tanh, gelu, softplus.
    #[arg(long, default_value = "relu")]
    pub activation: Activation,
    /// Activation of the code (bottleneck) layer [default: identity; relu with --sparsity topk].
    #[arg(long)]
    pub code_activation: Option<Activation>,
    /// Output activation: identity, or sigmoid for data in [0, 1].
    #[arg(long = "output", default_value = "sigmoid")]
    pub output_activation: Activation,
    /// Decoder hidden widths, comma-separated (default: the encoder's, mirrored).
    #[arg(long, value_delimiter = ',')]
    pub decoder: Option<Vec<usize>>,
    /// Tie decoder weights to the encoder's (transposed).
    #[arg(long)]
    pub tied: bool,
}

/// Optimisation flags, shared by `train` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct FitArgs {
    /// Reconstruction loss: mse, or bce (needs --output sigmoid).
    #[arg(long, default_value = "mse")]
    pub loss: Loss,
    /// Optimiser: adam, adamw or sgd.
    #[arg(long, default_value = "adam")]
    pub optimizer: OptimizerKind,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Weight decay (an L2 penalty for sgd and adam, decoupled for adamw).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f32,
    /// Learning-rate schedule: constant, or cosine (linear warmup, then cosine decay to 1%).
    #[arg(long, default_value = "constant", value_parser = ["constant", "cosine"])]
    pub schedule: String,
    /// Warmup steps for --schedule cosine.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// Passes over the training data.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Seed for initialisation, shuffling and splits.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl FitArgs {
    /// The trainer settings these flags describe.
    pub fn train_config(&self, patience: Option<usize>) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: self.seed,
            loss: self.loss,
            optimizer: OptimizerConfig {
                kind: self.optimizer,
                lr: self.lr,
                momentum: self.momentum,
                weight_decay: self.weight_decay,
                ..OptimizerConfig::default()
            },
            schedule: match self.schedule.as_str() {
                "cosine" => LrSchedule::WarmupCosine {
                    warmup_steps: self.warmup,
                    final_fraction: 0.01,
                },
                _ => LrSchedule::Constant,
            },
            early_stopping_patience: patience,
            ..TrainConfig::default()
        }
    }
}

impl ModelArgs {
    /// The architecture for `layers` = `[input, hidden..., code]`.
    pub fn model_config(&self, layers: &[usize]) -> Result<ModelConfig> {
        self.model_config_topk(layers, None)
    }

    /// The architecture, with a TopK code keeping `topk` units per sample (whose code
    /// activation defaults to ReLU).
    pub fn model_config_topk(&self, layers: &[usize], topk: Option<usize>) -> Result<ModelConfig> {
        let mut cfg = ModelConfig::mirrored(layers)?;
        if let Some(decoder) = &self.decoder {
            cfg = cfg.with_decoder(decoder.clone())?;
        }
        let code = self.code_activation.unwrap_or(if topk.is_some() {
            Activation::Relu
        } else {
            Activation::Identity
        });
        cfg.with_activations(self.activation, code, self.output_activation)?
            .with_tied(self.tied)?
            .with_topk(topk)
    }
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training data: IDX (gzipped or raw), CSV (header optional) or NPY; rows are samples.
    pub data: PathBuf,
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
    /// Fraction of rows held out for validation.
    #[arg(long, default_value_t = 0.1)]
    pub val_split: f64,
    /// Stop after this many epochs without a better validation loss (and keep the best).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Input normalisation: none, minmax or standard (statistics saved with the model).
    #[arg(long, default_value = "none")]
    pub normalize: Normalization,
    /// Sparse code: l1:LAMBDA (L1 penalty on the code), kl:RHO:BETA (KL sparsity, needs
    /// --code-activation sigmoid) or topk:K (keep the K largest code units of each sample).
    /// Turns on the code metrics (L0, FVU, dead latents, mean activation).
    #[arg(long)]
    pub sparsity: Option<SparsitySpec>,
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
    data: ae::Matrix,
    json: bool,
}

impl Job for TrainJob<'_> {
    type Output = serde_json::Value;

    fn run<B: Backend>(self, backend: &B) -> Result<serde_json::Value> {
        let mut progress = TrainProgress::new(
            &self.settings.train,
            self.data.rows,
            self.settings.val_split,
            self.json,
        );
        let trained = workflow::train_model(
            backend,
            &self.data,
            &self.settings,
            Some(&self.args.out),
            &mut |e| progress.update(e),
        );
        progress.finish();
        let trained = trained?;
        let last = trained.report.last();
        let mut out = serde_json::json!({
            "final_train_loss": last.train_loss,
            "final_val_loss": last.val_loss,
            "best_epoch": trained.report.best_epoch,
            "stopped_early": trained.report.stopped_early,
            "history": trained.report.history,
            "model_dir": self.args.out,
            "backend": backend.name(),
            "parameters": trained.model.num_parameters(),
        });
        let last_json = serde_json::to_value(last).unwrap_or_default();
        for key in [
            "penalty",
            "mse",
            "fvu",
            "l0",
            "dead_latents",
            "mean_activation",
            "max_abs_rho_error",
        ] {
            if let Some(v) = last_json.get(key) {
                out[key] = v.clone();
            }
        }
        Ok(out)
    }
}

pub fn run(g: &GlobalArgs, args: TrainArgs) -> Result<()> {
    let data = ae_core::data::load_matrix(&args.data)?;
    let layers = args
        .layers
        .clone()
        .unwrap_or_else(|| vec![data.cols, 512, 128, 32]);
    if layers.first() != Some(&data.cols) {
        return Err(ae::Error::Shape(format!(
            "{} has {} columns but --layers starts with {}",
            args.data.display(),
            data.cols,
            layers.first().copied().unwrap_or(0)
        )));
    }
    let (topk, penalty) = match args.sparsity {
        Some(SparsitySpec::TopK { aux_k: Some(_), .. }) => {
            return Err(ae::Error::Config(
                "topk:K:AUXK (the AuxK loss) is not implemented yet; use topk:K".into(),
            ))
        }
        Some(SparsitySpec::TopK { k, aux_k: None }) => (Some(k), None),
        Some(SparsitySpec::Penalty(p)) => (None, Some(p)),
        None => (None, None),
    };
    let model = args.model.model_config_topk(&layers, topk)?;
    if let Some(p) = &penalty {
        p.validate(&model)?;
    }
    let mut train = args.fit.train_config(args.patience);
    train.penalty = penalty;
    train.noise = args.denoise;
    train.code_metrics = args.code_metrics || args.sparsity.is_some();
    let settings = TrainSettings {
        model,
        train,
        normalization: args.normalize,
        val_split: args.val_split,
    };
    let device = open_device(g)?;
    let out = device.run(TrainJob {
        args: &args,
        settings,
        data,
        json: g.json,
    })?;
    if g.json {
        print_json(&out);
    } else {
        println!(
            "final train loss {:.6}, validation loss {}, best epoch {}{}; model saved in {}",
            out["final_train_loss"].as_f64().unwrap_or(f64::NAN),
            out["final_val_loss"]
                .as_f64()
                .map_or("-".to_string(), |v| format!("{v:.6}")),
            out["best_epoch"],
            match out.get("l0") {
                Some(l0) => format!(
                    ", L0 {l0}, FVU {:.4}, dead latents {}",
                    out["fvu"].as_f64().unwrap_or(f64::NAN),
                    out["dead_latents"]
                ),
                None => String::new(),
            },
            args.out.display()
        );
    }
    Ok(())
}
