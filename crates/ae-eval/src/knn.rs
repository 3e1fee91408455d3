//! The k-nearest-neighbour anomaly score: each query row's Euclidean distance to its k-th
//! nearest reference row (PyOD's `KNN`, method `largest`), exact, with the reference rows
//! streamed in chunks so that memory is one query block times one reference chunk.
//!
//! ```
//! use ae_backend::Matrix;
//! use ae_eval::knn::KthNeighbour;
//! let reference = Matrix::new(3, 1, vec![0.0, 1.0, 3.0]).unwrap();
//! let queries = Matrix::new(2, 1, vec![0.5, 10.0]).unwrap();
//! let mut knn = KthNeighbour::new(&queries, 2).unwrap();
//! knn.push(&reference).unwrap();
//! assert_eq!(knn.finish().unwrap(), vec![0.5, 9.0]);
//! ```

use ae_backend::{Error, Matrix, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// The `k` smallest squared distances of every query row seen so far, over reference chunks.
#[derive(Debug)]
pub struct KthNeighbour<'a> {
    queries: &'a Matrix,
    k: usize,
    /// `[q, k]`: each query's `k` smallest squared distances, ascending (`inf` where unfilled).
    best: Vec<f64>,
    /// Squared norms of the query rows, `[q]`.
    query_norms: Vec<f64>,
    /// Reference rows pushed so far.
    seen: usize,
}

impl<'a> KthNeighbour<'a> {
    /// Starts the search for the rows of `queries` (`[q, d]`). Errors when `k` is 0.
    pub fn new(queries: &'a Matrix, k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::Config("kNN needs k >= 1, got 0".into()));
        }
        Ok(KthNeighbour {
            queries,
            k,
            best: vec![f64::INFINITY; queries.rows * k],
            query_norms: (0..queries.rows)
                .map(|i| squared_norm(queries.row(i)))
                .collect(),
            seen: 0,
        })
    }

    /// Takes a chunk of reference rows `[r, d]` into account: squared distances are
    /// `|x|^2 + |y|^2 - 2 x.y` in f64 (the products by faer's matmul), clamped at 0.
    pub fn push(&mut self, reference: &Matrix) -> Result<()> {
        let (q, d, r) = (self.queries.rows, self.queries.cols, reference.rows);
        if reference.cols != d {
            return Err(Error::Shape(format!(
                "kNN reference rows have {} columns, the queries {d}",
                reference.cols
            )));
        }
        if q == 0 || r == 0 {
            self.seen += r;
            return Ok(());
        }
        let to_f64 = |m: &Matrix| m.data.iter().map(|&v| v as f64).collect::<Vec<_>>();
        let (xq, xr) = (to_f64(self.queries), to_f64(reference));
        let mut dots = Mat::<f64>::zeros(q, r);
        matmul(
            dots.as_mut(),
            Accum::Replace,
            MatRef::from_row_major_slice(&xq, q, d),
            MatRef::from_row_major_slice(&xr, r, d).transpose(),
            1.0,
            Par::rayon(0),
        );
        let ref_norms: Vec<f64> = (0..r).map(|j| squared_norm(reference.row(j))).collect();
        let k = self.k;
        for i in 0..q {
            let best = &mut self.best[i * k..(i + 1) * k];
            for (j, &norm) in ref_norms.iter().enumerate() {
                let dist = (self.query_norms[i] + norm - 2.0 * dots[(i, j)]).max(0.0);
                if dist < best[k - 1] {
                    // Insert, keeping the k smallest in ascending order.
                    let at = best.partition_point(|&b| b <= dist);
                    best.copy_within(at..k - 1, at + 1);
                    best[at] = dist;
                }
            }
        }
        self.seen += r;
        Ok(())
    }

    /// Each query row's distance to its k-th nearest reference row, `[q]`. Errors when fewer
    /// than `k` reference rows were pushed.
    pub fn finish(self) -> Result<Vec<f64>> {
        if self.seen < self.k {
            return Err(Error::Shape(format!(
                "kNN with k = {} needs at least {} reference rows, got {}",
                self.k, self.k, self.seen
            )));
        }
        let k = self.k;
        Ok((0..self.queries.rows)
            .map(|i| self.best[i * k + k - 1].sqrt())
            .collect())
    }
}

fn squared_norm(row: &[f32]) -> f64 {
    row.iter().map(|&v| v as f64 * v as f64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The k-th smallest distance by sorting every distance, in f64.
    fn brute_force(reference: &Matrix, queries: &Matrix, k: usize) -> Vec<f64> {
        (0..queries.rows)
            .map(|i| {
                let mut d: Vec<f64> = (0..reference.rows)
                    .map(|j| {
                        let (a, b) = (queries.row(i), reference.row(j));
                        a.iter()
                            .zip(b)
                            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                            .sum::<f64>()
                            .sqrt()
                    })
                    .collect();
                d.sort_by(f64::total_cmp);
                d[k - 1]
            })
            .collect()
    }

    fn seeded(rows: usize, cols: usize, seed: u64) -> Matrix {
        let mut rng = ae_backend::rng::Rng::new(seed);
        Matrix::new(
            rows,
            cols,
            (0..rows * cols)
                .map(|_| rng.normal() as f32 * 3.0)
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn equals_sorting_every_distance_whatever_the_chunks() {
        let reference = seeded(257, 7, 1);
        let queries = seeded(33, 7, 2);
        for k in [1, 5, 17] {
            let want = brute_force(&reference, &queries, k);
            for chunk in [1, 16, 100, 257] {
                let mut knn = KthNeighbour::new(&queries, k).unwrap();
                for start in (0..reference.rows).step_by(chunk) {
                    let end = (start + chunk).min(reference.rows);
                    let rows: Vec<usize> = (start..end).collect();
                    knn.push(&reference.select_rows(&rows)).unwrap();
                }
                let got = knn.finish().unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-9 * w.max(1.0),
                        "k {k}, chunk {chunk}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_query_equal_to_a_reference_row_is_at_distance_zero_for_k_1() {
        let reference = seeded(20, 3, 5);
        let queries = reference.select_rows(&[4, 9]);
        let mut knn = KthNeighbour::new(&queries, 1).unwrap();
        knn.push(&reference).unwrap();
        assert!(knn.finish().unwrap().iter().all(|&d| d < 1e-6));
    }

    #[test]
    fn bad_input_is_an_error() {
        let queries = seeded(2, 3, 1);
        assert!(KthNeighbour::new(&queries, 0).is_err());
        let mut knn = KthNeighbour::new(&queries, 3).unwrap();
        assert!(knn.push(&seeded(4, 2, 1)).is_err());
        knn.push(&seeded(2, 3, 1)).unwrap();
        let err = knn.finish().unwrap_err().to_string();
        assert!(err.contains("at least 3 reference rows, got 2"), "{err}");
    }
}
