//! `ae encode`, `ae reconstruct`: run a saved model over a data file.

use super::{open_device, print_result, GlobalArgs};
use ae::workflow;
use ae::{Job, Result};
use ae_core::data;
use ae_core::{Backend, Output};
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InferArgs {
    /// A model directory written by `ae train` (model.safetensors + config.json), or a SAELens
    /// (cfg.json + sae_weights.safetensors) or sparsify (cfg.json + sae.safetensors) SAE.
    pub model: PathBuf,
    /// Data to run it on: IDX, CSV, NPY, safetensors, Parquet, or a directory or pattern of shards, with the model's input width.
    pub data: PathBuf,
    #[command(flatten)]
    pub input: super::columns::ColumnArgs,
    /// Output NPY file.
    #[arg(long)]
    pub out: PathBuf,
}

/// Which output the command writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Encode,
    Reconstruct,
}

struct InferJob<'a> {
    args: &'a InferArgs,
    mode: Mode,
    /// `--json`: no progress bar.
    quiet: bool,
}

/// What `ae encode` and `ae reconstruct` print.
#[derive(Debug, serde::Serialize)]
pub struct InferOutput {
    /// Rows run through the model.
    pub rows: usize,
    /// What was written: the codes' width, or the reconstruction's error.
    #[serde(flatten)]
    pub written: Written,
    /// The NPY file written.
    pub out: PathBuf,
    /// The backend.
    pub backend: String,
}

/// What `ae encode` or `ae reconstruct` wrote.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Written {
    /// The codes, `[rows, code_dim]`.
    Codes {
        /// The code's width.
        code_dim: usize,
    },
    /// The reconstructions, in the data's units.
    Reconstructions {
        /// Their mean squared error against the data, in the data's units.
        mse: f64,
    },
}

impl fmt::Display for InferOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.written {
            Written::Codes { code_dim } => write!(f, "wrote codes [{}, {code_dim}]", self.rows)?,
            // `{:?}`: every digit, as the JSON has it.
            Written::Reconstructions { mse } => write!(
                f,
                "wrote reconstructions of {} rows (mse {mse:?})",
                self.rows
            )?,
        }
        write!(f, " to {}", self.out.display())
    }
}

impl Job for InferJob<'_> {
    type Output = InferOutput;

    fn run<B: Backend>(self, backend: &B) -> Result<InferOutput> {
        let a = self.args;
        let (model, saved) = workflow::load_model(backend, &a.model)?;
        let source = a.input.open_for(&a.data, &saved)?.source;
        workflow::check_width(&saved, source.cols(), &a.data, &a.model)?;
        let rows = source.rows();
        let width = match self.mode {
            Mode::Encode => model.config().code_dim(),
            Mode::Reconstruct => model.config().input_dim,
        };
        // One chunk at a time: read, normalise, run, write; the output file appears only once
        // every row is written.
        let mut writer = data::npy::NpyWriter::create(&a.out, rows, width)?;
        let (mut sse, mut count) = (0.0f64, 0usize);
        let bar = super::progress::rows_bar(rows, self.quiet);
        for start in (0..rows).step_by(CHUNK_ROWS) {
            let n = CHUNK_ROWS.min(rows - start);
            bar.inc(n as u64);
            let raw = source.read(start, n)?;
            let mut x = raw.clone();
            workflow::prepare_input(&saved, &mut x, &a.data, &a.model)?;
            match self.mode {
                Mode::Encode => writer.write(&model.map_rows(backend, &x, Output::Code)?)?,
                Mode::Reconstruct => {
                    let mut recon = model.map_rows(backend, &x, Output::Reconstruction)?;
                    if let Some(stats) = &saved.normalization {
                        stats.invert(&mut recon)?;
                    }
                    sse += raw.row_squared_errors(&recon)?.iter().sum::<f64>();
                    count += raw.data.len();
                    writer.write(&recon)?;
                }
            }
        }
        bar.finish_and_clear();
        writer.finish()?;
        let written = match self.mode {
            Mode::Encode => Written::Codes { code_dim: width },
            Mode::Reconstruct => Written::Reconstructions {
                mse: sse / count.max(1) as f64,
            },
        };
        Ok(InferOutput {
            rows,
            written,
            out: a.out.clone(),
            backend: backend.name(),
        })
    }
}

/// Rows read, run and written at a time by `ae encode` and `ae reconstruct`.
const CHUNK_ROWS: usize = 4096;

pub fn run(g: &GlobalArgs, args: InferArgs, mode: Mode) -> Result<()> {
    let device = open_device(g)?;
    let out = device.run(InferJob {
        args: &args,
        mode,
        quiet: g.json,
    })?;
    print_result(g, &out);
    Ok(())
}
