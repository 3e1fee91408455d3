//! `ae filters`: draw each hidden unit's encoder weights as an image tile.

use super::{print_result, GlobalArgs};
use ae::{picture, workflow, Result};
use ae_core::Matrix;
use ae_cpu::CpuBackend;
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct FiltersArgs {
    /// A model directory written by `ae train` (its inputs must be square images).
    pub model: PathBuf,
    /// Output PNG: one tile per unit of the first encoder layer, mid-grey = 0.
    #[arg(long)]
    pub out: PathBuf,
    /// Pixels per weight.
    #[arg(long, default_value_t = 4)]
    pub scale: u32,
}

/// What `ae filters` prints.
#[derive(Debug, serde::Serialize)]
pub struct FiltersOutput {
    /// Tiles drawn: the first encoder layer's units.
    pub units: usize,
    /// Weights per tile: the model's inputs.
    pub inputs: usize,
    /// The PNG written.
    pub out: PathBuf,
}

impl fmt::Display for FiltersOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} filters of {} inputs drawn in {}",
            self.units,
            self.inputs,
            self.out.display()
        )
    }
}

pub fn run(g: &GlobalArgs, args: FiltersArgs) -> Result<()> {
    // Drawing needs only the weights, so the model is read on the CPU.
    let (model, _) = workflow::load_model(&CpuBackend::<f32>::new(), &args.model)?;
    let weights: Matrix = model
        .to_named(&CpuBackend::<f32>::new())?
        .into_iter()
        .find(|(name, _)| name == "encoder.0.weight")
        .map(|(_, w)| w)
        .ok_or_else(|| ae::Error::Shape("the model has no encoder.0.weight".into()))?;
    let img = picture::filter_grid(&weights, args.scale.max(1))?;
    picture::save_png(&img, &args.out)?;
    print_result(
        g,
        &FiltersOutput {
            units: weights.rows,
            inputs: weights.cols,
            out: args.out,
        },
    );
    Ok(())
}
