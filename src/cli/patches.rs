//! `ae patches`: random square patches of image data, for sparse-coding experiments.

use super::{print_result, GlobalArgs};
use ae::{picture, Result};
use ae_core::data;
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PatchesArgs {
    /// Square images, one per row: IDX, CSV, NPY or Parquet (e.g. the bundled MNIST).
    pub data: PathBuf,
    /// Side of a patch in pixels.
    #[arg(long, default_value_t = 8)]
    pub size: usize,
    /// Number of patches.
    #[arg(long, default_value_t = 10000)]
    pub count: usize,
    /// Output NPY [count, size * size].
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the choice of images and positions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep blank patches (all pixels equal); by default they are drawn again.
    #[arg(long)]
    pub keep_blank: bool,
    /// The classic preprocessing for sparse coding: remove each patch's mean, clip at 3
    /// standard deviations, rescale to [0.1, 0.9].
    #[arg(long)]
    pub normalize: bool,
}

/// What `ae patches` prints.
#[derive(Debug, serde::Serialize)]
pub struct PatchesOutput {
    /// Patches written.
    pub rows: usize,
    /// Pixels per patch.
    pub cols: usize,
    /// The NPY written.
    pub out: PathBuf,
    /// Side of a patch (in the text only).
    #[serde(skip)]
    pub size: usize,
}

impl fmt::Display for PatchesOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} patches of {}x{} written to {}",
            self.rows,
            self.size,
            self.size,
            self.out.display()
        )
    }
}

pub fn run(g: &GlobalArgs, args: PatchesArgs) -> Result<()> {
    let images = data::load_matrix(&args.data)?;
    let mut patches =
        picture::sample_patches(&images, args.size, args.count, args.seed, !args.keep_blank)?;
    if args.normalize {
        picture::normalize_patches(&mut patches);
    }
    data::save_npy(&args.out, &patches)?;
    print_result(
        g,
        &PatchesOutput {
            rows: patches.rows,
            cols: patches.cols,
            out: args.out,
            size: args.size,
        },
    );
    Ok(())
}
