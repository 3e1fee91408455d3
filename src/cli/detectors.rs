//! `ae compare-detectors TRAIN TEST --labels L`: the anomaly preset beside the baselines a
//! detector is judged against, fitted on the same training rows and measured on the same
//! labelled test rows ([`ae::workflow::detectors`]).

use super::score::LabelArgs;
use super::{open_device, print_result, GlobalArgs};
use ae::preset::AnomalyPreset;
use ae::workflow::detectors::{self, DetectorResult, DetectorSettings};
use ae::{Error, Job, Result};
use ae_core::data::RowSource;
use ae_core::Backend;
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DetectorArgs {
    /// Training rows (they may hold unlabelled anomalies): any format `ae train` reads.
    pub train: PathBuf,
    /// Test rows, with the training file's columns; scored and measured against the labels.
    pub test: PathBuf,
    #[command(flatten)]
    pub input: super::columns::ColumnArgs,
    #[command(flatten)]
    pub labels: LabelArgs,
    /// Where the preset's ensemble and the single autoencoder are saved (as `preset/` and
    /// `autoencoder/`, models `ae score` reads).
    #[arg(long, default_value = "ae-detectors")]
    pub out: PathBuf,
    /// Autoencoders in the preset's ensemble.
    #[arg(long, default_value_t = AnomalyPreset::default().members)]
    pub members: usize,
    /// PCA components of the reconstruction-error baseline [default: round(sqrt(columns))].
    #[arg(long)]
    pub pca_k: Option<usize>,
    /// The k of the k-nearest-neighbour distance (PyOD's default, 5).
    #[arg(long, default_value_t = 5)]
    pub knn_k: usize,
    /// Seed of the autoencoders.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write a report here (index.html): each detector's score histogram of normal against
    /// anomalous rows, every detector's ROC and precision-recall curves (roc.svg, pr.svg), and
    /// the per-feature squared errors of the single autoencoder's top 5 anomalies
    /// (contributions.svg).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// What `ae compare-detectors` prints: one row per detector.
#[derive(Debug, serde::Serialize)]
pub struct DetectorsOutput {
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Anomalies among the test rows.
    pub test_anomalies: usize,
    /// Each detector's ROC AUC and average precision.
    pub results: Vec<DetectorResult>,
    /// The backend of the autoencoders.
    pub backend: String,
    /// The report's index.html (null without `--report`).
    pub report: Option<PathBuf>,
}

impl fmt::Display for DetectorsOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fitted on {} rows, measured on {} ({} anomalies)",
            self.train_rows, self.test_rows, self.test_anomalies
        )?;
        writeln!(
            f,
            "{:<22} {:>8} {:>8} {:>9}",
            "detector", "ROC AUC", "AP", "seconds"
        )?;
        for (i, r) in self.results.iter().enumerate() {
            write!(
                f,
                "{:<22} {:>8.4} {:>8.4} {:>9.2}",
                r.detector, r.roc_auc, r.average_precision, r.seconds
            )?;
            if i + 1 < self.results.len() {
                writeln!(f)?;
            }
        }
        if let Some(p) = &self.report {
            write!(f, "\nreport: {}", p.display())?;
        }
        Ok(())
    }
}

struct DetectorJob<'a> {
    args: &'a DetectorArgs,
    train: Box<dyn RowSource>,
    test: Box<dyn RowSource>,
    labels: Vec<bool>,
    /// The input columns' header names, where the training file has a header.
    names: Option<Vec<String>>,
}

impl Job for DetectorJob<'_> {
    type Output = DetectorsOutput;

    fn run<B: Backend>(self, backend: &B) -> Result<DetectorsOutput> {
        let settings = DetectorSettings {
            preset: AnomalyPreset {
                members: self.args.members,
                seed: self.args.seed,
                ..AnomalyPreset::default()
            },
            pca_k: self.args.pca_k,
            knn_k: self.args.knn_k,
        };
        let results = detectors::compare_detectors(
            backend,
            self.train.as_ref(),
            self.test.as_ref(),
            &self.labels,
            &settings,
            &self.args.out,
        )?;
        let report = match &self.args.report {
            Some(dir) => Some(super::detectors_report::write(
                dir,
                (&self.args.train, &self.args.test),
                &results,
                &self.labels,
                self.names.as_deref(),
            )?),
            None => None,
        };
        Ok(DetectorsOutput {
            report,
            train_rows: self.train.rows(),
            test_rows: self.test.rows(),
            test_anomalies: self.labels.iter().filter(|&&l| l).count(),
            results,
            backend: backend.name(),
        })
    }
}

pub fn run(g: &GlobalArgs, args: DetectorArgs) -> Result<()> {
    if args.members == 0 || args.knn_k == 0 {
        return Err(Error::Config(
            "--members and --knn-k must be at least 1".into(),
        ));
    }
    let train = args.input.open(&args.train)?;
    let test = args.input.open_with(&args.test, Some(&train.input))?;
    let (_, labels) = args
        .labels
        .load(test.source.rows(), &args.test, test.labels)?
        .ok_or_else(|| {
            Error::Config(format!(
                "no labels for {}: pass --labels FILE or --labels-column NAME",
                args.test.display()
            ))
        })?;
    let device = open_device(g)?;
    let out = device.run(DetectorJob {
        args: &args,
        train: train.source,
        test: test.source,
        labels,
        names: train.input.names.clone(),
    })?;
    print_result(g, &out);
    Ok(())
}
