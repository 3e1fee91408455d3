//! Exact principal component analysis: the linear baseline every autoencoder is measured against.
//!
//! [`Pca::fit`] centres the data, forms the sample covariance `(X - mean)^T (X - mean) / (n - 1)`
//! in f64 with faer's parallel matmul, and keeps the top-`k` eigenvectors of faer's self-adjoint
//! eigendecomposition. Encoding and decoding run through faer's f64 matmul in blocks of rows, so
//! memory stays bounded for large inputs.
//!
//! For data larger than memory, [`CovarianceAccumulator`] (or [`Pca::fit_chunks`]) takes the rows
//! in chunks and keeps only the f64 mean and `d x d` co-moment (`d` up to
//! [`MAX_STREAMING_DIM`]); it gives the same components as [`Pca::fit`] up to round-off, and the
//! full eigenvalue spectrum on request.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::SelfAdjointEigen;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};

use ae_backend::{Error, Matrix, Result};

mod covariance;
mod scores;

pub use covariance::{CovarianceAccumulator, MAX_STREAMING_DIM};
pub use scores::SPECTRUM_FLOOR;

/// Rows processed per matmul in [`Pca::encode`], [`Pca::decode`] and
/// [`CovarianceAccumulator::push`] (bounds the f64 scratch).
const BLOCK_ROWS: usize = 2048;

/// Principal component analysis fitted exactly (eigendecomposition of the covariance in f64).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Pca {
    /// Per-feature mean of the training data: `[d]`.
    pub mean: Vec<f32>,
    /// `[k, d]`: orthonormal rows, by descending variance. Each row's largest-magnitude entry
    /// is positive, which makes the signs deterministic.
    pub components: Matrix,
    /// `[k]`: variance of the training data along each component (the covariance eigenvalues,
    /// with the `n - 1` denominator), descending.
    pub explained_variance: Vec<f64>,
}

impl Pca {
    /// Fits PCA with `k` components to `x` (`[n, d]`, rows are samples).
    ///
    /// Errors when `k == 0`, `k > d`, `n < 2`, `x` holds a non-finite value or the
    /// eigendecomposition does not converge.
    pub fn fit(x: &Matrix, k: usize) -> Result<Pca> {
        let (n, d) = (x.rows, x.cols);
        check_data(x, "PCA fit")?;
        check_k(k, d)?;
        if n < 2 {
            return Err(Error::Shape(format!(
                "PCA needs at least 2 samples to estimate a covariance, got [{n}, {d}]"
            )));
        }
        if let Some((r, c, v)) = x.first_non_finite() {
            return Err(Error::Config(format!(
                "PCA input has the non-finite value {v} at row {r}, column {c}"
            )));
        }

        let mean = x.column_means();

        let centered: Vec<f64> = x
            .data
            .chunks_exact(d)
            .flat_map(|row| row.iter().zip(&mean).map(|(&v, &m)| v as f64 - m))
            .collect();
        let xc = MatRef::from_row_major_slice(&centered, n, d);
        let mut cov = Mat::<f64>::zeros(d, d);
        matmul(
            cov.as_mut(),
            Accum::Replace,
            xc.transpose(),
            xc,
            1.0 / (n - 1) as f64,
            Par::rayon(0),
        );
        drop(centered);

        let (components, explained_variance) = top_components(cov.as_ref(), 1.0, k)?;
        Ok(Pca {
            mean: mean.iter().map(|&m| m as f32).collect(),
            components: Matrix::new(k, d, components)?,
            explained_variance,
        })
    }

    /// Fits PCA with `k` components to rows that arrive in chunks (each `Ok` item `[rows, d]`,
    /// all of the same `d`), through a [`CovarianceAccumulator`]: memory is the `d x d`
    /// covariance plus one chunk, never the whole data. Equals [`Pca::fit`] on the stacked
    /// chunks up to round-off, with the same sign convention.
    ///
    /// Errors on the first `Err` item, on chunks of different widths, when there are no
    /// chunks, and as [`CovarianceAccumulator::push`] and [`CovarianceAccumulator::finish`] do.
    pub fn fit_chunks<I>(chunks: I, k: usize) -> Result<Pca>
    where
        I: IntoIterator<Item = Result<Matrix>>,
    {
        let mut chunks = chunks.into_iter();
        let mut acc = {
            let first = chunks.next().ok_or_else(|| {
                Error::Shape("PCA fit_chunks got no chunks (at least 2 rows are needed)".into())
            })??;
            check_k(k, first.cols)?;
            let mut acc = CovarianceAccumulator::new(first.cols)?;
            acc.push(&first)?;
            acc
        };
        for chunk in chunks {
            acc.push(&chunk?)?;
        }
        acc.finish(k)
    }

