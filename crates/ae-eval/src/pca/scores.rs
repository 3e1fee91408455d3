//! PCA's two anomaly scores: the reconstruction error from the kept components, and the
//! full-spectrum score of Shyu et al. (2003) that PyOD's `PCA` uses, each component's squared
//! projection divided by its variance (the Mahalanobis distance in the PCA basis).

use super::Pca;
use ae_backend::{Matrix, Result};

/// Components whose variance is at most this fraction of the largest are left out of
/// [`Pca::spectrum_scores`]: directions the training rows do not vary in (a constant column)
/// would divide by zero, or by rounding.
pub const SPECTRUM_FLOOR: f64 = 1e-9;

impl Pca {
    /// Mean squared error of each row's reconstruction from the components,
    /// `[n, d] -> [n]` (the autoencoder's score, for the linear model).
    pub fn reconstruction_errors(&self, x: &Matrix) -> Result<Vec<f64>> {
        let recon = self.reconstruct(x)?;
        let d = x.cols.max(1) as f64;
        Ok(x.row_squared_errors(&recon)?
            .into_iter()
            .map(|e| e / d)
            .collect())
    }

    /// `sum_j (x - mean).c_j^2 / lambda_j` over the components `c_j` whose variance
    /// `lambda_j` is above [`SPECTRUM_FLOOR`] times the largest, `[n, d] -> [n]`. Fitted with
    /// every component (`k = d`) it is the Mahalanobis distance to the training rows' mean
    /// (squared) on the directions they span.
    pub fn spectrum_scores(&self, x: &Matrix) -> Result<Vec<f64>> {
        let codes = self.encode(x)?;
        let top = self.explained_variance.first().copied().unwrap_or(0.0);
        let weights: Vec<f64> = self
            .explained_variance
            .iter()
            .map(|&v| match v > SPECTRUM_FLOOR * top && v > 0.0 {
                true => 1.0 / v,
                false => 0.0,
            })
            .collect();
        Ok((0..codes.rows)
            .map(|i| {
                codes
                    .row(i)
                    .iter()
                    .zip(&weights)
                    .map(|(&c, &w)| c as f64 * c as f64 * w)
                    .sum()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pca::tests::correlated;

    #[test]
    fn the_spectrum_score_is_the_mahalanobis_distance() {
        // Two columns with covariance [[4, 1.2], [1.2, 1]] (Cholesky factor [[2, 0], [0.6, 0.8]]).
        let mut rng = ae_backend::rng::Rng::new(11);
        let n = 4000;
        let data: Vec<f32> = (0..n)
            .flat_map(|_| {
                let (a, b) = (rng.normal(), rng.normal());
                [(2.0 * a + 5.0) as f32, (0.6 * a + 0.8 * b - 1.0) as f32]
            })
            .collect();
        let x = Matrix::new(n, 2, data).unwrap();
        let pca = Pca::fit(&x, 2).unwrap();
        // The sample covariance, inverted by hand.
        let mean = x.column_means();
        let (mut s00, mut s01, mut s11) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let (a, b) = (x.row(i)[0] as f64 - mean[0], x.row(i)[1] as f64 - mean[1]);
            (s00, s01, s11) = (s00 + a * a, s01 + a * b, s11 + b * b);
        }
        let m = (n - 1) as f64;
        let (s00, s01, s11) = (s00 / m, s01 / m, s11 / m);
        let det = s00 * s11 - s01 * s01;
        let q = Matrix::new(3, 2, vec![5.0, -1.0, 9.0, 2.0, -3.0, 0.5]).unwrap();
        let got = pca.spectrum_scores(&q).unwrap();
        for (i, g) in got.iter().enumerate() {
            let (a, b) = (q.row(i)[0] as f64 - mean[0], q.row(i)[1] as f64 - mean[1]);
            let want = (s11 * a * a - 2.0 * s01 * a * b + s00 * b * b) / det;
            assert!(
                (g - want).abs() <= 1e-4 * want.max(1.0),
                "row {i}: {g} vs {want}"
            );
        }
    }

    #[test]
    fn a_direction_without_variance_is_left_out_rather_than_divided_by() {
        // The second column is constant: its component has variance 0.
        let x = Matrix::new(4, 2, vec![1.0, 3.0, 2.0, 3.0, 4.0, 3.0, 5.0, 3.0]).unwrap();
        let pca = Pca::fit(&x, 2).unwrap();
        let q = Matrix::new(1, 2, vec![3.0, 100.0]).unwrap();
        let s = pca.spectrum_scores(&q).unwrap();
        // (3 - 3)^2 / var on the first axis: 0, and the constant axis counts nothing.
        assert!(s[0].is_finite() && s[0].abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn reconstruction_errors_are_the_mean_squared_error_per_row() {
        let x = correlated(50, &[3.0, 1.0, 0.1], 4);
        let pca = Pca::fit(&x, 1).unwrap();
        let recon = pca.reconstruct(&x).unwrap();
        let got = pca.reconstruction_errors(&x).unwrap();
        for (i, g) in got.iter().enumerate() {
            let want: f64 = x
                .row(i)
                .iter()
                .zip(recon.row(i))
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum::<f64>()
                / 3.0;
            // The squared errors are summed in f32.
            assert!((g - want).abs() <= 1e-6 * want.max(1e-3), "{g} vs {want}");
        }
    }
}
