//! `ae export`: a one-layer SAE model as a SAELens or sparsify directory.

use super::values::SaeFormatArg;
use super::{print_result, GlobalArgs};
use ae::workflow::{self, Exported};
use ae::Result;
use ae_cpu::CpuBackend;
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A model directory written by `ae train` (or a SAELens or sparsify directory): one encoder
    /// layer with a ReLU, TopK, BatchTopK or JumpReLU code, one decoder layer, identity output.
    pub model: PathBuf,
    /// saelens: cfg.json + sae_weights.safetensors (standard, topk, or jumprelu for a JumpReLU
    /// or BatchTopK model); sparsify: cfg.json + sae.safetensors (TopK models only).
    #[arg(long)]
    pub format: SaeFormatArg,
    /// The directory to write: new, empty, or an earlier export in the same format.
    #[arg(long)]
    pub out: PathBuf,
}

/// What `ae export` prints.
#[derive(Debug, serde::Serialize)]
pub struct ExportOutput {
    #[serde(flatten)]
    pub exported: Exported,
}

impl fmt::Display for ExportOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.exported;
        let code = match (e.k, e.jump_relu) {
            (Some(k), _) => format!("TopK k {k}"),
            (None, true) => "JumpReLU".to_string(),
            (None, false) => "ReLU".to_string(),
        };
        write!(
            f,
            "wrote a {} SAE [{} -> {}, {code}] to {}",
            e.format,
            e.d_in,
            e.d_sae,
            e.out.display()
        )?;
        if e.normalization_folded {
            write!(
                f,
                " (the model's normalisation folded in: it reads raw inputs)"
            )?;
        }
        if let Some(columns) = &e.input_columns {
            write!(
                f,
                "\nnote: the model reads these columns of its training file, in this order: {}; \
                 the exported file cannot say so, so feed it those columns",
                columns.join(", ")
            )?;
        }
        if e.fill_values_dropped {
            write!(
                f,
                "\nnote: the model fills empty cells with the training file's medians; the \
                 exported file cannot, so fill them before encoding"
            )?;
        }
        Ok(())
    }
}

pub fn run(g: &GlobalArgs, args: ExportArgs) -> Result<()> {
    // Exporting needs only the weights, so the model is read on the CPU.
    let exported = workflow::export_model(
        &CpuBackend::<f32>::new(),
        &args.model,
        args.format.into(),
        &args.out,
    )?;
    print_result(g, &ExportOutput { exported });
    Ok(())
}
