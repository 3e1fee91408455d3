//! `ae sweep`: one `ae train` run per point of a grid of settings, several at once, into
//! `OUT/run-NAME/`; the table of their code metrics (`sweep.json`, `sweep.csv`) and a report
//! with the L0-against-FVU chart and its Pareto front (`report.html`).

use super::train::{self, TrainOutput};
use super::train_args::TrainArgs;
use super::{open_device, print_result, BackendArg, GlobalArgs};
use ae::sweep::{Grid, GridKey, GridPoint, Shard, SweepRow, SweepTable};
use ae::workflow::TrainSettings;
use ae::{Device, Error, Result};
use ae_core::data::RowSource;
use ae_core::SparsitySpec;
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `ae sweep DATA --out OUT --grid 'k=16,32 n=4096,16384' [every ae train flag]`.
#[derive(Args, Debug)]
#[command(mut_arg("out", |a| a.help(
    "Directory of the sweep: each run trains into OUT/run-NAME/ (NAME from its grid values, \
     such as k16-n4096), and the table and report go to OUT/sweep.json, OUT/sweep.csv and \
     OUT/report.html.")))]
pub struct SweepArgs {
    /// The base settings: every `ae train` flag but --report, --resume and --preset (--out is
    /// the sweep's directory).
    #[command(flatten)]
    pub train: TrainArgs,
    /// The grid: KEY=V1,V2,... separated by spaces, every combination run (the last key
    /// varying fastest). Keys: k (the K of --sparsity topk:K or batchtopk:K; topk:K without
    /// --sparsity), n (the code width: the last of --layers, or --layers IN,N without it), lr
    /// (--lr), coef (the sparsity coefficient: l1's LAMBDA, kl's BETA, jumprelu's and
    /// jumprelu-tanh's COEF; needs one of those --sparsity), seed (--seed).
    #[arg(long)]
    pub grid: Grid,
    /// Run only the grid points whose index is I modulo N (I counted from 0), so that N
    /// processes or machines given 0/N, ..., (N-1)/N share the sweep out; a final run without
    /// --shard over the same OUT collects every row without training again.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Runs at once, the threads split between them [default: on the CPU, the fewest of the
    /// threads (--threads, else the cores), the runs to do, and the runs whose memory estimate
    /// fits in the memory free; on a GPU 1]. More than fit in memory is refused.
    #[arg(long, value_name = "P")]
    pub parallel: Option<usize>,
}

/// What `ae sweep` prints: where everything went, which runs it trained or found finished, and
/// the table.
#[derive(Debug, serde::Serialize)]
pub struct SweepOutput {
    /// The sweep's directory.
    pub out: PathBuf,
    /// `sweep.json`.
    pub table: PathBuf,
    /// `sweep.csv`.
    pub csv: PathBuf,
    /// `report.html` (null when no run has finished).
    pub report: Option<PathBuf>,
    /// Points in the grid.
    pub points: usize,
    /// The shard run, `I/N`.
    pub shard: String,
    /// Runs at once.
    pub parallel: usize,
    /// Threads each run had.
    pub threads_per_run: usize,
    /// The runs trained now.
    pub trained: Vec<String>,
    /// This shard's runs found finished, not run again.
    pub skipped: Vec<String>,
    /// The runs on the Pareto front of L0 against FVU, by increasing L0.
    pub pareto: Vec<String>,
    /// The table's rows: every finished run of the grid, in grid order.
    pub runs: Vec<SweepRow>,
}

impl std::fmt::Display for SweepOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<24} {:>8} {:>8} {:>10} {:>6}",
            "run", "L0", "FVU", "dead", "front"
        )?;
        for r in &self.runs {
            writeln!(
                f,
                "{:<24} {:>8.2} {:>8.4} {:>9.1}% {:>6}",
                r.name,
                r.l0,
                r.fvu,
                100.0 * r.dead_fraction,
                if r.pareto { "*" } else { "" }
            )?;
        }
        write!(
            f,
            "{} of {} points finished ({} trained now, {} found finished); table {} and {}",
            self.runs.len(),
            self.points,
            self.trained.len(),
            self.skipped.len(),
            self.table.display(),
            self.csv.display()
        )?;
        if let Some(p) = &self.report {
            write!(f, "; report {}", p.display())?;
        }
        Ok(())
    }
}

