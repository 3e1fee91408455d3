//! `ae encode`, `ae reconstruct`: run a saved model over a data file.

use super::{open_device, print_json, GlobalArgs};
use ae::workflow;
use ae::{Job, Matrix, Result};
use ae_core::data::{self, normalize::NormStats};
use ae_core::{Backend, Output};
use clap::Args;
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

impl Job for InferJob<'_> {
    type Output = serde_json::Value;

    fn run<B: Backend>(self, backend: &B) -> Result<serde_json::Value> {
        let a = self.args;
        let (model, saved) = workflow::load_model(backend, &a.model)?;
        let mut x = data::load_matrix(&a.data)?;
        workflow::prepare_input(&saved, &mut x, &a.data, &a.model)?;
        let n = x.rows;
        let summary = match self.mode {
            Mode::Encode => {
                let codes = model.map_rows(backend, &x, Output::Code)?;
                data::save_npy(&a.out, &codes)?;
                serde_json::json!({ "rows": n, "code_dim": codes.cols })
            }
            Mode::Reconstruct => {
                let mut recon = model.map_rows(backend, &x, Output::Reconstruction)?;
                if let Some(stats) = &saved.normalization {
                    stats.invert(&mut recon)?;
                }
                data::save_npy(&a.out, &recon)?;
                let mse = recon_mse(&x, &recon, saved.normalization.as_ref())?;
                serde_json::json!({ "rows": n, "mse": mse })
            }
        };
        let mut out = summary;
        out["out"] = serde_json::json!(a.out);
        out["backend"] = serde_json::json!(backend.name());
        Ok(out)
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
    if g.json {
        print_json(&out);
    } else {
        let what = match mode {
            Mode::Encode => format!("codes [{}, {}]", out["rows"], out["code_dim"]),
            Mode::Reconstruct => format!(
                "reconstructions of {} rows (mse {})",
                out["rows"], out["mse"]
            ),
        };
        println!("wrote {what} to {}", args.out.display());
    }
    Ok(())
}
