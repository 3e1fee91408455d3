//! Anomaly-detection metrics on per-sample scores (higher = more anomalous) and binary labels
//! (`true` = anomaly): ROC AUC, average precision, the ROC curve, a confusion matrix at a
//! threshold, and the quantile threshold that flags a chosen fraction of training scores.
//!
//! Every function checks its input: `scores` and `labels` of different lengths give
//! [`Error::Shape`]; NaN scores and a missing class (where the metric needs both) give
//! [`Error::Config`].

use ae_backend::{Error, Result};

/// Checks that `scores` and `labels` have the same length and that no score is NaN.
fn check(scores: &[f64], labels: &[bool]) -> Result<()> {
    if scores.len() != labels.len() {
        return Err(Error::Shape(format!(
            "{} scores but {} labels",
            scores.len(),
            labels.len()
        )));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(Error::Config(format!("score {i} is NaN")));
    }
    Ok(())
}

/// `(anomalies, normals)` in `labels`, erroring unless both are present.
fn both_classes(labels: &[bool]) -> Result<(usize, usize)> {
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(Error::Config(format!(
            "need both anomalies and normal samples, got {positives} anomalies and \
             {negatives} normal samples"
        )));
    }
    Ok((positives, negatives))
}

/// For each distinct score, from the highest down: `(tp, fp)`, the anomalies and normal samples
/// with a score at least that high.
fn cumulative_counts(scores: &[f64], labels: &[bool]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut counts = Vec::new();
    let (mut tp, mut fp) = (0, 0);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            counts.push((tp, fp));
        }
    }
    counts
}

/// Area under the ROC curve: the probability that a random anomaly scores higher than a random
/// normal sample, ties counting 1/2 (Mann-Whitney U with average ranks).
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    check(scores, labels)?;
    let (positives, negatives) = both_classes(labels)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the anomalies.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let value = scores[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| scores[i] == value)
                .count();
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        rank_sum += average_rank * tied_positives as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Average precision as in scikit-learn: `Σ_n (R_n - R_{n-1}) P_n` over the thresholds `n`
/// (the distinct scores, descending), where `P_n` and `R_n` are the precision and recall of
/// flagging every score `>=` the threshold. Needs at least one anomaly.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64> {
    check(scores, labels)?;
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 {
        return Err(Error::Config(
            "average precision needs at least one anomaly, got none".into(),
        ));
    }
    let mut ap = 0.0;
    let mut previous_recall = 0.0;
    for (tp, fp) in cumulative_counts(scores, labels) {
        let recall = tp as f64 / positives as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
    }
    Ok(ap)
}

/// The ROC curve as `(fpr, tpr)` points: `(0, 0)`, then one point per distinct score from the
/// highest down (flagging every score `>=` it), ending at `(1, 1)`. Needs both classes.
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Result<Vec<(f64, f64)>> {
    check(scores, labels)?;
    let (positives, negatives) = both_classes(labels)?;
    let points = cumulative_counts(scores, labels)
        .into_iter()
        .map(|(tp, fp)| (fp as f64 / negatives as f64, tp as f64 / positives as f64));
    Ok(std::iter::once((0.0, 0.0)).chain(points).collect())
}

/// The precision-recall curve as `(recall, precision)` points: `(0, 1)`, then one point per
/// distinct score from the highest down (flagging every score `>=` it), ending at recall 1 with
/// the anomalies' share as precision. Needs both classes.
pub fn pr_curve(scores: &[f64], labels: &[bool]) -> Result<Vec<(f64, f64)>> {
    check(scores, labels)?;
    let (positives, _) = both_classes(labels)?;
    let points = cumulative_counts(scores, labels)
        .into_iter()
        .map(|(tp, fp)| (tp as f64 / positives as f64, tp as f64 / (tp + fp) as f64));
    Ok(std::iter::once((0.0, 1.0)).chain(points).collect())
}

