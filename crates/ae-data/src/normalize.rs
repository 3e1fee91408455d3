//! Per-feature normalisation: `x' = (x - offset) / scale`, column by column, with statistics
//! fitted on training data and saved with a model so the same transform applies later.

use crate::source::RowSource;
use ae_backend::{Error, Matrix, Result};
use std::fmt;
use std::str::FromStr;

/// How features are normalised before training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalization {
    /// Leave values as they are.
    None,
    /// Map each feature's `[min, max]` onto `[0, 1]`.
    MinMax,
    /// Subtract each feature's mean and divide by its (population) standard deviation.
    Standard,
    /// Subtract each feature's median and divide by its interquartile range over 1.349 (the
    /// standard deviation, for normal data): a few extreme rows move neither. Where the IQR is
    /// 0 (a column that is mostly one value) the scale falls back to the 5-95% range over 3.29,
    /// then to the standard deviation, then to 1 (a constant column). Exact on up to
    /// [`ROBUST_SAMPLE_ROWS`] rows, from a seeded uniform sample of that many rows above.
    Robust,
}

/// Rows the quantiles of [`Normalization::Robust`] are taken over: every row up to this many,
/// else a uniform sample of this many (reservoir sampling, seeded), so that memory is this many
/// rows whatever the data.
pub const ROBUST_SAMPLE_ROWS: usize = 16_384;

impl Normalization {
    const NAMES: &'static str = "none, minmax, standard, robust";

    fn name(self) -> &'static str {
        match self {
            Normalization::None => "none",
            Normalization::MinMax => "minmax",
            Normalization::Standard => "standard",
            Normalization::Robust => "robust",
        }
    }
}

impl FromStr for Normalization {
    type Err = Error;

    /// `none`, `minmax`, `standard` or `robust`, in any case.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Normalization::None),
            "minmax" => Ok(Normalization::MinMax),
            "standard" => Ok(Normalization::Standard),
            "robust" => Ok(Normalization::Robust),
            _ => Err(Error::Config(format!(
                "unknown normalization {s:?}; expected one of {}",
                Normalization::NAMES
            ))),
        }
    }
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Fitted per-feature statistics: `offset` and `scale` each hold `cols` values.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NormStats {
    /// The kind these statistics were fitted for.
    pub kind: Normalization,
    /// Subtracted from each feature: its min ([`MinMax`](Normalization::MinMax)), mean
    /// ([`Standard`](Normalization::Standard)), median ([`Robust`](Normalization::Robust)) or 0
    /// ([`None`](Normalization::None)).
    pub offset: Vec<f32>,
    /// Then divided into each feature: `max - min`, the standard deviation, the floored
    /// IQR / 1.349, or 1. Never 0.
    pub scale: Vec<f32>,
}

