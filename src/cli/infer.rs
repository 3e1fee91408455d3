//! `ae encode`, `ae reconstruct`: run a saved model over a data file.

use super::{open_device, print_result, GlobalArgs};
use ae::workflow;
use ae::{Job, Matrix, Result};
use ae_core::data::{self, normalize::NormStats};
use ae_core::{Backend, Output};
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InferArgs {
    /// A model directory written by `ae train` (model.safetensors + config.json).
    pub model: PathBuf,
    /// Data to run it on: IDX, CSV or NPY, with the model's input width.
    pub data: PathBuf,
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
        let mut x = data::load_matrix(&a.data)?;
        workflow::prepare_input(&saved, &mut x, &a.data, &a.model)?;
        let written = match self.mode {
            Mode::Encode => {
                let codes = model.map_rows(backend, &x, Output::Code)?;
                data::save_npy(&a.out, &codes)?;
                Written::Codes {
                    code_dim: codes.cols,
                }
            }
            Mode::Reconstruct => {
                let mut recon = model.map_rows(backend, &x, Output::Reconstruction)?;
                if let Some(stats) = &saved.normalization {
                    stats.invert(&mut recon)?;
                }
                data::save_npy(&a.out, &recon)?;
                Written::Reconstructions {
                    mse: recon_mse(&x, &recon, saved.normalization.as_ref())?,
                }
            }
        };
        Ok(InferOutput {
            rows: x.rows,
            written,
            out: a.out.clone(),
            backend: backend.name(),
        })
    }
}

/// MSE of a reconstruction in the data's original units (`x` is normalised).
fn recon_mse(x: &Matrix, recon: &Matrix, stats: Option<&NormStats>) -> Result<f64> {
    let mut raw = x.clone();
    if let Some(s) = stats {
        s.invert(&mut raw)?;
    }
    raw.mse(recon)
}

pub fn run(g: &GlobalArgs, args: InferArgs, mode: Mode) -> Result<()> {
    let device = open_device(g)?;
    let out = device.run(InferJob { args: &args, mode })?;
    print_result(g, &out);
    Ok(())
}
