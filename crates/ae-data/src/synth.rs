//! Synthetic datasets made by this crate's own code, fixed entirely by a seed: the 3-D manifolds
//! of scikit-learn (`make_swiss_roll`, `make_s_curve`) and Gaussian blobs with planted outliers
//! for anomaly detection. Every generator draws from [`Rng`], so the same seed gives the same
//! points on every platform.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use ae_backend::{Error, Matrix, Result, Rng};

/// Standard deviation of each blob around its centre.
const BLOB_SIGMA: f64 = 1.0;
/// Planted outliers lie at least this many [`BLOB_SIGMA`] from every centre.
const OUTLIER_MIN_SIGMAS: f64 = 4.0;
/// Blob centres are uniform in `[-CENTRE_BOX, CENTRE_BOX]^dim`.
const CENTRE_BOX: f64 = 10.0;
/// Consecutive rejected outlier candidates after which the sampling box is widened.
const REJECTIONS_BEFORE_WIDENING: usize = 1000;

/// A synthetic dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Synthetic {
    /// The points, `[n, d]`.
    pub data: Matrix,
    /// One value per point: the position `t` along the manifold (swiss roll, S-curve), or the
    /// cluster id for blobs (`-1.0` for a planted outlier).
    pub position: Vec<f32>,
    /// Anomaly labels for blobs (`1` = planted outlier, `0` = inlier), `None` for manifolds.
    pub labels: Option<Vec<i64>>,
}

/// Which synthetic dataset [`generate`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthKind {
    /// [`swiss_roll`]: a 2-D sheet rolled up in 3-D.
    SwissRoll,
    /// [`s_curve`]: a 2-D sheet bent into an S in 3-D.
    SCurve,
    /// [`blobs`]: Gaussian clusters with planted outliers.
    Blobs,
    /// [`gaussian_rows`]: seeded standard-normal rows, the stand-in for a set of activations in
    /// scale tests (made a chunk at a time, any size).
    Gaussian,
}

impl SynthKind {
    /// Every kind, in a fixed order.
    pub const ALL: [SynthKind; 4] = [
        SynthKind::SwissRoll,
        SynthKind::SCurve,
        SynthKind::Blobs,
        SynthKind::Gaussian,
    ];

    /// The canonical name: `swiss-roll`, `s-curve` or `blobs`.
    pub fn name(self) -> &'static str {
        match self {
            SynthKind::SwissRoll => "swiss-roll",
            SynthKind::SCurve => "s-curve",
            SynthKind::Blobs => "blobs",
            SynthKind::Gaussian => "gaussian",
        }
    }
}

impl fmt::Display for SynthKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SynthKind {
    type Err = Error;

    /// Parses `swiss-roll`/`swiss_roll`/`swissroll`, `s-curve`/`s_curve`/`scurve` or `blobs`,
    /// ignoring case and surrounding spaces.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "swiss-roll" | "swiss_roll" | "swissroll" => Ok(SynthKind::SwissRoll),
            "s-curve" | "s_curve" | "scurve" => Ok(SynthKind::SCurve),
            "blobs" => Ok(SynthKind::Blobs),
            "gaussian" => Ok(SynthKind::Gaussian),
            _ => {
                let names: Vec<_> = SynthKind::ALL.iter().map(|k| k.name()).collect();
                Err(Error::Config(format!(
                    "unknown synthetic dataset '{s}': expected one of {}",
                    names.join(", ")
                )))
            }
        }
    }
}

/// Noise used by [`generate`] for the swiss roll and the S-curve.
pub const DEFAULT_MANIFOLD_NOISE: f64 = 0.05;
/// Dimension used by [`generate`] for blobs.
pub const DEFAULT_BLOB_DIM: usize = 8;
/// Number of clusters used by [`generate`] for blobs.
pub const DEFAULT_BLOB_CLUSTERS: usize = 4;
/// Fraction of planted outliers used by [`generate`] for blobs.
pub const DEFAULT_OUTLIER_FRACTION: f64 = 0.05;

