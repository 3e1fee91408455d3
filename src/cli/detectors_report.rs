//! The report of `ae compare-detectors --report DIR`: each detector's score histogram of
//! normal against anomalous test rows, the ROC and precision-recall curves of every detector in
//! one chart each, and the per-feature errors of the preset's top anomalies
//! ([`super::contributions`]).

use ae::report::Report;
use ae::workflow::detectors::DetectorResult;
use ae::{chart, Result};
use ae_core::metrics;
use std::path::PathBuf;

/// Writes the report into `dir`; returns its index.html. `train` and `test` are the data files
/// the detectors were fitted and scored on.
pub fn write(
    dir: &std::path::Path,
    (train, test): (&std::path::Path, &std::path::Path),
    results: &[DetectorResult],
    labels: &[bool],
    names: Option<&[String]>,
) -> Result<PathBuf> {
    let mut r = Report::new(dir, "ae compare-detectors")?;
    r.setting("train", train.display());
    r.setting("test", test.display());
    r.metric("test rows", labels.len());
    r.metric("anomalies", labels.iter().filter(|&&l| l).count());
    for d in results {
        r.metric(
            &d.detector,
            format!("ROC AUC {:.4}, AP {:.4}", d.roc_auc, d.average_precision),
        );
    }
    let mut roc = Vec::new();
    let mut pr = Vec::new();
    for d in results {
        roc.push((
            d.detector.clone(),
            metrics::roc_curve(&d.scores, labels)?,
            d.roc_auc,
        ));
        pr.push(chart::Series {
            name: format!("{} AP {:.3}", d.detector, d.average_precision),
            points: metrics::pr_curve(&d.scores, labels)?,
        });
    }
    r.chart(
        "roc.svg",
        "ROC curves of every detector",
        &chart::roc_chart("ROC curves", &roc)?,
    )?;
    r.chart(
        "pr.svg",
        "Precision-recall curves of every detector",
        &chart::line_chart("Precision-recall", "recall", "precision", &pr, false)?,
    )?;
    for (i, d) in results.iter().enumerate() {
        let of = |anomaly: bool| -> Vec<f64> {
            (d.scores.iter().zip(labels))
                .filter(|(_, &l)| l == anomaly)
                .map(|(&s, _)| s)
                .collect()
        };
        let (normal, anomalous) = (of(false), of(true));
        let hist = chart::histogram(
            &format!("Scores: {}", d.detector),
            "score",
            &[("normal", &normal), ("anomalous", &anomalous)],
            40,
            None,
        )?;
        r.chart(
            &format!("scores-{}.svg", i + 1),
            &format!("{}: scores of normal and anomalous test rows", d.detector),
            &hist,
        )?;
    }
    if let Some(d) = results.iter().find(|d| !d.top_rows.is_empty()) {
        super::contributions::add(&mut r, &d.detector, &d.top_rows, names)?;
    }
    r.write()
}
