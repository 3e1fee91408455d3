//! The workflows behind the `ae` commands, usable from code: train a model from raw data
//! (normalise, split, train, checkpoint), load one to encode, reconstruct or score, and the
//! one-class protocol of anomaly detection ([`one_class`]).

use crate::anomaly;
use ae_core::checkpoint::{self, SavedConfig};
use ae_core::data::normalize::{NormStats, Normalization};
use ae_core::data::{MatrixSource, RowSource};
use ae_core::trainer::{self, Rows, TrainEvent};
use ae_core::{
    Activation, Autoencoder, Backend, EpochMetrics, Error, Matrix, ModelConfig, Reconstruction,
    Result, TrainConfig, TrainReport,
};
use std::path::Path;

pub mod detectors;
pub mod ensemble;
pub mod manifold;
mod measure;
mod models;
mod oneclass;
mod pca;
mod starts;

pub use measure::{measure_code, Measured};
pub use models::{export_model, load_model, Exported};
pub use oneclass::{one_class, one_class_ensemble, OneClass};
pub use pca::PcaFit;
pub use starts::read_whole;
use starts::{column_means, initial_model, resumable_state};

/// Everything `ae train` decides before training starts.
#[derive(Clone, Debug)]
pub struct TrainSettings {
    /// The architecture (its `input_dim` must match the data).
    pub model: ModelConfig,
    /// Trainer settings.
    pub train: TrainConfig,
    /// How inputs are normalised (statistics fitted on the training rows).
    pub normalization: Normalization,
    /// Fraction of rows held out for validation (0 for none).
    pub val_split: f64,
    /// Save an anomaly threshold flagging this fraction of the training rows (in (0, 0.5]).
    pub contamination: Option<f64>,
    /// Start each encoder weight as its mirror decoder weight's transpose
    /// ([`Autoencoder::init_encoder_from_decoder`]).
    pub encoder_from_decoder: bool,
    /// Read the training rows from their source a batch at a time even when they would fit in
    /// memory (as a data set over [`RESIDENT_BYTES`] always is).
    pub stream: bool,
    /// The columns of the training file read, and how empty cells were filled (saved with the
    /// model so that inference reads files the same way).
    pub input: Option<ae_core::data::table::InputColumns>,
    /// Continue the run whose state `ae train` left in the output directory's `resume/` after
    /// its last finished epoch ([`trainer::train_resumed`]), up to `train.epochs` in all.
    pub resume: bool,
    /// Where the pre-encoder bias starts (with `model.pre_bias`).
    pub pre_bias_init: PreBiasInit,
    /// Scale every decoder column to this L2 norm at initialisation
    /// ([`Autoencoder::set_decoder_column_norms`]), before the encoder is set from the decoder.
    pub decoder_init_norm: Option<f32>,
    /// Choose the output activation from the data ([`choose_output`]): sigmoid when the
    /// normalised training rows lie in [0, 1], else identity, in place of the one `model`
    /// names.
    pub output_from_data: bool,
    /// Start a JumpReLU code's thresholds here instead of at
    /// [`ModelConfig::JUMP_INIT_THRESHOLD`] ([`Autoencoder::set_jump_thresholds`]).
    pub jump_init_threshold: Option<f32>,
}

impl TrainSettings {
    /// `model` trained with `train` and nothing else decided: no normalisation, no validation
    /// rows, no contamination, no streaming or resuming, a fresh initialisation (the pre-encoder
    /// bias at the mean), the output activation as `model` names it.
    pub fn new(model: ModelConfig, train: TrainConfig) -> Self {
        TrainSettings {
            model,
            train,
            normalization: Normalization::None,
            val_split: 0.0,
            contamination: None,
            encoder_from_decoder: false,
            stream: false,
            input: None,
            resume: false,
            pre_bias_init: PreBiasInit::Mean,
            decoder_init_norm: None,
            output_from_data: false,
            jump_init_threshold: None,
        }
    }
}

