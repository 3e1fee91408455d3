//! The code metrics reported per epoch and by the report ([`CodeMetrics`]: MSE, FVU, L0, dead and
//! dense latents, the firing-frequency histogram, ...), accumulated a chunk of rows at a time.

use crate::sparsity::ACTIVE_THRESHOLD;
use crate::{Error, Matrix, Result};

/// Statistics of a model's code and reconstruction over a data set, reported per epoch.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CodeMetrics {
    /// Mean squared reconstruction error per element.
    pub mse: f64,
    /// Fraction of variance unexplained: SSE over the sum of squared deviations from the
    /// feature means.
    pub fvu: f64,
    /// Mean number of active units (activation above [`ACTIVE_THRESHOLD`]) per sample.
    pub l0: f64,
    /// Units never active over the data set.
    pub dead_latents: usize,
    /// Mean over units of each unit's mean activation.
    pub mean_activation: f64,
    /// Each unit's mean activation `[code_dim]`.
    pub unit_means: Vec<f64>,
    /// Mean over samples of the cosine between a sample and its reconstruction.
    pub cosine_similarity: f64,
    /// Mean over samples of `|x_hat| / |x|`.
    pub l2_ratio: f64,
    /// Relative reconstruction bias (Wright and Sharkey 2024): `sum |x_hat|^2 / sum x . x_hat`,
    /// the `gamma` that best rescales the reconstructions (1: unbiased; below 1: shrunk).
    pub relative_reconstruction_bias: f64,
    /// Units active on more than [`DENSE_FREQUENCY`] of the samples.
    pub dense_latents: usize,
    /// Units by firing frequency: never, then below 1e-6, [1e-6, 1e-5), ..., [1e-1, 1]
    /// ([`DENSITY_BINS`] counts).
    pub density_histogram: Vec<usize>,
    /// The FVU of the reconstruction from each code prefix (Matryoshka models, or wherever
    /// [`CodeMetricsAccumulator::add_prefixes`] was fed); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix_fvu: Vec<PrefixFvu>,
}

/// The fraction of variance unexplained by the reconstruction from the first `prefix` code
/// units ([`crate::Autoencoder::prefix_reconstructions`]).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrefixFvu {
    /// Code units read.
    pub prefix: usize,
    /// SSE of that reconstruction over the data's squared deviations from the feature means.
    pub fvu: f64,
}

/// A unit firing on more than this fraction of the samples counts as dense.
pub const DENSE_FREQUENCY: f64 = 0.1;
/// Bins of [`CodeMetrics::density_histogram`].
pub const DENSITY_BINS: usize = 8;

/// The bin of [`CodeMetrics::density_histogram`] of a firing frequency in `[0, 1]`.
pub fn density_bin(frequency: f64) -> usize {
    if frequency <= 0.0 {
        return 0;
    }
    // log10 below -6 is bin 1; [-6, -5) bin 2; ...; [-1, 0] bin 7.
    let decade = frequency.log10().floor() as i64;
    (decade + 8).clamp(1, DENSITY_BINS as i64 - 1) as usize
}

impl CodeMetrics {
    /// The metrics of codes `[n, code_dim]` and reconstructions `[n, d]` of data `x` `[n, d]`.
    pub fn compute(x: &Matrix, code: &Matrix, reconstruction: &Matrix) -> Result<CodeMetrics> {
        let mut acc = CodeMetricsAccumulator::new(x.cols, code.cols);
        acc.add(x, code, reconstruction)?;
        acc.finish()
    }

    /// The largest `|mean activation - rho|` over units.
    pub fn max_abs_rho_error(&self, rho: f64) -> f64 {
        self.unit_means
            .iter()
            .map(|m| (m - rho).abs())
            .fold(0.0, f64::max)
    }
}

/// [`CodeMetrics`] over data seen a chunk at a time, so that no more than one chunk's codes and
/// reconstructions are held: the squared errors, each feature's mean and squared deviations (in
/// f64, chunks merged by Chan et al.'s rule), each unit's sum and active count.
#[derive(Clone, Debug)]
pub struct CodeMetricsAccumulator {
    rows: usize,
    sse: f64,
    feature_mean: Vec<f64>,
    feature_m2: Vec<f64>,
    unit_sums: Vec<f64>,
    active: Vec<usize>,
    /// Sums over samples of the cosine and the norm ratio; sums of `|x_hat|^2` and `x . x_hat`.
    cosine: f64,
    ratio: f64,
    recon_sq: f64,
    dot: f64,
    /// Prefix ends and the squared errors of their reconstructions.
    prefixes: Vec<usize>,
    prefix_sse: Vec<f64>,
}