/// One grid point to train: its flags and settings, checked before any run starts.
struct Run {
    point: GridPoint,
    args: TrainArgs,
    settings: TrainSettings,
}

pub fn run(g: &GlobalArgs, args: SweepArgs) -> Result<()> {
    refuse_per_run_flags(&args.train)?;
    train::stop_on_ctrl_c();
    let out = args.train.out.clone();
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let table = args.train.input.open(&args.train.data)?;
    let data = table.source.as_ref();
    let shard = args.shard.unwrap_or(Shard::ALL);
    let points = args.grid.points();
    let (mut finished, mut skipped, mut runs) = (BTreeMap::new(), Vec::new(), Vec::new());
    let mut largest = 0u64;
    for point in points {
        let dir = out.join(run_dir(&point));
        if let Some(row) = finished_row(&dir)? {
            if shard.takes(point.index) {
                skipped.push(point.name());
            }
            finished.insert(point.index, row);
            continue;
        }
        if !shard.takes(point.index) {
            continue;
        }
        let in_run = |e: Error| in_run(&point, e);
        let run_args = point_args(&args.train, &point, &dir, data.cols()).map_err(in_run)?;
        let settings = train::settings(&run_args, data, table.input.clone()).map_err(in_run)?;
        let plan = train::check_memory(&run_args, data, &settings).map_err(in_run)?;
        largest = largest.max(plan.total());
        runs.push(Run {
            point,
            args: run_args,
            settings,
        });
    }
    let device = match runs.is_empty() {
        true => None,
        false => Some(open_device(g)?),
    };
    let on_cpu = device.as_ref().is_none_or(|d| matches!(d, Device::Cpu(_)));
    let threads = g.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let parallel = runs_at_once(
        args.parallel,
        on_cpu,
        threads,
        runs.len(),
        largest,
        ae::workflow::available_memory(),
    )?;
    let threads_per_run = (threads / parallel).max(1);
    // The runs themselves print nothing; each run opens the backend the sweep found.
    let quiet = GlobalArgs {
        json: true,
        backend: match on_cpu {
            true => BackendArg::Cpu,
            false => g.backend,
        },
        ..g.clone()
    };
    let progress = Progress {
        total: runs.len(),
        quiet: g.json,
    };
    let trained = run_all(
        &quiet,
        &args.grid,
        &out,
        data,
        runs,
        parallel,
        threads_per_run,
        &mut finished,
        &progress,
    )?;
    let table = SweepTable::new(&args.grid, finished.into_values().collect());
    let (json, csv) = table.save(&out)?;
    let report = match table.runs.is_empty() {
        true => None,
        false => Some(super::sweep_report::write(&out, &args.train.data, &table)?),
    };
    print_result(
        g,
        &SweepOutput {
            out,
            table: json,
            csv,
            report,
            points: table.points,
            shard: shard.to_string(),
            parallel,
            threads_per_run,
            trained,
            skipped,
            pareto: table.pareto,
            runs: table.runs,
        },
    );
    Ok(())
}

/// The directory of `point`'s run, relative to the sweep's: `run-NAME`.
fn run_dir(point: &GridPoint) -> PathBuf {
    PathBuf::from(format!("run-{}", point.name()))
}

/// The row of the run in `dir` if it finished: its row file and its model are both there.
fn finished_row(dir: &Path) -> Result<Option<SweepRow>> {
    match dir.join("config.json").is_file() {
        true => SweepRow::read(dir),
        false => Ok(None),
    }
}

/// `e`, naming the grid point it came from.
fn in_run(point: &GridPoint, e: Error) -> Error {
    let at = |m: String| format!("grid point {}: {m}", point.name());
    match e {
        Error::Config(m) => Error::Config(at(m)),
        Error::Shape(m) => Error::Shape(at(m)),
        Error::Diverged(m) => Error::Diverged(at(m)),
        Error::Interrupted(m) => Error::Interrupted(at(m)),
        Error::Backend(m) => Error::Backend(at(m)),
        other => other,
    }
}

/// The flags that make sense for one run, not for a sweep.
fn refuse_per_run_flags(a: &TrainArgs) -> Result<()> {
    let refused = [
        (
            a.report.is_some(),
            "--report (the sweep's report is OUT/report.html)",
        ),
        (
            a.colour_by.is_some(),
            "--colour-by (it colours a run's --report)",
        ),
        (
            a.resume,
            "--resume (a rerun of the sweep skips the finished runs by itself)",
        ),
        (a.preset.is_some(), "--preset"),
    ];
    match refused.iter().find(|r| r.0) {
        Some((_, flag)) => Err(Error::Config(format!("ae sweep does not take {flag}"))),
        None => Ok(()),
    }
}

