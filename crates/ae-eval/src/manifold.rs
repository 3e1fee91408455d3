//! How well a 2-D embedding unrolls a manifold: [`unrolling`] (the best direction's Spearman
//! correlation with the position along the manifold), [`trustworthiness`] (Venna & Kaski 2001, as
//! scikit-learn defines it), and [`isomap`] (Tenenbaum et al. 2000), the embedding by geodesic
//! distances that a geometry-regularised autoencoder is pulled toward.
//!
//! ```
//! use ae_backend::Matrix;
//! use ae_eval::manifold::{trustworthiness, unrolling};
//! let x = Matrix::new(4, 1, vec![0.0, 1.0, 2.0, 3.0]).unwrap();
//! let code = Matrix::new(4, 2, vec![0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0, 3.0]).unwrap();
//! let best = unrolling(&code, &[0.0, 1.0, 2.0, 3.0], 360).unwrap();
//! assert!((best.correlation - 1.0).abs() < 1e-12);
//! assert_eq!(trustworthiness(&x, &code, 1).unwrap(), 1.0);
//! ```

use ae_backend::{Error, Matrix, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Ranks `1..=n` of `v`, ties given their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            out[o] = mean;
        }
        i = j + 1;
    }
    out
}

/// Pearson's correlation of `a` and `b` (0 where either is constant).
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Spearman's rank correlation of `a` and `b` (same length): Pearson's on their ranks.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// The best direction of an [`unrolling`] search.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Unrolling {
    /// The largest `|Spearman(code . (cos a, sin a), position)|` found.
    pub correlation: f64,
    /// Its angle `a` in degrees, in `[0, 180)`.
    pub degrees: f64,
}

/// How far a 2-D code `[n, 2]` unrolls a manifold with `position` `[n]` (the coordinate along
/// it): the largest absolute Spearman correlation between the code's projection on a direction
/// and the position, over `steps` directions evenly spaced in `[0, 180)` degrees (the other
/// half circle only flips the sign).
pub fn unrolling(code: &Matrix, position: &[f32], steps: usize) -> Result<Unrolling> {
    if code.cols != 2 || code.rows != position.len() || code.rows < 2 || steps == 0 {
        return Err(Error::Shape(format!(
            "unrolling needs a [n, 2] code with n >= 2 and one position per row and steps > 0, \
             got [{}, {}], {} positions, {steps} steps",
            code.rows,
            code.cols,
            position.len()
        )));
    }
    let t: Vec<f64> = position.iter().map(|&v| v as f64).collect();
    let rt = ranks(&t);
    let mut best = Unrolling {
        correlation: -1.0,
        degrees: 0.0,
    };
    for s in 0..steps {
        let degrees = 180.0 * s as f64 / steps as f64;
        let (sin, cos) = degrees.to_radians().sin_cos();
        let proj: Vec<f64> = (0..code.rows)
            .map(|i| cos * code.row(i)[0] as f64 + sin * code.row(i)[1] as f64)
            .collect();
        let r = pearson(&ranks(&proj), &rt).abs();
        if r > best.correlation {
            best = Unrolling {
                correlation: r,
                degrees,
            };
        }
    }
    Ok(best)
}

/// Squared Euclidean distances from row `i` of `m` to every row.
fn distances_from(m: &Matrix, i: usize) -> Vec<f64> {
    let a = m.row(i);
    (0..m.rows)
        .map(|j| {
            m.row(j)
                .iter()
                .zip(a)
                .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                .sum()
        })
        .collect()
}

