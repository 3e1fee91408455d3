//! `ae synth`: synthetic datasets made by ae itself (swiss roll, S-curve, Gaussian blobs with
//! planted outliers).

use super::{print_json, GlobalArgs};
use ae::Result;
use ae_core::{data, synth, SynthKind};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// swiss-roll, s-curve or blobs.
    pub kind: SynthKind,
    /// Number of points.
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output NPY [n, d]. Beside it: FILE.position.npy (position along the manifold, or the
    /// cluster id) and, for blobs, FILE.labels.npy (1 = planted outlier).
    #[arg(long)]
    pub out: PathBuf,
}

fn beside(out: &Path, what: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!("{stem}.{what}.npy"))
}

pub fn run(g: &GlobalArgs, args: SynthArgs) -> Result<()> {
    let s = synth::generate(args.kind, args.n, args.seed)?;
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
    let out = serde_json::json!({
        "kind": args.kind.to_string(),
        "rows": s.data.rows,
        "cols": s.data.cols,
        "out": args.out,
        "position": position,
        "labels": labels,
    });
    if g.json {
        print_json(&out);
    } else {
        println!(
            "wrote {} [{}, {}] to {} (positions: {}{})",
            args.kind,
            s.data.rows,
            s.data.cols,
            args.out.display(),
            position.display(),
            labels.map_or(String::new(), |p| format!(", labels: {}", p.display()))
        );
    }
    Ok(())
}
