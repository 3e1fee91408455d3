//! `ae compare`: PCA against the autoencoder at several code sizes on a held-out split.

use super::progress::TrainProgress;
use super::train::{FitArgs, ModelArgs};
use super::values::NormalizeArg;
use super::{open_device, print_result, GlobalArgs};
use ae::workflow::{self, PreBiasInit, TrainSettings};
use ae::{Job, Matrix, Result};
use ae_core::pca::{CovarianceAccumulator, MAX_STREAMING_DIM};
use ae_core::{trainer, Backend, Output, Pca};
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Data: IDX, CSV, NPY or Parquet.
    pub data: PathBuf,
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
    /// Input normalisation (fitted on the training rows).
    #[arg(long, value_enum, ignore_case = true, default_value_t = NormalizeArg::None)]
    pub normalize: NormalizeArg,
}

struct CompareJob<'a> {
    args: &'a CompareArgs,
    train: Matrix,
    test: Matrix,
    prefix: Vec<usize>,
    json: bool,
}

/// What `ae compare` prints: one row per code size.
#[derive(Debug, serde::Serialize)]
pub struct CompareOutput {
    /// One entry per `--codes` value, in order.
    pub results: Vec<CompareRow>,
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
        let mut results = Vec::new();
        for &code in &a.codes {
            let mut layers = self.prefix.clone();
            layers.push(code);
            let settings = TrainSettings {
                model: a.model.model_config(&layers)?,
                train: a.fit.train_config(None, super::train::FIT_DEFAULTS),
                normalization: a.normalize.into(),
                val_split: 0.0,
                contamination: None,
                encoder_from_decoder: false,
                stream: false,
                input: None,
                resume: false,
                pre_bias_init: PreBiasInit::Mean,
                decoder_init_norm: None,
                output_from_data: a.model.output_from_data(&a.fit),
            };
            let mut progress = TrainProgress::new(&settings.train, self.train.rows, 0.0, self.json);
            let trained = workflow::train_model(backend, &self.train, &settings, None, &mut |e| {
                progress.update(e)
            });
            progress.finish();
            let trained = trained?;
            let stats = trained
                .saved
                .normalization
                .clone()
                .expect("train_model sets it");
            let (mut train, mut test) = (self.train.clone(), self.test.clone());
            stats.apply(&mut train)?;
            stats.apply(&mut test)?;
            let ae_mse = test.mse(&trained.model.map_rows(
                backend,
                &test,
                Output::Reconstruction,
            )?)?;
            let pca = fit_pca(&train, code.min(train.cols))?;
            let pca_mse = test.mse(&pca.reconstruct(&test)?)?;
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

/// PCA with `k` components of `train` (`[n, d]`). Up to [`MAX_STREAMING_DIM`] columns it goes
/// through the accumulator, whose f64 scratch is one block of rows instead of a centred f64 copy
/// of all of them; wider data (which the accumulator refuses) takes the whole-matrix fit.
fn fit_pca(train: &Matrix, k: usize) -> Result<Pca> {
    if train.cols > MAX_STREAMING_DIM {
        return Pca::fit(train, k);
    }
    let mut acc = CovarianceAccumulator::new(train.cols)?;
    acc.push(train)?;
    acc.finish(k)
}

pub fn run(g: &GlobalArgs, args: CompareArgs) -> Result<()> {
    let data = ae_core::data::load_matrix(&args.data)?;
    let prefix = args
        .layers
        .clone()
        .unwrap_or_else(|| vec![data.cols, 512, 128]);
    if prefix.first() != Some(&data.cols) {
        return Err(ae::Error::Shape(format!(
            "{} has {} columns but --layers starts with {}",
            args.data.display(),
            data.cols,
            prefix.first().copied().unwrap_or(0)
        )));
    }
    if args.codes.is_empty() || args.codes.contains(&0) {
        return Err(ae::Error::Config(
            "--codes needs positive code sizes".into(),
        ));
    }
    let (train, test) = trainer::split(&data, args.test_fraction, args.fit.seed)?;
    if test.rows == 0 {
        return Err(ae::Error::Config(
            "--test-fraction leaves no test rows".into(),
        ));
    }
    let device = open_device(g)?;
    let results = device.run(CompareJob {
        args: &args,
        train,
        test,
        prefix,
        json: g.json,
    })?;
    print_result(
        g,
        &CompareOutput {
            results,
            backend: device.name(),
        },
    );
    Ok(())
}
