//! Command-line parsing and dispatch. Each subcommand lives in its own module; all of them print
//! one JSON object on stdout with `--json`, and human-readable lines otherwise.

mod bench;
mod columns;
mod compare;
mod contributions;
mod demo;
mod detectors;
mod detectors_report;
mod devices;
mod export;
mod filters;
mod infer;
mod manifold;
mod oneclass;
mod patches;
mod preset;
mod progress;
mod sample;
mod score;
mod sweep;
mod sweep_report;
mod synth;
mod train;
mod train_args;
mod train_report;
mod tune;
mod values;

use ae::{BackendChoice, Device, Result};

/// The library names configuration fields in its errors (`` `train.penalty` ``); the command
/// speaks of its flags. Each field the library names, and the flag that sets it.
const FLAGS: &[(&str, &str)] = &[
    ("`model.layers`", "--layers"),
    ("`model.output_activation`", "--output"),
    ("`model.code_activation`", "--code-activation"),
    ("`model.code_topk`", "--sparsity topk:K"),
    ("`train.auxk`", "--sparsity topk:K:AUXK"),
    ("`model.matryoshka`", "--matryoshka"),
    ("`train.code_products`", "--code-products"),
    ("`train.penalty_warmup`", "--sparsity-warmup"),
    ("`train.penalty`", "--sparsity l1:... or kl:..."),
    ("`train.resample_dead`", "--resample-dead"),
    ("`train.contractive`", "--contractive"),
    ("`train.variational.beta`", "--beta"),
    ("`train.variational`", "--variational"),
    ("`model.variational`", "--variational"),
    ("`train.optimizer.lr`", "--lr"),
    (
        "`train.early_stopping_patience`",
        "--patience; a --val-split above 0",
    ),
];

/// An error message in the command's words: each configuration field the library names is
/// replaced by the flag that sets it.
pub fn in_flags(message: &str) -> String {
    FLAGS.iter().fold(message.to_string(), |m, (field, flag)| {
        m.replace(field, flag)
    })
}
use clap::{Args, Parser, Subcommand};

/// Autoencoders in Rust: train, encode, reconstruct, score and compare against PCA.
#[derive(Parser, Debug)]
#[command(name = "ae", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Print one JSON object on stdout instead of human-readable text (no progress bar).
    #[arg(long, global = true)]
    pub json: bool,
    /// Compute backend: auto (a real GPU if there is one, else the CPU), cpu, or wgpu; `ae bench`
    /// also takes all.
    #[arg(long, global = true, default_value = "auto")]
    pub backend: BackendArg,
    /// Pick the wgpu adapter whose name contains this (see `ae devices`).
    #[arg(long, global = true)]
    pub adapter: Option<String>,
    /// CPU threads for the cpu backend (default: all cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// wgpu: always use the default matmul variant, neither reading nor timing the tuning cache
    /// (by default each product's shape class takes the cached fastest variant, timed on first
    /// use on a hardware GPU; see `ae tune`).
    #[arg(long, global = true)]
    pub no_tune: bool,
    /// wgpu: let the tuner also pick the f16 matmul variants where the adapter has SHADER_F16
    /// (operands rounded to half precision in workgroup memory, f32 sums: about 1e-3 relative
    /// error; faster on some GPUs). Off by default; its choices go to their own cache file.
    #[arg(long, global = true)]
    pub matmul_f16: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The main job: train a 784-512-128-32 autoencoder and PCA-32 on the bundled MNIST-10k,
    /// print both test MSEs, write a PNG of reconstructions and the model.
    Demo(demo::DemoArgs),
    /// Train an autoencoder on a data file (IDX, CSV, NPY, safetensors or Parquet) and save it to a directory.
    Train(Box<train_args::TrainArgs>),
    /// Encode data with a trained model: writes the codes as NPY [n, code].
    Encode(infer::InferArgs),
    /// Reconstruct data with a trained model: writes NPY [n, d] (in the data's original units).
    Reconstruct(infer::InferArgs),
    /// Write a one-layer SAE model as a SAELens or sparsify directory (its normalisation folded
    /// into the weights); encode, reconstruct and score also read those directories.
    Export(export::ExportArgs),
    /// Anomaly scores (mean squared reconstruction error per row), a threshold, predictions,
    /// and with labels ROC AUC, average precision, precision, recall and F1.
    Score(score::ScoreArgs),
    /// PCA against the autoencoder at several code sizes, on a held-out test split.
    Compare(compare::CompareArgs),
    /// Anomaly detectors on the same rows: the anomaly preset, a single autoencoder, PCA
    /// reconstruction error, PCA's full-spectrum score and kNN distance, fitted on TRAIN and
    /// measured on labelled TEST rows (ROC AUC, average precision).
    CompareDetectors(detectors::DetectorArgs),
    /// Training throughput of the reference model on the bundled MNIST (samples/s, GFLOP/s).
    Bench(bench::BenchArgs),
    /// List the compute devices: every wgpu adapter with its limits and features, and the CPU.
    Devices,
    /// The one-class protocol: per class, train on that class, score held-out rows, ROC AUC
    /// beside PCA's.
    Oneclass(oneclass::OneClassArgs),
    /// Train one sparse autoencoder per point of a grid of settings (`--grid 'k=16,32
    /// n=4096,16384'`, every other `ae train` flag the base), several at once, each into
    /// OUT/run-NAME/; writes their code metrics (held-out L0, FVU, MSE, dead fraction) to
    /// OUT/sweep.json and OUT/sweep.csv and the L0-against-FVU chart with its Pareto front to
    /// OUT/report.html. Finished runs are skipped on a rerun; --shard I/N runs every N-th point.
    Sweep(Box<sweep::SweepArgs>),
    /// Write a synthetic dataset (swiss-roll, s-curve, blobs) as NPY.
    Synth(synth::SynthArgs),
    /// PCA-2 and a 2-D-code autoencoder on the swiss roll or S-curve: how far each unrolls it
    /// (the best direction's |Spearman| with the position, trustworthiness at 10 neighbours),
    /// and one SVG of both codes coloured by the position.
    Manifold(manifold::ManifoldArgs),
    /// Draw each hidden unit's encoder weights as an image tile (models of square images).
    Filters(filters::FiltersArgs),
    /// Draw N samples from a variational model's prior (z ~ N(0, I)) and decode them: a PNG
    /// grid for models of square images, else NPY [N, input].
    Sample(sample::SampleArgs),
    /// Cut random square patches out of image data and write them as NPY.
    Patches(patches::PatchesArgs),
    /// Time the wgpu matmul variants at a model's shapes and keep the fastest per shape class in
    /// the tuning cache ($AE_CACHE_DIR, else $XDG_CACHE_HOME/ae, else ~/.cache/ae); prints the table.
    Tune(tune::TuneArgs),
}