/// Where the pre-encoder bias starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PreBiasInit {
    /// The training rows' column means.
    #[default]
    Mean,
    /// Their geometric median ([`ae_core::median::geometric_median`]), over the first
    /// [`GEOMETRIC_MEDIAN_ROWS`] training rows.
    GeometricMedian,
}

/// Training rows the geometric median of [`PreBiasInit::GeometricMedian`] is taken over.
pub const GEOMETRIC_MEDIAN_ROWS: usize = 4096;

/// The folder of a model directory holding the state a resumed run continues from.
pub const RESUME_DIR: &str = "resume";

/// What `config.json` records of a training run (its `training` key, written by
/// [`train_model`]): the settings, the split, and the history.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingRecord {
    /// The `--contamination` of the saved threshold, if any.
    #[serde(default)]
    pub contamination: Option<f64>,
    /// The trainer settings.
    pub settings: TrainConfig,
    /// Fraction of rows held out for validation.
    pub val_split: f64,
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows held out.
    pub val_rows: usize,
    /// The epoch whose weights were saved.
    pub best_epoch: usize,
    /// Early stopping ended the run.
    #[serde(default)]
    pub stopped_early: bool,
    /// The data was uploaded batch by batch.
    #[serde(default)]
    pub streamed: bool,
    /// Every epoch's metrics.
    pub history: Vec<EpochMetrics>,
}

impl TrainingRecord {
    /// The record in `saved`, if it holds one: `Ok(None)` for a config saved without one, an
    /// error naming the key when it is there but not a training record.
    pub fn from_saved(saved: &SavedConfig) -> Result<Option<Self>> {
        saved
            .training
            .as_ref()
            .map(|v| {
                serde_json::from_value(v.clone()).map_err(|e| {
                    Error::Config(format!(
                        "config.json's \"training\" is not a training record: {e}"
                    ))
                })
            })
            .transpose()
    }
}

/// A trained model with everything saved beside it.
pub struct Trained<B: Backend> {
    /// The model, on the backend.
    pub model: Autoencoder<B>,
    /// What `config.json` holds.
    pub saved: SavedConfig,
    /// Per-epoch history.
    pub report: TrainReport,
    /// The output activation chosen from the data, and why (with
    /// [`TrainSettings::output_from_data`]).
    pub output_choice: Option<OutputChoice>,
}

/// The output activation [`choose_output`] picked, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OutputChoice {
    /// Sigmoid or identity.
    pub activation: Activation,
    /// One sentence: the range of the normalised training rows that decided it.
    pub reason: String,
}

/// Sigmoid when every normalised training value lies in [0, 1] (`bounds` = their smallest and
/// largest), which a sigmoid output can reach; otherwise identity, which can reach any value.
pub fn choose_output(bounds: (f32, f32)) -> OutputChoice {
    let (lo, hi) = bounds;
    if lo >= 0.0 && hi <= 1.0 {
        OutputChoice {
            activation: Activation::Sigmoid,
            reason: format!(
                "the normalised training rows lie in [0, 1] (from {lo} to {hi}), so the output is \
                 a sigmoid"
            ),
        }
    } else {
        OutputChoice {
            activation: Activation::Identity,
            reason: format!(
                "the normalised training rows reach outside [0, 1] (from {lo} to {hi}), which a \
                 sigmoid cannot, so the output is the identity"
            ),
        }
    }
}

/// Checks that data of `cols` columns (from `data_path`) fits the model saved in `model_dir`.
pub fn check_width(
    saved: &SavedConfig,
    cols: usize,
    data_path: &Path,
    model_dir: &Path,
) -> Result<()> {
    if cols != saved.model.input_dim {
        return Err(Error::Shape(format!(
            "{} has {cols} columns but the model in {} takes {} inputs",
            data_path.display(),
            model_dir.display(),
            saved.model.input_dim
        )));
    }
    Ok(())
}

/// Training sets up to this many bytes (train and validation rows, f32) are read into memory
/// and kept on the device; larger ones are read from their source a batch at a time.
pub const RESIDENT_BYTES: u64 = 1 << 30;

