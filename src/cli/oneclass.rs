//! `ae oneclass`: the one-class protocol. For each class, train on that class's training rows
//! only, score the held-out rows (that class normal, every other class an anomaly), and report
//! the ROC AUC beside PCA reconstruction error's from the same run.

use super::train_args::{FitArgs, ModelArgs};
use super::values::NormalizeArg;
use super::{open_device, print_result, GlobalArgs};
use ae::preset::AnomalyPreset;
use ae::workflow::OneClass;
use ae::workflow::TrainSettings;
use ae::{Job, Result};
use ae_core::data::{self, RowSource, RowSubset};
use ae_core::{Backend, Error};
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct OneClassArgs {
    /// Data: IDX, CSV, NPY, safetensors or Parquet.
    pub data: PathBuf,
    /// One integer label per row: IDX, NPY, CSV or Parquet (or --labels-column for a column of the data).
    #[arg(
        long,
        required_unless_present = "labels_column",
        conflicts_with = "labels_column"
    )]
    pub labels: Option<PathBuf>,
    #[command(flatten)]
    pub input: super::columns::ColumnArgs,
    /// Layer widths, input first and code last (default: D,128,16).
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    /// The last fraction of rows is the test set; the rest trains.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Only these classes (default: every label present).
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<i64>>,
    /// Input normalisation, fitted on each class's training rows [default: none; with
    /// --preset, the preset's].
    #[arg(long, value_enum, ignore_case = true)]
    pub normalize: Option<NormalizeArg>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fit: FitArgs,
    /// `anomaly`: train the anomaly preset's ensemble on each class (see `ae train --help`;
    /// --members, --layers, --activation, --output, --normalize, --epochs, --batch-size, --lr,
    /// --weight-decay and --seed replace its choices) instead of one
    /// autoencoder, beside PCA at round(sqrt(columns)) components.
    #[arg(long, value_enum)]
    pub preset: Option<super::train_args::PresetArg>,
    /// Autoencoders in the ensemble [default: the preset's, 10].
    #[arg(long, requires = "preset")]
    pub members: Option<usize>,
    #[command(flatten)]
    pub vae: super::train_args::VaeArgs,
    #[command(flatten)]
    pub vae_score: super::score::VaeScoreArgs,
}

/// What `ae oneclass` prints: each class's ROC AUCs and their means.
#[derive(Debug, serde::Serialize)]
pub struct OneClassOutput {
    /// Mean over the classes of the autoencoder's ROC AUC.
    pub mean_roc_auc_ae: f64,
    /// Mean over the classes of PCA's ROC AUC.
    pub mean_roc_auc_pca: f64,
    /// One entry per class.
    pub per_class: Vec<OneClass>,
    /// Rows before the test split (all classes).
    pub train_rows: usize,
    /// Rows of the test split.
    pub test_rows: usize,
    /// The backend.
    pub backend: String,
}

impl fmt::Display for OneClassOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>6} {:>8} {:>10} {:>10}",
            "class", "train", "AUC ae", "AUC pca"
        )?;
        for r in &self.per_class {
            writeln!(
                f,
                "{:>6} {:>8} {:>10.4} {:>10.4}",
                r.class, r.train_rows, r.roc_auc_ae, r.roc_auc_pca
            )?;
        }
        write!(
            f,
            "{:>6} {:>8} {:>10.4} {:>10.4}",
            "mean", "", self.mean_roc_auc_ae, self.mean_roc_auc_pca
        )
    }
}

struct OneClassJob<'a> {
    /// The data set and one label per row.
    source: &'a dyn RowSource,
    labels: &'a [i64],
    /// Rows `0..split` train, the rest are the test rows.
    split: usize,
    classes: Vec<i64>,
    settings: TrainSettings,
    /// How a variational model scores the test rows.
    scoring: ae::anomaly::ElboScoring,
    /// With `--preset anomaly`: its recipe, trained in place of `settings`' model.
    recipe: Option<AnomalyPreset>,
    json: bool,
}

