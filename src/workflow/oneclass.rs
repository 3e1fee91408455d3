//! The one-class protocol of anomaly detection: train on one class's rows, score held-out rows
//! of every class (that class normal, the others anomalies), and measure the ROC AUC beside
//! PCA reconstruction error's, with one autoencoder ([`one_class`]) or the anomaly preset's
//! ensemble ([`one_class_ensemble`]). Rows are read a chunk at a time: the class's rows go
//! through [`train_source`] (into memory only when they fit), PCA through the chunked covariance
//! ([`PcaFit`]), and the test rows are scored chunk by chunk.

use super::{ensemble, train_source, PcaFit, TrainSettings};
use crate::anomaly;
use ae_core::data::normalize::NormStats;
use ae_core::data::{RowSource, RowSubset};
use ae_core::metrics;
use ae_core::trainer::Rows;
use ae_core::{Backend, Error, Matrix, Result};

/// One class of the one-class protocol.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OneClass {
    /// The class used as normal.
    pub class: i64,
    /// Training rows of that class.
    pub train_rows: usize,
    /// The autoencoder's ROC AUC on the test rows (that class normal, the rest anomalies).
    pub roc_auc_ae: f64,
    /// PCA reconstruction error's ROC AUC, same code size, same rows.
    pub roc_auc_pca: f64,
}

/// A data set and one label per row.
pub type Labelled<'a> = (&'a dyn RowSource, &'a [i64]);

/// Trains an autoencoder (`settings`) and a PCA of the same code size on the rows of `train`
/// labelled `class`, scores every row of `test`, and measures how well each ranks the other
/// classes as anomalies. Inputs are raw; `settings.normalization` is fitted on the class's rows.
/// A variational model scores as `scoring` says.
pub fn one_class<B: Backend>(
    backend: &B,
    train: Labelled<'_>,
    test: Labelled<'_>,
    class: i64,
    settings: &TrainSettings,
    scoring: anomaly::ElboScoring,
) -> Result<OneClass> {
    let rows = class_rows(train, test, class)?;
    let normal = RowSubset::new(train.0, &rows);
    let trained = train_source(backend, &normal, settings, None, &mut |_| Ok(()))?;
    let stats = trained
        .saved
        .normalization
        .clone()
        .expect("train_source sets it");
    let ae_scores = scores_of(test.0, Some(&stats), |x| {
        anomaly::scores_with(backend, &trained.model, x, scoring)
    })?;
    let k = settings.model.code_dim();
    one_class_measure((train.0, &rows), test, class, &stats, k, ae_scores)
}

/// [`one_class`] with an ensemble of the anomaly preset ([`ensemble::train_ensemble`]; `base`
/// gives what the recipe does not) in place of the single autoencoder, and PCA at
/// [`crate::preset::code_width`] components fitted on rows normalised as `base` says. Members
/// that diverge are dropped, with `warn` told why.
pub fn one_class_ensemble<B: Backend>(
    backend: &B,
    train: Labelled<'_>,
    test: Labelled<'_>,
    class: i64,
    recipe: &crate::preset::AnomalyPreset,
    base: &TrainSettings,
    warn: &mut dyn FnMut(&str),
) -> Result<OneClass> {
    let rows = class_rows(train, test, class)?;
    let normal = RowSubset::new(train.0, &rows);
    let plans = recipe.plan(normal.cols());
    let trained = ensemble::train_ensemble(
        backend,
        &normal,
        recipe,
        &plans,
        base,
        None,
        warn,
        &mut |_, _| {},
    )?;
    let ae_scores = scores_of(test.0, None, |x| trained.ensemble.scores(backend, x))?;
    let all: Vec<u32> = (0..rows.len() as u32).collect();
    let stats = NormStats::fit_source(base.normalization, &normal, &all)?;
    let k = crate::preset::code_width(normal.cols());
    one_class_measure((train.0, &rows), test, class, &stats, k, ae_scores)
}

/// The rows of `train` labelled `class` (at least 2), after checking that both sets have one
/// label per row.
fn class_rows(train: Labelled<'_>, test: Labelled<'_>, class: i64) -> Result<Vec<u32>> {
    for (set, labels) in [train, test] {
        if labels.len() != set.rows() {
            return Err(Error::Shape(format!(
                "{} has {} rows but {} labels",
                set.path().display(),
                set.rows(),
                labels.len()
            )));
        }
    }
    let rows: Vec<u32> = (0..train.1.len() as u32)
        .filter(|&i| train.1[i as usize] == class)
        .collect();
    if rows.len() < 2 {
        return Err(Error::Config(format!(
            "class {class} has {} training rows; at least 2 are needed",
            rows.len()
        )));
    }
    Ok(rows)
}

/// `score` of every row of `set`, a chunk at a time, each chunk normalised by `stats` first
/// where given: `[set.rows()]`.
fn scores_of(
    set: &dyn RowSource,
    stats: Option<&NormStats>,
    mut score: impl FnMut(&Matrix) -> Result<Vec<f64>>,
) -> Result<Vec<f64>> {
    let all: Vec<u32> = (0..set.rows() as u32).collect();
    let rows = Rows::Source {
        source: set,
        rows: &all,
        stats,
    };
    let mut out = Vec::with_capacity(set.rows());
    for chunk in rows.chunks() {
        out.extend(score(&chunk?.1)?);
    }
    Ok(out)
}

/// The one-class measures: the autoencoder's test scores `ae_scores` and those of a PCA with
/// `k` components fitted on the class's rows `normal` (rows of a source; both normalised by
/// `stats`), against `test`'s labels with `class` normal.
fn one_class_measure(
    normal: (&dyn RowSource, &[u32]),
    test: Labelled<'_>,
    class: i64,
    stats: &NormStats,
    k: usize,
    ae_scores: Vec<f64>,
) -> Result<OneClass> {
    let pca = PcaFit::of(Rows::Source {
        source: normal.0,
        rows: normal.1,
        stats: Some(stats),
    })?
    .components(k.min(normal.1.len() - 1).max(1))?;
    let pca_scores = scores_of(test.0, Some(stats), |x| {
        anomaly::row_errors(x, &pca.reconstruct(x)?)
    })?;
    let labels = anomaly::LabelRule::NormalIs(class).apply(test.1);
    Ok(OneClass {
        class,
        train_rows: normal.1.len(),
        roc_auc_ae: metrics::roc_auc(&ae_scores, &labels)?,
        roc_auc_pca: metrics::roc_auc(&pca_scores, &labels)?,
    })
}
