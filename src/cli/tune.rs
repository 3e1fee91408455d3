//! `ae tune`: time the wgpu matmul variants at a model's products and fill the tuning cache.

use super::{print_result, GlobalArgs};
use ae::bench::{reference_model, step_products};
use ae::{Device, Error, Result};
use ae_core::ModelConfig;
use ae_wgpu::TuneResult;
use clap::Args;
use std::fmt;

#[derive(Args, Debug)]
pub struct TuneArgs {
    /// Layer widths, input first, mirrored as in `ae train` (default: the `ae bench` model,
    /// 784,512,128,32): its forward, weight- and input-gradient products are timed.
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    /// Samples per step (the products' batch dimension).
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
}

/// What `ae tune` prints.
#[derive(Debug, serde::Serialize)]
pub struct TuneOutput {
    /// The adapter tuned.
    pub adapter: String,
    /// The cache file written (none without a cache directory).
    pub cache_file: Option<String>,
    /// One entry per shape class, in the order the model's step meets them.
    pub classes: Vec<TuneResult>,
}

impl fmt::Display for TuneOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "adapter: {}", self.adapter)?;
        match &self.cache_file {
            Some(file) => writeln!(f, "cache: {file}")?,
            None => writeln!(f, "cache: none (no cache directory; set AE_CACHE_DIR)")?,
        }
        write!(
            f,
            "{:<22} {:<16} {:<12} {:>11}  all variants (timer)",
            "shape class", "product m.k.n", "variant", "time"
        )?;
        for r in &self.classes {
            let best = r
                .times
                .iter()
                .find(|t| t.0 == r.chosen)
                .map_or(0.0, |t| t.1);
            let all: Vec<String> = r
                .times
                .iter()
                .map(|(name, s)| format!("{name} {:.3}", s * 1e3))
                .collect();
            write!(
                f,
                "\n{:<22} {:<16} {:<12} {:>8.3} ms  {} ms ({})",
                r.class,
                format!("{}.{}.{}", r.m, r.k, r.n),
                r.chosen,
                best * 1e3,
                all.join(", "),
                r.timer
            )?;
        }
        Ok(())
    }
}

pub fn run(g: &GlobalArgs, args: TuneArgs) -> Result<()> {
    if g.no_tune {
        return Err(Error::Config(
            "ae tune times the matmul variants; --no-tune asks for none".into(),
        ));
    }
    let config = match &args.layers {
        Some(widths) => ModelConfig::mirrored(widths)?,
        None => reference_model(784)?,
    };
    if args.batch_size == 0 {
        return Err(Error::Config("--batch-size must be at least 1".into()));
    }
    let device = super::open_device(g)?;
    let Device::Wgpu(gpu) = &device else {
        return Err(Error::Config(format!(
            "ae tune tunes the wgpu backend, and the backend is {}; pass --backend wgpu",
            device.name()
        )));
    };
    let mut classes: Vec<TuneResult> = Vec::new();
    for (m, k, n, ta, tb) in step_products(&config, args.batch_size) {
        let class = ae_wgpu::ShapeClass::of(m, k, n, ta, tb).key();
        if classes.iter().any(|c| c.class == class) {
            continue;
        }
        classes.push(gpu.tune_matmul(m, k, n, ta, tb)?);
    }
    let out = TuneOutput {
        adapter: gpu.adapter().name.clone(),
        cache_file: gpu.tuning_cache_file().map(|p| p.display().to_string()),
        classes,
    };
    print_result(g, &out);
    Ok(())
}