/// Trustworthiness of the embedding `y` `[n, e]` of `x` `[n, d]` at `k` neighbours (Venna &
/// Kaski 2001; scikit-learn's `trustworthiness`): `1 - 2 / (n k (2n - 3k - 1)) * sum_i
/// sum_{j in N_k^y(i)} max(0, r(i, j) - k)`, `r(i, j)` the rank of `j` among `i`'s neighbours in
/// `x` (1 = nearest) and `N_k^y(i)` its `k` nearest in `y`. 1: no point has a false neighbour.
/// Exact, `O(n^2 log n)`. Needs `1 <= k < n / 2`.
pub fn trustworthiness(x: &Matrix, y: &Matrix, k: usize) -> Result<f64> {
    let n = x.rows;
    if y.rows != n || k == 0 || 2 * k >= n {
        return Err(Error::Shape(format!(
            "trustworthiness needs as many embedded rows as data rows and 1 <= k < n / 2, got \
             {n} and {} rows, k = {k}",
            y.rows
        )));
    }
    let mut rank = vec![0usize; n];
    let mut total = 0.0f64;
    for i in 0..n {
        let dx = distances_from(x, i);
        let mut order: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        order.sort_by(|&a, &b| dx[a].total_cmp(&dx[b]));
        for (r, &j) in order.iter().enumerate() {
            rank[j] = r + 1;
        }
        let dy = distances_from(y, i);
        let mut near: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        near.select_nth_unstable_by(k - 1, |&a, &b| dy[a].total_cmp(&dy[b]));
        total += near[..k]
            .iter()
            .map(|&j| rank[j].saturating_sub(k) as f64)
            .sum::<f64>();
    }
    let (n, k) = (n as f64, k as f64);
    Ok(1.0 - total * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))
}

/// A node of Dijkstra's queue, smallest distance first.
#[derive(PartialEq)]
struct Reach(f64, usize);

impl Eq for Reach {}

impl PartialOrd for Reach {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Reach {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

/// Isomap (Tenenbaum et al. 2000) of `x` `[n, d]` into `dims` dimensions: the graph joining
/// each row to its `k` nearest (Euclidean, made symmetric), geodesic distances by Dijkstra from
/// every row, and classical MDS of them (the top `dims` eigenvectors of the double-centred
/// `-D^2 / 2`, by subspace iteration, scaled by the root of their eigenvalues). `[n, dims]`,
/// each axis's sign fixed so that its largest-magnitude entry is positive. `O(n^2)` memory: for
/// a few thousand rows. Errors when the graph is not connected.
pub fn isomap(x: &Matrix, k: usize, dims: usize) -> Result<Matrix> {
    let n = x.rows;
    if k == 0 || k >= n || dims == 0 || dims >= n {
        return Err(Error::Shape(format!(
            "isomap needs 1 <= k < n and 1 <= dims < n, got n = {n}, k = {k}, dims = {dims}"
        )));
    }
    // The symmetric k-NN graph, as adjacency lists of (neighbour, distance).
    let mut graph: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for i in 0..n {
        let d = distances_from(x, i);
        let mut near: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        near.select_nth_unstable_by(k - 1, |&a, &b| d[a].total_cmp(&d[b]));
        for &j in &near[..k] {
            let w = d[j].sqrt();
            graph[i].push((j, w));
            graph[j].push((i, w));
        }
    }
    // Geodesic distances, squared, double-centred into the MDS kernel.
    let mut kernel = vec![0.0f64; n * n];
    let mut dist = vec![f64::INFINITY; n];
    let mut heap = BinaryHeap::new();
    for s in 0..n {
        dist.fill(f64::INFINITY);
        dist[s] = 0.0;
        heap.push(Reach(0.0, s));
        while let Some(Reach(d, u)) = heap.pop() {
            if d > dist[u] {
                continue;
            }
            for &(v, w) in &graph[u] {
                if d + w < dist[v] {
                    dist[v] = d + w;
                    heap.push(Reach(d + w, v));
                }
            }
        }
        if let Some(far) = dist.iter().position(|d| d.is_infinite()) {
            return Err(Error::Config(format!(
                "isomap: the {k}-nearest-neighbour graph is not connected (row {far} cannot be \
                 reached from row {s}); use more neighbours"
            )));
        }
        for (t, d) in dist.iter().enumerate() {
            kernel[s * n + t] = -0.5 * d * d;
        }
    }
    double_centre(&mut kernel, n);
    let (vectors, values) = top_eigenvectors(&kernel, n, dims);
    let mut out = vec![0.0f32; n * dims];
    for c in 0..dims {
        let v = &vectors[c * n..(c + 1) * n];
        let arg = (0..n)
            .max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()))
            .unwrap_or(0);
        let sign = if v[arg] < 0.0 { -1.0 } else { 1.0 };
        let scale = sign * values[c].max(0.0).sqrt();
        for i in 0..n {
            out[i * dims + c] = (v[i] * scale) as f32;
        }
    }
    Matrix::new(n, dims, out)
}

