//! `ae score`: per-sample anomaly scores of a saved model, a threshold, predictions, and (with
//! labels) ROC AUC, average precision, precision/recall/F1; optionally an HTML report.

use super::values::VaeScoreArg;
use super::{open_device, print_result, GlobalArgs};
use ae::anomaly::{self, LabelRule};
use ae::report::Report;
use ae::workflow::ensemble::{self, Ensemble};
use ae::{chart, workflow, Job, Result};
use ae_core::metrics::{self, Confusion};
use ae_core::{data, Backend, Error, Output};
use clap::Args;
use std::fmt;
use std::path::{Path, PathBuf};

/// Which labels are anomalies, shared by the commands that read labels.
#[derive(Args, Debug, Clone)]
pub struct LabelArgs {
    /// Labels for the data (IDX, NPY, CSV or Parquet; one per row), to measure the scores against.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// The label value that marks an anomaly.
    #[arg(long, default_value_t = 1, conflicts_with = "normal_label")]
    pub anomaly_label: i64,
    /// Instead: the label value of normal rows; every other value is an anomaly.
    #[arg(long)]
    pub normal_label: Option<i64>,
}

impl LabelArgs {
    /// The labels (from `--labels`, or the data file's labels column `from_column`), checked
    /// against the data's row count, as anomaly flags.
    pub fn load(
        &self,
        rows: usize,
        data_path: &Path,
        from_column: Option<Vec<i64>>,
    ) -> Result<Option<(Vec<i64>, Vec<bool>)>> {
        let labels = match (&self.labels, from_column) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "labels from --labels and from --labels-column: pass one".into(),
                ))
            }
            (None, None) => return Ok(None),
            (None, Some(labels)) => labels,
            (Some(path), None) => {
                let labels = data::load_labels(path)?;
                if labels.len() != rows {
                    return Err(Error::Shape(format!(
                        "{} has {} labels but {} has {rows} rows",
                        path.display(),
                        labels.len(),
                        data_path.display()
                    )));
                }
                labels
            }
        };
        let rule = match self.normal_label {
            Some(v) => LabelRule::NormalIs(v),
            None => LabelRule::AnomalyIs(self.anomaly_label),
        };
        let flags = rule.apply(&labels);
        Ok(Some((labels, flags)))
    }
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// A model directory written by `ae train`, or a SAELens or sparsify SAE directory (scored
    /// on raw inputs; pass --contamination or --threshold).
    pub model: PathBuf,
    /// Data to score: IDX, CSV, NPY, safetensors, Parquet, or a directory or pattern of shards, with the model's input width.
    pub data: PathBuf,
    #[command(flatten)]
    pub input: super::columns::ColumnArgs,
    /// Write the scores (mean squared reconstruction error per row; a variational model's
    /// negative ELBO, or what --vae-score says) as NPY [n].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the predictions (1 = anomaly) as NPY [n].
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Write each feature's squared error as NPY [n, d] (which features made a row anomalous).
    #[arg(long)]
    pub per_feature: Option<PathBuf>,
    #[command(flatten)]
    pub labels: LabelArgs,
    /// Flag this fraction of the scored rows: the threshold is their (1 - C) quantile.
    #[arg(long, conflicts_with = "threshold")]
    pub contamination: Option<f64>,
    /// Flag rows whose score is above this (default: the threshold saved with the model).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Write a report into this directory (index.html): the score histogram, the ROC curve (with
    /// --labels), and where the 5 highest-scoring rows' errors come from (contributions.svg and
    /// a table of each row's largest columns).
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub vae: VaeScoreArgs,
}

/// How a variational model's rows are scored (`ae score`, `ae oneclass`).
#[derive(Args, Debug, Clone)]
pub struct VaeScoreArgs {
    /// A variational model's score: `elbo`, its negative ELBO (the reconstruction loss it
    /// trained with, averaged over --samples draws z ~ q(z|x), plus KL(q(z|x) || N(0, I))), or
    /// `reconstruction`, the negative log reconstruction probability of An & Cho (2015): the
    /// averaged reconstruction loss alone, -log p(x|z) up to a constant.
    #[arg(long, value_enum, default_value_t = VaeScoreArg::NegativeElbo)]
    pub vae_score: VaeScoreArg,
    /// Draws z ~ q(z|x) per row of a variational model's score.
    #[arg(long, default_value_t = anomaly::ElboScoring::DEFAULT_SAMPLES)]
    pub samples: usize,
    /// Seed of a variational model's draws.
    #[arg(long, default_value_t = 0)]
    pub sample_seed: u32,
}

