//! The report of `ae train --report DIR`: loss curves, reconstructions (square inputs), a sparse
//! code's feature density and a Matryoshka code's prefix FVUs, the code in 2-D and the training
//! scores.

use super::train_args::{TrainArgs, FIT_DEFAULTS};
use ae::report::Report;
use ae::workflow::Trained;
use ae::{chart, Matrix, Result};
use ae_core::data::{self, RowSource};
use ae_core::{Backend, Output, Pca};

/// A Matryoshka model's FVU per epoch of each prefix's reconstruction, one line per prefix, and
/// the last epoch's as metrics; nothing for other models.
fn prefix_fvu_chart(r: &mut Report, history: &[ae_core::EpochMetrics]) -> Result<()> {
    fn prefixes(m: &ae_core::EpochMetrics) -> &[ae_core::PrefixFvu] {
        m.code.as_ref().map_or(&[], |c| &c.prefix_fvu)
    }
    let last = history.last().map_or(&[][..], prefixes);
    if last.is_empty() {
        return Ok(());
    }
    for p in last {
        r.metric(
            &format!("final FVU of the first {} units", p.prefix),
            format!("{:.4}", p.fvu),
        );
    }
    let series: Vec<chart::Series> = last
        .iter()
        .map(|p| chart::Series {
            name: format!("first {}", p.prefix),
            points: history
                .iter()
                .filter_map(|m| {
                    let fvu = prefixes(m).iter().find(|q| q.prefix == p.prefix)?.fvu;
                    Some((m.epoch as f64, fvu))
                })
                .collect(),
        })
        .collect();
    r.chart(
        "prefix-fvu.svg",
        "Each Matryoshka prefix's fraction of variance unexplained per epoch (the code's first N \
         units reconstructing alone)",
        &chart::line_chart("Prefix FVU", "epoch", "FVU", &series, false)?,
    )
}