/// Trains a model on raw `data` `[n, d]`: fits the normalisation on the training rows, holds out
/// `val_split` of the rows, trains, and (with `out`) saves a checkpoint into `out` after every
/// epoch that improves, then the final model with its history. A run that diverges keeps the
/// checkpoint of its best epoch on disk and returns the error.
pub fn train_model<B: Backend>(
    backend: &B,
    data: &Matrix,
    settings: &TrainSettings,
    out: Option<&Path>,
    on_event: &mut dyn FnMut(&TrainEvent<'_, B>),
) -> Result<Trained<B>> {
    let source = MatrixSource::borrowed("the data", data);
    train_source(backend, &source, settings, out, &mut |e| {
        on_event(e);
        Ok(())
    })
}

/// The memory [`train_source`] will hold for `settings` on `source`: the data read into memory
/// where it is resident (its normalised training and validation copies, plus the device's copy
/// and the source's own rows where those are in memory); where it streams, the shuffle windows
/// and queued batches of the reader ([`trainer::stream::Window::held_rows`]) and the row
/// numbers of the split and of the epoch's order.
pub fn memory_plan(source: &dyn RowSource, settings: &TrainSettings) -> trainer::MemoryPlan {
    let rows = source.rows();
    let batch = settings.train.batch_size.min(rows.max(1));
    match read_whole(source, settings.stream) {
        true => {
            let resident = rows * (2 + source.in_memory() as usize);
            trainer::MemoryPlan::new(&settings.model, &settings.train, rows, resident)
        }
        false => {
            let window = trainer::stream::Window::new(source.cols(), batch);
            let held = window.held_rows(batch);
            let mut plan = trainer::MemoryPlan::new(&settings.model, &settings.train, rows, held);
            plan.data += 2 * 4 * rows as u64;
            plan
        }
    }
}

/// The memory this machine has free for a new process (Linux's `MemAvailable`), or `None` where
/// it cannot be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The row numbers [`train_source`] trains on and holds out for `settings` on `source`. Rows
/// read into memory keep the permutation split of every release; rows that stream are split by
/// a row hash, in file order.
pub fn split(source: &dyn RowSource, settings: &TrainSettings) -> Result<(Vec<u32>, Vec<u32>)> {
    let split = match read_whole(source, settings.stream) {
        true => trainer::split_rows,
        false => trainer::split_rows_hashed,
    };
    split(source.rows(), settings.val_split, settings.train.seed)
}

/// [`train_model`] on a data set read lazily: the split is made on row numbers, the
/// normalisation fitted in chunks ([`NormStats::fit_source`]); a training set of at most
/// [`RESIDENT_BYTES`] is then read into memory (the same run as [`train_model`] on the whole
/// matrix), a larger one read from `source` a batch at a time, so memory stays bounded by the
/// batch and the model ([`trainer::train_rows`]). An error from `on_event` stops training; an
/// [`Error::Interrupted`] one (Ctrl-C) first saves the model as it is into `out`.
pub fn train_source<B: Backend>(
    backend: &B,
    source: &dyn RowSource,
    settings: &TrainSettings,
    out: Option<&Path>,
    on_event: &mut dyn FnMut(&TrainEvent<'_, B>) -> Result<()>,
) -> Result<Trained<B>> {
    train_source_from(backend, source, settings, None, out, on_event)
}

/// [`train_source`], starting from the weights of the model in `init` (an ae model directory, or
/// a SAELens or sparsify SAE: [`load_model`]) instead of a fresh initialisation, and with its
/// normalisation (an imported SAE reads raw inputs). Its architecture must be the one `settings`
/// asks for; the optimiser starts afresh (to continue a run exactly, resume it instead).
pub fn train_source_from<B: Backend>(
    backend: &B,
    source: &dyn RowSource,
    settings: &TrainSettings,
    init: Option<&Path>,
    out: Option<&Path>,
    on_event: &mut dyn FnMut(&TrainEvent<'_, B>) -> Result<()>,
) -> Result<Trained<B>> {
    let init = match init {
        Some(_) if settings.resume => {
            return Err(Error::Config(
                "--init-from starts a new run from a model's weights and --resume continues a \
                 run: give one of them"
                    .into(),
            ))
        }
        Some(dir) => Some(initial_model(backend, dir, settings)?),
        None => None,
    };
    if let Some(c) = settings.contamination {
        if !(c > 0.0 && c <= 0.5) {
            return Err(Error::Config(format!(
                "contamination must be in (0, 0.5], got {c}"
            )));
        }
    }
    if source.cols() != settings.model.input_dim {
        return Err(Error::Shape(format!(
            "the data has {} columns but the model's input width is {} (the first of `model.layers`)",
            source.cols(),
            settings.model.input_dim
        )));
    }
    let resident = read_whole(source, settings.stream);
    let (train_idx, val_idx) = split(source, settings)?;
    let (stats, output_choice) = match (&init, settings.output_from_data) {
        (Some((_, stats)), _) => (stats.clone(), None),
        (None, false) => (
            NormStats::fit_source(settings.normalization, source, &train_idx)?,
            None,
        ),
        (None, true) => {
            let (stats, range) =
                NormStats::fit_source_with_range(settings.normalization, source, &train_idx)?;
            let choice = choose_output(stats.normalised_bounds(&range));
            (stats, Some(choice))
        }
    };
    let mut model_config = match &init {
        Some((model, _)) => model.config().clone(),
        None => settings.model.clone(),
    };
    if let Some(choice) = &output_choice {
        if let Some(last) = model_config.activations.last_mut() {
            *last = choice.activation;
        }
        model_config.validate()?;
    }
    let settings = &TrainSettings {
        model: model_config,
        ..settings.clone()
    };
    let read = |idx: &[u32]| -> Result<Matrix> {
        let mut m = source.gather(idx)?;
        stats.apply(&mut m)?;
        Ok(m)
    };
    let (train_m, val_m) = match resident {
        true => (Some(read(&train_idx)?), Some(read(&val_idx)?)),
        false => (None, None),
    };
    let train_rows = match &train_m {
        Some(m) => Rows::Matrix(m),
        None => Rows::Source {
            source,
            rows: &train_idx,
            stats: Some(&stats),
        },
    };
    let val_rows = match &val_m {
        Some(m) => Rows::Matrix(m),
        None => Rows::Source {
            source,
            rows: &val_idx,
            stats: Some(&stats),
        },
    };
    let state = match (settings.resume, out) {
        (false, _) => None,
        (true, None) => {
            return Err(Error::Config(
                "resuming needs the output directory of the run (--out)".into(),
            ))
        }
        (true, Some(dir)) => Some(resumable_state(dir, settings)?),
    };
    let fresh = state.is_none() && init.is_none();
    let mut model = match init {
        Some((model, _)) => model,
        None => Autoencoder::new(backend, settings.model.clone(), settings.train.seed)?,
    };
    if let (Some(norm), true) = (settings.decoder_init_norm, fresh) {
        model.set_decoder_column_norms(backend, norm)?;
    }
    if let (Some(theta), true) = (settings.jump_init_threshold, fresh) {
        model.set_jump_thresholds(backend, theta)?;
    }
    if settings.encoder_from_decoder && fresh {
        model.init_encoder_from_decoder(backend)?;
    }
    if settings.model.pre_bias && fresh {
        let centre = match settings.pre_bias_init {
            PreBiasInit::Mean => column_means(train_rows)?,
            PreBiasInit::GeometricMedian => {
                let sample = train_rows.chunk(0, GEOMETRIC_MEDIAN_ROWS.min(train_rows.len()))?;
                ae_core::median::geometric_median(&sample, 200, 1e-7)?
            }
        };
        model.init_pre_bias_to(backend, &centre)?;
    }
    let mut saved = SavedConfig::new(settings.model.clone());
    saved.normalization = Some(stats.clone());
    saved.input = settings.input.clone().filter(|i| !i.is_whole());
    let val = (!val_rows.is_empty()).then_some(val_rows);
    let report = trainer::train_resumed(
        backend,
        &mut model,
        train_rows,
        val,
        &settings.train,
        &[],
        state.as_ref(),
        &mut |event| {
            if let (TrainEvent::EpochEnd { state }, Some(dir)) = (&event, out) {
                trainer::resume::save(&dir.join(RESUME_DIR), &state()?)?;
            }
            if let (
                TrainEvent::Epoch {
                    model,
                    improved: true,
                    ..
                },
                Some(dir),
            ) = (&event, out)
            {
                checkpoint::save(dir, backend, model, &saved)?;
            }
            on_event(&event)
        },
    );
    let report = report.map_err(|e| match (e, out) {
        (Error::Interrupted(at), Some(dir)) => {
            match checkpoint::save(dir, backend, &model, &saved) {
                Ok(()) => Error::Interrupted(format!(
                    "stopped at {at}; the model as it was then is saved in {}",
                    dir.display()
                )),
                Err(e) => Error::Interrupted(format!("stopped at {at}; saving the model: {e}")),
            }
        }
        (Error::Diverged(msg), Some(dir)) => Error::Diverged(format!(
            "{msg}; the checkpoint of the best epoch so far stays in {}",
            dir.display()
        )),
        (Error::Backend(msg), Some(dir)) => Error::Backend(format!(
            "{msg}; training stopped, and the checkpoint of the best epoch so far (if an epoch \
             finished) stays in {}",
            dir.display()
        )),
        (e, _) => e,
    })?;
    if let Some(c) = settings.contamination {
        let mut scores = Vec::with_capacity(train_rows.len());
        for chunk in train_rows.chunks() {
            let elbo = anomaly::ElboScoring {
                objective: Reconstruction {
                    loss: settings.train.loss,
                    reduction: settings.train.reduction,
                },
                ..anomaly::ElboScoring::default()
            };
            scores.extend(anomaly::scores_with(backend, &model, &chunk?.1, elbo)?);
        }
        saved.anomaly_threshold = Some(anomaly::threshold(&scores, c)?);
    }
    let record = TrainingRecord {
        contamination: settings.contamination,
        settings: settings.train.clone(),
        val_split: settings.val_split,
        train_rows: train_rows.len(),
        val_rows: val.map_or(0, |v| v.len()),
        best_epoch: report.best_epoch,
        stopped_early: report.stopped_early,
        streamed: report.streamed,
        history: report.history.clone(),
    };
    saved.training = Some(serde_json::to_value(&record).expect("a training record serialises"));
    if let Some(dir) = out {
        checkpoint::save(dir, backend, &model, &saved)?;
    }
    Ok(Trained {
        model,
        saved,
        report,
        output_choice,
    })
}

/// Checks that `data` (read from `data_path`) fits the model saved in `model_dir`, and applies
/// the model's normalisation to it.
pub fn prepare_input(
    saved: &SavedConfig,
    data: &mut Matrix,
    data_path: &Path,
    model_dir: &Path,
) -> Result<()> {
    check_width(saved, data.cols, data_path, model_dir)?;
    if let Some(stats) = &saved.normalization {
        stats.apply(data)?;
    }
    Ok(())
}

/// Path of a file of the bundled MNIST-10k subset (`images-idx3-ubyte.gz` or
/// `labels-idx1-ubyte.gz`): `data/mnist-10k/` under the current directory if it is there,
/// otherwise in the source tree this binary was built from.
pub fn bundled_mnist(file: &str) -> std::path::PathBuf {
    let local = Path::new("data/mnist-10k").join(file);
    if local.exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/mnist-10k")
        .join(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_core::data::synth::{self, SynthKind};
    use ae_cpu::CpuBackend;

    #[test]
    fn the_training_record_round_trips_through_config_json() {
        let cpu = CpuBackend::<f32>::new();
        let data = synth::generate(SynthKind::Blobs, 100, 3).unwrap().data;
        let train = TrainConfig {
            epochs: 2,
            batch_size: 16,
            seed: 3,
            ..TrainConfig::default()
        };
        let settings = TrainSettings {
            normalization: Normalization::Standard,
            val_split: 0.2,
            contamination: Some(0.1),
            ..TrainSettings::new(ModelConfig::mirrored(&[data.cols, 4, 2]).unwrap(), train)
        };
        let dir = tempfile::tempdir().unwrap();
        let trained = train_model(&cpu, &data, &settings, Some(dir.path()), &mut |_| {}).unwrap();
        let (_, loaded) = load_model(&cpu, dir.path()).unwrap();
        let record = TrainingRecord::from_saved(&loaded).unwrap().unwrap();
        // serde_json reads a float back to within an ulp, not always to the bit.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        assert_eq!(record.history.len(), trained.report.history.len());
        for (read, trained) in record.history.iter().zip(&trained.report.history) {
            assert_eq!(read.epoch, trained.epoch);
            assert!(close(read.train_loss, trained.train_loss));
            assert!(close(read.val_loss.unwrap(), trained.val_loss.unwrap()));
        }
        assert_eq!(record.settings, settings.train);
        assert_eq!((record.train_rows, record.val_rows), (80, 20));
        assert_eq!(record.contamination, Some(0.1));
        assert_eq!(record.best_epoch, trained.report.best_epoch);
    }

    #[test]
    fn the_output_activation_follows_the_normalised_range_of_the_training_rows() {
        let cpu = CpuBackend::<f32>::new();
        // Values in [0, 1]: sigmoid unless standardised.
        let data = Matrix::new(40, 2, (0..80).map(|i| (i % 11) as f32 / 10.0).collect()).unwrap();
        let run = |normalization| {
            let settings = TrainSettings {
                normalization,
                output_from_data: true,
                ..TrainSettings::new(
                    ModelConfig::mirrored(&[2, 1]).unwrap(),
                    TrainConfig {
                        epochs: 1,
                        ..TrainConfig::default()
                    },
                )
            };
            let trained = train_model(&cpu, &data, &settings, None, &mut |_| {}).unwrap();
            let choice = trained.output_choice.unwrap();
            let saved = *trained.saved.model.activations.last().unwrap();
            assert_eq!(saved, choice.activation);
            assert_eq!(*trained.model.config().activations.last().unwrap(), saved);
            choice
        };
        let none = run(Normalization::None);
        assert_eq!(none.activation, Activation::Sigmoid);
        assert!(none.reason.contains("from 0 to 1"), "{}", none.reason);
        assert_eq!(run(Normalization::MinMax).activation, Activation::Sigmoid);
        let standard = run(Normalization::Standard);
        assert_eq!(standard.activation, Activation::Identity);
        assert!(
            standard.reason.contains("outside [0, 1]"),
            "{}",
            standard.reason
        );
        assert_eq!(choose_output((0.0, 1.0)).activation, Activation::Sigmoid);
        assert_eq!(choose_output((-1e-7, 1.0)).activation, Activation::Identity);
        assert_eq!(
            choose_output((0.0, 1.0001)).activation,
            Activation::Identity
        );
    }

    #[test]
    fn a_config_saved_by_an_earlier_ae_reads_as_a_training_record() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/legacy-fnv-model")
            .join(checkpoint::CONFIG_FILE);
        let saved: SavedConfig =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let record = TrainingRecord::from_saved(&saved).unwrap().unwrap();
        assert_eq!((record.train_rows, record.val_rows), (4, 0));
        assert_eq!(record.history.len(), 1);
        assert_eq!(record.settings.seed, 7);
        assert_eq!(record.contamination, None);
    }

    #[test]
    fn a_config_without_a_record_has_none_and_a_malformed_one_is_an_error() {
        let mut saved = SavedConfig::new(ModelConfig::mirrored(&[3, 2]).unwrap());
        assert_eq!(TrainingRecord::from_saved(&saved).unwrap(), None);
        saved.training = Some(serde_json::json!({ "history": 3 }));
        let err = TrainingRecord::from_saved(&saved).unwrap_err().to_string();
        assert!(err.contains("\"training\""), "{err}");
    }
}
