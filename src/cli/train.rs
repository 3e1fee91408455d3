//! `ae train`: train an autoencoder on a data file and save it.

use super::progress::TrainProgress;
use super::train_args::*;
use super::{open_device, print_result, GlobalArgs};
use ae::bench::{ProfileWindow, StepProfile};
use ae::workflow::{self, PreBiasInit, TrainSettings};
use ae::{Job, Result};
use ae_core::data::RowSource;
use ae_core::{Backend, EpochMetrics, SparsitySpec};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// Full steps `--profile` times.
const PROFILE_STEPS: usize = 20;

struct TrainJob<'a> {
    args: &'a TrainArgs,
    settings: TrainSettings,
    /// The training data, read lazily (NPY, safetensors, Parquet, CSV, shards) or held whole.
    data: &'a dyn RowSource,
    json: bool,
    /// Also measure the code on the held-out rows ([`TrainOutput::measured`]).
    measure: bool,
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
    /// With `--profile`: each kernel's time per step (null without, or with fewer than 4
    /// steps per epoch).
    pub profile: Option<StepProfile>,
    /// The code of the saved model on the held-out rows, where [`train`] was asked to measure
    /// it (not printed by `ae train`).
    #[serde(skip)]
    pub measured: Option<workflow::Measured>,
}

/// The penalty and code metrics of an epoch, copied from its [`EpochMetrics`] (all but the
/// per-unit means); absent ones are left out.
#[derive(Debug, Default, serde::Serialize)]
pub struct CodeMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty: Option<f64>,
    /// The contractive term (with `--contractive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contractive: Option<f64>,
    /// The KL of the Gaussian code from the prior (with `--variational`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl: Option<f64>,
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
    /// Each Matryoshka prefix's FVU (`[{"prefix": M, "fvu": F}, ...]`; Matryoshka models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_fvu: Option<Vec<ae_core::PrefixFvu>>,
}

impl CodeMetrics {
    fn of(m: &EpochMetrics) -> Self {
        let code = m.code.as_ref();
        CodeMetrics {
            penalty: m.penalty,
            contractive: m.contractive,
            kl: m.kl,
            mse: code.map(|c| c.mse),
            fvu: code.map(|c| c.fvu),
            l0: code.map(|c| c.l0),
            dead_latents: code.map(|c| c.dead_latents),
            mean_activation: code.map(|c| c.mean_activation),
            max_abs_rho_error: code.and_then(|c| c.max_abs_rho_error),
            prefix_fvu: code.map(|c| c.prefix_fvu.clone()).filter(|p| !p.is_empty()),
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
            let prefixes = self.code.prefix_fvu.as_deref().unwrap_or_default();
            write!(f, "{}", super::progress::prefix_fvus(prefixes))?;
        }
        if let Some(c) = self.code.contractive {
            write!(f, ", contractive penalty {c:.6}")?;
        }
        if let Some(kl) = self.code.kl {
            write!(f, ", KL {kl:.6}")?;
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
        if let Some(p) = &self.profile {
            write!(f, "\n{p}")?;
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
        let mut window = ProfileWindow::new(if self.args.profile { PROFILE_STEPS } else { 0 });
        let trained = workflow::train_source_from(
            backend,
            self.data,
            &self.settings,
            self.args.init_from.as_deref(),
            Some(&self.args.out),
            &mut |e| {
                progress.update(e);
                if let ae_core::TrainEvent::Step {
                    epoch,
                    step,
                    steps_per_epoch,
                } = *e
                {
                    window.on_step(backend, epoch, step, steps_per_epoch)?;
                }
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
                backend, dir, self.args, self.data, &trained,
            )?),
            None => None,
        };
        let measured = match self.measure {
            true => Some(workflow::measure_code(
                backend,
                self.data,
                &self.settings,
                &trained,
            )?),
            false => None,
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
            profile: window.take(),
            measured,
        })
    }
}

