//! Anomaly detection by reconstruction error: score rows, choose a threshold from a
//! contamination rate, predict, and measure against labels (ROC AUC, average precision,
//! precision/recall/F1 at the threshold. The one-class protocol, which trains models, is a
//! workflow ([`crate::workflow::one_class`]).
//!
//! ```
//! use ae::anomaly;
//! let scores = [0.1, 0.2, 0.15, 0.9];
//! let threshold = anomaly::threshold(&scores, 0.25).unwrap();
//! assert_eq!(anomaly::predict(&scores, threshold), vec![false, false, false, true]);
//! let labels = [false, false, false, true];
//! let eval = anomaly::evaluate(&scores, &labels, threshold).unwrap();
//! assert_eq!(eval.roc_auc, 1.0);
//! ```

use ae_core::metrics::{self, Confusion};
use ae_core::{Autoencoder, Backend, Error, Matrix, Output, Reconstruction, Result};

/// What a variational model's score of a row is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VaeScore {
    /// The negative ELBO: the reconstruction term plus the KL of `q(z | x)` from the prior
    /// ([`Autoencoder::negative_elbo`]).
    #[default]
    NegativeElbo,
    /// The negative log reconstruction probability (An & Cho 2015): the reconstruction term
    /// alone ([`Autoencoder::expected_reconstruction_loss`]).
    Reconstruction,
}

/// How a variational model's rows are scored: the negative ELBO under the training objective
/// or its reconstruction term alone (`score`), the reconstruction term averaged over `samples`
/// seeded draws of `z ~ q(z | x)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ElboScoring {
    /// The reconstruction term (the loss and reduction the model trained with).
    pub objective: Reconstruction,
    /// Draws per row.
    pub samples: usize,
    /// Seed of the draws.
    pub seed: u32,
    /// The negative ELBO or the reconstruction probability.
    pub score: VaeScore,
}

impl ElboScoring {
    /// Draws per row unless told otherwise.
    pub const DEFAULT_SAMPLES: usize = 10;
}

impl Default for ElboScoring {
    fn default() -> Self {
        ElboScoring {
            objective: Reconstruction::default(),
            samples: Self::DEFAULT_SAMPLES,
            seed: 0,
            score: VaeScore::NegativeElbo,
        }
    }
}

/// Per-row anomaly score of `x` (already normalised as the model expects), `[n, d] -> [n]`: the
/// mean squared reconstruction error of each row, or a variational model's negative ELBO
/// ([`ElboScoring::default`]: the MSE objective; see [`scores_with`]).
pub fn scores<B: Backend>(backend: &B, model: &Autoencoder<B>, x: &Matrix) -> Result<Vec<f64>> {
    scores_with(backend, model, x, ElboScoring::default())
}

/// [`scores`], a variational model's scored as `elbo` says.
pub fn scores_with<B: Backend>(
    backend: &B,
    model: &Autoencoder<B>,
    x: &Matrix,
    elbo: ElboScoring,
) -> Result<Vec<f64>> {
    if model.config().variational {
        let (objective, samples, seed) = (elbo.objective, elbo.samples, elbo.seed);
        return match elbo.score {
            VaeScore::NegativeElbo => model.negative_elbo(backend, x, objective, samples, seed),
            VaeScore::Reconstruction => {
                model.expected_reconstruction_loss(backend, x, objective, samples, seed)
            }
        };
    }
    let recon = model.map_rows(backend, x, Output::Reconstruction)?;
    row_errors(x, &recon)
}

/// Mean squared error of each row of `reconstruction` against `x`: `[n, d] -> [n]`.
pub fn row_errors(x: &Matrix, reconstruction: &Matrix) -> Result<Vec<f64>> {
    let d = x.cols.max(1) as f64;
    Ok(x.row_squared_errors(reconstruction)?
        .into_iter()
        .map(|e| e / d)
        .collect())
}

/// Squared error of every feature: `[n, d]`, each row summing to `d` times the row's score.
pub fn feature_errors(x: &Matrix, reconstruction: &Matrix) -> Result<Matrix> {
    if (x.rows, x.cols) != (reconstruction.rows, reconstruction.cols) {
        return Err(Error::Shape(
            "reconstruction and data differ in shape".into(),
        ));
    }
    let data = x
        .data
        .iter()
        .zip(&reconstruction.data)
        .map(|(a, b)| (a - b) * (a - b))
        .collect();
    Matrix::new(x.rows, x.cols, data)
}

/// The highest-scoring rows a report explains ([`TopRow`]).
pub const TOP_ROWS: usize = 5;

/// A high-scoring row and where its score comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct TopRow {
    /// Its number among the scored rows (from 0).
    pub row: usize,
    /// Its score.
    pub score: f64,
    /// The squared reconstruction error of each input column, in the model's normalised units
    /// ([`feature_errors`]).
    pub feature_errors: Vec<f64>,
}

impl TopRow {
    /// The rows `order` with their `scores` and their per-feature errors `errors`
    /// `[order.len(), d]`, row `k` of which is row `order[k]`'s.
    pub fn of(order: &[usize], scores: &[f64], errors: &Matrix) -> Vec<TopRow> {
        order
            .iter()
            .enumerate()
            .map(|(k, &row)| TopRow {
                row,
                score: scores[row],
                feature_errors: errors.row(k).iter().map(|&e| e as f64).collect(),
            })
            .collect()
    }
}

/// The rows of the `k` highest `scores`, highest first (equal scores: the earlier row first),
/// `[n] -> [min(k, n)]`.
///
/// ```
/// assert_eq!(ae::anomaly::highest(&[0.5, 2.0, 0.5, 9.0], 3), vec![3, 1, 0]);
/// assert_eq!(ae::anomaly::highest(&[1.0], 5), vec![0]);
/// ```
pub fn highest(scores: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

/// The threshold that flags a `contamination` fraction of `scores`: their
/// `(1 - contamination)` quantile. `contamination` must be in (0, 0.5].
pub fn threshold(scores: &[f64], contamination: f64) -> Result<f64> {
    metrics::threshold_for_contamination(scores, contamination)
}

/// `score > threshold` for each score.
pub fn predict(scores: &[f64], threshold: f64) -> Vec<bool> {
    scores.iter().map(|&s| s > threshold).collect()
}

/// Which labels mark an anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelRule {
    /// Rows labelled with this value are anomalies (default: 1).
    AnomalyIs(i64),
    /// Rows labelled with this value are normal; every other label is an anomaly.
    NormalIs(i64),
}

impl LabelRule {
    /// `true` for each anomalous label.
    pub fn apply(self, labels: &[i64]) -> Vec<bool> {
        labels
            .iter()
            .map(|&l| match self {
                LabelRule::AnomalyIs(v) => l == v,
                LabelRule::NormalIs(v) => l != v,
            })
            .collect()
    }
}

/// How well scores separate labelled anomalies.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Average precision (area under the precision-recall curve).
    pub average_precision: f64,
    /// Counts, precision, recall and F1 at the threshold.
    pub at_threshold: Confusion,
}

/// ROC AUC, average precision and the confusion at `threshold` of `scores` against `labels`.
pub fn evaluate(scores: &[f64], labels: &[bool], threshold: f64) -> Result<Evaluation> {
    Ok(Evaluation {
        roc_auc: metrics::roc_auc(scores, labels)?,
        average_precision: metrics::average_precision(scores, labels)?,
        at_threshold: metrics::confusion_at(scores, labels, threshold)?,
    })
}
