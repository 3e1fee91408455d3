//! `ae score`: per-sample anomaly scores of a saved model, a threshold, predictions, and (with
//! labels) ROC AUC, average precision, precision/recall/F1; optionally an HTML report.

use super::{open_device, print_result, GlobalArgs};
use ae::anomaly::{self, LabelRule};
use ae::report::Report;
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
    /// Write the scores (mean squared reconstruction error per row) as NPY [n].
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
    /// Write a report (score histogram, ROC curve, index.html) into this directory.
    #[arg(long)]
    pub report: Option<PathBuf>,
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
    /// Rows scoring above it are flagged.
    pub threshold: f64,
    /// Where the threshold came from: `--threshold`, `--contamination C` or the model.
    pub threshold_source: String,
    /// Rows flagged.
    pub predicted_anomalies: usize,
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

/// The scores measured against the labels.
#[derive(Debug, serde::Serialize)]
pub struct ScoreEvaluation {
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Average precision.
    pub average_precision: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// F1 at the threshold.
    pub f1: f64,
    /// The counts at the threshold.
    pub confusion: Confusion,
}

impl fmt::Display for ScoreOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rows scored; threshold {:.6} ({}); {} flagged as anomalies",
            self.rows, self.threshold, self.threshold_source, self.predicted_anomalies
        )?;
        if let Some(e) = &self.evaluation {
            write!(
                f,
                "\nROC AUC {:.4}, average precision {:.4}; at the threshold: precision {:.4}, \
                 recall {:.4}, F1 {:.4}",
                e.roc_auc, e.average_precision, e.precision, e.recall, e.f1
            )?;
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
        let (model, saved) = workflow::load_model(backend, &a.model)?;
        let table = a.input.open_for(&a.data, &saved)?;
        let input = table.source;
        workflow::check_width(&saved, input.cols(), &a.data, &a.model)?;
        let labels = a.labels.load(input.rows(), &a.data, table.labels)?;
        let (threshold, source) = match (a.threshold, a.contamination, saved.anomaly_threshold) {
            (Some(t), _, _) => (t, "--threshold".to_string()),
            (None, Some(c), _) => (0.0, format!("--contamination {c}")),
            (None, None, Some(t)) => (t, "saved with the model".to_string()),
            (None, None, None) => {
                let config = a.model.join(ae_core::checkpoint::CONFIG_FILE);
                return Err(if config.exists() {
                    Error::Model {
                        path: config,
                        message: "no anomaly threshold is saved with this model: train it with \
                                  --contamination, or pass --contamination or --threshold"
                            .into(),
                    }
                } else {
                    Error::Model {
                        path: a.model.clone(),
                        message: "a SAELens or sparsify SAE carries no anomaly threshold: pass \
                                  --contamination or --threshold"
                            .into(),
                    }
                });
            }
        };
        // One chunk at a time: the scores (one per row) are all that is kept, and per-feature
        // errors go to their file as they come.
        let rows = input.rows();
        let mut per_feature = match &a.per_feature {
            Some(path) => Some(data::npy::NpyWriter::create(path, rows, input.cols())?),
            None => None,
        };
        let mut scores = Vec::with_capacity(rows);
        let bar = super::progress::rows_bar(rows, self.quiet);
        for start in (0..rows).step_by(CHUNK_ROWS) {
            let mut x = input.read(start, CHUNK_ROWS.min(rows - start))?;
            bar.inc(x.rows as u64);
            workflow::prepare_input(&saved, &mut x, &a.data, &a.model)?;
            let recon = model.map_rows(backend, &x, Output::Reconstruction)?;
            scores.extend(anomaly::row_errors(&x, &recon)?);
            if let Some(w) = per_feature.as_mut() {
                w.write(&anomaly::feature_errors(&x, &recon)?)?;
            }
        }
        bar.finish_and_clear();
        if let Some(w) = per_feature {
            w.finish()?;
        }
        let threshold = match a.contamination {
            Some(c) => anomaly::threshold(&scores, c)?,
            None => threshold,
        };
        let predicted = anomaly::predict(&scores, threshold);
        if let Some(path) = &a.out {
            data::save_npy_vec(path, &scores.iter().map(|&s| s as f32).collect::<Vec<_>>())?;
        }
        if let Some(path) = &a.predictions {
            let p: Vec<f32> = predicted.iter().map(|&p| p as u8 as f32).collect();
            data::save_npy_vec(path, &p)?;
        }
        let n = scores.len();
        let evaluation = match &labels {
            Some((_, flags)) => Some(anomaly::evaluate(&scores, flags, threshold)?),
            None => None,
        };
        let mut out = ScoreOutput {
            rows: n,
            threshold,
            threshold_source: source,
            predicted_anomalies: predicted.iter().filter(|&&p| p).count(),
            mean_score: scores.iter().sum::<f64>() / n.max(1) as f64,
            max_score: scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            backend: backend.name(),
            evaluation: evaluation.as_ref().map(|e| ScoreEvaluation {
                roc_auc: e.roc_auc,
                average_precision: e.average_precision,
                precision: e.at_threshold.precision,
                recall: e.at_threshold.recall,
                f1: e.at_threshold.f1,
                confusion: e.at_threshold,
            }),
            report: None,
        };
        if let Some(dir) = &a.report {
            let mut r = Report::new(dir, "ae score")?;
            r.setting("model", a.model.display());
            r.setting("data", a.data.display());
            r.setting(
                "threshold",
                format!("{threshold:.6} ({})", out.threshold_source),
            );
            r.metric("rows", out.rows);
            r.metric("predicted_anomalies", out.predicted_anomalies);
            if let Some(e) = &out.evaluation {
                // `{:?}`: every digit, and 1.0 rather than 1, as the JSON has them.
                r.metric("roc_auc", format!("{:?}", e.roc_auc));
                r.metric("average_precision", format!("{:?}", e.average_precision));
                r.metric("precision", format!("{:?}", e.precision));
                r.metric("recall", format!("{:?}", e.recall));
                r.metric("f1", format!("{:?}", e.f1));
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
                Some(("threshold", threshold)),
            )?;
            r.chart("scores.svg", "Score histogram with the threshold", &hist)?;
            if let (Some((_, flags)), Some(e)) = (&labels, &evaluation) {
                let curve = metrics::roc_curve(&scores, flags)?;
                let roc =
                    chart::roc_chart("ROC curve", &[("autoencoder".into(), curve, e.roc_auc)])?;
                r.chart("roc.svg", "ROC curve", &roc)?;
            }
            out.report = Some(r.write()?);
        }
        Ok(out)
    }
}

/// Rows read and scored at a time.
const CHUNK_ROWS: usize = 4096;

pub fn run(g: &GlobalArgs, args: ScoreArgs) -> Result<()> {
    let device = open_device(g)?;
    let out = device.run(ScoreJob {
        args: &args,
        quiet: g.json,
    })?;
    print_result(g, &out);
    Ok(())
}
