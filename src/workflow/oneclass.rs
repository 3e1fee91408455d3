//! The one-class protocol of anomaly detection: train on one class's rows, score held-out rows
//! of every class (that class normal, the others anomalies), and measure the ROC AUC beside
//! PCA reconstruction error's, with one autoencoder ([`one_class`]) or the anomaly preset's
//! ensemble ([`one_class_ensemble`]).

use super::{ensemble, train_model, TrainSettings};
use crate::anomaly;
use ae_core::data::normalize::NormStats;
use ae_core::data::MatrixSource;
use ae_core::metrics;
use ae_core::{Backend, Error, Matrix, Pca, Result};

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

/// Trains an autoencoder (`settings`) and a PCA of the same code size on the rows of `train`
/// labelled `class`, scores every row of `test`, and measures how well each ranks the other
/// classes as anomalies. Inputs are raw; `settings.normalization` is fitted on the class's rows.
pub fn one_class<B: Backend>(
    backend: &B,
    train: (&Matrix, &[i64]),
    test: (&Matrix, &[i64]),
    class: i64,
    settings: &TrainSettings,
) -> Result<OneClass> {
    let normal = class_rows(train, class)?;
    let trained = train_model(backend, &normal, settings, None, &mut |_| {})?;
    let stats = trained
        .saved
        .normalization
        .clone()
        .expect("train_model sets it");
    let mut test_n = test.0.clone();
    stats.apply(&mut test_n)?;
    let ae_scores = anomaly::scores(backend, &trained.model, &test_n)?;
    one_class_measure(
        &normal,
        test,
        class,
        &stats,
        settings.model.code_dim(),
        ae_scores,
    )
}

/// [`one_class`] with an ensemble of the anomaly preset ([`ensemble::train_ensemble`]; `base`
/// gives what the recipe does not) in place of the single autoencoder, and PCA at the preset's
/// code width ([`crate::preset::code_width`]) fitted on rows normalised as `base` says. Members
/// that diverge are dropped, with `warn` told why.
pub fn one_class_ensemble<B: Backend>(
    backend: &B,
    train: (&Matrix, &[i64]),
    test: (&Matrix, &[i64]),
    class: i64,
    recipe: &crate::preset::AnomalyPreset,
    base: &TrainSettings,
    warn: &mut dyn FnMut(&str),
) -> Result<OneClass> {
    let normal = class_rows(train, class)?;
    let source = MatrixSource::borrowed("the class's rows", &normal);
    let plans = recipe.plan(normal.cols);
    let trained = ensemble::train_ensemble(
        backend,
        &source,
        recipe,
        &plans,
        base,
        None,
        warn,
        &mut |_, _| {},
    )?;
    let ae_scores = trained.ensemble.scores(backend, test.0)?;
    let stats = NormStats::fit(base.normalization, &normal);
    let k = crate::preset::code_width(normal.cols);
    one_class_measure(&normal, test, class, &stats, k, ae_scores)
}

/// The rows of `train` labelled `class` (at least 2).
fn class_rows(train: (&Matrix, &[i64]), class: i64) -> Result<Matrix> {
    let rows: Vec<usize> = (0..train.0.rows).filter(|&i| train.1[i] == class).collect();
    if rows.len() < 2 {
        return Err(Error::Config(format!(
            "class {class} has {} training rows; at least 2 are needed",
            rows.len()
        )));
    }
    Ok(train.0.select_rows(&rows))
}

/// The one-class measures: the autoencoder's test scores `ae_scores` and those of a PCA with
/// `k` components fitted on the class's rows `normal` (both normalised by `stats`), against
/// `test`'s labels with `class` normal.
fn one_class_measure(
    normal: &Matrix,
    test: (&Matrix, &[i64]),
    class: i64,
    stats: &NormStats,
    k: usize,
    ae_scores: Vec<f64>,
) -> Result<OneClass> {
    let (mut normal_n, mut test_n) = (normal.clone(), test.0.clone());
    stats.apply(&mut normal_n)?;
    stats.apply(&mut test_n)?;
    let labels = anomaly::LabelRule::NormalIs(class).apply(test.1);
    let pca = Pca::fit(&normal_n, k.min(normal_n.rows - 1).max(1))?;
    let pca_scores = anomaly::row_errors(&test_n, &pca.reconstruct(&test_n)?)?;
    Ok(OneClass {
        class,
        train_rows: normal.rows,
        roc_auc_ae: metrics::roc_auc(&ae_scores, &labels)?,
        roc_auc_pca: metrics::roc_auc(&pca_scores, &labels)?,
    })
}