/// `--backend`: one backend, or (for `ae bench`) all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Auto,
    Cpu,
    Wgpu,
    All,
}

impl GlobalArgs {
    /// The wgpu settings the flags give: `--adapter`, `--no-tune`, `--matmul-f16`.
    pub fn adapter_choice(&self) -> ae_wgpu::AdapterChoice {
        ae_wgpu::AdapterChoice {
            name: self.adapter.clone(),
            tuning: match self.no_tune {
                true => ae_wgpu::Tuning::Fixed(ae_wgpu::MatmulVariant::DEFAULT),
                false => ae_wgpu::Tuning::Auto,
            },
            f16_matmul: self.matmul_f16,
            ..Default::default()
        }
    }

    /// The one backend `--backend` names; `all` is an error outside `ae bench`.
    pub fn backend_choice(&self) -> Result<BackendChoice> {
        match self.backend {
            BackendArg::Auto => Ok(BackendChoice::Auto),
            BackendArg::Cpu => Ok(BackendChoice::Cpu),
            BackendArg::Wgpu => Ok(BackendChoice::Wgpu),
            BackendArg::All => Err(ae::Error::Config(
                "--backend all is only for ae bench; pick auto, cpu or wgpu".into(),
            )),
        }
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    if let Some(threads) = cli.global.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build_global()
            .map_err(|e| ae::Error::Config(format!("--threads {threads}: {e}")))?;
    }
    let g = &cli.global;
    match cli.command {
        Command::Demo(a) => demo::run(g, a),
        Command::Train(a) => train::run(g, *a),
        Command::Encode(a) => infer::run(g, a, infer::Mode::Encode),
        Command::Reconstruct(a) => infer::run(g, a, infer::Mode::Reconstruct),
        Command::Export(a) => export::run(g, a),
        Command::Score(a) => score::run(g, a),
        Command::Compare(a) => compare::run(g, a),
        Command::CompareDetectors(a) => detectors::run(g, a),
        Command::Bench(a) => bench::run(g, a),
        Command::Devices => devices::run(g),
        Command::Oneclass(a) => oneclass::run(g, a),
        Command::Sweep(a) => sweep::run(g, *a),
        Command::Synth(a) => synth::run(g, a),
        Command::Manifold(a) => manifold::run(g, a),
        Command::Filters(a) => filters::run(g, a),
        Command::Patches(a) => patches::run(g, a),
        Command::Sample(a) => sample::run(g, a),
        Command::Tune(a) => tune::run(g, a),
    }
}

/// Opens the chosen backend and says which one was taken (on stderr, unless `--json`).
pub fn open_device(g: &GlobalArgs) -> Result<Device> {
    let (device, why) = Device::open_with(g.backend_choice()?, g.adapter_choice())?;
    if !g.json {
        eprintln!("backend: {} ({why})", device.name());
    }
    Ok(device)
}

/// Prints a result as one JSON object on one line of stdout, its keys sorted.
pub fn print_json<T: serde::Serialize>(value: &T) {
    // Through a `Value`, whose map is sorted: the order `--json` has always printed.
    let value = serde_json::to_value(value).expect("command results serialise");
    println!("{value}");
}

/// Prints a command's result: as JSON with `--json`, else its human-readable text.
pub fn print_result<T: serde::Serialize + std::fmt::Display>(g: &GlobalArgs, result: &T) {
    if g.json {
        print_json(result);
    } else {
        println!("{result}");
    }
}

#[cfg(test)]
mod flag_tests {
    use super::*;

    #[test]
    fn library_fields_become_flags() {
        let m = in_flags("a sparsity warmup (`train.penalty_warmup`) needs `train.penalty`");
        assert_eq!(
            m,
            "a sparsity warmup (--sparsity-warmup) needs --sparsity l1:... or kl:..."
        );
        assert_eq!(in_flags("no field here"), "no field here");
    }
}