/// The `ae train` flags of `point`'s run: the base flags with the point's values, training into
/// `dir`, on data of `cols` columns.
fn point_args(base: &TrainArgs, point: &GridPoint, dir: &Path, cols: usize) -> Result<TrainArgs> {
    let mut a = base.clone();
    a.out = dir.to_path_buf();
    for &(key, v) in &point.values {
        match key {
            GridKey::K => {
                a.sparsity = Some(match a.sparsity {
                    None => SparsitySpec::TopK {
                        k: v as usize,
                        aux_k: None,
                        batch: false,
                    },
                    Some(SparsitySpec::TopK { aux_k, batch, .. }) => SparsitySpec::TopK {
                        k: v as usize,
                        aux_k,
                        batch,
                    },
                    Some(_) => {
                        return Err(Error::Config(
                            "--grid k sets the K of --sparsity topk:K or batchtopk:K, not of \
                             the --sparsity given"
                                .into(),
                        ))
                    }
                })
            }
            GridKey::N => {
                let mut layers = base.layers.clone().unwrap_or_else(|| vec![cols, 0]);
                if let Some(last) = layers.last_mut() {
                    *last = v as usize;
                }
                a.layers = Some(layers);
            }
            GridKey::Lr => a.fit.lr = v as f32,
            GridKey::Seed => a.fit.seed = v as u64,
            GridKey::Coef => a.sparsity = Some(with_coef(a.sparsity, v as f32)?),
        }
    }
    Ok(a)
}

/// `spec` with its sparsity coefficient replaced by `coef`.
fn with_coef(spec: Option<SparsitySpec>, coef: f32) -> Result<SparsitySpec> {
    use ae_core::CodePenalty as P;
    Ok(match spec {
        Some(SparsitySpec::Penalty(P::L1 { decoder_norm, .. })) => SparsitySpec::Penalty(P::L1 {
            lambda: coef,
            decoder_norm,
        }),
        Some(SparsitySpec::Penalty(P::Kl { rho, .. })) => {
            SparsitySpec::Penalty(P::Kl { rho, beta: coef })
        }
        Some(SparsitySpec::Penalty(P::Tanh { scale, .. })) => SparsitySpec::Penalty(P::Tanh {
            lambda: coef,
            scale,
        }),
        Some(SparsitySpec::JumpRelu {
            bandwidth, tanh, ..
        }) => SparsitySpec::JumpRelu {
            coef,
            bandwidth,
            tanh,
        },
        _ => {
            return Err(Error::Config(
                "--grid coef sets the coefficient of --sparsity l1:..., kl:..., jumprelu:... or \
                 jumprelu-tanh:...; give one of those"
                    .into(),
            ))
        }
    })
}

/// Runs at once: `asked` (refused where more than fit in `free` memory at `per_run` bytes
/// each), else on the CPU the fewest of `threads`, the `todo` runs and those that fit, and on a
/// GPU one. At least one.
fn runs_at_once(
    asked: Option<usize>,
    on_cpu: bool,
    threads: usize,
    todo: usize,
    per_run: u64,
    free: Option<u64>,
) -> Result<usize> {
    let fit = free.map_or(usize::MAX, |f| (f / per_run.max(1)).max(1) as usize);
    match asked {
        Some(0) => Err(Error::Config("--parallel 0: give at least 1".into())),
        Some(p) if p > fit => Err(Error::Config(format!(
            "--parallel {p}: a run needs about {} of memory and {} is free, so at most {fit} \
             fit at once",
            ae_core::trainer::human_bytes(per_run),
            ae_core::trainer::human_bytes(free.unwrap_or(0))
        ))),
        Some(p) => Ok(p),
        None if on_cpu => Ok(threads.min(todo).min(fit).max(1)),
        None => Ok(1),
    }
}

/// The line printed on stderr as each run finishes (nothing with `--json`).
struct Progress {
    total: usize,
    quiet: bool,
}

impl Progress {
    fn done(&self, n: usize, row: &SweepRow) {
        if !self.quiet {
            eprintln!(
                "[{n}/{}] {}: L0 {:.2}, FVU {:.4}, dead {:.1}% ({:.1} s)",
                self.total,
                row.name,
                row.l0,
                row.fvu,
                100.0 * row.dead_fraction,
                row.seconds
            );
        }
    }
}