/// `n` points of `kind` with the default settings ([`DEFAULT_MANIFOLD_NOISE`], and for blobs
/// [`DEFAULT_BLOB_DIM`], [`DEFAULT_BLOB_CLUSTERS`], [`DEFAULT_OUTLIER_FRACTION`]).
/// Errors with [`Error::Config`] when `n == 0`.
pub fn generate(kind: SynthKind, n: usize, seed: u64) -> Result<Synthetic> {
    if n == 0 {
        return Err(Error::Config(format!(
            "synthetic dataset '{kind}' needs at least one point, got n = 0"
        )));
    }
    Ok(match kind {
        SynthKind::SwissRoll => swiss_roll(n, DEFAULT_MANIFOLD_NOISE, seed),
        SynthKind::SCurve => s_curve(n, DEFAULT_MANIFOLD_NOISE, seed),
        SynthKind::Blobs => blobs(
            n,
            DEFAULT_BLOB_DIM,
            DEFAULT_BLOB_CLUSTERS,
            DEFAULT_OUTLIER_FRACTION,
            seed,
        ),
        SynthKind::Gaussian => Synthetic {
            data: gaussian_rows(seed, 0, n, DEFAULT_GAUSSIAN_DIM)?,
            position: (0..n).map(|i| i as f32).collect(),
            labels: None,
        },
    })
}

/// Width used by [`generate`] for [`SynthKind::Gaussian`] (a small transformer's residual).
pub const DEFAULT_GAUSSIAN_DIM: usize = 768;

