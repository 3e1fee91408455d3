//! `ae bench`: training throughput of the reference model on each backend.

use super::{print_json, BackendArg, GlobalArgs};
use ae::bench::{BenchResult, KernelTiming, MatmulBench, ThroughputBench};
use ae::{workflow, BackendChoice, Device, Matrix, Result};
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Epochs to time (the first is warm-up and not counted in the median).
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Training rows taken from the start of the data.
    #[arg(long, default_value_t = 8000)]
    pub rows: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// MNIST images (default: the bundled data/mnist-10k).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Also time matmul at the layer shapes and at these square sizes (comma-separated, e.g.
    /// 1024,4096); software adapters skip squares above 512.
    #[arg(long, value_delimiter = ',')]
    pub matmul: Option<Vec<usize>>,
    /// Also time each kernel of a training step, over up to 20 full steps of the warm-up epoch
    /// (which the timed epochs are not): GPU timestamps where the adapter has them, else wall
    /// time with a wait after each kernel; GFLOP/s of the matrix products and their fraction of
    /// the device's fp32 peak where its name is known (H100/H200 67 TFLOP/s, A100 19.5, RTX
    /// 4090 82.6, Apple M2 3.6).
    #[arg(long)]
    pub profile: bool,
}

/// Full steps `--profile` times (as `ae train --profile`).
const PROFILE_STEPS: usize = 20;

/// What `ae bench` prints: one entry per backend.
#[derive(Debug, serde::Serialize)]
pub struct BenchOutput {
    /// One entry per backend asked for, in order.
    pub results: Vec<BenchEntry>,
}

/// One backend's measurements, or why it was not measured (`--backend all` only).
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum BenchEntry {
    /// The backend ran.
    Ran {
        /// Training throughput.
        #[serde(flatten)]
        throughput: BenchResult,
        /// With `--matmul`: each product's time.
        #[serde(skip_serializing_if = "Option::is_none")]
        matmul: Option<Vec<KernelTiming>>,
    },
    /// The backend could not be opened.
    Skipped {
        /// The backend asked for.
        backend: String,
        /// Why it could not be opened.
        skipped: String,
    },
}

impl fmt::Display for BenchEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchEntry::Ran {
                throughput: r,
                matmul,
            } => {
                write!(
                    f,
                    "{:<28} {:>9.0} samples/s {:>7.1} GFLOP/s  (batch {}, {} rows, epochs: {})",
                    r.backend,
                    r.samples_per_sec,
                    r.gflops,
                    r.batch_size,
                    r.rows,
                    r.epochs_samples_per_sec
                        .iter()
                        .map(|s| format!("{s:.0}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )?;
                if let Some(d) = &r.dispatches_per_step {
                    let kernels: Vec<String> = d
                        .by_kernel
                        .iter()
                        .map(|(k, n)| format!("{k} {n}"))
                        .collect();
                    write!(
                        f,
                        "\n    {} dispatches per training step: {}",
                        d.total,
                        kernels.join(", ")
                    )?;
                }
                if let Some(p) = &r.profile {
                    write!(f, "\n{p}")?;
                }
                for t in matmul.iter().flatten() {
                    write!(
                        f,
                        "\n    matmul {:<28} {:>10.3} ms {:>9.1} GFLOP/s",
                        t.case,
                        t.seconds * 1e3,
                        t.gflops
                    )?;
                }
                Ok(())
            }
            BenchEntry::Skipped { skipped, .. } => write!(f, "skipped: {skipped}"),
        }
    }
}

/// The entries' lines, one after the other (`ae bench` itself prints each entry as soon as it is
/// measured).
impl fmt::Display for BenchOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, entry) in self.results.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{entry}")?;
        }
        Ok(())
    }
}

pub fn run(g: &GlobalArgs, args: BenchArgs) -> Result<()> {
    let path = args
        .data
        .clone()
        .unwrap_or_else(|| workflow::bundled_mnist("images-idx3-ubyte.gz"));
    let images = ae_core::data::load_matrix(&path)?;
    let rows = args.rows.min(images.rows);
    if args.profile && rows.div_ceil(args.batch_size.max(1)) < 4 {
        return Err(ae::Error::Config(format!(
            "--profile times full steps after the second of an epoch and needs at least 4 \
             steps per epoch: {rows} rows at --batch-size {} make {}",
            args.batch_size,
            rows.div_ceil(args.batch_size.max(1))
        )));
    }
    let data = images.select_rows(&(0..rows).collect::<Vec<_>>());
    let all = g.backend == BackendArg::All;
    let choices = if all {
        vec![BackendChoice::Cpu, BackendChoice::Wgpu]
    } else {
        vec![g.backend_choice()?]
    };
    let mut results = Vec::new();
    for choice in choices {
        let entry = match Device::open_with(choice, g.adapter_choice()) {
            Ok((device, _)) => measure(&device, &data, &args)?,
            Err(e) if all => BenchEntry::Skipped {
                backend: choice.to_string(),
                skipped: e.to_string(),
            },
            Err(e) => return Err(e),
        };
        // Without --json each backend's lines come as soon as it is measured.
        if !g.json {
            println!("{entry}");
        }
        results.push(entry);
    }
    if g.json {
        print_json(&BenchOutput { results });
    }
    Ok(())
}

/// Times training, and with `--matmul` the products, on `device`.
fn measure(device: &Device, data: &Matrix, args: &BenchArgs) -> Result<BenchEntry> {
    let throughput = device.run(ThroughputBench {
        data: data.clone(),
        epochs: args.epochs,
        batch_size: args.batch_size,
        profile_steps: if args.profile { PROFILE_STEPS } else { 0 },
    })?;
    let matmul = match &args.matmul {
        Some(squares) => {
            let software = matches!(device, Device::Wgpu(g) if g.is_software());
            let squares = squares
                .iter()
                .copied()
                .filter(|&s| !software || s <= 512)
                .collect();
            Some(device.run(MatmulBench {
                square_sizes: squares,
                reps: 5,
            })?)
        }
        None => None,
    };
    Ok(BenchEntry::Ran { throughput, matmul })
}