impl VaeScoreArgs {
    /// An error for `--vae-score reconstruction` on a model that is not variational (`what`
    /// names it), where it would be ignored.
    pub fn refuse_for_plain(&self, what: &dyn std::fmt::Display) -> Result<()> {
        match self.vae_score {
            VaeScoreArg::Reconstruction => Err(Error::Config(format!(
                "--vae-score reconstruction scores a variational model, and {what} is not one \
                 (its score is the reconstruction error already)"
            ))),
            VaeScoreArg::NegativeElbo => Ok(()),
        }
    }

    /// The scoring of a variational model that trained with `objective`.
    pub fn scoring(&self, objective: ae_core::Reconstruction) -> Result<anomaly::ElboScoring> {
        if self.samples == 0 {
            return Err(Error::Config("--samples must be at least 1".into()));
        }
        Ok(anomaly::ElboScoring {
            objective,
            samples: self.samples,
            seed: self.sample_seed,
            score: self.vae_score.into(),
        })
    }
}

struct ScoreJob<'a> {
    args: &'a ScoreArgs,
    /// `--json`: no progress bar.
    quiet: bool,
}

/// What `ae score` prints: the threshold and how many rows it flags; with labels, how well the
/// scores rank them.
#[derive(Debug, serde::Serialize)]
pub struct ScoreOutput {
    /// Rows scored.
    pub rows: usize,
    /// Rows scoring above it are flagged (null without a threshold: no predictions).
    pub threshold: Option<f64>,
    /// Where the threshold came from: `--threshold`, `--contamination C`, the model, or
    /// `none`.
    pub threshold_source: String,
    /// Rows flagged (null without a threshold).
    pub predicted_anomalies: Option<usize>,
    /// Mean score.
    pub mean_score: f64,
    /// Largest score (null with no rows).
    pub max_score: f64,
    /// The backend.
    pub backend: String,
    /// With `--labels`: the measures against them.
    #[serde(flatten)]
    pub evaluation: Option<ScoreEvaluation>,
    /// With `--report`: the report's index.html.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
}

/// The scores measured against the labels. The rank measures need both classes among the
/// labels and the others a threshold; each is null without what it needs, and `note` says why.
#[derive(Debug, serde::Serialize)]
pub struct ScoreEvaluation {
    /// Area under the ROC curve.
    pub roc_auc: Option<f64>,
    /// Average precision.
    pub average_precision: Option<f64>,
    /// Precision at the threshold.
    pub precision: Option<f64>,
    /// Recall at the threshold.
    pub recall: Option<f64>,
    /// F1 at the threshold.
    pub f1: Option<f64>,
    /// The counts at the threshold.
    pub confusion: Option<Confusion>,
    /// Why a measure is missing (null when none is).
    pub note: Option<String>,
}

impl ScoreEvaluation {
    /// `scores` against `labels` (`true` = anomaly), at `threshold` where there is one.
    pub fn of(scores: &[f64], labels: &[bool], threshold: Option<f64>) -> Result<Self> {
        let anomalies = labels.iter().filter(|&&l| l).count();
        let one_class = anomalies == 0 || anomalies == labels.len();
        let confusion = match threshold {
            Some(t) => Some(metrics::confusion_at(scores, labels, t)?),
            None => None,
        };
        let mut notes = Vec::new();
        if one_class {
            notes.push(format!(
                "the labels are all one class ({anomalies} anomalies among {} rows), so ROC AUC \
                 and average precision are undefined",
                labels.len()
            ));
        }
        if threshold.is_none() {
            notes.push(
                "no threshold (none saved with the model; pass --contamination or --threshold), \
                 so no predictions, precision, recall or F1"
                    .to_string(),
            );
        }
        let ranked = |f: fn(&[f64], &[bool]) -> Result<f64>| match one_class {
            true => Ok(None),
            false => f(scores, labels).map(Some),
        };
        Ok(ScoreEvaluation {
            roc_auc: ranked(metrics::roc_auc)?,
            average_precision: ranked(metrics::average_precision)?,
            precision: confusion.map(|c| c.precision),
            recall: confusion.map(|c| c.recall),
            f1: confusion.map(|c| c.f1),
            confusion,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        })
    }
}