/// Loss curves, reconstructions (square inputs), the code in 2-D and the training scores.
pub fn write_report<B: Backend>(
    backend: &B,
    dir: &std::path::Path,
    args: &TrainArgs,
    raw: &dyn RowSource,
    trained: &Trained<B>,
) -> Result<std::path::PathBuf> {
    let mut r = Report::new(dir, "ae train")?;
    r.setting("data", args.data.display());
    r.setting("backend", backend.name());
    r.setting(
        "layers",
        format!(
            "{:?} -> {:?}",
            trained.model.config().encoder,
            trained.model.config().decoder
        ),
    );
    r.setting(
        "activations",
        trained
            .model
            .config()
            .activations
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", "),
    );
    r.setting(
        "training",
        serde_json::to_string(&args.fit.train_config(args.patience, FIT_DEFAULTS))
            .unwrap_or_default(),
    );
    let last = trained.report.last();
    r.metric("final train loss", format!("{:.6}", last.train_loss));
    if let Some(v) = last.val_loss {
        r.metric("final validation loss", format!("{v:.6}"));
    }
    r.metric("best epoch", trained.report.best_epoch);
    if let Some(t) = trained.saved.anomaly_threshold {
        r.metric("anomaly threshold", format!("{t:.6}"));
    }
    let series = |name: &str, f: &dyn Fn(&ae_core::EpochMetrics) -> Option<f64>| chart::Series {
        name: name.into(),
        points: trained
            .report
            .history
            .iter()
            .filter_map(|m| f(m).map(|v| (m.epoch as f64, v)))
            .collect(),
    };
    let curves = vec![
        series("train", &|m| Some(m.train_loss)),
        series("validation", &|m| m.val_loss),
    ];
    let curves: Vec<chart::Series> = curves
        .into_iter()
        .filter(|s| !s.points.is_empty())
        .collect();
    r.chart(
        "loss.svg",
        "Loss per epoch",
        &chart::line_chart("Loss", "epoch", "loss", &curves, true)?,
    )?;

    // Up to 2,000 rows, normalised as the model sees them.
    let shown: Vec<usize> = (0..raw.rows().min(2000)).collect();
    let mut x = raw.read(0, shown.len())?;
    if let Some(stats) = &trained.saved.normalization {
        stats.apply(&mut x)?;
    }
    let recon = trained
        .model
        .map_rows(backend, &x, Output::Reconstruction)?;
    if ae::picture::square_side(x.cols).is_some() {
        let grid = ae::picture::image_grid(&[&x, &recon], 16, 2)?;
        r.image(
            "reconstructions.png",
            "Originals over reconstructions",
            &grid,
        )?;
    }
    let codes = trained.model.map_rows(backend, &x, Output::Code)?;
    if args.sparsity.is_some() {
        let density: Vec<f64> = firing_frequencies(&codes)
            .iter()
            .map(|f| (f + DENSITY_FLOOR).log10())
            .collect();
        let dead = density
            .iter()
            .filter(|&&d| d <= DENSITY_FLOOR.log10())
            .count();
        r.metric("dead latents (on the rows shown)", dead);
        let hist = chart::histogram(
            "Feature density",
            "log10 firing frequency (+1e-10)",
            &[("latents", &density)],
            40,
            None,
        )?;
        r.chart(
            "density.svg",
            &format!(
                "Each latent's firing frequency on the {} rows shown, log10 (SAELens's feature \
                 density; latents that never fire sit at -10)",
                x.rows
            ),
            &hist,
        )?;
    }
    prefix_fvu_chart(&mut r, &trained.report.history)?;
    let (points, axes) = if codes.cols == 2 {
        (codes, ("code 1", "code 2"))
    } else if codes.cols > 2 {
        let pca = Pca::fit(&codes, 2)?;
        (pca.encode(&codes)?, ("code PC 1", "code PC 2"))
    } else {
        (
            Matrix::new(
                codes.rows,
                2,
                codes.data.iter().flat_map(|&v| [v, 0.0]).collect(),
            )?,
            ("code", "-"),
        )
    };
    let xy: Vec<(f64, f64)> = (0..points.rows)
        .map(|i| (points.row(i)[0] as f64, points.row(i)[1] as f64))
        .collect();
    let scores = ae::anomaly::row_errors(&x, &recon)?;
    let (colour, categorical, what) = match &args.colour_by {
        Some(path) => {
            let v = data::load_matrix(path)?;
            if v.rows != raw.rows() {
                return Err(ae::Error::Shape(format!(
                    "{} has {} rows but {} has {}",
                    path.display(),
                    v.rows,
                    args.data.display(),
                    raw.rows()
                )));
            }
            let values: Vec<f64> = shown.iter().map(|&i| v.row(i)[0] as f64).collect();
            let mut distinct: Vec<i64> = values.iter().map(|&v| v as i64).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let categorical = values.iter().all(|v| v.fract() == 0.0) && distinct.len() <= 10;
            (values, categorical, path.display().to_string())
        }
        None => (scores.clone(), false, "anomaly score".to_string()),
    };
    let scatter = chart::scatter(
        &format!("Code, coloured by {what}"),
        axes.0,
        axes.1,
        &xy,
        &colour,
        categorical,
    )?;
    r.chart("code.svg", "The code in 2-D", &scatter)?;
    let hist = chart::histogram(
        "Training scores",
        "score (mean squared error)",
        &[("rows", &scores)],
        40,
        trained.saved.anomaly_threshold.map(|t| ("threshold", t)),
    )?;
    r.chart(
        "scores.svg",
        "Reconstruction error of the rows shown",
        &hist,
    )?;
    r.write()
}

/// Added to each firing frequency before its log10, as SAELens does, so that a latent that never
/// fires shows at -10.
const DENSITY_FLOOR: f64 = 1e-10;

/// The fraction of rows of `codes` `[n, code]` on which each code unit is active (above
/// [`ae_core::sparsity::ACTIVE_THRESHOLD`]), `[code]`.
fn firing_frequencies(codes: &Matrix) -> Vec<f64> {
    let mut active = vec![0usize; codes.cols];
    for r in 0..codes.rows {
        for (a, &v) in active.iter_mut().zip(codes.row(r)) {
            *a += (v > ae_core::sparsity::ACTIVE_THRESHOLD) as usize;
        }
    }
    let n = codes.rows.max(1) as f64;
    active.into_iter().map(|a| a as f64 / n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_frequency_is_the_share_of_rows_a_unit_is_active_on() {
        let codes =
            Matrix::new(4, 3, vec![1., 0., 0., 2., 0., 0., 0., 0., 0., 3., 0., 0.5]).unwrap();
        assert_eq!(firing_frequencies(&codes), [0.75, 0.0, 0.25]);
        assert_eq!((0.0 + DENSITY_FLOOR).log10(), -10.0);
    }
}
