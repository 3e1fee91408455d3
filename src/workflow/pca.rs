//! PCA fitted from rows read a chunk at a time: the linear baseline of `ae compare`,
//! `ae oneclass` and the demo's anomaly run, with memory bounded by the chunk.

use ae_core::pca::{CovarianceAccumulator, MAX_STREAMING_DIM};
use ae_core::trainer::Rows;
use ae_core::{Error, Matrix, Pca, Result};

/// What PCA is fitted from: up to [`MAX_STREAMING_DIM`] columns the covariance, accumulated a
/// chunk of rows at a time (f64, `d x d`); wider data (which the accumulator refuses) the rows
/// themselves, which must then fit in [`super::RESIDENT_BYTES`].
pub enum PcaFit {
    /// The covariance of the rows.
    Covariance(CovarianceAccumulator),
    /// The rows `[n, d]`.
    Rows(Matrix),
}

impl PcaFit {
    /// The fit of `rows` (normalised as [`Rows`] reads them).
    pub fn of(rows: Rows<'_>) -> Result<PcaFit> {
        let cols = rows.cols();
        if cols > MAX_STREAMING_DIM {
            let bytes = (rows.len() * cols) as u64 * 4;
            if bytes > super::RESIDENT_BYTES {
                return Err(Error::Config(format!(
                    "PCA of {cols} columns is fitted in memory (the streaming covariance goes up \
                     to {MAX_STREAMING_DIM}), and its {} rows need {} MiB, more than the {} MiB \
                     allowed; use fewer rows or columns",
                    rows.len(),
                    bytes >> 20,
                    super::RESIDENT_BYTES >> 20
                )));
            }
            return Ok(PcaFit::Rows(rows.chunk(0, rows.len())?));
        }
        let mut acc = CovarianceAccumulator::new(cols)?;
        for chunk in rows.chunks() {
            acc.push(&chunk?.1)?;
        }
        Ok(PcaFit::Covariance(acc))
    }

    /// PCA with `k` components.
    pub fn components(&self, k: usize) -> Result<Pca> {
        match self {
            PcaFit::Covariance(acc) => acc.finish(k),
            PcaFit::Rows(m) => Pca::fit(m, k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_core::data::MatrixSource;

    #[test]
    fn the_chunked_fit_reconstructs_as_the_whole_matrix_fit_does() {
        // 2,500 rows (three chunks) near a plane in 5-D.
        let data: Vec<f32> = (0..2500)
            .flat_map(|i| {
                let (a, b) = ((i as f32 * 0.37).sin(), (i as f32 * 0.11).cos());
                [a, b, a + b, a - 0.5 * b, 0.01 * ((i * 7919) % 13) as f32]
            })
            .collect();
        let m = Matrix::new(2500, 5, data).unwrap();
        let source = MatrixSource::borrowed("m", &m);
        let idx: Vec<u32> = (0..2500).collect();
        let rows = Rows::Source {
            source: &source,
            rows: &idx,
            stats: None,
        };
        let fit = PcaFit::of(rows).unwrap();
        assert!(matches!(fit, PcaFit::Covariance(_)));
        for k in [1, 2, 3] {
            let chunked = fit.components(k).unwrap().reconstruct(&m).unwrap();
            let whole = Pca::fit(&m, k).unwrap().reconstruct(&m).unwrap();
            let (a, b) = (m.mse(&chunked).unwrap(), m.mse(&whole).unwrap());
            assert!((a - b).abs() <= 1e-6 * b.max(1e-9), "k {k}: {a} vs {b}");
        }
    }
}
