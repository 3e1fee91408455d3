//! The geometric median: the point that minimises the sum of Euclidean distances to the rows, a
//! centre that outliers move less than the mean (Gao et al. 2024 start the pre-encoder bias
//! there).

use ae_backend::{Error, Matrix, Result};

/// The geometric median of the rows of `x` `[n, d]` by Weiszfeld's iteration from the mean, at
/// most `iterations` steps, stopping when a step moves less than `tol` times the scale of the
/// data. A row that the estimate lands on is skipped in that step (the usual Weiszfeld fix).
pub fn geometric_median(x: &Matrix, iterations: usize, tol: f64) -> Result<Vec<f64>> {
    if x.rows == 0 || x.cols == 0 {
        return Err(Error::Shape(format!(
            "the geometric median of [{}, {}]: no rows",
            x.rows, x.cols
        )));
    }
    let d = x.cols;
    let mut m: Vec<f64> = x.column_means();
    let scale = x
        .data
        .iter()
        .map(|&v| (v as f64).abs())
        .fold(0.0, f64::max)
        .max(1e-30);
    for _ in 0..iterations {
        let mut num = vec![0.0f64; d];
        let mut den = 0.0f64;
        for r in 0..x.rows {
            let row = x.row(r);
            let dist = row
                .iter()
                .zip(&m)
                .map(|(&v, &c)| (v as f64 - c).powi(2))
                .sum::<f64>()
                .sqrt();
            if dist <= 1e-12 * scale {
                continue;
            }
            let w = 1.0 / dist;
            den += w;
            for (acc, &v) in num.iter_mut().zip(row) {
                *acc += w * v as f64;
            }
        }
        if den == 0.0 {
            break;
        }
        let next: Vec<f64> = num.iter().map(|v| v / den).collect();
        let step = next
            .iter()
            .zip(&m)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        m = next;
        if step < tol * scale {
            break;
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_symmetric_points_is_their_centre_and_shrugs_off_an_outlier() {
        // Four corners of a square around (1, 2): the centre.
        let square = Matrix::new(4, 2, vec![0.0, 1.0, 2.0, 1.0, 0.0, 3.0, 2.0, 3.0]).unwrap();
        let m = geometric_median(&square, 200, 1e-12).unwrap();
        assert!(
            (m[0] - 1.0).abs() < 1e-6 && (m[1] - 2.0).abs() < 1e-6,
            "{m:?}"
        );
        // Five points on a line and one far away: the median stays with the five (the mean
        // would move by 1000 / 6).
        let mut pts = vec![0.0f32, 0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0];
        pts.extend([1000.0, 0.0]);
        let line = Matrix::new(6, 2, pts).unwrap();
        let m = geometric_median(&line, 500, 1e-12).unwrap();
        assert!(m[0] > 1.9 && m[0] < 3.1, "{m:?}");
        assert!(geometric_median(&Matrix::zeros(0, 2), 10, 1e-9).is_err());
    }
}
