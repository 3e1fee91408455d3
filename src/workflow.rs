//! The workflows behind the `ae` commands, usable from code: train a model from raw data
//! (normalise, split, train, checkpoint), load one to encode, reconstruct or score, and the
//! one-class protocol of anomaly detection ([`one_class`]).

use crate::anomaly;
use ae_core::checkpoint::{self, SavedConfig};
use ae_core::data::normalize::{NormStats, Normalization};
use ae_core::metrics;
use ae_core::trainer::{self, TrainEvent};
use ae_core::Pca;
use ae_core::{Autoencoder, Backend, Error, Matrix, ModelConfig, Result, TrainConfig, TrainReport};
use std::path::Path;

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
}

/// A trained model with everything saved beside it.
pub struct Trained<B: Backend> {
    /// The model, on the backend.
    pub model: Autoencoder<B>,
    /// What `config.json` holds.
    pub saved: SavedConfig,
    /// Per-epoch history.
    pub report: TrainReport,
}

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
    if let Some(c) = settings.contamination {
        if !(c > 0.0 && c <= 0.5) {
            return Err(Error::Config(format!(
                "contamination must be in (0, 0.5], got {c}"
            )));
        }
    }
    if data.cols != settings.model.input_dim {
        return Err(Error::Shape(format!(
            "the data has {} columns but the model's input width is {} (the first of `model.layers`)",
            data.cols, settings.model.input_dim
        )));
    }
    let (mut train, mut val) = trainer::split(data, settings.val_split, settings.train.seed)?;
    let stats = NormStats::fit(settings.normalization, &train);
    stats.apply(&mut train)?;
    stats.apply(&mut val)?;
    let mut model = Autoencoder::new(backend, settings.model.clone(), settings.train.seed)?;
    if settings.encoder_from_decoder {
        model.init_encoder_from_decoder(backend)?;
    }
    if settings.model.pre_bias {
        model.init_pre_bias(backend, &train)?;
    }
    let mut saved = SavedConfig::new(settings.model.clone());
    saved.normalization = Some(stats);
    let val = (val.rows > 0).then_some(&val);
    let report = trainer::train(
        backend,
        &mut model,
        &train,
        val,
        &settings.train,
        &[],
        &mut |event| {
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
            on_event(&event);
            Ok(())
        },
    )
    .map_err(|e| match (e, out) {
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
        let scores = anomaly::scores(backend, &model, &train)?;
        saved.anomaly_threshold = Some(anomaly::threshold(&scores, c)?);
    }
    saved.training = Some(serde_json::json!({
        "contamination": settings.contamination,
        "settings": settings.train,
        "val_split": settings.val_split,
        "train_rows": train.rows,
        "val_rows": val.map_or(0, |v| v.rows),
        "best_epoch": report.best_epoch,
        "stopped_early": report.stopped_early,
        "streamed": report.streamed,
        "history": report.history,
    }));
    if let Some(dir) = out {
        checkpoint::save(dir, backend, &model, &saved)?;
    }
    Ok(Trained {
        model,
        saved,
        report,
    })
}

/// Loads a model directory onto `backend`.
pub fn load_model<B: Backend>(backend: &B, dir: &Path) -> Result<(Autoencoder<B>, SavedConfig)> {
    checkpoint::load(dir, backend)
}

/// Checks that `data` (read from `data_path`) fits the model saved in `model_dir`, and applies
/// the model's normalisation to it.
pub fn prepare_input(
    saved: &SavedConfig,
    data: &mut Matrix,
    data_path: &Path,
    model_dir: &Path,
) -> Result<()> {
    if data.cols != saved.model.input_dim {
        return Err(Error::Shape(format!(
            "{} has {} columns but the model in {} takes {} inputs",
            data_path.display(),
            data.cols,
            model_dir.display(),
            saved.model.input_dim
        )));
    }
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

/// One class of the one-class protocol.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OneClass {
    /// The class used as normal.
    pub class: i64,
    /// Training rows of that class.
    pub train_rows: usize,
    /// The autoencoder's ROC AUC on the test rows (that class normal, the rest anomalies).
    pub roc_auc_ae: f64,
    /// PCA reconstruction error's ROC AUC, same code size, same rows.
    pub roc_auc_pca: f64,
}

/// Trains an autoencoder (`settings`) and a PCA of the same code size on the rows of `train`
/// labelled `class`, scores every row of `test`, and measures how well each ranks the other
/// classes as anomalies. Inputs are raw; `settings.normalization` is fitted on the class's rows.
pub fn one_class<B: Backend>(
    backend: &B,
    train: (&Matrix, &[i64]),
    test: (&Matrix, &[i64]),
    class: i64,
    settings: &TrainSettings,
) -> Result<OneClass> {
    let rows: Vec<usize> = (0..train.0.rows).filter(|&i| train.1[i] == class).collect();
    if rows.len() < 2 {
        return Err(Error::Config(format!(
            "class {class} has {} training rows; at least 2 are needed",
            rows.len()
        )));
    }
    let normal = train.0.select_rows(&rows);
    let trained = train_model(backend, &normal, settings, None, &mut |_| {})?;
    let stats = trained
        .saved
        .normalization
        .clone()
        .expect("train_model sets it");
    let (mut normal_n, mut test_n) = (normal, test.0.clone());
    stats.apply(&mut normal_n)?;
    stats.apply(&mut test_n)?;
    let labels = anomaly::LabelRule::NormalIs(class).apply(test.1);
    let ae_scores = anomaly::scores(backend, &trained.model, &test_n)?;
    let pca = Pca::fit(
        &normal_n,
        settings.model.code_dim().min(normal_n.rows - 1).max(1),
    )?;
    let pca_scores = anomaly::row_errors(&test_n, &pca.reconstruct(&test_n)?)?;
    Ok(OneClass {
        class,
        train_rows: rows.len(),
        roc_auc_ae: metrics::roc_auc(&ae_scores, &labels)?,
        roc_auc_pca: metrics::roc_auc(&pca_scores, &labels)?,
    })
}