impl fmt::Display for ScoreOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.threshold, self.predicted_anomalies) {
            (Some(t), Some(p)) => write!(
                f,
                "{} rows scored; threshold {t:.6} ({}); {p} flagged as anomalies",
                self.rows, self.threshold_source
            )?,
            _ => write!(
                f,
                "{} rows scored; no threshold, so no predictions",
                self.rows
            )?,
        }
        if let Some(e) = &self.evaluation {
            if let (Some(auc), Some(ap)) = (e.roc_auc, e.average_precision) {
                write!(f, "\nROC AUC {auc:.4}, average precision {ap:.4}")?;
            }
            if let (Some(p), Some(r), Some(f1)) = (e.precision, e.recall, e.f1) {
                write!(
                    f,
                    "\nat the threshold: precision {p:.4}, recall {r:.4}, F1 {f1:.4}"
                )?;
            }
            if let Some(note) = &e.note {
                write!(f, "\nnote: {note}")?;
            }
        }
        if let Some(p) = &self.report {
            write!(f, "\nreport: {}", p.display())?;
        }
        Ok(())
    }
}

impl Job for ScoreJob<'_> {
    type Output = ScoreOutput;

    fn run<B: Backend>(self, backend: &B) -> Result<ScoreOutput> {
        let a = self.args;
        if let Some(c) = a.contamination {
            if !(c > 0.0 && c <= 0.5) {
                return Err(Error::Config(format!(
                    "--contamination must be in (0, 0.5], got {c}"
                )));
            }
        }
        let scorer = match ensemble::is_ensemble(&a.model) {
            true => Scorer::Many(Ensemble::load(backend, &a.model)?),
            false => {
                let (model, saved) = workflow::load_model(backend, &a.model)?;
                Scorer::One(Box::new(model), saved)
            }
        };
        let (input_columns, saved_threshold) = match &scorer {
            Scorer::One(_, saved) => (saved.input.as_ref(), saved.anomaly_threshold),
            Scorer::Many(e) => (e.config.input.as_ref(), e.config.anomaly_threshold),
        };
        let table = a.input.open_with(&a.data, input_columns)?;
        let names = table.input.names.clone();
        let input = table.source;
        match &scorer {
            Scorer::One(_, saved) => workflow::check_width(saved, input.cols(), &a.data, &a.model)?,
            Scorer::Many(e) if e.config.input_dim != input.cols() => {
                return Err(Error::Shape(format!(
                    "{} has {} columns but the ensemble in {} takes {}",
                    a.data.display(),
                    input.cols(),
                    a.model.display(),
                    e.config.input_dim
                )))
            }
            Scorer::Many(_) if a.per_feature.is_some() => {
                return Err(Error::Config(format!(
                    "--per-feature needs one model, and {} is an ensemble whose members read \
                     different columns; score one of its member-K directories",
                    a.model.display()
                )))
            }
            Scorer::Many(_) => {}
        }
        let labels = a.labels.load(input.rows(), &a.data, table.labels)?;
        // Only predictions need a threshold; scores, ROC AUC and average precision do not.
        let (threshold, source) = match (a.threshold, a.contamination, saved_threshold) {
            (Some(t), _, _) => (Some(t), "--threshold".to_string()),
            (None, Some(c), _) => (None, format!("--contamination {c}")),
            (None, None, Some(t)) => (Some(t), "saved with the model".to_string()),
            (None, None, None) => (None, "none".to_string()),
        };
        let no_threshold = |what: &str| {
            let config = a.model.join(ae_core::checkpoint::CONFIG_FILE);
            let message = format!(
                "{what} needs a threshold, and {}: pass --contamination or --threshold{}",
                match config.exists() {
                    true => "no anomaly threshold is saved with this model",
                    false => "a SAELens or sparsify SAE carries no anomaly threshold",
                },
                match config.exists() {
                    true => " (or train with --contamination)",
                    false => "",
                }
            );
            Error::Model {
                path: if config.exists() {
                    config
                } else {
                    a.model.clone()
                },
                message,
            }
        };
        let thresholded = threshold.is_some() || a.contamination.is_some();
        if !thresholded && a.predictions.is_some() {
            return Err(no_threshold("--predictions"));
        }
        if !thresholded && labels.is_none() && a.out.is_none() && a.per_feature.is_none() {
            return Err(no_threshold(
                "scoring without --labels, --out or --per-feature (it would only flag rows)",
            ));
        }
        // One chunk at a time: the scores (one per row) are all that is kept, and per-feature
        // errors go to their file as they come.
        let rows = input.rows();
        let mut per_feature = match &a.per_feature {
            Some(path) => Some(data::npy::NpyWriter::create(path, rows, input.cols())?),
            None => None,
        };
        let mut scores = Vec::with_capacity(rows);
        let elbo = match &scorer {
            Scorer::One(model, saved) => {
                if !model.config().variational {
                    a.vae
                        .refuse_for_plain(&format!("the model in {}", a.model.display()))?;
                }
                elbo_scoring(saved, &a.vae)?
            }
            Scorer::Many(_) => {
                a.vae
                    .refuse_for_plain(&format!("the ensemble in {}", a.model.display()))?;
                anomaly::ElboScoring::default()
            }
        };
        let bar = super::progress::rows_bar(rows, self.quiet);
        for start in (0..rows).step_by(CHUNK_ROWS) {
            let mut x = input.read(start, CHUNK_ROWS.min(rows - start))?;
            bar.inc(x.rows as u64);
            match &scorer {
                Scorer::One(model, saved) => {
                    workflow::prepare_input(saved, &mut x, &a.data, &a.model)?;
                    let recon = model.map_rows(backend, &x, Output::Reconstruction)?;
                    match model.config().variational {
                        true => scores.extend(anomaly::scores_with(backend, model, &x, elbo)?),
                        false => scores.extend(anomaly::row_errors(&x, &recon)?),
                    }
                    if let Some(w) = per_feature.as_mut() {
                        w.write(&anomaly::feature_errors(&x, &recon)?)?;
                    }
                }
                Scorer::Many(e) => scores.extend(e.scores(backend, &x)?),
            }
        }
        bar.finish_and_clear();
        if let Some(w) = per_feature {
            w.finish()?;
        }
        if let Some(path) = &a.out {
            data::save_npy_vec(path, &scores.iter().map(|&s| s as f32).collect::<Vec<_>>())?;
        }
        let threshold = match a.contamination {
            Some(c) => Some(anomaly::threshold(&scores, c)?),
            None => threshold,
        };
        let predicted = threshold.map(|t| anomaly::predict(&scores, t));
        if let (Some(path), Some(predicted)) = (&a.predictions, &predicted) {
            let p: Vec<f32> = predicted.iter().map(|&p| p as u8 as f32).collect();
            data::save_npy_vec(path, &p)?;
        }
        let n = scores.len();
        let evaluation = match &labels {
            Some((_, flags)) => Some(ScoreEvaluation::of(&scores, flags, threshold)?),
            None => None,
        };
        let mut out = ScoreOutput {
            rows: n,
            threshold,
            threshold_source: source,
            predicted_anomalies: predicted.map(|p| p.iter().filter(|&&p| p).count()),
            mean_score: scores.iter().sum::<f64>() / n.max(1) as f64,
            max_score: scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            backend: backend.name(),
            evaluation,
            report: None,
        };
        if let Some(dir) = &a.report {
            let mut r = Report::new(dir, "ae score")?;
            r.setting("model", a.model.display());
            r.setting("data", a.data.display());
            r.setting(
                "threshold",
                match threshold {
                    Some(t) => format!("{t:.6} ({})", out.threshold_source),
                    None => "none".to_string(),
                },
            );
            r.metric("rows", out.rows);
            if let Some(p) = out.predicted_anomalies {
                r.metric("predicted_anomalies", p);
            }
            if let Some(e) = &out.evaluation {
                // `{:?}`: every digit, and 1.0 rather than 1, as the JSON has them.
                let metrics = [
                    ("roc_auc", e.roc_auc),
                    ("average_precision", e.average_precision),
                    ("precision", e.precision),
                    ("recall", e.recall),
                    ("f1", e.f1),
                ];
                for (name, value) in metrics {
                    if let Some(v) = value {
                        r.metric(name, format!("{v:?}"));
                    }
                }
            }
            let groups: Vec<(&str, Vec<f64>)> = match &labels {
                Some((_, flags)) => vec![
                    (
                        "normal",
                        scores
                            .iter()
                            .zip(flags)
                            .filter(|(_, &f)| !f)
                            .map(|(s, _)| *s)
                            .collect(),
                    ),
                    (
                        "anomaly",
                        scores
                            .iter()
                            .zip(flags)
                            .filter(|(_, &f)| f)
                            .map(|(s, _)| *s)
                            .collect(),
                    ),
                ],
                None => vec![("all rows", scores.clone())],
            };
            let groups: Vec<(&str, &[f64])> =
                groups.iter().map(|(n, v)| (*n, v.as_slice())).collect();
            let hist = chart::histogram(
                "Anomaly scores",
                "score (mean squared error)",
                &groups,
                40,
                threshold.map(|t| ("threshold", t)),
            )?;
            r.chart("scores.svg", "Score histogram with the threshold", &hist)?;
            let auc = out.evaluation.as_ref().and_then(|e| e.roc_auc);
            if let (Some((_, flags)), Some(auc)) = (&labels, auc) {
                let curve = metrics::roc_curve(&scores, flags)?;
                let roc = chart::roc_chart("ROC curve", &[("autoencoder".into(), curve, auc)])?;
                r.chart("roc.svg", "ROC curve", &roc)?;
            }
            let top = top_rows(
                backend,
                &scorer,
                input.as_ref(),
                &scores,
                (&a.data, &a.model),
            )?;
            let model = match &scorer {
                Scorer::One(..) => "autoencoder",
                Scorer::Many(_) => "ensemble's first member",
            };
            super::contributions::add(&mut r, model, &top, names.as_deref())?;
            out.report = Some(r.write()?);
        }
        Ok(out)
    }
}