/// Counts and rates of the classifier "anomaly iff `score > threshold`".
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Confusion {
    /// The threshold; a score strictly above it is flagged.
    pub threshold: f64,
    /// Anomalies flagged.
    pub tp: usize,
    /// Normal samples flagged.
    pub fp: usize,
    /// Normal samples not flagged.
    pub tn: usize,
    /// Anomalies not flagged.
    pub fn_: usize,
    /// `tp / (tp + fp)`, or 0 when nothing is flagged.
    pub precision: f64,
    /// `tp / (tp + fn)`, or 0 when there are no anomalies.
    pub recall: f64,
    /// `2 p r / (p + r)`, or 0 when `p + r = 0`.
    pub f1: f64,
}

/// The [`Confusion`] of flagging every score `> threshold`. Errors on a NaN threshold.
pub fn confusion_at(scores: &[f64], labels: &[bool], threshold: f64) -> Result<Confusion> {
    check(scores, labels)?;
    if threshold.is_nan() {
        return Err(Error::Config("threshold is NaN".into()));
    }
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    for (&score, &label) in scores.iter().zip(labels) {
        match (score > threshold, label) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Ok(Confusion {
        threshold,
        tp,
        fp,
        tn,
        fn_,
        precision,
        recall,
        f1,
    })
}

/// The `q`-quantile of `values`, interpolating linearly between order statistics (numpy's
/// default): with `v` sorted and `h = (len - 1) q`, `v[⌊h⌋] + (h - ⌊h⌋)(v[⌊h⌋ + 1] - v[⌊h⌋])`.
/// Errors on empty input, NaN values, or `q` outside `[0, 1]`.
pub fn quantile(values: &[f64], q: f64) -> Result<f64> {
    if values.is_empty() {
        return Err(Error::Config("quantile of no values".into()));
    }
    if !(0.0..=1.0).contains(&q) {
        return Err(Error::Config(format!(
            "quantile must be in [0, 1], got {q}"
        )));
    }
    if let Some(i) = values.iter().position(|v| v.is_nan()) {
        return Err(Error::Config(format!("value {i} is NaN")));
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let h = (sorted.len() - 1) as f64 * q;
    let below = h.floor() as usize;
    let fraction = h - below as f64;
    let low = sorted[below];
    if fraction == 0.0 {
        return Ok(low);
    }
    let high = sorted[below + 1];
    Ok(if low == high {
        low
    } else {
        low + fraction * (high - low)
    })
}

/// The threshold that flags a fraction `contamination` of the training scores: their
/// `(1 - contamination)` quantile (see [`quantile`]). `contamination` must be in `(0, 0.5]`.
pub fn threshold_for_contamination(train_scores: &[f64], contamination: f64) -> Result<f64> {
    if !(contamination > 0.0 && contamination <= 0.5) {
        return Err(Error::Config(format!(
            "contamination must be in (0, 0.5], got {contamination}"
        )));
    }
    quantile(train_scores, 1.0 - contamination)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: bool = false;
    const T: bool = true;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn auc_extremes_and_ties() {
        let labels = [F, F, T, T];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.3, 0.4], &labels).unwrap(), 1.0);
        assert_eq!(roc_auc(&[0.4, 0.3, 0.2, 0.1], &labels).unwrap(), 0.0);
        assert_eq!(roc_auc(&[0.7; 4], &labels).unwrap(), 0.5);
        // Pairs (anomaly, normal): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes -> 3/4.
        assert!(close(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &labels).unwrap(),
            0.75
        ));
        // Anomalies {0.5, 0.9}, normals {0.5, 0.2}: 0.5 vs 0.5 ties (1/2), the other three
        // pairs are won -> 3.5/4.
        assert!(close(
            roc_auc(&[0.5, 0.5, 0.2, 0.9], &[T, F, F, T]).unwrap(),
            0.875
        ));
    }

    #[test]
    fn auc_equals_area_under_roc_curve() {
        let scores = [0.3, 0.1, 0.9, 0.3, 0.5, 0.5, 0.2, 0.8, 0.3, 0.6];
        let labels = [T, F, T, F, F, T, F, T, T, F];
        let curve = roc_curve(&scores, &labels).unwrap();
        let trapezoids: f64 = curve
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert!(close(roc_auc(&scores, &labels).unwrap(), trapezoids));
    }

    #[test]
    fn average_precision_matches_sklearn() {
        // sklearn's docstring example: descending scores 0.8 (anomaly), 0.4 (normal),
        // 0.35 (anomaly), 0.1 (normal). Thresholds give (R, P): (1/2, 1), (1/2, 1/2),
        // (1, 2/3), (1, 1/2), so AP = 1/2 * 1 + 0 + 1/2 * 2/3 + 0 = 0.8333...
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[F, F, T, T]).unwrap();
        assert!(close(ap, 5.0 / 6.0), "{ap}");
        // Both anomalies on top: AP = 1.
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[F, T, F, T]).unwrap();
        assert!(close(ap, 1.0), "{ap}");
        // Ties form one threshold: 0.9 -> (R, P) = (1/2, 1); 0.5 (one of each) -> (1, 2/3);
        // AP = 1/2 + 1/2 * 2/3 = 0.8333... (sklearn agrees).
        let ap = average_precision(&[0.5, 0.5, 0.2, 0.9], &[T, F, F, T]).unwrap();
        assert!(close(ap, 5.0 / 6.0), "{ap}");
        // All tied: a single threshold with P = base rate.
        let ap = average_precision(&[1.0; 4], &[T, F, F, F]).unwrap();
        assert!(close(ap, 0.25), "{ap}");
    }

    #[test]
    fn pr_curve_has_a_point_per_distinct_score_and_ends_at_the_base_rate() {
        let scores = [0.3, 0.1, 0.9, 0.3, 0.5, 0.5, 0.2];
        let labels = [T, F, T, F, F, T, F];
        let curve = pr_curve(&scores, &labels).unwrap();
        assert_eq!(curve.len(), 6);
        assert_eq!(curve[0], (0.0, 1.0));
        // Flagging 0.9: one anomaly of 3, precision 1; flagging >= 0.5: 2 of 3 found, 2 of 3
        // flagged right; everything: recall 1 at the base rate 3/7.
        assert_eq!(curve[1], (1.0 / 3.0, 1.0));
        assert_eq!(curve[2], (2.0 / 3.0, 2.0 / 3.0));
        assert_eq!(curve[5], (1.0, 3.0 / 7.0));
        assert!(pr_curve(&[0.1, 0.2], &[F, F]).is_err());
    }

    #[test]
    fn roc_curve_runs_from_origin_to_corner_monotonically() {
        let scores = [0.3, 0.1, 0.9, 0.3, 0.5, 0.5, 0.2];
        let labels = [T, F, T, F, F, T, F];
        let curve = roc_curve(&scores, &labels).unwrap();
        assert_eq!(curve.first(), Some(&(0.0, 0.0)));
        assert_eq!(curve.last(), Some(&(1.0, 1.0)));
        // Distinct scores: 0.9, 0.5, 0.3, 0.2, 0.1 -> 5 points after the origin.
        assert_eq!(curve.len(), 6);
        assert!(curve
            .windows(2)
            .all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1));
        // At 0.5: anomalies 0.9, 0.5 of 3; normals 0.5 of 4.
        assert_eq!(curve[2], (0.25, 2.0 / 3.0));
    }

    #[test]
    fn confusion_counts_and_rates() {
        let scores = [0.9, 0.8, 0.7, 0.2, 0.1, 0.5];
        let labels = [T, F, T, T, F, F];
        let c = confusion_at(&scores, &labels, 0.5).unwrap();
        // Flagged (> 0.5): 0.9 (T), 0.8 (F), 0.7 (T); 0.5 itself is not flagged.
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 1, 2, 1));
        assert!(close(c.precision, 2.0 / 3.0) && close(c.recall, 2.0 / 3.0));
        assert!(close(c.f1, 2.0 / 3.0));
        assert_eq!(c.threshold, 0.5);
        let none = confusion_at(&scores, &labels, 1.0).unwrap();
        assert_eq!((none.tp, none.fp, none.tn, none.fn_), (0, 0, 3, 3));
        assert_eq!((none.precision, none.recall, none.f1), (0.0, 0.0, 0.0));
        let json = serde_json::to_value(c).unwrap();
        assert_eq!(json["fn_"], 1);
    }

    #[test]
    fn quantile_matches_numpy() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&v, 0.25).unwrap(), 1.75);
        assert_eq!(quantile(&v, 0.5).unwrap(), 2.5);
        assert_eq!(quantile(&v, 1.0).unwrap(), 4.0);
        assert_eq!(quantile(&v, 0.0).unwrap(), 1.0);
        assert_eq!(quantile(&[7.0], 0.3).unwrap(), 7.0);
        // np.quantile([0, 10, 10, 20, 100], 0.9) == 68.0: h = 3.6, 20 + 0.6 * 80
        assert!(close(
            quantile(&[100.0, 0.0, 10.0, 20.0, 10.0], 0.9).unwrap(),
            68.0
        ));
        assert!(quantile(&[], 0.5).is_err());
        assert!(quantile(&v, 1.5).is_err());
        assert!(quantile(&v, -0.1).is_err());
        assert!(quantile(&v, f64::NAN).is_err());
        assert!(quantile(&[1.0, f64::NAN], 0.5).is_err());
    }

    #[test]
    fn contamination_threshold() {
        let train: Vec<f64> = (0..=100).map(f64::from).collect();
        assert!(close(
            threshold_for_contamination(&train, 0.05).unwrap(),
            95.0
        ));
        let flagged = train.iter().filter(|&&s| s > 95.0).count();
        assert_eq!(flagged, 5);
        for bad in [0.0, 0.6, -0.1, f64::NAN] {
            let err = threshold_for_contamination(&train, bad).unwrap_err();
            assert!(matches!(err, Error::Config(_)));
            assert!(
                err.to_string()
                    .contains(&format!("contamination must be in (0, 0.5], got {bad}")),
                "{err}"
            );
        }
        assert!(threshold_for_contamination(&train, 0.5).is_ok());
    }

    #[test]
    fn bad_inputs_are_errors() {
        let shape = |r: Result<f64>| matches!(r, Err(Error::Shape(_)));
        let config = |r: Result<f64>| matches!(r, Err(Error::Config(_)));
        assert!(shape(roc_auc(&[0.1, 0.2], &[T])));
        assert!(shape(average_precision(&[0.1], &[T, F])));
        assert!(matches!(roc_curve(&[0.1], &[T, F]), Err(Error::Shape(_))));
        assert!(matches!(
            confusion_at(&[0.1], &[T, F], 0.0),
            Err(Error::Shape(_))
        ));
        assert!(config(roc_auc(&[0.1, 0.2], &[T, T])));
        assert!(config(roc_auc(&[0.1, 0.2], &[F, F])));
        assert!(config(roc_auc(&[], &[])));
        assert!(config(average_precision(&[0.1, 0.2], &[F, F])));
        assert!(matches!(
            roc_curve(&[0.1, 0.2], &[F, F]),
            Err(Error::Config(_))
        ));
        assert!(config(roc_auc(&[0.1, f64::NAN], &[T, F])));
        assert!(config(average_precision(&[f64::NAN, 0.1], &[T, F])));
        assert!(matches!(
            confusion_at(&[0.1, 0.2], &[T, F], f64::NAN),
            Err(Error::Config(_))
        ));
    }
}