impl CodeMetricsAccumulator {
    /// Nothing seen yet, for data of `d` features and codes of `code_dim` units.
    pub fn new(d: usize, code_dim: usize) -> Self {
        CodeMetricsAccumulator {
            rows: 0,
            sse: 0.0,
            feature_mean: vec![0.0; d],
            feature_m2: vec![0.0; d],
            unit_sums: vec![0.0; code_dim],
            active: vec![0; code_dim],
            cosine: 0.0,
            ratio: 0.0,
            recon_sq: 0.0,
            dot: 0.0,
            prefixes: Vec::new(),
            prefix_sse: Vec::new(),
        }
    }

    /// Adds the reconstructions `[k, d]` of a chunk `x` `[k, d]` from the code prefixes
    /// `prefixes` (one each, in order), after [`CodeMetricsAccumulator::add`] of the same chunk;
    /// every chunk must give the same prefixes.
    pub fn add_prefixes(
        &mut self,
        x: &Matrix,
        prefixes: &[usize],
        recons: &[Matrix],
    ) -> Result<()> {
        if self.prefix_sse.is_empty() {
            self.prefixes = prefixes.to_vec();
            self.prefix_sse = vec![0.0; prefixes.len()];
        }
        if self.prefixes != prefixes || recons.len() != prefixes.len() {
            return Err(Error::Shape(format!(
                "prefix metrics of prefixes {:?}, given {prefixes:?} and {} reconstructions",
                self.prefixes,
                recons.len()
            )));
        }
        for (sse, r) in self.prefix_sse.iter_mut().zip(recons) {
            *sse += x.row_squared_errors(r)?.iter().sum::<f64>();
        }
        Ok(())
    }

    /// Adds a chunk: data `x` `[k, d]`, its codes `[k, code_dim]` and reconstructions `[k, d]`.
    pub fn add(&mut self, x: &Matrix, code: &Matrix, reconstruction: &Matrix) -> Result<()> {
        let d = self.feature_mean.len();
        if code.rows != x.rows || x.cols != d || code.cols != self.unit_sums.len() {
            return Err(Error::Shape(format!(
                "code metrics of [n, {d}] data and [n, {}] codes, given [{}, {}] and [{}, {}]",
                self.unit_sums.len(),
                x.rows,
                x.cols,
                code.rows,
                code.cols
            )));
        }
        if x.rows == 0 {
            return Ok(());
        }
        self.sse += x.row_squared_errors(reconstruction)?.iter().sum::<f64>();
        for r in 0..x.rows {
            let (a, b) = (x.row(r), reconstruction.row(r));
            let (mut xx, mut yy, mut xy) = (0.0f64, 0.0f64, 0.0f64);
            for (&u, &v) in a.iter().zip(b) {
                let (u, v) = (u as f64, v as f64);
                (xx, yy, xy) = (xx + u * u, yy + v * v, xy + u * v);
            }
            let norms = (xx * yy).sqrt();
            // A zero sample or reconstruction has no direction: its cosine counts as 0.
            self.cosine += if norms > 0.0 { xy / norms } else { 0.0 };
            self.ratio += if xx > 0.0 { (yy / xx).sqrt() } else { 0.0 };
            self.recon_sq += yy;
            self.dot += xy;
        }
        let (n, k) = (self.rows as f64, x.rows as f64);
        for (c, mean) in x.column_means().into_iter().enumerate() {
            let m2: f64 = (0..x.rows)
                .map(|r| (x.data[r * d + c] as f64 - mean).powi(2))
                .sum();
            let delta = mean - self.feature_mean[c];
            self.feature_mean[c] += delta * k / (n + k);
            self.feature_m2[c] += m2 + delta * delta * n * k / (n + k);
        }
        for r in 0..code.rows {
            for (j, &v) in code.row(r).iter().enumerate() {
                self.unit_sums[j] += v as f64;
                if v > ACTIVE_THRESHOLD {
                    self.active[j] += 1;
                }
            }
        }
        self.rows += x.rows;
        Ok(())
    }