/// Rows read and scored at a time.
const CHUNK_ROWS: usize = 4096;

/// The [`anomaly::TOP_ROWS`] highest of `scores` (one per row of `input`) with their
/// per-feature squared errors: the model's, or an ensemble's first member's (it reads every
/// column). Only those rows are read again.
fn top_rows<B: Backend>(
    backend: &B,
    scorer: &Scorer<B>,
    input: &dyn ae_core::data::RowSource,
    scores: &[f64],
    (data, model_dir): (&std::path::Path, &std::path::Path),
) -> Result<Vec<anomaly::TopRow>> {
    let (model, saved) = match scorer {
        Scorer::One(model, saved) => (model, saved),
        Scorer::Many(e) => return e.top_rows(backend, input, scores, anomaly::TOP_ROWS),
    };
    let order = anomaly::highest(scores, anomaly::TOP_ROWS);
    let ids: Vec<u32> = order.iter().map(|&i| i as u32).collect();
    let mut x = input.gather(&ids)?;
    workflow::prepare_input(saved, &mut x, data, model_dir)?;
    let recon = model.map_rows(backend, &x, Output::Reconstruction)?;
    let errors = anomaly::feature_errors(&x, &recon)?;
    Ok(anomaly::TopRow::of(&order, scores, &errors))
}