    /// Projects `x` (`[n, d]`) onto the components: `(x - mean) C^T`, `[n, k]`.
    pub fn encode(&self, x: &Matrix) -> Result<Matrix> {
        self.validate()?;
        let (d, k) = (self.input_dim(), self.code_dim());
        check_data(x, "PCA encode")?;
        if x.cols != d {
            return Err(Error::Shape(format!(
                "PCA encode expects rows of width {d} (the fitted input width), got [{}, {}]",
                x.rows, x.cols
            )));
        }
        let n = x.rows;
        let ct = Mat::<f64>::from_fn(d, k, |i, j| self.components.data[j * d + i] as f64);
        let mean: Vec<f64> = self.mean.iter().map(|&m| m as f64).collect();
        let mut out = vec![0f32; n * k];
        let mut centered = Vec::with_capacity(BLOCK_ROWS.min(n) * d);
        let mut codes = Vec::with_capacity(BLOCK_ROWS.min(n) * k);
        for (xb, ob) in x
            .data
            .chunks(BLOCK_ROWS * d)
            .zip(out.chunks_mut(BLOCK_ROWS * k))
        {
            let b = xb.len() / d;
            centered.clear();
            centered.extend(
                xb.chunks_exact(d)
                    .flat_map(|row| row.iter().zip(&mean).map(|(&v, &m)| v as f64 - m)),
            );
            codes.clear();
            codes.resize(b * k, 0.0);
            matmul(
                MatMut::from_row_major_slice_mut(&mut codes, b, k),
                Accum::Replace,
                MatRef::from_row_major_slice(&centered, b, d),
                ct.as_ref(),
                1.0,
                Par::rayon(0),
            );
            for (o, &c) in ob.iter_mut().zip(&codes) {
                *o = c as f32;
            }
        }
        Matrix::new(n, k, out)
    }

    /// Maps codes (`[n, k]`) back to input space: `codes C + mean`, `[n, d]`.
    pub fn decode(&self, codes: &Matrix) -> Result<Matrix> {
        self.validate()?;
        let (d, k) = (self.input_dim(), self.code_dim());
        check_data(codes, "PCA decode")?;
        if codes.cols != k {
            return Err(Error::Shape(format!(
                "PCA decode expects codes of width {k} (the number of components), got [{}, {}]",
                codes.rows, codes.cols
            )));
        }
        let n = codes.rows;
        let c = Mat::<f64>::from_fn(k, d, |i, j| self.components.data[i * d + j] as f64);
        let mut out = vec![0f32; n * d];
        let mut codes64 = Vec::with_capacity(BLOCK_ROWS.min(n) * k);
        let mut recon = Vec::with_capacity(BLOCK_ROWS.min(n) * d);
        for (cb, ob) in codes
            .data
            .chunks(BLOCK_ROWS * k)
            .zip(out.chunks_mut(BLOCK_ROWS * d))
        {
            let b = cb.len() / k;
            codes64.clear();
            codes64.extend(cb.iter().map(|&v| v as f64));
            recon.clear();
            recon.resize(b * d, 0.0);
            matmul(
                MatMut::from_row_major_slice_mut(&mut recon, b, d),
                Accum::Replace,
                MatRef::from_row_major_slice(&codes64, b, k),
                c.as_ref(),
                1.0,
                Par::rayon(0),
            );
            for (orow, rrow) in ob.chunks_exact_mut(d).zip(recon.chunks_exact(d)) {
                for ((o, &r), &m) in orow.iter_mut().zip(rrow).zip(&self.mean) {
                    *o = (r + m as f64) as f32;
                }
            }
        }
        Matrix::new(n, d, out)
    }