/// Trains `runs`, `parallel` at once on `threads` threads each, adding each finished run's row
/// to `finished` and rewriting the table after each; the first error stops new runs from
/// starting and is returned once the running ones finish. Returns the names trained, in the
/// order they finished.
#[allow(clippy::too_many_arguments)]
fn run_all(
    g: &GlobalArgs,
    grid: &Grid,
    out: &Path,
    data: &dyn RowSource,
    runs: Vec<Run>,
    parallel: usize,
    threads: usize,
    finished: &mut BTreeMap<usize, SweepRow>,
    progress: &Progress,
) -> Result<Vec<String>> {
    struct State<'a> {
        finished: &'a mut BTreeMap<usize, SweepRow>,
        trained: Vec<String>,
        error: Option<Error>,
    }
    let queue = Mutex::new(runs.into_iter());
    let state = Mutex::new(State {
        finished,
        trained: Vec::new(),
        error: None,
    });
    let worker = || {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
        let pool = match pool {
            Ok(pool) => pool,
            Err(e) => {
                let e = Error::Config(format!("--parallel: a pool of {threads} threads: {e}"));
                state
                    .lock()
                    .expect("no worker panicked")
                    .error
                    .get_or_insert(e);
                return;
            }
        };
        loop {
            if state.lock().expect("no worker panicked").error.is_some() {
                return;
            }
            let Some(run) = queue.lock().expect("no worker panicked").next() else {
                return;
            };
            let result = pool.install(|| one_run(g, data, run));
            let mut st = state.lock().expect("no worker panicked");
            let (index, row) = match result {
                Ok(done) => done,
                Err(e) => {
                    st.error.get_or_insert(e);
                    return;
                }
            };
            st.trained.push(row.name.clone());
            progress.done(st.trained.len(), &row);
            st.finished.insert(index, row);
            let table = SweepTable::new(grid, st.finished.values().cloned().collect());
            if let Err(e) = table.save(out) {
                st.error.get_or_insert(e);
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 0..parallel {
            s.spawn(worker);
        }
    });
    let state = state.into_inner().expect("no worker panicked");
    match state.error {
        Some(e) => Err(e),
        None => Ok(state.trained),
    }
}