impl Job for OneClassJob<'_> {
    type Output = Vec<OneClass>;

    fn run<B: Backend>(self, backend: &B) -> Result<Vec<OneClass>> {
        let (train_idx, test_idx): (Vec<u32>, Vec<u32>) = (
            (0..self.split as u32).collect(),
            (self.split as u32..self.labels.len() as u32).collect(),
        );
        let train = RowSubset::new(self.source, &train_idx);
        let test = RowSubset::new(self.source, &test_idx);
        let (train_labels, test_labels) = self.labels.split_at(self.split);
        let mut out = Vec::new();
        for &class in &self.classes {
            let (train, test) = (
                (&train as &dyn RowSource, train_labels),
                (&test as &dyn RowSource, test_labels),
            );
            let r = match &self.recipe {
                None => ae::workflow::one_class(
                    backend,
                    train,
                    test,
                    class,
                    &self.settings,
                    self.scoring,
                )?,
                Some(recipe) => ae::workflow::one_class_ensemble(
                    backend,
                    train,
                    test,
                    class,
                    recipe,
                    &self.settings,
                    &mut |w| eprintln!("warning: class {class}: {w}"),
                )?,
            };
            if !self.json {
                eprintln!(
                    "class {class}: {} training rows, ROC AUC autoencoder {:.4}, PCA {:.4}",
                    r.train_rows, r.roc_auc_ae, r.roc_auc_pca
                );
            }
            out.push(r);
        }
        Ok(out)
    }
}

pub fn run(g: &GlobalArgs, args: OneClassArgs) -> Result<()> {
    let table = args.input.open(&args.data)?;
    let source = table.source.as_ref();
    let (n, cols) = (source.rows(), source.cols());
    let labels = match &args.labels {
        Some(path) => {
            let labels = data::load_labels(path)?;
            if labels.len() != n {
                return Err(Error::Shape(format!(
                    "{} has {} labels but {} has {} rows",
                    path.display(),
                    labels.len(),
                    args.data.display(),
                    n
                )));
            }
            labels
        }
        None => super::columns::table_labels(&table, &args.data)?,
    };
    if !(args.test_fraction > 0.0 && args.test_fraction < 1.0) {
        return Err(Error::Config(format!(
            "--test-fraction must be in (0, 1), got {}",
            args.test_fraction
        )));
    }
    let test_rows = ((n as f64) * args.test_fraction).round() as usize;
    let split = n - test_rows;
    let mut classes = args.classes.clone().unwrap_or_else(|| {
        let mut c = labels.clone();
        c.sort_unstable();
        c.dedup();
        c
    });
    classes.dedup();
    let layers = args.layers.clone().unwrap_or_else(|| vec![cols, 128, 16]);
    if layers.first() != Some(&cols) {
        return Err(Error::Shape(format!(
            "{} has {} columns but --layers starts with {}",
            args.data.display(),
            cols,
            layers.first().copied().unwrap_or(0)
        )));
    }
    let mut model = args.model.model_config(&layers)?;
    let mut train = args.fit.train_config(None, (100, 64));
    match args.vae.variational() {
        Some(v) => {
            model = model.with_variational(true)?;
            v.validate(&model)?;
            train.variational = Some(v);
        }
        None => args
            .vae_score
            .refuse_for_plain(&"the model without --variational")?,
    }
    let scoring = args.vae_score.scoring(ae_core::Reconstruction {
        loss: train.loss,
        reduction: train.reduction,
    })?;
    let settings = TrainSettings {
        normalization: args.normalize.unwrap_or(NormalizeArg::None).into(),
        output_from_data: args.model.output_from_data(&args.fit),
        ..TrainSettings::new(model, train)
    };
    let recipe = match args.preset {
        None => None,
        Some(_) => {
            let flags = super::preset::PresetFlags {
                model: &args.model,
                fit: &args.fit,
                members: args.members,
                layers: args.layers.as_deref(),
                normalize: args.normalize,
            };
            Some(super::preset::preset_with(source, flags, &[])?)
        }
    };
    let device = open_device(g)?;
    let results = device.run(OneClassJob {
        recipe,
        source,
        labels: &labels,
        split,
        classes,
        settings,
        scoring,
        json: g.json,
    })?;
    let mean = |f: &dyn Fn(&OneClass) -> f64| {
        results.iter().map(f).sum::<f64>() / results.len().max(1) as f64
    };
    let out = OneClassOutput {
        mean_roc_auc_ae: mean(&|r| r.roc_auc_ae),
        mean_roc_auc_pca: mean(&|r| r.roc_auc_pca),
        per_class: results,
        train_rows: split,
        test_rows,
        backend: device.name(),
    };
    print_result(g, &out);
    Ok(())
}