/// `m <- H m H`, `H = I - 11ᵀ / n`, for a symmetric `[n, n]` `m`.
fn double_centre(m: &mut [f64], n: usize) {
    let row_means: Vec<f64> = (0..n)
        .map(|i| m[i * n..(i + 1) * n].iter().sum::<f64>() / n as f64)
        .collect();
    let mean = row_means.iter().sum::<f64>() / n as f64;
    for i in 0..n {
        for j in 0..n {
            m[i * n + j] += mean - row_means[i] - row_means[j];
        }
    }
}

/// The `dims` largest eigenpairs of the symmetric `[n, n]` `m` by subspace iteration from a
/// fixed start (Gram-Schmidt after each product, Rayleigh quotients at the end): vectors
/// `[dims, n]` row-major, values descending.
fn top_eigenvectors(m: &[f64], n: usize, dims: usize) -> (Vec<f64>, Vec<f64>) {
    // A deterministic start that is no eigenvector of a symmetric kernel in general.
    let mut v: Vec<f64> = (0..dims * n)
        .map(|i| ((i as f64 + 1.0) * 0.618_033_988_75).fract() - 0.5)
        .collect();
    let product = |v: &[f64], out: &mut [f64]| {
        for c in 0..dims {
            let x = &v[c * n..(c + 1) * n];
            for i in 0..n {
                out[c * n + i] = m[i * n..(i + 1) * n]
                    .iter()
                    .zip(x)
                    .map(|(a, b)| a * b)
                    .sum();
            }
        }
    };
    let mut w = vec![0.0; dims * n];
    for _ in 0..300 {
        product(&v, &mut w);
        orthonormalise(&mut w, n, dims);
        std::mem::swap(&mut v, &mut w);
    }
    product(&v, &mut w);
    let mut values: Vec<f64> = (0..dims)
        .map(|c| {
            v[c * n..(c + 1) * n]
                .iter()
                .zip(&w[c * n..(c + 1) * n])
                .map(|(a, b)| a * b)
                .sum()
        })
        .collect();
    // Subspace iteration converges to the span; order the pair by value.
    let mut order: Vec<usize> = (0..dims).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let vectors = order
        .iter()
        .flat_map(|&c| v[c * n..(c + 1) * n].to_vec())
        .collect();
    values = order.iter().map(|&c| values[c]).collect();
    (vectors, values)
}