/// Set by Ctrl-C: training stops after the current step and saves the model.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Ctrl-C stops every run after its current step (which saves its model); a second one ends
/// the process at once.
pub fn stop_on_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
}

pub fn run(g: &GlobalArgs, args: TrainArgs) -> Result<()> {
    stop_on_ctrl_c();
    if let Some(preset) = args.preset {
        return super::preset::run(g, &args, preset);
    }
    let table = args.input.open(&args.data)?;
    let settings = settings(&args, table.source.as_ref(), table.input)?;
    let plan = check_memory(&args, table.source.as_ref(), &settings)?;
    let data = table.source.as_ref();
    if plan.total() > 1 << 30
        || !data.in_memory() && plan.data < (data.rows() * data.cols()) as u64 * 4
    {
        eprintln!("{plan}");
    }
    let out = train(g, &args, data, settings, false)?;
    print_result(g, &out);
    Ok(())
}

/// Trains the model `settings` describe on `data` into `args.out` (on the device the global
/// flags choose); with `measure`, also measures its code on the held-out rows.
pub fn train(
    g: &GlobalArgs,
    args: &TrainArgs,
    data: &dyn RowSource,
    settings: TrainSettings,
    measure: bool,
) -> Result<TrainOutput> {
    open_device(g)?.run(TrainJob {
        args,
        settings,
        data,
        json: g.json,
        measure,
    })
}

/// The memory a run of `settings` on `data` needs, or an error when the machine has less free.
pub fn check_memory(
    args: &TrainArgs,
    data: &dyn RowSource,
    settings: &TrainSettings,
) -> Result<ae_core::trainer::MemoryPlan> {
    let plan = workflow::memory_plan(data, settings);
    if let Some(free) = workflow::available_memory().filter(|&f| plan.total() > f) {
        return Err(ae::Error::Config(format!(
            "{}: the run needs {} of memory ({plan}) but the machine has {} free; use a smaller \
             --batch-size or model, or split the data",
            args.data.display(),
            ae_core::trainer::human_bytes(plan.total()),
            ae_core::trainer::human_bytes(free)
        )));
    }
    Ok(plan)
}

/// Everything the flags decide for training on `data` (whose columns were read as `input`),
/// checked before any device opens.
pub fn settings(
    args: &TrainArgs,
    data: &dyn RowSource,
    input: ae_core::data::table::InputColumns,
) -> Result<TrainSettings> {
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
    if args.vae.variational {
        let clash = [
            (args.sparsity.is_some(), "--sparsity"),
            (args.matryoshka.is_some(), "--matryoshka"),
            (args.contractive.is_some(), "--contractive"),
            (args.resample_dead, "--resample-dead"),
        ];
        if let Some((_, flag)) = clash.iter().find(|c| c.0) {
            return Err(ae::Error::Config(format!(
                "--variational does not combine with {flag}: a VAE's code is a Gaussian \
                 sample held to N(0, I) by its KL term, not a sparse or contracted code"
            )));
        }
        model = model.with_variational(true)?;
    }
    if let Some(prefixes) = &args.matryoshka {
        if topk.is_none() {
            return Err(ae::Error::Config(format!(
                "--matryoshka {} needs a TopK code: --sparsity topk:K or batchtopk:K",
                prefixes
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )));
        }
        model = model.with_matryoshka(prefixes)?;
    }
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
    if let Some(lambda) = args.contractive {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(ae::Error::Config(format!(
                "--contractive needs a finite LAMBDA >= 0 (the coefficient of the encoder's \
                 squared Jacobian norm), got {lambda}"
            )));
        }
        let c = ae_core::Contractive { lambda };
        c.validate(&model)?;
        train.contractive = Some(c);
    }
    if let Some(v) = args.vae.variational() {
        v.validate(&model)?;
        train.variational = Some(v);
    }
    train.code_metrics = args.code_metrics || args.sparsity.is_some();
    Ok(TrainSettings {
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
        ..TrainSettings::new(model, train)
    })
}