/// Rows `start..start + count` of the seeded standard-normal data set of width `dim`:
/// `[count, dim]`. Each value depends only on `(seed, row, column)` (a counter-based hash and
/// Box-Muller), so any chunk can be made on its own and the data set has no size limit.
pub fn gaussian_rows(seed: u64, start: usize, count: usize, dim: usize) -> Result<Matrix> {
    use ae_backend::ops::data::hash_uniform;
    let seed = (seed ^ (seed >> 32)) as u32;
    let mut data = Vec::with_capacity(count * dim);
    for row in start..start + count {
        let stream = (row as u32)
            .wrapping_mul(2)
            .wrapping_add((row >> 31) as u32);
        for col in 0..dim as u32 {
            let u1 = hash_uniform(seed, col, stream) as f64;
            let u2 = hash_uniform(seed, col, stream.wrapping_add(1)) as f64;
            data.push(((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32);
        }
    }
    Matrix::new(count, dim, data)
}

/// The swiss roll, `[n, 3]`, as `sklearn.datasets.make_swiss_roll`: with `u, v ~ U[0, 1)`,
/// `t = 1.5π (1 + 2u)`, `(x, y, z) = (t cos t, 21 v, t sin t)`, plus `noise · N(0, 1)` on each
/// coordinate. `position` is `t`.
pub fn swiss_roll(n: usize, noise: f64, seed: u64) -> Synthetic {
    manifold(n, noise, seed, |u, v| {
        let t = 1.5 * PI * (1.0 + 2.0 * u);
        (t, [t * t.cos(), 21.0 * v, t * t.sin()])
    })
}

/// The S-curve, `[n, 3]`, as `sklearn.datasets.make_s_curve`: with `u, v ~ U[0, 1)`,
/// `t = 3π (u - 0.5)`, `(x, y, z) = (sin t, 2 v, sign(t) (cos t - 1))`, plus `noise · N(0, 1)`
/// on each coordinate. `position` is `t`.
pub fn s_curve(n: usize, noise: f64, seed: u64) -> Synthetic {
    manifold(n, noise, seed, |u, v| {
        let t = 3.0 * PI * (u - 0.5);
        let sign = if t == 0.0 { 0.0 } else { t.signum() };
        (t, [t.sin(), 2.0 * v, sign * (t.cos() - 1.0)])
    })
}

/// `n` points of a 3-D manifold parametrised by `(u, v) ~ U[0, 1)^2` through `map`, which
/// returns `(t, point)`; then Gaussian noise of standard deviation `noise` on every coordinate.
fn manifold(
    n: usize,
    noise: f64,
    seed: u64,
    map: impl Fn(f64, f64) -> (f64, [f64; 3]),
) -> Synthetic {
    let mut rng = Rng::new(seed);
    let u: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
    let v: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
    let (position, points): (Vec<f32>, Vec<[f64; 3]>) = u
        .iter()
        .zip(&v)
        .map(|(&u, &v)| {
            let (t, point) = map(u, v);
            (t as f32, point)
        })
        .unzip();
    let data: Vec<f32> = points
        .iter()
        .flatten()
        .map(|&x| {
            let e = if noise == 0.0 {
                0.0
            } else {
                noise * rng.normal()
            };
            (x + e) as f32
        })
        .collect();
    Synthetic {
        data: Matrix {
            rows: n,
            cols: 3,
            data,
        },
        position,
        labels: None,
    }
}

/// Gaussian blobs with planted outliers, `[n, dim]`.
///
/// `clusters` centres are drawn uniformly in `[-10, 10]^dim`; the `n - m` inliers are split as
/// evenly as possible between them and drawn from `N(centre, σ² I)` with `σ = 1`. The
/// `m = round(n · outlier_fraction)` outliers (`outlier_fraction` clamped to `[0, 1]`) are drawn
/// uniformly from the bounding box of the inliers and centres, enlarged by 20% (10% of its width
/// on each side), and rejected when closer than `4σ` to any centre; after many consecutive
/// rejections the box is widened further, so sampling always ends. Rows are shuffled; `labels`
/// are `1` for outliers and `0` for inliers, `position` is the cluster id (`-1` for outliers).
///
/// # Panics
/// When `dim == 0` or `clusters == 0`.
pub fn blobs(n: usize, dim: usize, clusters: usize, outlier_fraction: f64, seed: u64) -> Synthetic {
    blobs_with_centres(n, dim, clusters, outlier_fraction, seed).0
}

/// Squared Euclidean distance between a stored (f32) point and a centre, in f64.
fn distance2(point: &[f32], centre: &[f64]) -> f64 {
    point
        .iter()
        .zip(centre)
        .map(|(&p, &c)| {
            let d = p as f64 - c;
            d * d
        })
        .sum()
}

/// [`blobs`], also returning the centres (`clusters` vectors of length `dim`).
fn blobs_with_centres(
    n: usize,
    dim: usize,
    clusters: usize,
    outlier_fraction: f64,
    seed: u64,
) -> (Synthetic, Vec<Vec<f64>>) {
    assert!(dim > 0, "blobs need dim > 0");
    assert!(clusters > 0, "blobs need clusters > 0");
    let fraction = if outlier_fraction.is_nan() {
        0.0
    } else {
        outlier_fraction.clamp(0.0, 1.0)
    };
    let n_out = ((n as f64 * fraction).round() as usize).min(n);
    let n_in = n - n_out;
    let mut rng = Rng::new(seed);

    let centres: Vec<Vec<f64>> = (0..clusters)
        .map(|_| {
            (0..dim)
                .map(|_| rng.uniform_in(-CENTRE_BOX, CENTRE_BOX))
                .collect()
        })
        .collect();

    let mut data: Vec<f32> = Vec::with_capacity(n * dim);
    let mut position: Vec<f32> = Vec::with_capacity(n);
    for (k, centre) in centres.iter().enumerate() {
        let size = n_in / clusters + usize::from(k < n_in % clusters);
        for _ in 0..size {
            data.extend(
                centre
                    .iter()
                    .map(|&c| (c + BLOB_SIGMA * rng.normal()) as f32),
            );
            position.push(k as f32);
        }
    }

    // Bounding box of the inliers and the centres, then 10% of its width added on each side.
    let mut lo = vec![f64::INFINITY; dim];
    let mut hi = vec![f64::NEG_INFINITY; dim];
    let inlier_coords = data
        .chunks_exact(dim)
        .flat_map(|row| row.iter().map(|&x| x as f64).enumerate());
    let centre_coords = centres.iter().flat_map(|c| c.iter().copied().enumerate());
    for (j, x) in inlier_coords.chain(centre_coords) {
        lo[j] = lo[j].min(x);
        hi[j] = hi[j].max(x);
    }
    let mut margin: Vec<f64> = lo.iter().zip(&hi).map(|(l, h)| 0.1 * (h - l)).collect();

    let min_distance2 = (OUTLIER_MIN_SIGMAS * BLOB_SIGMA).powi(2);
    let mut candidate = vec![0f32; dim];
    let mut rejections = 0;
    for _ in 0..n_out {
        loop {
            for (j, x) in candidate.iter_mut().enumerate() {
                *x = rng.uniform_in(lo[j] - margin[j], hi[j] + margin[j]) as f32;
            }
            if centres
                .iter()
                .all(|c| distance2(&candidate, c) >= min_distance2)
            {
                rejections = 0;
                break;
            }
            rejections += 1;
            if rejections == REJECTIONS_BEFORE_WIDENING {
                rejections = 0;
                for m in &mut margin {
                    *m = 2.0 * *m + OUTLIER_MIN_SIGMAS * BLOB_SIGMA;
                }
            }
        }
        data.extend_from_slice(&candidate);
        position.push(-1.0);
    }
    let mut labels: Vec<i64> = (0..n).map(|i| i64::from(i >= n_in)).collect();

    let order = rng.permutation(n);
    let data = Matrix {
        rows: n,
        cols: dim,
        data,
    }
    .select_rows(&order);
    position = order.iter().map(|&i| position[i]).collect();
    labels = order.iter().map(|&i| labels[i]).collect();
    (
        Synthetic {
            data,
            position,
            labels: Some(labels),
        },
        centres,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_other_seed_differs() {
        for kind in SynthKind::ALL {
            let a = generate(kind, 200, 11).unwrap();
            let b = generate(kind, 200, 11).unwrap();
            let c = generate(kind, 200, 12).unwrap();
            assert_eq!(a, b, "{kind}");
            assert_ne!(a.data, c.data, "{kind}");
        }
    }

    #[test]
    fn shapes_and_labels() {
        let s = generate(SynthKind::SwissRoll, 123, 0).unwrap();
        assert_eq!((s.data.rows, s.data.cols, s.data.data.len()), (123, 3, 369));
        assert_eq!((s.position.len(), s.labels), (123, None));
        let s = generate(SynthKind::SCurve, 50, 0).unwrap();
        assert_eq!((s.data.rows, s.data.cols, s.position.len()), (50, 3, 50));
        assert!(s.labels.is_none());
        let s = generate(SynthKind::Blobs, 77, 0).unwrap();
        assert_eq!((s.data.rows, s.data.cols), (77, DEFAULT_BLOB_DIM));
        assert_eq!(s.data.data.len(), 77 * DEFAULT_BLOB_DIM);
        assert_eq!(s.position.len(), 77);
        assert_eq!(s.labels.unwrap().len(), 77);
        assert!(matches!(
            generate(SynthKind::Blobs, 0, 0),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn kind_parses_and_displays() {
        for (text, kind) in [
            ("swiss-roll", SynthKind::SwissRoll),
            ("Swiss_Roll", SynthKind::SwissRoll),
            ("swissroll", SynthKind::SwissRoll),
            ("s-curve", SynthKind::SCurve),
            ("s_curve", SynthKind::SCurve),
            (" scurve ", SynthKind::SCurve),
            ("blobs", SynthKind::Blobs),
        ] {
            assert_eq!(text.parse::<SynthKind>().unwrap(), kind);
        }
        for kind in SynthKind::ALL {
            assert_eq!(kind.to_string().parse::<SynthKind>().unwrap(), kind);
        }
        let err = "moons".parse::<SynthKind>().unwrap_err().to_string();
        assert!(
            err.contains("moons") && err.contains("swiss-roll, s-curve, blobs"),
            "{err}"
        );
    }

    #[test]
    fn swiss_roll_lies_on_its_surface() {
        let s = swiss_roll(500, 0.0, 5);
        let (lo, hi) = (1.5 * PI, 4.5 * PI);
        for (row, &t) in s.data.data.chunks_exact(3).zip(&s.position) {
            let t = t as f64;
            assert!((lo - 1e-5..=hi + 1e-5).contains(&t), "t = {t}");
            assert!((row[0] as f64 - t * t.cos()).abs() < 1e-4, "{row:?} {t}");
            assert!((row[2] as f64 - t * t.sin()).abs() < 1e-4, "{row:?} {t}");
            assert!((0.0..=21.0).contains(&row[1]), "{row:?}");
        }
        // t covers its range and y spreads over [0, 21].
        let t_max = s.position.iter().fold(f32::MIN, |a, &b| a.max(b)) as f64;
        let t_min = s.position.iter().fold(f32::MAX, |a, &b| a.min(b)) as f64;
        assert!(t_min < lo + 0.2 && t_max > hi - 0.2);
        let y_mean = s
            .data
            .data
            .chunks_exact(3)
            .map(|r| r[1] as f64)
            .sum::<f64>()
            / 500.0;
        assert!((y_mean - 10.5).abs() < 1.5, "{y_mean}");
    }

    #[test]
    fn noise_has_the_requested_scale() {
        let s = swiss_roll(2000, 0.05, 9);
        let residuals: Vec<f64> = s
            .data
            .data
            .chunks_exact(3)
            .zip(&s.position)
            .flat_map(|(row, &t)| {
                let t = t as f64;
                [row[0] as f64 - t * t.cos(), row[2] as f64 - t * t.sin()]
            })
            .collect();
        let rms = (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt();
        assert!((rms - 0.05).abs() < 0.005, "rms {rms}");
    }

    #[test]
    fn s_curve_lies_on_its_surface() {
        let s = s_curve(500, 0.0, 6);
        let bound = 1.5 * PI;
        let mut both_signs = (false, false);
        for (row, &t) in s.data.data.chunks_exact(3).zip(&s.position) {
            let t = t as f64;
            assert!((-bound - 1e-5..=bound + 1e-5).contains(&t), "t = {t}");
            assert!((row[0] as f64 - t.sin()).abs() < 1e-4, "{row:?} {t}");
            let z = t.signum() * (t.cos() - 1.0);
            assert!((row[2] as f64 - z).abs() < 1e-4, "{row:?} {t}");
            assert!((0.0..=2.0).contains(&row[1]), "{row:?}");
            both_signs.0 |= t < 0.0;
            both_signs.1 |= t > 0.0;
        }
        assert_eq!(both_signs, (true, true));
    }

    /// Checks every property of a blobs dataset against its centres.
    fn check_blobs(n: usize, dim: usize, clusters: usize, fraction: f64, seed: u64) {
        let (s, centres) = blobs_with_centres(n, dim, clusters, fraction, seed);
        assert_eq!((s.data.rows, s.data.cols), (n, dim));
        assert_eq!(centres.len(), clusters);
        assert!(centres.iter().flatten().all(|c| c.abs() <= CENTRE_BOX));
        let labels = s.labels.as_ref().unwrap();
        let expected = (n as f64 * fraction).round() as usize;
        assert_eq!(labels.iter().filter(|&&l| l == 1).count(), expected);
        assert!(labels.iter().all(|&l| l == 0 || l == 1));

        let min_d = OUTLIER_MIN_SIGMAS * BLOB_SIGMA;
        let mut near_own_centre = 0;
        let rows = s.data.data.chunks_exact(dim);
        for ((row, &label), &k) in rows.zip(labels).zip(&s.position) {
            let distances: Vec<f64> = centres.iter().map(|c| distance2(row, c).sqrt()).collect();
            if label == 1 {
                // A planted outlier: far from every centre, and marked so in `position`.
                assert_eq!(k, -1.0);
                assert!(distances.iter().all(|&d| d >= min_d), "{distances:?}");
            } else {
                assert!(k >= 0.0 && (k as usize) < clusters && k.fract() == 0.0);
                near_own_centre += usize::from(distances[k as usize] < min_d);
            }
        }
        // P(chi2_8 > 16) ≈ 0.04, so nearly all inliers are within 4σ of their own centre.
        let inliers = n - expected;
        assert!(
            near_own_centre as f64 >= 0.9 * inliers as f64,
            "{near_own_centre} of {inliers}"
        );
    }

    #[test]
    fn blobs_plant_far_outliers_and_keep_labels_with_rows() {
        check_blobs(400, 8, 4, 0.05, 1);
        check_blobs(30, 8, 4, 0.1, 2);
        check_blobs(301, 3, 5, 0.2, 3);
    }

    #[test]
    fn blobs_outlier_sampling_ends_when_centres_fill_the_box() {
        // In 1-D, six centres with 4σ exclusion zones can cover the whole initial box.
        check_blobs(200, 1, 6, 0.1, 4);
        check_blobs(10, 1, 3, 1.0, 5);
    }

    #[test]
    fn blobs_rows_are_shuffled_and_clusters_balanced() {
        let s = blobs(400, 8, 4, 0.05, 7);
        let labels = s.labels.unwrap();
        let outlier_rows: Vec<usize> = (0..400).filter(|&i| labels[i] == 1).collect();
        assert_ne!(outlier_rows, (380..400).collect::<Vec<_>>());
        assert_ne!(s.position[..95], [0.0; 95]);
        for k in 0..4 {
            assert_eq!(s.position.iter().filter(|&&p| p == k as f32).count(), 95);
        }
    }

    #[test]
    fn gaussian_rows_are_standard_normal_and_chunk_independent() {
        let whole = gaussian_rows(3, 0, 400, 50).unwrap();
        let part = gaussian_rows(3, 100, 7, 50).unwrap();
        assert_eq!(part.data, whole.data[100 * 50..107 * 50]);
        let n = whole.data.len() as f64;
        let mean = whole.data.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = whole
            .data
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
            "{mean} {var}"
        );
        assert_ne!(gaussian_rows(4, 0, 1, 50).unwrap().data, whole.row(0));
        // Neighbouring rows are not the same stream shifted.
        assert_ne!(&whole.row(1)[..49], &whole.row(0)[1..]);
    }
}