impl NormStats {
    /// Fits `kind` to the columns of `m` (`[rows, cols]`). A constant feature, whose spread is 0
    /// or lost in rounding (at most 4 ε times its largest magnitude), gets scale 1, so it comes
    /// out as a constant (0) rather than dividing by zero. With no rows, offset 0 and scale 1.
    pub fn fit(kind: Normalization, m: &Matrix) -> NormStats {
        let mut offset = vec![0.0; m.cols];
        let mut scale = vec![1.0; m.cols];
        if kind == Normalization::None || m.rows == 0 {
            return NormStats {
                kind,
                offset,
                scale,
            };
        }
        if kind == Normalization::Robust {
            let rows: Vec<u32> = (0..m.rows as u32).collect();
            let source = crate::MatrixSource::borrowed("the data", m);
            return Self::fit_source(kind, &source, &rows).expect("a matrix reads");
        }
        let n = m.rows as f64;
        for c in 0..m.cols {
            let column = || (0..m.rows).map(|r| m.data[r * m.cols + c] as f64);
            let (min, max) = column().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            });
            let (o, s) = match kind {
                Normalization::MinMax => (min, max - min),
                _ => {
                    let mean = column().sum::<f64>() / n;
                    let var = column().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                    (mean, var.sqrt())
                }
            };
            offset[c] = o as f32;
            scale[c] = guarded_scale(s, min, max);
        }
        NormStats {
            kind,
            offset,
            scale,
        }
    }

    /// Normalises `m` in place: `x = (x - offset) / scale` per column. Errors when `m` does not
    /// have `offset.len()` columns.
    pub fn apply(&self, m: &mut Matrix) -> Result<()> {
        self.check(m)?;
        if self.kind != Normalization::None && m.cols > 0 {
            for row in m.data.chunks_exact_mut(m.cols) {
                for ((x, o), s) in row.iter_mut().zip(&self.offset).zip(&self.scale) {
                    *x = (*x - o) / s;
                }
            }
        }
        Ok(())
    }

    /// Undoes [`apply`](Self::apply) in place: `x = x * scale + offset` per column. Errors when
    /// `m` does not have `offset.len()` columns.
    pub fn invert(&self, m: &mut Matrix) -> Result<()> {
        self.check(m)?;
        if self.kind != Normalization::None && m.cols > 0 {
            for row in m.data.chunks_exact_mut(m.cols) {
                for ((x, o), s) in row.iter_mut().zip(&self.offset).zip(&self.scale) {
                    *x = *x * s + o;
                }
            }
        }
        Ok(())
    }

    fn check(&self, m: &Matrix) -> Result<()> {
        if m.cols != self.offset.len() || m.cols != self.scale.len() {
            return Err(Error::Shape(format!(
                "{} normalisation was fitted to {} features, the data has {} columns",
                self.kind,
                self.offset.len(),
                m.cols
            )));
        }
        Ok(())
    }
}

/// A feature's scale, or 1 for a constant feature: one whose spread `s` is 0 or lost in rounding
/// (at most 4 ε times its largest magnitude), so that it comes out as a constant rather than
/// dividing by zero.
fn guarded_scale(s: f64, min: f64, max: f64) -> f32 {
    let magnitude = min.abs().max(max.abs());
    if s > 4.0 * f32::EPSILON as f64 * magnitude && s.is_finite() {
        s as f32
    } else {
        1.0
    }
}

impl NormStats {
    /// [`NormStats::fit`] on rows `rows` of `source` (in that order), read [`FIT_CHUNK_ROWS`] at a
    /// time in two passes (min, max and sum; then the squared deviations), so memory holds one
    /// chunk. The sums run in the same order as `fit`'s, so the result is `fit`'s on the same
    /// rows, to the bit.
    pub fn fit_source(kind: Normalization, source: &dyn RowSource, rows: &[u32]) -> Result<Self> {
        Ok(Self::fit_source_inner(kind, source, rows, false)?.0)
    }

    /// [`fit_source`](Self::fit_source), and each column's raw range over the same rows, taken
    /// in its first pass (a pass of its own for [`Normalization::None`], which needs no other).
    pub fn fit_source_with_range(
        kind: Normalization,
        source: &dyn RowSource,
        rows: &[u32],
    ) -> Result<(Self, ColumnRange)> {
        let (stats, range) = Self::fit_source_inner(kind, source, rows, true)?;
        Ok((stats, range.expect("asked for")))
    }

