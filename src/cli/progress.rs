//! The progress bar of training commands (hidden with `--json` or when stderr is not a terminal).

use ae_core::trainer::TrainEvent;
use ae_core::{Backend, TrainConfig};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over all training steps, whose message shows the last epoch's losses.
pub struct TrainProgress {
    bar: ProgressBar,
    /// `--json`: nothing but the final object is printed.
    quiet: bool,
}

impl TrainProgress {
    /// A bar for `config` on `rows` rows, `val_split` of them held out.
    pub fn new(config: &TrainConfig, rows: usize, val_split: f64, hidden: bool) -> Self {
        let train_rows = rows - (rows as f64 * val_split).round() as usize;
        let steps =
            train_rows.div_ceil(config.batch_size.clamp(1, train_rows.max(1))) * config.epochs;
        let bar = if hidden {
            ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::hidden())
        } else {
            ProgressBar::new(steps as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        TrainProgress { bar, quiet: hidden }
    }

    /// Advances the bar for one event.
    pub fn update<B: Backend>(&mut self, event: &TrainEvent<'_, B>) {
        match event {
            TrainEvent::Step { .. } => self.bar.inc(1),
            TrainEvent::Epoch { metrics, .. } => {
                self.bar.set_message(format!(
                    "epoch {} train {:.5}{}{}{}",
                    metrics.epoch,
                    metrics.train_loss,
                    metrics
                        .val_loss
                        .map_or(String::new(), |v| format!(" val {v:.5}")),
                    metrics
                        .contractive
                        .map_or(String::new(), |c| format!(" contractive {c:.5}")),
                    metrics.kl.map_or(String::new(), |k| format!(" KL {k:.5}"))
                ));
                if let (Some(code), false) = (&metrics.code, self.quiet) {
                    let line = format!(
                        "epoch {}: loss {:.5}{} MSE {:.5} FVU {:.4} cosine {:.4} L0 {:.2} dead \
                         latents {} dense {} mean activation {:.4}{}{}",
                        metrics.epoch,
                        metrics.train_loss,
                        metrics
                            .penalty
                            .map_or(String::new(), |p| format!(" penalty {p:.5}")),
                        code.mse,
                        code.fvu,
                        code.cosine_similarity,
                        code.l0,
                        code.dead_latents,
                        code.dense_latents,
                        code.mean_activation,
                        code.max_abs_rho_error
                            .map_or(String::new(), |e| format!(" max |mean - rho| {e:.4}")),
                        prefix_fvus(&code.prefix_fvu),
                    );
                    if self.bar.is_hidden() {
                        eprintln!("{line}");
                    } else {
                        self.bar.println(line);
                    }
                }
            }
            TrainEvent::EpochEnd { .. } => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A bar over the rows a command reads a chunk at a time (`ae encode`, `ae reconstruct`,
/// `ae score`), hidden with `--json` and when stderr is not a terminal.
pub fn rows_bar(rows: usize, hidden: bool) -> ProgressBar {
    let bar = match hidden {
        true => ProgressBar::with_draw_target(Some(rows as u64), ProgressDrawTarget::hidden()),
        false => ProgressBar::new(rows as u64),
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} rows ({eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// ` prefix FVU 64: 0.3120, 256: 0.2010, 1024: 0.1500` for a Matryoshka model's prefixes; empty
/// for any other.
pub fn prefix_fvus(prefixes: &[ae_core::PrefixFvu]) -> String {
    match prefixes.is_empty() {
        true => String::new(),
        false => format!(
            " prefix FVU {}",
            prefixes
                .iter()
                .map(|p| format!("{}: {:.4}", p.prefix, p.fvu))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