/// Gram-Schmidt on the `dims` rows of `v` `[dims, n]`.
fn orthonormalise(v: &mut [f64], n: usize, dims: usize) {
    for c in 0..dims {
        for p in 0..c {
            let dot: f64 = (0..n).map(|i| v[c * n + i] * v[p * n + i]).sum();
            for i in 0..n {
                v[c * n + i] -= dot * v[p * n + i];
            }
        }
        let norm = (0..n).map(|i| v[c * n + i].powi(2)).sum::<f64>().sqrt();
        if norm > 0.0 {
            v[c * n..(c + 1) * n].iter_mut().for_each(|x| *x /= norm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_is_one_for_any_increasing_map_and_handles_ties() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b: Vec<f64> = a.iter().map(|v: &f64| v.powi(3) + 7.0).collect();
        assert!((spearman(&a, &b) - 1.0).abs() < 1e-12);
        let rev: Vec<f64> = a.iter().map(|v| -v).collect();
        assert!((spearman(&a, &rev) + 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
    }

    /// The search finds the direction the position runs along, here 30 degrees.
    #[test]
    fn unrolling_finds_the_direction() {
        let n = 200;
        let t: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
        let (s, c) = 30f64.to_radians().sin_cos();
        let mut data = Vec::new();
        for (i, &ti) in t.iter().enumerate() {
            // Along the direction with t; across it a wide wiggle, so that only directions
            // within a small fraction of a degree of 30 order the points perfectly.
            let across = 5.0 * (((i * 7919) % 13) as f64 / 13.0 - 0.5);
            data.push((c * ti as f64 - s * across) as f32);
            data.push((s * ti as f64 + c * across) as f32);
        }
        let code = Matrix::new(n, 2, data).unwrap();
        let best = unrolling(&code, &t, 360).unwrap();
        assert!((best.degrees - 30.0).abs() <= 0.5, "{best:?}");
        assert!(best.correlation > 0.999, "{best:?}");
    }

    /// The embedding that keeps the order is trustworthy; one that scrambles it is not, and the
    /// value matches the formula worked by hand on a small case.
    #[test]
    fn trustworthiness_matches_the_definition() {
        let x = Matrix::new(6, 1, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(trustworthiness(&x, &x, 2).unwrap(), 1.0);
        // Swap the ends: row 0 sits at 5 and row 5 at 0.
        let y = Matrix::new(6, 1, vec![5.0, 1.0, 2.0, 3.0, 4.0, 0.0]).unwrap();
        // The definition by brute force: full sorts on both sides, k = 1.
        let t = trustworthiness(&x, &y, 1).unwrap();
        let brute = {
            let n = 6usize;
            let mut sum = 0.0;
            for i in 0..n {
                let mut ox: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                ox.sort_by(|&a, &b| {
                    (x.data[a] - x.data[i])
                        .abs()
                        .total_cmp(&(x.data[b] - x.data[i]).abs())
                });
                let mut oy: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                oy.sort_by(|&a, &b| {
                    (y.data[a] - y.data[i])
                        .abs()
                        .total_cmp(&(y.data[b] - y.data[i]).abs())
                });
                let r = ox.iter().position(|&j| j == oy[0]).unwrap() + 1;
                sum += (r as f64 - 1.0).max(0.0);
            }
            1.0 - sum * 2.0 / (6.0 * 1.0 * (12.0 - 3.0 - 1.0))
        };
        assert!((t - brute).abs() < 1e-12, "{t} vs {brute}");
        assert!(t < 0.8, "{t}");
        assert!(trustworthiness(&x, &y, 3).is_err());
    }

    /// Isomap unrolls a spiral strip in 2-D (a curve whose Euclidean neighbours across the turns
    /// are far apart along it) into a line: its first axis follows the arc length.
    #[test]
    fn isomap_unrolls_a_spiral() {
        let n = 300;
        let t: Vec<f32> = (0..n).map(|i| 3.0 + 9.0 * i as f32 / n as f32).collect();
        let data = t.iter().flat_map(|&s| [s * s.cos(), s * s.sin()]).collect();
        let x = Matrix::new(n, 2, data).unwrap();
        let e = isomap(&x, 6, 2).unwrap();
        let first: Vec<f64> = (0..n).map(|i| e.row(i)[0] as f64).collect();
        let t64: Vec<f64> = t.iter().map(|&v| v as f64).collect();
        assert!(spearman(&first, &t64).abs() > 0.99);
        // Two far clusters do not connect with one neighbour each.
        let apart = Matrix::new(4, 1, vec![0.0, 0.1, 10.0, 10.1]).unwrap();
        let err = isomap(&apart, 1, 1).unwrap_err().to_string();
        assert!(err.contains("not connected"), "{err}");
    }
}