    /// `decode(encode(x))`: the projection of `x` onto the principal subspace.
    pub fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        self.decode(&self.encode(x)?)
    }

    /// Number of components `k`.
    pub fn code_dim(&self) -> usize {
        self.components.rows
    }

    /// Input width `d`.
    pub fn input_dim(&self) -> usize {
        self.components.cols
    }

    /// Checks that the fields agree with each other (a deserialized `Pca` may not).
    fn validate(&self) -> Result<()> {
        let (k, d) = (self.components.rows, self.components.cols);
        if k == 0 || d == 0 || self.components.data.len() != k * d {
            return Err(Error::Shape(format!(
                "PCA components must be a non-empty [k, d] matrix, got [{k}, {d}] with {} values",
                self.components.data.len()
            )));
        }
        if self.mean.len() != d {
            return Err(Error::Shape(format!(
                "PCA mean has {} values but the components are {d} wide",
                self.mean.len()
            )));
        }
        Ok(())
    }
}

/// The top-`k` eigenvectors of the symmetric `[d, d]` matrix `m` (only its lower triangle is
/// read) as `[k, d]` row-major components, each flipped so that its largest-magnitude entry is
/// positive, and their eigenvalues times `scale` (clamped at 0), both by descending eigenvalue.
/// With `k == d` the eigenvalues are the full spectrum.
fn top_components(m: MatRef<'_, f64>, scale: f64, k: usize) -> Result<(Vec<f32>, Vec<f64>)> {
    let d = m.nrows();
    let evd = SelfAdjointEigen::new(m, Side::Lower).map_err(|e| {
        Error::Backend(format!(
            "eigendecomposition of the {d}x{d} PCA covariance failed: {e:?}"
        ))
    })?;
    let (u, s) = (evd.U(), evd.S());

    // faer returns eigenvalues in nondecreasing order; sort explicitly (stable, descending)
    // so the result does not depend on that.
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));

    let mut components = Vec::with_capacity(k * d);
    let mut explained_variance = Vec::with_capacity(k);
    for &j in &order[..k] {
        let col: Vec<f64> = (0..d).map(|i| u[(i, j)]).collect();
        let mut arg = 0;
        for (i, v) in col.iter().enumerate() {
            if v.abs() > col[arg].abs() {
                arg = i;
            }
        }
        let sign = if col[arg] < 0.0 { -1.0 } else { 1.0 };
        components.extend(col.iter().map(|&v| (sign * v) as f32));
        // Round-off can leave eigenvalues of a rank-deficient covariance slightly negative.
        explained_variance.push((s[j] * scale).max(0.0));
    }
    Ok((components, explained_variance))
}

/// Errors unless `1 <= k <= d`.
fn check_k(k: usize, d: usize) -> Result<()> {
    if k == 0 {
        return Err(Error::Config(
            "PCA needs at least one component (k = 0)".into(),
        ));
    }
    if k > d {
        return Err(Error::Config(format!(
            "PCA cannot keep k = {k} components of {d}-wide data (k must be at most {d})"
        )));
    }
    Ok(())
}

