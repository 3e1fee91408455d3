//! `ae synth`: synthetic datasets made by ae itself (swiss roll, S-curve, Gaussian blobs with
//! planted outliers).

use super::values::SynthArg;
use super::{print_result, GlobalArgs};
use ae::Result;
use ae_core::{data, synth, SynthKind};
use clap::Args;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// The dataset: a swiss roll or an S-curve (3-D manifolds), or Gaussian blobs with planted
    /// outliers.
    #[arg(value_enum, ignore_case = true)]
    pub kind: SynthArg,
    /// Number of points.
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output NPY [n, d]. Beside it: FILE.position.npy (position along the manifold, the
    /// cluster id, or for gaussian the row number) and, for blobs, FILE.labels.npy (1 = planted
    /// outlier).
    #[arg(long)]
    pub out: PathBuf,
    /// Width of the gaussian data set (standard-normal rows, written a chunk at a time, so any
    /// size fits in memory).
    #[arg(long, default_value_t = synth::DEFAULT_GAUSSIAN_DIM)]
    pub dim: usize,
}

/// What `ae synth` prints: the files written.
#[derive(Debug, serde::Serialize)]
pub struct SynthOutput {
    /// The dataset's name.
    pub kind: String,
    /// Points.
    pub rows: usize,
    /// Dimensions.
    pub cols: usize,
    /// The data, NPY `[rows, cols]`.
    pub out: PathBuf,
    /// Position along the manifold, or the cluster id, NPY `[rows]`.
    pub position: PathBuf,
    /// For blobs, 1 for a planted outlier, NPY `[rows]` (null for the others).
    pub labels: Option<PathBuf>,
}

impl fmt::Display for SynthOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {} [{}, {}] to {} (positions: {}{})",
            self.kind,
            self.rows,
            self.cols,
            self.out.display(),
            self.position.display(),
            self.labels
                .as_ref()
                .map_or(String::new(), |p| format!(", labels: {}", p.display()))
        )
    }
}

fn beside(out: &Path, what: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!("{stem}.{what}.npy"))
}

/// Writes the gaussian data set `[n, dim]` and its row numbers a chunk at a time.
fn write_gaussian(args: &SynthArgs, position: &Path) -> Result<()> {
    const CHUNK: usize = 16_384;
    let mut out = data::npy::NpyWriter::create(&args.out, args.n, args.dim)?;
    let mut rows = data::npy::NpyWriter::create(position, args.n, 1)?;
    for start in (0..args.n).step_by(CHUNK) {
        let count = CHUNK.min(args.n - start);
        out.write(&synth::gaussian_rows(args.seed, start, count, args.dim)?)?;
        let numbers = (start..start + count).map(|i| i as f32).collect();
        rows.write(&ae::Matrix::new(count, 1, numbers)?)?;
    }
    out.finish()?;
    rows.finish()
}

pub fn run(g: &GlobalArgs, args: SynthArgs) -> Result<()> {
    let kind = SynthKind::from(args.kind);
    if kind == SynthKind::Gaussian {
        if args.n == 0 || args.dim == 0 {
            return Err(ae::Error::Config(
                "the gaussian data set needs --n and --dim of at least 1".into(),
            ));
        }
        let position = beside(&args.out, "position");
        write_gaussian(&args, &position)?;
        let out = SynthOutput {
            kind: kind.to_string(),
            rows: args.n,
            cols: args.dim,
            out: args.out,
            position,
            labels: None,
        };
        print_result(g, &out);
        return Ok(());
    }
    let s = synth::generate(kind, args.n, args.seed)?;
    data::save_npy(&args.out, &s.data)?;
    let position = beside(&args.out, "position");
    data::save_npy_vec(&position, &s.position)?;
    let labels = match &s.labels {
        Some(l) => {
            let path = beside(&args.out, "labels");
            data::save_npy_vec(&path, &l.iter().map(|&v| v as f32).collect::<Vec<_>>())?;
            Some(path)
        }
        None => None,
    };
    let out = SynthOutput {
        kind: kind.to_string(),
        rows: s.data.rows,
        cols: s.data.cols,
        out: args.out,
        position,
        labels,
    };
    print_result(g, &out);
    Ok(())
}