/// What scores the rows: one model (its reconstruction error), or an ensemble (its members'
/// standardised errors, averaged).
enum Scorer<B: Backend> {
    /// Boxed: a model and its config are much larger than an ensemble's handle.
    One(
        Box<ae_core::Autoencoder<B>>,
        ae_core::checkpoint::SavedConfig,
    ),
    Many(Ensemble<B>),
}

pub fn run(g: &GlobalArgs, args: ScoreArgs) -> Result<()> {
    let device = open_device(g)?;
    let out = device.run(ScoreJob {
        args: &args,
        quiet: g.json,
    })?;
    print_result(g, &out);
    Ok(())
}

/// How a variational model of `saved` is scored: as `vae` says, with the loss and reduction it
/// trained with (from its training record; MSE over the mean without one).
fn elbo_scoring(
    saved: &ae_core::checkpoint::SavedConfig,
    vae: &VaeScoreArgs,
) -> Result<anomaly::ElboScoring> {
    let settings = saved
        .training
        .as_ref()
        .and_then(|t| t.get("settings"))
        .and_then(|s| serde_json::from_value::<ae_core::TrainConfig>(s.clone()).ok());
    vae.scoring(
        settings.map_or_else(Default::default, |s| ae_core::Reconstruction {
            loss: s.loss,
            reduction: s.reduction,
        }),
    )
}
