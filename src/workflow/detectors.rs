//! Anomaly detectors side by side on the same rows ([`compare_detectors`]): the anomaly preset's
//! ensemble, a single autoencoder of the same recipe, PCA's reconstruction error at `k`
//! components, PCA's full-spectrum score (Shyu et al. 2003, PyOD's `PCA`), and the distance to
//! the k-th nearest training row (PyOD's `KNN`). Each is fitted on the training rows, which may
//! hold unlabelled anomalies, and scores the test rows; ROC AUC and average precision are
//! measured against the test labels. Every pass reads the rows a chunk at a time.

use super::ensemble::train_ensemble;
use super::TrainSettings;
use crate::anomaly::{TopRow, TOP_ROWS};
use crate::preset::{code_width, AnomalyPreset};
use ae_core::data::normalize::{NormStats, Normalization};
use ae_core::data::RowSource;
use ae_core::knn::KthNeighbour;
use ae_core::pca::CovarianceAccumulator;
use ae_core::{metrics, Backend, Error, Matrix, Result};
use std::path::Path;
use std::time::Instant;

/// Training rows read at a time.
const CHUNK_ROWS: usize = 4096;

/// Test rows whose neighbours are searched at once (one block times one training chunk of
/// distances is held).
const QUERY_ROWS: usize = 1024;

/// What [`compare_detectors`] runs.
#[derive(Clone, Debug)]
pub struct DetectorSettings {
    /// The ensemble's recipe (the single autoencoder is its first member alone).
    pub preset: AnomalyPreset,
    /// PCA components for the reconstruction error (default: the preset's code width).
    pub pca_k: Option<usize>,
    /// The k of the k-nearest-neighbour distance.
    pub knn_k: usize,
}

/// One detector's result.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DetectorResult {
    /// Its name, with its parameter (`pca-recon k=5`).
    pub detector: String,
    /// ROC AUC on the test rows.
    pub roc_auc: f64,
    /// Average precision on the test rows.
    pub average_precision: f64,
    /// Wall time of fitting and scoring.
    pub seconds: f64,
    /// Its score of each test row (not printed; for the report's charts).
    #[serde(skip)]
    pub scores: Vec<f64>,
    /// The single autoencoder's [`TOP_ROWS`] highest-scoring test rows with their per-feature
    /// errors; empty for the other detectors (not printed).
    #[serde(skip)]
    pub top_rows: Vec<TopRow>,
}

/// Fits every detector on `train` and scores `test` (the same columns), measured against
/// `labels` (`true` = anomaly, one per test row). The two autoencoder models are saved in
/// `out/preset` and `out/autoencoder` (ordinary `ae score` models).
pub fn compare_detectors<B: Backend>(
    backend: &B,
    train: &dyn RowSource,
    test: &dyn RowSource,
    labels: &[bool],
    settings: &DetectorSettings,
    out: &Path,
) -> Result<Vec<DetectorResult>> {
    if train.cols() != test.cols() {
        return Err(Error::Shape(format!(
            "{} has {} columns but {} has {}",
            train.path().display(),
            train.cols(),
            test.path().display(),
            test.cols()
        )));
    }
    if labels.len() != test.rows() {
        return Err(Error::Shape(format!(
            "{} labels for the {} rows of {}",
            labels.len(),
            test.rows(),
            test.path().display()
        )));
    }
    let measure = |name: String, started: Instant, scores: Vec<f64>| -> Result<DetectorResult> {
        Ok(DetectorResult {
            detector: name,
            roc_auc: metrics::roc_auc(&scores, labels)?,
            average_precision: metrics::average_precision(&scores, labels)?,
            seconds: started.elapsed().as_secs_f64(),
            scores,
            top_rows: Vec::new(),
        })
    };
    let d = train.cols();
    let mut results = Vec::new();
    let single = AnomalyPreset {
        members: 1,
        ..settings.preset.clone()
    };
    for (name, recipe, dir) in [
        (
            format!("preset ({} members)", settings.preset.members),
            &settings.preset,
            "preset",
        ),
        ("autoencoder".to_string(), &single, "autoencoder"),
    ] {
        let started = Instant::now();
        let plans = recipe.plan(d);
        let base = TrainSettings {
            normalization: recipe.normalization,
            val_split: recipe.val_split,
            ..TrainSettings::new(
                recipe.model_config(&plans[0])?,
                recipe.train_config(&plans[0]),
            )
        };
        let trained = train_ensemble(
            backend,
            train,
            recipe,
            &plans,
            &base,
            Some(&out.join(dir)),
            &mut |w| eprintln!("warning: {w}"),
            &mut |_, _| {},
        )?;
        let scores = chunked_scores(test, &mut |x| trained.ensemble.scores(backend, x))?;
        let mut result = measure(name, started, scores)?;
        if dir == "autoencoder" {
            let ensemble = &trained.ensemble;
            result.top_rows = ensemble.top_rows(backend, test, &result.scores, TOP_ROWS)?;
        }
        results.push(result);
    }

    // The linear and distance baselines on standardised rows, as PyOD's scripts give them.
    let all: Vec<u32> = (0..train.rows() as u32).collect();
    let stats = NormStats::fit_source(Normalization::Standard, train, &all)?;
    let normalised = |m: Matrix| -> Result<Matrix> {
        let mut m = m;
        stats.apply(&mut m)?;
        Ok(m)
    };
    let started = Instant::now();
    let mut cov = CovarianceAccumulator::new(d)?;
    for start in (0..train.rows()).step_by(CHUNK_ROWS) {
        cov.push(&normalised(
            train.read(start, CHUNK_ROWS.min(train.rows() - start))?,
        )?)?;
    }
    let fit_seconds = started.elapsed().as_secs_f64();
    let k = settings.pca_k.unwrap_or_else(|| code_width(d)).min(d);
    let pca = cov.finish(k)?;
    let scores = chunked_scores(test, &mut |x| {
        pca.reconstruction_errors(&normalised(x.clone())?)
    })?;
    results.push(measure(format!("pca-recon k={k}"), started, scores)?);
    let started = Instant::now();
    let full = cov.finish(d)?;
    let scores = chunked_scores(test, &mut |x| full.spectrum_scores(&normalised(x.clone())?))?;
    let mut r = measure("pca-spectrum".into(), started, scores)?;
    r.seconds += fit_seconds;
    results.push(r);

    let started = Instant::now();
    let mut scores = Vec::with_capacity(test.rows());
    for qs in (0..test.rows()).step_by(QUERY_ROWS) {
        let queries = normalised(test.read(qs, QUERY_ROWS.min(test.rows() - qs))?)?;
        let mut knn = KthNeighbour::new(&queries, settings.knn_k)?;
        for start in (0..train.rows()).step_by(CHUNK_ROWS) {
            knn.push(&normalised(
                train.read(start, CHUNK_ROWS.min(train.rows() - start))?,
            )?)?;
        }
        scores.extend(knn.finish()?);
    }
    results.push(measure(
        format!("knn k={}", settings.knn_k),
        started,
        scores,
    )?);
    Ok(results)
}

/// `score` applied to `source`'s rows a chunk at a time, `[n]`.
fn chunked_scores(
    source: &dyn RowSource,
    score: &mut dyn FnMut(&Matrix) -> Result<Vec<f64>>,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(source.rows());
    for start in (0..source.rows()).step_by(CHUNK_ROWS) {
        out.extend(score(
            &source.read(start, CHUNK_ROWS.min(source.rows() - start))?,
        )?);
    }
    Ok(out)
}