    fn fit_source_inner(
        kind: Normalization,
        source: &dyn RowSource,
        rows: &[u32],
        want_range: bool,
    ) -> Result<(Self, Option<ColumnRange>)> {
        let cols = source.cols();
        let mut stats = NormStats {
            kind,
            offset: vec![0.0; cols],
            scale: vec![1.0; cols],
        };
        if (kind == Normalization::None && !want_range) || rows.is_empty() {
            let range = want_range.then(|| ColumnRange {
                min: vec![0.0; cols],
                max: vec![0.0; cols],
            });
            return Ok((stats, range));
        }
        let chunks = || rows.chunks(FIT_CHUNK_ROWS).map(|idx| source.gather(idx));
        let mut min = vec![f64::INFINITY; cols];
        let mut max = vec![f64::NEG_INFINITY; cols];
        let mut sum = vec![0.0f64; cols];
        let mut sample = (kind == Normalization::Robust).then(|| RowSample::new(cols));
        for chunk in chunks() {
            let chunk = chunk?;
            for r in 0..chunk.rows {
                for (c, &v) in chunk.row(r).iter().enumerate() {
                    let x = v as f64;
                    (min[c], max[c]) = (min[c].min(x), max[c].max(x));
                    sum[c] += x;
                }
                if let Some(sample) = sample.as_mut() {
                    sample.add(chunk.row(r));
                }
            }
        }
        let range = want_range.then(|| ColumnRange {
            min: min.iter().map(|&v| v as f32).collect(),
            max: max.iter().map(|&v| v as f32).collect(),
        });
        if kind == Normalization::None {
            return Ok((stats, range));
        }
        let n = rows.len() as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut squares = vec![0.0f64; cols];
        if matches!(kind, Normalization::Standard | Normalization::Robust) {
            for chunk in chunks() {
                let chunk = chunk?;
                for r in 0..chunk.rows {
                    for (c, &v) in chunk.row(r).iter().enumerate() {
                        squares[c] += (v as f64 - mean[c]) * (v as f64 - mean[c]);
                    }
                }
            }
        }
        for c in 0..cols {
            let sd = (squares[c] / n).sqrt();
            let (o, s) = match (kind, &mut sample) {
                (Normalization::MinMax, _) => (min[c], max[c] - min[c]),
                (Normalization::Robust, Some(sample)) => {
                    let [q05, q1, median, q3, q95] = sample.quantiles(c);
                    let magnitude = min[c].abs().max(max[c].abs());
                    let spread = |s: f64| s > 4.0 * f32::EPSILON as f64 * magnitude;
                    let s = [(q3 - q1) / IQR_PER_SD, (q95 - q05) / RANGE_90_PER_SD]
                        .into_iter()
                        .find(|&s| spread(s))
                        .unwrap_or(sd);
                    (median, s)
                }
                _ => (mean[c], sd),
            };
            stats.offset[c] = o as f32;
            stats.scale[c] = guarded_scale(s, min[c], max[c]);
        }
        Ok((stats, range))
    }

    /// The smallest and the largest value of any column once normalised, for rows whose raw
    /// columns span `range`: `(x - offset) / scale` is monotone in `x` (also in f32 rounding),
    /// so the normalised extremes are those of the raw extremes, computed as [`apply`] does.
    ///
    /// [`apply`]: Self::apply
    pub fn normalised_bounds(&self, range: &ColumnRange) -> (f32, f32) {
        let map = |x: f32, c: usize| match self.kind {
            Normalization::None => x,
            _ => (x - self.offset[c]) / self.scale[c],
        };
        let lo = (range.min.iter().enumerate()).fold(f32::INFINITY, |a, (c, &x)| a.min(map(x, c)));
        let hi =
            (range.max.iter().enumerate()).fold(f32::NEG_INFINITY, |a, (c, &x)| a.max(map(x, c)));
        (lo, hi)
    }
}

/// The interquartile range of a normal distribution in standard deviations.
const IQR_PER_SD: f64 = 1.349;

/// The 5-95% range of a normal distribution in standard deviations.
const RANGE_90_PER_SD: f64 = 3.29;

/// A uniform sample of at most [`ROBUST_SAMPLE_ROWS`] rows (reservoir sampling, seeded): every
/// row while there are no more than that.
struct RowSample {
    cols: usize,
    rows: Vec<f32>,
    seen: usize,
    rng: ae_backend::rng::Rng,
}

impl RowSample {
    fn new(cols: usize) -> Self {
        RowSample {
            cols,
            rows: Vec::new(),
            seen: 0,
            rng: ae_backend::rng::Rng::new(0x726f_6275),
        }
    }

    fn add(&mut self, row: &[f32]) {
        self.seen += 1;
        if self.rows.len() < ROBUST_SAMPLE_ROWS * self.cols {
            self.rows.extend_from_slice(row);
        } else {
            let j = self.rng.below(self.seen);
            if j < ROBUST_SAMPLE_ROWS {
                self.rows[j * self.cols..(j + 1) * self.cols].copy_from_slice(row);
            }
        }
    }

