//! Exact PCA on data larger than memory: [`CovarianceAccumulator`] streams row chunks into the
//! mean and co-moment matrix of [`Pca::fit`], in f64.

use super::{check_data, check_k, top_components, Pca, BLOCK_ROWS};
use ae_backend::{Error, Matrix, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// The widest input [`CovarianceAccumulator`] accepts: its `d x d` f64 co-moment matrix then
/// takes 128 MiB (and the eigendecomposition about as much again).
pub const MAX_STREAMING_DIM: usize = 4096;

/// Streams row chunks (`[rows, d]`) into the statistics of an exact PCA: the row count, the
/// `[d]` mean and the `[d, d]` co-moment matrix `sum_i (x_i - mean)(x_i - mean)^T`, all in f64.
/// [`finish`](Self::finish) divides by `n - 1` and takes the top eigenvectors, as [`Pca::fit`]
/// does on the whole matrix.
///
/// Numerics: each block of at most 2048 rows is centred on its *own* mean, its co-moment
/// `Xc^T Xc` is added with one matmul, and the block is merged into the running mean and
/// co-moment with Chan et al.'s pairwise update (`M += M_b + delta delta^T * n_a n_b / n`,
/// `mean += delta * n_b / n`, `delta = mean_b - mean`). Nothing is ever summed uncentred, so a
/// large offset does not cancel catastrophically (as the raw `sum x x^T - n mean mean^T` would),
/// and unlike shifting by the first chunk's mean the result does not depend on how
/// representative the first chunk is (a chunk may be one row). The merge costs `O(d^2)` per block
/// against the block's `O(rows d^2)` matmul.
#[derive(Clone, Debug)]
pub struct CovarianceAccumulator {
    d: usize,
    n: usize,
    /// `[d]` running mean.
    mean: Vec<f64>,
    /// `[d, d]` co-moment about `mean`.
    comoment: Mat<f64>,
    /// Scratch for one centred block, `[<= BLOCK_ROWS, d]`.
    centered: Vec<f64>,
}

impl CovarianceAccumulator {
    /// An empty accumulator for rows of width `d`.
    ///
    /// Errors when `d == 0` or `d > MAX_STREAMING_DIM` (4096): the `d x d` covariance in f64
    /// takes `d * d * 8` bytes.
    pub fn new(d: usize) -> Result<Self> {
        if d == 0 {
            return Err(Error::Shape(
                "PCA covariance accumulator needs rows of width at least 1, got d = 0".into(),
            ));
        }
        if d > MAX_STREAMING_DIM {
            return Err(Error::Config(format!(
                "streaming PCA supports inputs up to {MAX_STREAMING_DIM} wide, got d = {d}: the \
                 {d} x {d} covariance in f64 would take d*d*8 = {} bytes",
                d * d * 8
            )));
        }
        Ok(CovarianceAccumulator {
            d,
            n: 0,
            mean: vec![0.0; d],
            comoment: Mat::zeros(d, d),
            centered: Vec::new(),
        })
    }

    /// Adds the rows of `chunk` (`[rows, d]`; zero rows is fine).
    ///
    /// Errors, leaving the accumulator as it was, when the width is not `d` or `chunk` holds a
    /// non-finite value (named by its row among all rows pushed so far, and column).
    pub fn push(&mut self, chunk: &Matrix) -> Result<()> {
        let d = self.d;
        check_data(chunk, "PCA covariance accumulator")?;
        if chunk.cols != d {
            return Err(Error::Shape(format!(
                "PCA covariance accumulator expects chunks of width {d}, got \
                 [{}, {}]",
                chunk.rows, chunk.cols
            )));
        }
        if let Some((r, c, v)) = chunk.first_non_finite() {
            return Err(Error::Config(format!(
                "PCA input has the non-finite value {v} at row {}, column {c}",
                self.n + r
            )));
        }
        for block in chunk.data.chunks(BLOCK_ROWS * d) {
            self.push_block(block);
        }
        Ok(())
    }

    /// Merges one block of finite rows (row-major, a multiple of `d` values, at most
    /// `BLOCK_ROWS` rows) into the running statistics.
    fn push_block(&mut self, block: &[f32]) {
        let d = self.d;
        let b = block.len() / d;
        let mut block_mean = vec![0f64; d];
        for row in block.chunks_exact(d) {
            for (m, &v) in block_mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        for m in &mut block_mean {
            *m /= b as f64;
        }
        self.centered.clear();
        self.centered.extend(
            block
                .chunks_exact(d)
                .flat_map(|row| row.iter().zip(&block_mean).map(|(&v, &m)| v as f64 - m)),
        );
        let xc = MatRef::from_row_major_slice(&self.centered, b, d);
        matmul(
            self.comoment.as_mut(),
            Accum::Add,
            xc.transpose(),
            xc,
            1.0,
            Par::rayon(0),
        );

        let (na, nb) = (self.n as f64, b as f64);
        let n = na + nb;
        let delta: Vec<f64> = block_mean
            .iter()
            .zip(&self.mean)
            .map(|(b, a)| b - a)
            .collect();
        if self.n > 0 {
            let w = na * nb / n;
            let dc = MatRef::from_column_major_slice(&delta, d, 1);
            matmul(
                self.comoment.as_mut(),
                Accum::Add,
                dc,
                dc.transpose(),
                w,
                Par::rayon(0),
            );
        }
        for (m, dl) in self.mean.iter_mut().zip(&delta) {
            *m += dl * nb / n;
        }
        self.n += b;
    }

    /// Rows pushed so far.
    pub fn count(&self) -> usize {
        self.n
    }

    /// The row width `d`.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// `[d]`: the mean of the rows pushed so far (zeros before any).
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// PCA with `k` components of all rows pushed so far; the accumulator stays usable (push
    /// more, or finish again with another `k`).
    ///
    /// Errors as [`Pca::fit`] does: `k == 0`, `k > d`, fewer than 2 rows, or no convergence.
    pub fn finish(&self, k: usize) -> Result<Pca> {
        Ok(self.finish_with_spectrum(k)?.0)
    }

    /// [`finish`](Self::finish), plus the full spectrum: all `d` covariance eigenvalues
    /// (`n - 1` denominator, clamped at 0), descending; its first `k` are the `Pca`'s
    /// `explained_variance`.
    pub fn finish_with_spectrum(&self, k: usize) -> Result<(Pca, Vec<f64>)> {
        let (n, d) = (self.n, self.d);
        check_k(k, d)?;
        if n < 2 {
            return Err(Error::Shape(format!(
                "PCA needs at least 2 samples to estimate a covariance, got {n} rows of width {d}"
            )));
        }
        let (mut components, spectrum) =
            top_components(self.comoment.as_ref(), 1.0 / (n - 1) as f64, d)?;
        components.truncate(k * d);
        let pca = Pca {
            mean: self.mean.iter().map(|&m| m as f32).collect(),
            components: Matrix::new(k, d, components)?,
            explained_variance: spectrum[..k].to_vec(),
        };
        Ok((pca, spectrum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pca::tests::correlated;

    /// `||a - b||_F / ||b||_F` over the values of two equally shaped slices.
    fn rel_frobenius(a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len());
        let diff: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
            .sum();
        let norm: f64 = b.iter().map(|&y| (y as f64).powi(2)).sum();
        (diff / norm).sqrt()
    }

    /// `x`'s rows `[lo, hi)` as a matrix.
    fn rows(x: &Matrix, lo: usize, hi: usize) -> Matrix {
        Matrix::new(hi - lo, x.cols, x.data[lo * x.cols..hi * x.cols].to_vec()).unwrap()
    }

    /// `x` cut into chunks of `size` rows (the last one ragged).
    fn chunked(x: &Matrix, size: usize) -> impl Iterator<Item = Result<Matrix>> + '_ {
        (0..x.rows)
            .step_by(size)
            .map(move |lo| Ok(rows(x, lo, (lo + size).min(x.rows))))
    }

    #[test]
    fn streaming_fit_equals_whole_matrix_fit() {
        let scales = [5.0, 4.0, 3.2, 2.5, 2.0, 1.6, 1.2, 0.9, 0.7, 0.5, 0.3, 0.2];
        let (n, d) = (3000, scales.len());
        let base = correlated(n, &scales, 21);
        // The same rows far from the origin: the merge never sums uncentred values.
        let mut far = base.clone();
        for v in &mut far.data {
            *v += 1000.0;
        }
        let mut worst = [0f64; 4];
        for x in [&base, &far] {
            let full = Pca::fit(x, d).unwrap();
            for k in [1, 4, d] {
                let want = Pca::fit(x, k).unwrap();
                let want_recon = want.reconstruct(x).unwrap();
                // 1 row at a time, ragged last chunks, and chunks above one internal block.
                for size in [1, 7, 256, 1999, 2048, 2500, n] {
                    let got = Pca::fit_chunks(chunked(x, size), k).unwrap();
                    assert_eq!((got.code_dim(), got.input_dim()), (k, d));
                    let recon = rel_frobenius(&got.reconstruct(x).unwrap().data, &want_recon.data);
                    let comp = rel_frobenius(&got.components.data, &want.components.data);
                    let mean = rel_frobenius(&got.mean, &want.mean);
                    let var = got
                        .explained_variance
                        .iter()
                        .zip(&want.explained_variance)
                        .map(|(g, w)| (g - w).abs() / w)
                        .fold(0f64, f64::max);
                    for (w, e) in worst.iter_mut().zip([recon, comp, var, mean]) {
                        *w = w.max(e);
                    }
                    assert!(
                        recon <= 1e-6,
                        "k {k}, chunks of {size}: recon rel err {recon}"
                    );
                    assert!(
                        comp <= 1e-6,
                        "k {k}, chunks of {size}: components rel err {comp}"
                    );
                    assert!(
                        var <= 1e-6,
                        "k {k}, chunks of {size}: variance rel err {var}"
                    );
                    assert!(mean <= 1e-6, "k {k}, chunks of {size}: mean rel err {mean}");
                }

                // The accumulator directly, with the full spectrum.
                let mut acc = CovarianceAccumulator::new(d).unwrap();
                for chunk in chunked(x, 333) {
                    acc.push(&chunk.unwrap()).unwrap();
                }
                assert_eq!((acc.count(), acc.dim()), (n, d));
                let (pca, spectrum) = acc.finish_with_spectrum(k).unwrap();
                assert_eq!(spectrum.len(), d);
                assert_eq!(&spectrum[..k], &pca.explained_variance[..]);
                for (g, w) in spectrum.iter().zip(&full.explained_variance) {
                    assert!((g - w).abs() <= 1e-6 * w, "spectrum {g} vs {w}");
                }
            }
        }
        eprintln!(
            "streaming vs whole-matrix PCA, worst relative errors: reconstruction {:.2e}, \
             components {:.2e}, explained variance {:.2e}, mean {:.2e}",
            worst[0], worst[1], worst[2], worst[3]
        );
    }

    #[test]
    fn streaming_refuses_inputs_wider_than_4096() {
        for err in [
            CovarianceAccumulator::new(MAX_STREAMING_DIM + 1).unwrap_err(),
            Pca::fit_chunks([Ok(Matrix::zeros(2, 4097))], 2).unwrap_err(),
        ] {
            match err {
                Error::Config(m) => assert!(
                    m.contains("d = 4097")
                        && m.contains("4096")
                        && m.contains("d*d*8")
                        && m.contains(&(4097 * 4097 * 8).to_string()),
                    "{m}"
                ),
                other => panic!("d = 4097 accepted: {other:?}"),
            }
        }
        assert!(CovarianceAccumulator::new(MAX_STREAMING_DIM).is_ok());
        assert!(matches!(
            CovarianceAccumulator::new(0),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn streaming_rejects_bad_chunks() {
        let x = correlated(50, &[3.0, 2.0, 1.0, 0.5], 4);
        let mut acc = CovarianceAccumulator::new(4).unwrap();
        acc.push(&rows(&x, 0, 10)).unwrap();
        match acc.push(&Matrix::zeros(5, 3)) {
            Err(Error::Shape(m)) => assert!(m.contains("width 4") && m.contains("[5, 3]"), "{m}"),
            other => panic!("a chunk of another width accepted: {other:?}"),
        }
        let mut bad = rows(&x, 10, 20);
        bad.data[2 * 4 + 1] = f32::INFINITY;
        match acc.push(&bad) {
            Err(Error::Config(m)) => assert!(m.contains("row 12, column 1"), "{m}"),
            other => panic!("a non-finite value accepted: {other:?}"),
        }
        // The rejected chunks left the accumulator as it was.
        assert_eq!(acc.count(), 10);
        acc.push(&Matrix::zeros(0, 4)).unwrap();
        acc.push(&rows(&x, 10, 50)).unwrap();
        let want = Pca::fit(&x, 2).unwrap();
        let got = acc.finish(2).unwrap();
        assert!(rel_frobenius(&got.components.data, &want.components.data) < 1e-6);

        let mixed = [Ok(rows(&x, 0, 10)), Ok(Matrix::zeros(3, 5))];
        assert!(matches!(Pca::fit_chunks(mixed, 2), Err(Error::Shape(_))));
        let failing = [
            Ok(rows(&x, 0, 10)),
            Err(Error::Config("the reader failed".into())),
        ];
        match Pca::fit_chunks(failing, 2) {
            Err(Error::Config(m)) => assert_eq!(m, "the reader failed"),
            other => panic!("a failed chunk ignored: {other:?}"),
        }
        assert!(matches!(
            Pca::fit_chunks(std::iter::empty(), 2),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            Pca::fit_chunks(chunked(&x, 7), 0),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Pca::fit_chunks(chunked(&x, 7), 5),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Pca::fit_chunks(chunked(&rows(&x, 0, 1), 7), 2),
            Err(Error::Shape(_))
        ));
    }
}