    /// The metrics of everything added; an error when nothing was.
    pub fn finish(&self) -> Result<CodeMetrics> {
        if self.rows == 0 {
            return Err(Error::Shape("code metrics of no samples".into()));
        }
        let n = self.rows as f64;
        let sst: f64 = self.feature_m2.iter().sum();
        let unit_means: Vec<f64> = self.unit_sums.iter().map(|s| s / n).collect();
        let code_dim = unit_means.len();
        let mut density_histogram = vec![0; DENSITY_BINS];
        for &a in &self.active {
            density_histogram[density_bin(a as f64 / n)] += 1;
        }
        Ok(CodeMetrics {
            mse: self.sse / (n * self.feature_mean.len().max(1) as f64),
            fvu: self.sse / sst.max(f64::MIN_POSITIVE),
            l0: self.active.iter().sum::<usize>() as f64 / n,
            dead_latents: self.active.iter().filter(|&&a| a == 0).count(),
            mean_activation: unit_means.iter().sum::<f64>() / code_dim.max(1) as f64,
            unit_means,
            cosine_similarity: self.cosine / n,
            l2_ratio: self.ratio / n,
            relative_reconstruction_bias: match self.dot {
                0.0 => f64::NAN,
                dot => self.recon_sq / dot,
            },
            dense_latents: self
                .active
                .iter()
                .filter(|&&a| a as f64 / n > DENSE_FREQUENCY)
                .count(),
            density_histogram,
            prefix_fvu: self
                .prefixes
                .iter()
                .zip(&self.prefix_sse)
                .map(|(&prefix, sse)| PrefixFvu {
                    prefix,
                    fvu: sse / sst.max(f64::MIN_POSITIVE),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_a_known_code() {
        let x = Matrix::new(2, 2, vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let recon = Matrix::new(2, 2, vec![0.0, 1.0, 2.0, 2.0]).unwrap();
        let code = Matrix::new(2, 3, vec![0.5, 0.0, 0.0, 0.5, 0.0, 1.0]).unwrap();
        let m = CodeMetrics::compute(&x, &code, &recon).unwrap();
        assert_eq!(m.l0, 1.5);
        assert_eq!(m.dead_latents, 1);
        assert!((m.mse - 0.25).abs() < 1e-12);
        // SST = 2 * (1 + 1) = 4, SSE = 1.
        assert!((m.fvu - 0.25).abs() < 1e-12);
        assert_eq!(m.unit_means, vec![0.5, 0.0, 0.5]);
        assert!((m.max_abs_rho_error(0.1) - 0.4).abs() < 1e-12);
        assert!(m.prefix_fvu.is_empty());
        // Prefix reconstructions, all zeros and x itself, over SST 4.
        let mut acc = CodeMetricsAccumulator::new(2, 3);
        acc.add(&x, &code, &recon).unwrap();
        let zeros = Matrix::zeros(2, 2);
        acc.add_prefixes(&x, &[1, 3], &[zeros, x.clone()]).unwrap();
        let fvus: Vec<(usize, f64)> = acc
            .finish()
            .unwrap()
            .prefix_fvu
            .iter()
            .map(|p| (p.prefix, p.fvu))
            .collect();
        // SSE of zeros = 0 + 1 + 4 + 9 = 14.
        assert_eq!(fvus, vec![(1, 14.0 / 4.0), (3, 0.0)]);
        assert!(acc
            .add_prefixes(&x, &[2, 3], &[x.clone(), x.clone()])
            .is_err());
    }

    #[test]
    fn chunked_metrics_equal_the_whole() {
        let x = Matrix::new(5, 2, (0..10).map(|i| (i * i) as f32 * 0.1).collect()).unwrap();
        let recon = Matrix::new(5, 2, (0..10).map(|i| i as f32 * 0.7).collect()).unwrap();
        let code = Matrix::new(
            5,
            3,
            (0..15).map(|i| ((i % 4) as f32 - 1.0).max(0.0)).collect(),
        )
        .unwrap();
        let whole = CodeMetrics::compute(&x, &code, &recon).unwrap();
        let mut acc = CodeMetricsAccumulator::new(2, 3);
        for rows in [&[0usize, 1][..], &[2], &[3, 4]] {
            acc.add(
                &x.select_rows(rows),
                &code.select_rows(rows),
                &recon.select_rows(rows),
            )
            .unwrap();
        }
        let parts = acc.finish().unwrap();
        assert_eq!(
            (parts.l0, parts.dead_latents),
            (whole.l0, whole.dead_latents)
        );
        for (a, b) in [(parts.mse, whole.mse), (parts.fvu, whole.fvu)] {
            assert!((a - b).abs() < 1e-12 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert!(CodeMetricsAccumulator::new(2, 3).finish().is_err());
    }

    #[test]
    fn reconstruction_metrics_of_a_known_pair() {
        let x = Matrix::new(2, 2, vec![1.0, 0.0, 0.0, 2.0]).unwrap();
        let recon = Matrix::new(2, 2, vec![2.0, 0.0, 0.0, 1.0]).unwrap();
        // Unit 0 fires on both samples, unit 1 on one, unit 2 on none.
        let code = Matrix::new(2, 3, vec![1.0, 1.0, 0.0, 1.0, 0.0, 0.0]).unwrap();
        let m = CodeMetrics::compute(&x, &code, &recon).unwrap();
        assert_eq!(m.cosine_similarity, 1.0);
        assert_eq!(m.l2_ratio, 1.25);
        // sum |x_hat|^2 = 5, sum x . x_hat = 4.
        assert_eq!(m.relative_reconstruction_bias, 1.25);
        assert_eq!(m.dense_latents, 2);
        assert_eq!(m.density_histogram, vec![1, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(density_bin(0.0), 0);
        assert_eq!(density_bin(1e-9), 1);
        assert_eq!(density_bin(3e-6), 2);
        assert_eq!(density_bin(0.05), 6);
        assert_eq!(density_bin(1.0), 7);
    }
}
