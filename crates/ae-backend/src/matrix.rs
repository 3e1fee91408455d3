//! `Matrix`: a host-side, row-major `[rows, cols]` f32 matrix (rows = samples).

use crate::{Error, Result};

/// A dense row-major `[rows, cols]` matrix of f32 on the host. Rows are samples.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Matrix {
    /// Number of rows (samples).
    pub rows: usize,
    /// Number of columns (features).
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Wraps `data` as `[rows, cols]`; errors when the length is not `rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(Error::Shape(format!(
                "{} values cannot form a [{rows}, {cols}] matrix",
                data.len()
            )));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// A `[rows, cols]` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Row `i` as a slice of `cols` values.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The rows named by `indices`, in that order: `[indices.len(), cols]`.
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: indices.len(),
            cols: self.cols,
            data,
        }
    }

    /// The first finite-check failure as `(row, col, value)`, if any value is NaN or infinite.
    pub fn first_non_finite(&self) -> Option<(usize, usize, f32)> {
        self.data
            .iter()
            .position(|v| !v.is_finite())
            .map(|i| (i / self.cols, i % self.cols, self.data[i]))
    }

    /// Each column's mean, summed in f64: `[cols]` (zeros when there are no rows).
    pub fn column_means(&self) -> Vec<f64> {
        let mut means = vec![0.0f64; self.cols];
        for row in self.data.chunks_exact(self.cols.max(1)) {
            for (m, &v) in means.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        let n = self.rows.max(1) as f64;
        means.iter_mut().for_each(|m| *m /= n);
        means
    }

    /// Mean over all elements of `(self - other)^2`.
    pub fn mse(&self, other: &Matrix) -> Result<f64> {
        if self.rows != other.rows || self.cols != other.cols {
            return Err(Error::Shape(format!(
                "cannot compare [{}, {}] with [{}, {}]",
                self.rows, self.cols, other.rows, other.cols
            )));
        }
        let sum: f64 = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| {
                let d = (*a - *b) as f64;
                d * d
            })
            .sum();
        Ok(sum / self.data.len().max(1) as f64)
    }

    /// Per-row sum of squared differences: `[rows]`.
    pub fn row_squared_errors(&self, other: &Matrix) -> Result<Vec<f64>> {
        if self.rows != other.rows || self.cols != other.cols {
            return Err(Error::Shape(format!(
                "cannot compare [{}, {}] with [{}, {}]",
                self.rows, self.cols, other.rows, other.cols
            )));
        }
        Ok((0..self.rows)
            .map(|i| {
                self.row(i)
                    .iter()
                    .zip(other.row(i))
                    .map(|(a, b)| {
                        let d = (*a - *b) as f64;
                        d * d
                    })
                    .sum()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_wrong_length() {
        assert!(Matrix::new(2, 3, vec![0.0; 5]).is_err());
        assert!(Matrix::new(2, 3, vec![0.0; 6]).is_ok());
    }

    #[test]
    fn select_rows_and_errors() {
        let m = Matrix::new(3, 2, vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let s = m.select_rows(&[2, 0]);
        assert_eq!(s.data, vec![5., 6., 1., 2.]);
        let z = Matrix::zeros(2, 2);
        assert_eq!(s.row_squared_errors(&z).unwrap(), vec![61.0, 5.0]);
        assert!((s.mse(&z).unwrap() - 66.0 / 4.0).abs() < 1e-12);
        let mut bad = m.clone();
        bad.data[3] = f32::NAN;
        assert_eq!(bad.first_non_finite().map(|(r, c, _)| (r, c)), Some((1, 1)));
    }
}