    /// Column `c`'s 5% quantile, quartiles and 95% quantile (linear interpolation between
    /// order statistics, as numpy's default).
    fn quantiles(&self, c: usize) -> [f64; 5] {
        let mut v: Vec<f64> = self.rows[c..]
            .iter()
            .step_by(self.cols.max(1))
            .map(|&x| x as f64)
            .collect();
        v.sort_by(f64::total_cmp);
        [0.05, 0.25, 0.5, 0.75, 0.95].map(|q| {
            let at = q * (v.len() - 1) as f64;
            let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (at - lo as f64)
        })
    }
}

/// Each column's smallest and largest raw value over some rows (`cols` values each).
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnRange {
    /// Per-column minimum.
    pub min: Vec<f32>,
    /// Per-column maximum.
    pub max: Vec<f32>,
}

/// Rows read at a time by [`NormStats::fit_source`].
pub const FIT_CHUNK_ROWS: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    /// Columns: spread out, constant, constant but large, ordinary.
    fn sample() -> Matrix {
        Matrix::new(
            4,
            4,
            vec![
                1.0, 5.0, 1e6, -2.0, //
                3.0, 5.0, 1e6, 0.0, //
                5.0, 5.0, 1e6, 2.0, //
                7.0, 5.0, 1e6, 4.0,
            ],
        )
        .unwrap()
    }

    #[test]
    fn parses_displays_and_serializes() {
        for (s, k) in [
            ("none", Normalization::None),
            ("minmax", Normalization::MinMax),
            ("standard", Normalization::Standard),
            ("robust", Normalization::Robust),
        ] {
            assert_eq!(s.parse::<Normalization>().unwrap(), k);
            assert_eq!(k.to_string(), s);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<Normalization>(&format!("\"{s}\"")).unwrap(),
                k
            );
        }
        assert_eq!(
            "MinMax".parse::<Normalization>().unwrap(),
            Normalization::MinMax
        );
        let err = "zscore".parse::<Normalization>().unwrap_err().to_string();
        assert!(err.contains("\"zscore\"") && err.contains("none, minmax, standard"));
    }

    #[test]
    fn minmax_fits_and_maps_onto_unit_interval() {
        let m = sample();
        let stats = NormStats::fit(Normalization::MinMax, &m);
        assert_eq!(stats.offset, vec![1.0, 5.0, 1e6, -2.0]);
        assert_eq!(stats.scale, vec![6.0, 1.0, 1.0, 6.0]);
        let mut x = m.clone();
        stats.apply(&mut x).unwrap();
        assert!(close(x.row(0), &[0.0, 0.0, 0.0, 0.0], 1e-6));
        assert!(close(x.row(3), &[1.0, 0.0, 0.0, 1.0], 1e-6));
        stats.invert(&mut x).unwrap();
        assert!(close(&x.data, &m.data, 1e-5));
    }

    #[test]
    fn standard_fits_mean_and_population_std() {
        let m = sample();
        let stats = NormStats::fit(Normalization::Standard, &m);
        assert!(close(&stats.offset, &[4.0, 5.0, 1e6, 1.0], 1e-6));
        // Population std of 1, 3, 5, 7 is sqrt(5); constant columns get scale 1.
        assert!(close(
            &stats.scale,
            &[5f32.sqrt(), 1.0, 1.0, 5f32.sqrt()],
            1e-6
        ));
        let mut x = m.clone();
        stats.apply(&mut x).unwrap();
        for c in 0..4 {
            let col: Vec<f32> = (0..4).map(|r| x.row(r)[c]).collect();
            let mean = col.iter().sum::<f32>() / 4.0;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 4.0;
            assert!(mean.abs() < 1e-6, "column {c} mean {mean}");
            let want = if c == 0 || c == 3 { 1.0 } else { 0.0 };
            assert!((var - want).abs() < 1e-5, "column {c} variance {var}");
        }
        stats.invert(&mut x).unwrap();
        assert!(close(&x.data, &m.data, 1e-4));
    }

    #[test]
    fn rounding_noise_is_not_spread() {
        // A constant column whose values differ only in the last bit.
        let v = 1000.0f32;
        let m = Matrix::new(2, 1, vec![v, f32::from_bits(v.to_bits() + 1)]).unwrap();
        assert_eq!(NormStats::fit(Normalization::MinMax, &m).scale, vec![1.0]);
        assert_eq!(NormStats::fit(Normalization::Standard, &m).scale, vec![1.0]);
        // A tiny but real spread is kept.
        let m = Matrix::new(2, 1, vec![1e-9, 3e-9]).unwrap();
        let s = NormStats::fit(Normalization::MinMax, &m).scale[0];
        assert!((s - 2e-9).abs() < 1e-15, "{s}");
    }

    #[test]
    fn none_is_identity() {
        let m = sample();
        let stats = NormStats::fit(Normalization::None, &m);
        assert_eq!((stats.offset.len(), stats.scale.len()), (4, 4));
        let mut x = m.clone();
        stats.apply(&mut x).unwrap();
        assert_eq!(x, m);
        stats.invert(&mut x).unwrap();
        assert_eq!(x, m);
    }

    #[test]
    fn empty_matrix_gives_unit_stats() {
        let stats = NormStats::fit(Normalization::Standard, &Matrix::zeros(0, 3));
        assert_eq!((stats.offset, stats.scale), (vec![0.0; 3], vec![1.0; 3]));
    }

    #[test]
    fn column_mismatch_is_a_shape_error() {
        let stats = NormStats::fit(Normalization::MinMax, &sample());
        let mut wrong = Matrix::zeros(2, 3);
        assert!(matches!(stats.apply(&mut wrong), Err(Error::Shape(_))));
        assert!(matches!(stats.invert(&mut wrong), Err(Error::Shape(_))));
        let err = stats.apply(&mut wrong).unwrap_err().to_string();
        assert!(
            err.contains("4 features") && err.contains("3 columns"),
            "{err}"
        );
        // Statistics from a file may disagree with themselves.
        let broken = NormStats {
            kind: Normalization::Standard,
            offset: vec![0.0; 3],
            scale: vec![1.0; 2],
        };
        assert!(broken.apply(&mut wrong).is_err());
    }

    #[test]
    fn stats_serialize_round_trip() {
        let stats = NormStats::fit(Normalization::Standard, &sample());
        let json = serde_json::to_string(&stats).unwrap();
        assert!(json.contains("\"kind\":\"standard\""), "{json}");
        assert_eq!(serde_json::from_str::<NormStats>(&json).unwrap(), stats);
    }

    #[test]
    fn statistics_fitted_from_a_source_equal_the_in_memory_fit_to_the_bit() {
        // A large offset and a small spread; more rows than one chunk; a constant feature.
        let rows = FIT_CHUNK_ROWS + 1000;
        let m = Matrix::new(
            rows,
            3,
            (0..rows * 3)
                .map(|k| {
                    let (i, j) = ((k / 3) as f32, k % 3);
                    match j {
                        0 => 1e4 + (i * 0.37).sin(),
                        1 => 5.0,
                        _ => i * 0.01 - 3.0,
                    }
                })
                .collect(),
        )
        .unwrap();
        let source = crate::MatrixSource::new("m", m.clone());
        // Every row but the first 10, backwards: the order the sums run in is the rows' order.
        let idx: Vec<u32> = (10..rows as u32).rev().collect();
        let picked = m.select_rows(&idx.iter().map(|&i| i as usize).collect::<Vec<_>>());
        for kind in [
            Normalization::Standard,
            Normalization::MinMax,
            Normalization::None,
        ] {
            let fitted = NormStats::fit_source(kind, &source, &idx).unwrap();
            assert_eq!(fitted, NormStats::fit(kind, &picked), "{kind}");
        }
    }

    #[test]
    fn the_range_is_the_raw_extremes_and_the_bounds_those_normalised() {
        let m = sample();
        let source = crate::MatrixSource::new("m", m.clone());
        let idx: Vec<u32> = (0..4).collect();
        for kind in [
            Normalization::Standard,
            Normalization::MinMax,
            Normalization::None,
        ] {
            let (stats, range) = NormStats::fit_source_with_range(kind, &source, &idx).unwrap();
            assert_eq!(stats, NormStats::fit(kind, &m), "{kind}");
            assert_eq!(range.min, vec![1.0, 5.0, 1e6, -2.0]);
            assert_eq!(range.max, vec![7.0, 5.0, 1e6, 4.0]);
            let mut normalised = m.clone();
            stats.apply(&mut normalised).unwrap();
            let lo = normalised
                .data
                .iter()
                .copied()
                .fold(f32::INFINITY, f32::min);
            let hi = normalised
                .data
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(stats.normalised_bounds(&range), (lo, hi), "{kind}");
        }
        // Min-max maps every column into [0, 1] exactly.
        let (stats, range) =
            NormStats::fit_source_with_range(Normalization::MinMax, &source, &idx).unwrap();
        assert_eq!(stats.normalised_bounds(&range), (0.0, 1.0));
    }

    #[test]
    fn robust_statistics_are_the_median_and_the_floored_iqr() {
        // Column 0: 1..=9 and one far outlier; column 1: mostly 0 (IQR 0); column 2: constant.
        let mut data = Vec::new();
        for i in 0..10 {
            let x = if i == 9 { 1000.0 } else { (i + 1) as f32 };
            let y = if i == 0 { 4.0 } else { 0.0 };
            data.extend([x, y, 3.0]);
        }
        let m = Matrix::new(10, 3, data).unwrap();
        let stats = NormStats::fit(Normalization::Robust, &m);
        // Median of 1..=9, 1000: 5.5; quartiles 3.25 and 7.75.
        assert_eq!(stats.offset, vec![5.5, 0.0, 3.0]);
        assert!(
            (stats.scale[0] as f64 - 4.5 / IQR_PER_SD).abs() < 1e-5,
            "{:?}",
            stats.scale
        );
        // The outlier does not move the robust scale; the standard one it inflates.
        assert!(NormStats::fit(Normalization::Standard, &m).scale[0] > 50.0 * stats.scale[0]);
        // IQR 0: the 5-95% range (0 to 0.55 * 4, interpolated at rank 8.55 of 0..=9) over 3.29.
        assert!(
            (stats.scale[1] as f64 - 2.2 / 3.29).abs() < 1e-6,
            "{:?}",
            stats.scale
        );
        // Constant: 1, so it comes out as 0 rather than dividing by zero.
        assert_eq!(stats.scale[2], 1.0);
        let mut x = m.clone();
        stats.apply(&mut x).unwrap();
        assert!(x.data.iter().all(|v| v.is_finite()));
        assert_eq!(x.row(0)[2], 0.0);
        // Streamed in chunks, the same.
        let source = crate::MatrixSource::new("m", m.clone());
        let idx: Vec<u32> = (0..10).collect();
        assert_eq!(
            NormStats::fit_source(Normalization::Robust, &source, &idx).unwrap(),
            stats
        );
        assert_eq!(
            "robust".parse::<Normalization>().unwrap(),
            Normalization::Robust
        );
    }

    #[test]
    fn robust_quartiles_come_from_a_bounded_sample_above_its_size() {
        let rows = ROBUST_SAMPLE_ROWS * 2 + 17;
        let m = Matrix::new(rows, 1, (0..rows).map(|i| i as f32).collect()).unwrap();
        let stats = NormStats::fit(Normalization::Robust, &m);
        // A uniform sample of the values 0..rows: its median within a few percent of the
        // exact one, its scale of the exact IQR / 1.349.
        let (median, scale) = (rows as f64 / 2.0, rows as f64 / 2.0 / IQR_PER_SD);
        assert!(
            (stats.offset[0] as f64 - median).abs() < 0.03 * median,
            "{stats:?}"
        );
        assert!(
            (stats.scale[0] as f64 - scale).abs() < 0.03 * scale,
            "{stats:?}"
        );
    }
}