/// Errors when `m.data` does not hold `rows * cols` values (the fields are public).
fn check_data(m: &Matrix, what: &str) -> Result<()> {
    if m.data.len() != m.rows * m.cols {
        return Err(Error::Shape(format!(
            "{what}: a [{}, {}] matrix holds {} values",
            m.rows,
            m.cols,
            m.data.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small deterministic generator (64-bit LCG, top 53 bits).
    struct Lcg(u64);

    impl Lcg {
        fn uniform(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }

        fn range(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * self.uniform()
        }

        fn normal(&mut self) -> f64 {
            let u1 = self.uniform().max(1e-300);
            let u2 = self.uniform();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }
    }

    /// `[n, d]` data `z A + offset` with `z` standard normal and a random mixing `A` whose rows
    /// are scaled by `scales`, so the covariance has well-separated eigenvalues.
    pub(super) fn correlated(n: usize, scales: &[f64], seed: u64) -> Matrix {
        let d = scales.len();
        let mut rng = Lcg(seed);
        let a: Vec<f64> = (0..d * d)
            .map(|i| scales[i / d] * rng.range(-1.0, 1.0))
            .collect();
        let offset: Vec<f64> = (0..d).map(|_| rng.range(-3.0, 3.0)).collect();
        let mut data = Vec::with_capacity(n * d);
        for _ in 0..n {
            let z: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            for j in 0..d {
                let v: f64 = (0..d).map(|i| z[i] * a[i * d + j]).sum();
                data.push((v + offset[j]) as f32);
            }
        }
        Matrix::new(n, d, data).unwrap()
    }

    #[test]
    fn exact_two_dim_subspace() {
        let a = [1.0, 2.0, 0.0, -1.0, 0.5];
        let b = [0.0, 1.0, -1.0, 1.0, 2.0];
        let offset = [3.0, -2.0, 1.0, 0.5, 4.0];
        let mut rng = Lcg(7);
        let n = 200;
        let mut data = Vec::with_capacity(n * 5);
        for _ in 0..n {
            let s = rng.range(-3.0, 3.0);
            let t = rng.range(-1.0, 1.0);
            for j in 0..5 {
                data.push((offset[j] + s * a[j] + t * b[j]) as f32);
            }
        }
        let x = Matrix::new(n, 5, data).unwrap();

        let p2 = Pca::fit(&x, 2).unwrap();
        assert_eq!((p2.code_dim(), p2.input_dim()), (2, 5));
        let mse2 = x.mse(&p2.reconstruct(&x).unwrap()).unwrap();
        assert!(mse2 < 1e-8, "PCA-2 mse {mse2}");

        // Each component lies in span{a, b}: its residual after projecting onto the span is ~0.
        let proj = |v: &[f32]| -> f64 {
            // Gram-Schmidt on (a, b), then residual norm.
            let dot = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(x, y)| x * y).sum::<f64>();
            let na = dot(&a, &a).sqrt();
            let e1: Vec<f64> = a.iter().map(|x| x / na).collect();
            let bb: Vec<f64> = b
                .iter()
                .zip(&e1)
                .map(|(x, e)| x - dot(&b, &e1) * e)
                .collect();
            let nb = dot(&bb, &bb).sqrt();
            let e2: Vec<f64> = bb.iter().map(|x| x / nb).collect();
            let v: Vec<f64> = v.iter().map(|&x| x as f64).collect();
            let (c1, c2) = (dot(&v, &e1), dot(&v, &e2));
            let r: Vec<f64> = (0..5).map(|i| v[i] - c1 * e1[i] - c2 * e2[i]).collect();
            dot(&r, &r).sqrt()
        };
        for i in 0..2 {
            assert!(proj(p2.components.row(i)) < 1e-5);
        }

        let p1 = Pca::fit(&x, 1).unwrap();
        let mse1 = x.mse(&p1.reconstruct(&x).unwrap()).unwrap();
        assert!(
            mse1 > 1e-2,
            "PCA-1 should not reconstruct 2-D data, mse {mse1}"
        );

        // The third variance of the 2-D data is (numerically) zero.
        let p3 = Pca::fit(&x, 3).unwrap();
        assert!(p3.explained_variance[1] > 0.1);
        assert!(
            p3.explained_variance[2] < 1e-9,
            "{:?}",
            p3.explained_variance
        );
    }

    #[test]
    fn orthonormal_descending_and_matching_code_variance() {
        let scales = [4.0, 3.0, 2.2, 1.6, 1.1, 0.7, 0.4, 0.2];
        let (n, d, k) = (500, scales.len(), 4);
        let x = correlated(n, &scales, 11);
        let p = Pca::fit(&x, k).unwrap();
        assert_eq!(p.mean.len(), d);
        assert_eq!((p.components.rows, p.components.cols), (k, d));
        assert_eq!(p.explained_variance.len(), k);

        for i in 0..k {
            for j in 0..k {
                let dot: f64 = p
                    .components
                    .row(i)
                    .iter()
                    .zip(p.components.row(j))
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "C C^T [{i}, {j}] = {dot}");
            }
            // Sign convention: the largest-magnitude entry is positive.
            let row = p.components.row(i);
            let max = row.iter().cloned().fold(0f32, |m, v| m.max(v.abs()));
            assert!(row.contains(&max), "component {i} has a negative peak");
        }
        for w in p.explained_variance.windows(2) {
            assert!(w[0] > w[1], "not descending: {:?}", p.explained_variance);
        }

        // The codes of the training data have per-column variance = explained variance,
        // zero mean and no cross-covariance.
        let codes = p.encode(&x).unwrap();
        assert_eq!((codes.rows, codes.cols), (n, k));
        let col_mean: Vec<f64> = (0..k)
            .map(|j| (0..n).map(|i| codes.data[i * k + j] as f64).sum::<f64>() / n as f64)
            .collect();
        for (j, &m) in col_mean.iter().enumerate() {
            assert!(m.abs() < 1e-4, "code column {j} mean {m}");
        }
        for a in 0..k {
            for b in 0..k {
                let cov: f64 = (0..n)
                    .map(|i| {
                        (codes.data[i * k + a] as f64 - col_mean[a])
                            * (codes.data[i * k + b] as f64 - col_mean[b])
                    })
                    .sum::<f64>()
                    / (n - 1) as f64;
                if a == b {
                    let ev = p.explained_variance[a];
                    assert!((cov - ev).abs() <= 1e-4 * ev, "var {cov} vs {ev}");
                } else {
                    assert!(cov.abs() < 1e-4 * p.explained_variance[0], "cov {cov}");
                }
            }
        }

        // All d variances sum to the total variance (trace of the covariance, computed directly).
        let full = Pca::fit(&x, d).unwrap();
        let total: f64 = (0..d)
            .map(|j| {
                let m = (0..n).map(|i| x.data[i * d + j] as f64).sum::<f64>() / n as f64;
                (0..n)
                    .map(|i| (x.data[i * d + j] as f64 - m).powi(2))
                    .sum::<f64>()
                    / (n - 1) as f64
            })
            .sum();
        let sum: f64 = full.explained_variance.iter().sum();
        assert!((sum - total).abs() <= 1e-9 * total, "{sum} vs {total}");
        assert_eq!(&full.explained_variance[..k], &p.explained_variance[..]);
    }

    #[test]
    fn known_axis_is_first_component() {
        // Independent features with standard deviations 1, 5, 2, 0.5: the top component is
        // (close to) +e_1, positive by the sign convention.
        let sd = [1.0, 5.0, 2.0, 0.5];
        let mut rng = Lcg(3);
        let n = 4000;
        let data: Vec<f32> = (0..n * 4)
            .map(|i| (sd[i % 4] * rng.normal() + 10.0) as f32)
            .collect();
        let x = Matrix::new(n, 4, data).unwrap();
        let p = Pca::fit(&x, 2).unwrap();
        assert!(p.components.row(0)[1] > 0.99, "{:?}", p.components.row(0));
        assert!(
            p.components.row(1)[2].abs() > 0.99,
            "{:?}",
            p.components.row(1)
        );
        assert!((p.explained_variance[0] - 25.0).abs() < 2.0);
        assert!((p.explained_variance[1] - 4.0).abs() < 0.4);
        for &m in &p.mean {
            assert!((m - 10.0).abs() < 0.3);
        }
    }

    #[test]
    fn full_rank_reconstructs_exactly() {
        let (n, d) = (60, 6);
        let mut rng = Lcg(5);
        let data: Vec<f32> = (0..n * d)
            .map(|i| (rng.range(-1.0, 1.0) * (1 + i % d) as f64 + 2.0) as f32)
            .collect();
        let x = Matrix::new(n, d, data).unwrap();
        let full = Pca::fit(&x, d).unwrap();
        let mse = x.mse(&full.reconstruct(&x).unwrap()).unwrap();
        assert!(mse < 1e-10, "PCA-d mse {mse}");
        // ...and it is not trivially exact: dropping one component loses information.
        let less = Pca::fit(&x, d - 1).unwrap();
        let mse_less = x.mse(&less.reconstruct(&x).unwrap()).unwrap();
        assert!(mse_less > 1e-3, "PCA-(d-1) mse {mse_less}");
    }

    #[test]
    fn training_mse_equals_discarded_variance() {
        let (n, d) = (300, 10);
        let mut rng = Lcg(42);
        let data: Vec<f32> = (0..n * d)
            .map(|i| (rng.range(-1.0, 1.0) * (0.3 + (i % d) as f64 * 0.4) + 1.0) as f32)
            .collect();
        let x = Matrix::new(n, d, data).unwrap();
        let full = Pca::fit(&x, d).unwrap();
        for k in 1..d {
            let p = Pca::fit(&x, k).unwrap();
            let mse = x.mse(&p.reconstruct(&x).unwrap()).unwrap();
            let tail: f64 = full.explained_variance[k..].iter().sum();
            let want = tail * (n - 1) as f64 / n as f64 / d as f64;
            assert!(
                (mse - want).abs() <= 1e-4 * want,
                "k = {k}: mse {mse}, expected {want}"
            );
        }
    }

    #[test]
    fn errors_instead_of_panics() {
        let x = correlated(20, &[1.0, 2.0, 3.0, 4.0, 5.0], 1);
        assert!(matches!(Pca::fit(&x, 0), Err(Error::Config(_))));
        match Pca::fit(&x, 6) {
            Err(Error::Config(m)) => assert!(m.contains('6') && m.contains('5'), "{m}"),
            other => panic!("k > d accepted: {other:?}"),
        }
        let one = Matrix::new(1, 5, vec![1.0; 5]).unwrap();
        assert!(matches!(Pca::fit(&one, 2), Err(Error::Shape(_))));
        let mut bad = x.clone();
        bad.data[7] = f32::NAN;
        assert!(Pca::fit(&bad, 2).is_err());

        let p = Pca::fit(&x, 2).unwrap();
        let narrow = Matrix::zeros(3, 4);
        match p.encode(&narrow) {
            Err(Error::Shape(m)) => assert!(m.contains("5") && m.contains("[3, 4]"), "{m}"),
            other => panic!("width mismatch accepted: {other:?}"),
        }
        match p.decode(&Matrix::zeros(3, 3)) {
            Err(Error::Shape(m)) => assert!(m.contains('2') && m.contains("[3, 3]"), "{m}"),
            other => panic!("code width mismatch accepted: {other:?}"),
        }
        assert!(matches!(p.reconstruct(&narrow), Err(Error::Shape(_))));
        // A deserialized model whose fields disagree errors instead of panicking.
        let mut broken = p.clone();
        broken.mean.pop();
        assert!(matches!(broken.encode(&x), Err(Error::Shape(_))));
        // Empty batches are fine.
        assert_eq!(p.encode(&Matrix::zeros(0, 5)).unwrap().data.len(), 0);
    }

    #[test]
    fn json_round_trip_and_block_boundaries() {
        // More rows than one block, so encode/decode cross block boundaries.
        let n = BLOCK_ROWS + 37;
        let x = correlated(n, &[3.0, 1.0, 0.5, 0.25], 9);
        let p = Pca::fit(&x, 2).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let q: Pca = serde_json::from_str(&json).unwrap();
        assert_eq!(q.components, p.components);
        assert_eq!(q.mean, p.mean);
        let codes = p.encode(&x).unwrap();
        assert_eq!(q.encode(&x).unwrap(), codes);
        // Block-wise results agree with a direct per-row computation.
        for i in [0, BLOCK_ROWS - 1, BLOCK_ROWS, n - 1] {
            for j in 0..2 {
                let direct: f64 = x
                    .row(i)
                    .iter()
                    .zip(&p.mean)
                    .zip(p.components.row(j))
                    .map(|((&v, &m), &c)| (v as f64 - m as f64) * c as f64)
                    .sum();
                assert!((codes.data[i * 2 + j] as f64 - direct).abs() < 1e-5);
            }
            let recon = p.decode(&codes).unwrap();
            for c in 0..4 {
                let direct: f64 = p.mean[c] as f64
                    + (0..2)
                        .map(|j| codes.data[i * 2 + j] as f64 * p.components.row(j)[c] as f64)
                        .sum::<f64>();
                assert!((recon.data[i * 4 + c] as f64 - direct).abs() < 1e-5);
            }
        }
    }
}