/// Trains one run and saves its row beside its model; returns its grid index and row.
fn one_run(g: &GlobalArgs, data: &dyn RowSource, run: Run) -> Result<(usize, SweepRow)> {
    let point = run.point;
    let out: TrainOutput =
        train::train(g, &run.args, data, run.settings, true).map_err(|e| in_run(&point, e))?;
    let m = out
        .measured
        .ok_or_else(|| Error::Config("the run was not measured".into()))?;
    let code_dim = m.metrics.unit_means.len().max(1);
    let row = SweepRow {
        name: point.name(),
        dir: run_dir(&point),
        values: SweepRow::values_of(&point),
        split: match m.held_out {
            true => "validation",
            false => "training",
        }
        .into(),
        rows: m.rows,
        code_dim,
        l0: m.metrics.l0,
        fvu: m.metrics.fvu,
        mse: m.metrics.mse,
        dead_fraction: m.metrics.dead_latents as f64 / code_dim as f64,
        dense_fraction: m.metrics.dense_latents as f64 / code_dim as f64,
        cosine_similarity: m.metrics.cosine_similarity,
        final_train_loss: out.final_train_loss,
        final_val_loss: out.final_val_loss,
        best_epoch: out.best_epoch,
        seconds: out.history.iter().map(|e| e.seconds).sum(),
        pareto: false,
    };
    row.save(&run.args.out)?;
    Ok((point.index, row))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn base(extra: &[&str]) -> TrainArgs {
        let mut argv = vec!["ae", "sweep", "d.npy", "--out", "o", "--grid", "k=1"];
        argv.extend_from_slice(extra);
        match super::super::Cli::try_parse_from(argv).unwrap().command {
            super::super::Command::Sweep(a) => a.train,
            _ => unreachable!("parsed as ae sweep"),
        }
    }

    fn point(grid: &str, i: usize) -> GridPoint {
        grid.parse::<Grid>().unwrap().points().remove(i)
    }

    #[test]
    fn grid_values_replace_the_base_flags() {
        let b = base(&[
            "--sparsity",
            "batchtopk:4:auto",
            "--layers",
            "8,32",
            "--lr",
            "0.1",
        ]);
        let p = point("k=2,3 n=16 lr=0.01 seed=7", 1);
        let a = point_args(&b, &p, Path::new("o/run-x"), 8).unwrap();
        assert_eq!(
            a.sparsity,
            Some(SparsitySpec::TopK {
                k: 3,
                aux_k: Some(ae_core::AuxKUnits::HalfInput),
                batch: true
            })
        );
        assert_eq!(a.layers, Some(vec![8, 16]));
        assert_eq!((a.fit.lr, a.fit.seed), (0.01, 7));
        assert_eq!(a.out, Path::new("o/run-x"));
        // Without --sparsity and --layers: topk:K on a one-layer code of width n.
        let a = point_args(&base(&[]), &point("k=2 n=16", 0), Path::new("d"), 8).unwrap();
        assert_eq!(a.layers, Some(vec![8, 16]));
        assert!(matches!(
            a.sparsity,
            Some(SparsitySpec::TopK {
                k: 2,
                batch: false,
                ..
            })
        ));
    }

    #[test]
    fn coef_sets_each_penalty_and_k_needs_topk() {
        let p = point("coef=0.5", 0);
        let set = |s: &str| point_args(&base(&["--sparsity", s]), &p, Path::new("d"), 8);
        let l1 = set("l1:0.1:decoder-norm").unwrap().sparsity;
        assert_eq!(
            l1,
            Some(SparsitySpec::Penalty(ae_core::CodePenalty::L1 {
                lambda: 0.5,
                decoder_norm: true
            }))
        );
        let jump = set("jumprelu:0.1:0.02").unwrap().sparsity;
        assert!(
            matches!(jump, Some(SparsitySpec::JumpRelu { coef, bandwidth, .. })
            if coef == 0.5 && bandwidth == 0.02)
        );
        let kl = set("kl:0.05:3").unwrap().sparsity;
        assert!(
            matches!(kl, Some(SparsitySpec::Penalty(ae_core::CodePenalty::Kl { rho, beta }))
            if rho == 0.05 && beta == 0.5)
        );
        let e = set("topk:4").unwrap_err().to_string();
        assert!(e.contains("--grid coef sets the coefficient"), "{e}");
        let k = point("k=2", 0);
        let e = point_args(&base(&["--sparsity", "l1:0.1"]), &k, Path::new("d"), 8);
        assert!(e.unwrap_err().to_string().contains("--grid k sets the K"));
    }

    #[test]
    fn per_run_flags_are_refused_by_name() {
        let e = refuse_per_run_flags(&base(&["--report", "r"])).unwrap_err();
        assert!(e.to_string().contains("does not take --report"), "{e}");
        let e = refuse_per_run_flags(&base(&["--resume"])).unwrap_err();
        assert!(e.to_string().contains("--resume"), "{e}");
        assert!(refuse_per_run_flags(&base(&["--epochs", "2"])).is_ok());
    }

    #[test]
    fn runs_at_once_follow_threads_runs_and_memory() {
        const G: u64 = 1 << 30;
        // CPU: the fewest of threads, runs to do, and runs that fit.
        assert_eq!(runs_at_once(None, true, 8, 4, G, Some(16 * G)).unwrap(), 4);
        assert_eq!(runs_at_once(None, true, 8, 20, G, Some(16 * G)).unwrap(), 8);
        assert_eq!(
            runs_at_once(None, true, 8, 20, 4 * G, Some(10 * G)).unwrap(),
            2
        );
        assert_eq!(runs_at_once(None, true, 8, 0, G, None).unwrap(), 1);
        // A GPU: one; asked: as asked, unless more than fit.
        assert_eq!(runs_at_once(None, false, 8, 20, G, None).unwrap(), 1);
        assert_eq!(runs_at_once(Some(3), false, 8, 20, G, None).unwrap(), 3);
        let e = runs_at_once(Some(3), true, 8, 20, 4 * G, Some(10 * G)).unwrap_err();
        assert!(
            e.to_string().contains("--parallel 3: a run needs about"),
            "{e}"
        );
        assert!(e.to_string().contains("at most 2 fit"), "{e}");
        assert!(runs_at_once(Some(0), true, 8, 2, G, None).is_err());
    }
}
