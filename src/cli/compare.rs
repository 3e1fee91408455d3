//! `ae compare`: PCA against the autoencoder at several code sizes on a held-out split, every
//! pass over the data a chunk of rows at a time.

use super::progress::TrainProgress;
use super::train_args::{FitArgs, ModelArgs};
use super::values::NormalizeArg;
use super::{open_device, print_result, GlobalArgs};
use ae::workflow::{self, PcaFit, TrainSettings};
use ae::{Job, Result};
use ae_core::data::{RowSource, RowSubset};
use ae_core::trainer::{self, Rows};
use ae_core::{Backend, Output};
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Data: IDX, CSV, NPY, safetensors, Parquet, or a directory or pattern of shards (read a
    /// chunk at a time: memory is bounded by the batch, not the data).
    pub data: PathBuf,
    #[command(flatten)]
    pub input: super::columns::ColumnArgs,
    /// Code sizes to compare, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2,8,32")]
    pub codes: Vec<usize>,
    /// Widths before the code, input first, comma-separated (default: D,512,128).
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fit: FitArgs,
    /// Fraction of rows held out to measure test MSE.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Read the training rows from the file a batch at a time and split off the test rows by a
    /// seeded row hash, even when the data would fit in memory (data over 1 GiB always is).
    #[arg(long)]
    pub stream: bool,
    /// Input normalisation (fitted on the training rows).
    #[arg(long, value_enum, ignore_case = true, default_value_t = NormalizeArg::None)]
    pub normalize: NormalizeArg,
}

struct CompareJob<'a> {
    args: &'a CompareArgs,
    source: &'a dyn RowSource,
    /// Training and test rows of `source`.
    train: Vec<u32>,
    test: Vec<u32>,
    prefix: Vec<usize>,
    json: bool,
}

/// What `ae compare` prints: one row per code size.
#[derive(Debug, serde::Serialize)]
pub struct CompareOutput {
    /// One entry per `--codes` value, in order.
    pub results: Vec<CompareRow>,
    /// Rows the models were fitted on.
    pub train_rows: usize,
    /// Rows the test MSEs are measured on.
    pub test_rows: usize,
    /// The backend.
    pub backend: String,
}

/// The autoencoder and PCA at one code size.
#[derive(Debug, serde::Serialize)]
pub struct CompareRow {
    /// The code size.
    pub code: usize,
    /// The autoencoder's MSE on the test rows.
    pub ae_test_mse: f64,
    /// PCA's MSE on the test rows.
    pub pca_test_mse: f64,
    /// The autoencoder's last training loss.
    pub ae_final_train_loss: f64,
}

impl fmt::Display for CompareOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>6} {:>14} {:>14} {:>8}",
            "code", "ae test mse", "pca test mse", "ae/pca"
        )?;
        for r in &self.results {
            write!(
                f,
                "\n{:>6} {:>14.6} {:>14.6} {:>8.3}",
                r.code,
                r.ae_test_mse,
                r.pca_test_mse,
                r.ae_test_mse / r.pca_test_mse
            )?;
        }
        Ok(())
    }
}

impl Job for CompareJob<'_> {
    type Output = Vec<CompareRow>;

    fn run<B: Backend>(self, backend: &B) -> Result<Vec<CompareRow>> {
        let a = self.args;
        let train_set = RowSubset::new(self.source, &self.train);
        // PCA's covariance of the normalised training rows, accumulated once (every code size's
        // run fits the same normalisation on the same rows).
        let mut pca_fit: Option<PcaFit> = None;
        let mut results = Vec::new();
        for &code in &a.codes {
            let mut layers = self.prefix.clone();
            layers.push(code);
            let settings = TrainSettings {
                normalization: a.normalize.into(),
                stream: a.stream,
                output_from_data: a.model.output_from_data(&a.fit),
                ..TrainSettings::new(
                    a.model.model_config(&layers)?,
                    a.fit.train_config(None, super::train_args::FIT_DEFAULTS),
                )
            };
            let mut progress =
                TrainProgress::new(&settings.train, self.train.len(), 0.0, self.json);
            let trained = workflow::train_source(backend, &train_set, &settings, None, &mut |e| {
                progress.update(e);
                Ok(())
            });
            progress.finish();
            let trained = trained?;
            let stats = trained
                .saved
                .normalization
                .clone()
                .expect("train_source sets it");
            let rows = |idx| Rows::Source {
                source: self.source,
                rows: idx,
                stats: Some(&stats),
            };
            let fit = match pca_fit.take() {
                Some(fit) => fit,
                None => PcaFit::of(rows(&self.train))?,
            };
            let pca = fit.components(code.min(self.source.cols()))?;
            // Test MSEs, a chunk of test rows at a time.
            let (mut ae_sse, mut pca_sse) = (0.0f64, 0.0f64);
            let test = rows(&self.test);
            for chunk in test.chunks() {
                let (_, x) = chunk?;
                let ae = trained
                    .model
                    .map_rows(backend, &x, Output::Reconstruction)?;
                let n = x.data.len() as f64;
                ae_sse += x.mse(&ae)? * n;
                pca_sse += x.mse(&pca.reconstruct(&x)?)? * n;
            }
            pca_fit = Some(fit);
            let elements = (test.len() * test.cols()) as f64;
            let (ae_mse, pca_mse) = (ae_sse / elements, pca_sse / elements);
            if !self.json {
                eprintln!("code {code:>4}: autoencoder test mse {ae_mse:.6}, pca {pca_mse:.6}");
            }
            results.push(CompareRow {
                code,
                ae_test_mse: ae_mse,
                pca_test_mse: pca_mse,
                ae_final_train_loss: trained.report.last().train_loss,
            });
        }
        Ok(results)
    }
}

pub fn run(g: &GlobalArgs, args: CompareArgs) -> Result<()> {
    let table = args.input.open(&args.data)?;
    let source = table.source.as_ref();
    let cols = source.cols();
    let prefix = args.layers.clone().unwrap_or_else(|| vec![cols, 512, 128]);
    if prefix.first() != Some(&cols) {
        return Err(ae::Error::Shape(format!(
            "{} has {} columns but --layers starts with {}",
            args.data.display(),
            cols,
            prefix.first().copied().unwrap_or(0)
        )));
    }
    if args.codes.is_empty() || args.codes.contains(&0) {
        return Err(ae::Error::Config(
            "--codes needs positive code sizes".into(),
        ));
    }
    // Data that fits in memory keeps the permutation split of every release; larger data is split
    // by a row hash, in file order, without a permutation of all rows.
    let fits = workflow::read_whole(source, args.stream);
    let split = match fits {
        true => trainer::split_rows,
        false => trainer::split_rows_hashed,
    };
    let (train, test) = split(source.rows(), args.test_fraction, args.fit.seed)?;
    if test.is_empty() {
        return Err(ae::Error::Config(
            "--test-fraction leaves no test rows".into(),
        ));
    }
    let (train_rows, test_rows) = (train.len(), test.len());
    let device = open_device(g)?;
    let results = device.run(CompareJob {
        args: &args,
        source,
        train,
        test,
        prefix,
        json: g.json,
    })?;
    print_result(
        g,
        &CompareOutput {
            results,
            train_rows,
            test_rows,
            backend: device.name(),
        },
    );
    Ok(())
}
