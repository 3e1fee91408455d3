//! `ae bench`: training throughput of the reference model on each backend.

use super::{print_json, BackendArg, GlobalArgs};
use ae::bench::{MatmulBench, ThroughputBench};
use ae::{workflow, BackendChoice, Device, Result};
use clap::Args;
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
}

pub fn run(g: &GlobalArgs, args: BenchArgs) -> Result<()> {
    let path = args
        .data
        .clone()
        .unwrap_or_else(|| workflow::bundled_mnist("images-idx3-ubyte.gz"));
    let images = ae_core::data::load_matrix(&path)?;
    let rows = args.rows.min(images.rows);
    let data = images.select_rows(&(0..rows).collect::<Vec<_>>());
    let all = g.backend == BackendArg::All;
    let choices = if all {
        vec![BackendChoice::Cpu, BackendChoice::Wgpu]
    } else {
        vec![g.backend_choice()?]
    };
    let mut results = Vec::new();
    for choice in choices {
        let device = match Device::open(choice, g.adapter.as_deref()) {
            Ok((d, _)) => d,
            Err(e) if all => {
                results.push(
                    serde_json::json!({ "backend": choice.to_string(), "skipped": e.to_string() }),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        let r = device.run(ThroughputBench {
            data: data.clone(),
            epochs: args.epochs,
            batch_size: args.batch_size,
        })?;
        if !g.json {
            println!(
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
            );
        }
        let mut entry = serde_json::to_value(&r).expect("serialisable");
        if let Some(squares) = &args.matmul {
            let software = matches!(&device, Device::Wgpu(g) if g.is_software());
            let squares = squares
                .iter()
                .copied()
                .filter(|&s| !software || s <= 512)
                .collect();
            let timings = device.run(MatmulBench {
                square_sizes: squares,
                reps: 5,
            })?;
            if !g.json {
                for t in &timings {
                    println!(
                        "    matmul {:<28} {:>10.3} ms {:>9.1} GFLOP/s",
                        t.case,
                        t.seconds * 1e3,
                        t.gflops
                    );
                }
            }
            entry["matmul"] = serde_json::to_value(&timings).expect("serialisable");
        }
        results.push(entry);
    }
    if g.json {
        print_json(&serde_json::json!({ "results": results }));
    } else if let Some(skipped) = results.iter().find_map(|r| r["skipped"].as_str()) {
        println!("skipped: {skipped}");
    }
    Ok(())
}
