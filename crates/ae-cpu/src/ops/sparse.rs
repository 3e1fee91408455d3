//! The CPU bodies of the `sparse` op family: products with TopK codes over their active columns
//! (maths and shapes in `ae_backend::ops::sparse`). Each op first lists every row's active
//! `(column, value)` pairs, then works row block by row block (or output row by output row) on
//! rayon, so that a weight stored one row per output is read a row at a time.

use crate::{CpuBackend, CpuElement, CpuTensor};
use ae_backend::ops::sparse::SparseOps;
use rayon::prelude::*;

/// Every row's active `(column, value)` pairs, `k` slots a row (`(n, 0)` in unused slots).
fn active_pairs<T: CpuElement>(s: &CpuTensor<T>, idx: &CpuTensor<T>) -> Vec<(usize, T)> {
    let (n, k) = (s.cols, idx.cols);
    debug_assert_eq!(
        s.rows, idx.rows,
        "sparse: rows of the code and its index list"
    );
    let mut pairs = Vec::with_capacity(s.rows * k);
    for (s_row, idx_row) in s
        .data
        .chunks_exact(n.max(1))
        .zip(idx.data.chunks_exact(k.max(1)))
    {
        for &j in idx_row {
            let j = j.to_f64() as usize;
            pairs.push(match j < n {
                true => (j, s_row[j]),
                false => (n, T::ZERO),
            });
        }
    }
    pairs
}

/// The distinct active columns of a batch and, for a weight stored `[m, n]` (one row per output),
/// those columns of it gathered into rows: one `m`-wide row per active column, as a weight
/// stored `[n, m]` has them. A product over the active columns then reads contiguous rows
/// instead of `k` scattered elements of each of `m` rows.
struct ActiveRows<T> {
    /// The active columns, ascending.
    cols: Vec<usize>,
    /// `slot[j]`: the place of column `j` in `cols` (unused for inactive columns).
    slot: Vec<u32>,
    /// `[cols.len(), m]`: `rows[s * m + o] = w[o, cols[s]]` (empty when built without a weight).
    rows: Vec<T>,
}

/// Rows of `w` transposed per tile: this many outputs at a time.
const TILE: usize = 16;

impl<T: CpuElement> ActiveRows<T> {
    /// The distinct columns among `cols` below `n` (`n` itself pads an index list).
    fn of(cols: impl Iterator<Item = usize>, n: usize) -> ActiveRows<T> {
        let mut seen = vec![false; n];
        for j in cols.filter(|&j| j < n) {
            seen[j] = true;
        }
        let cols: Vec<usize> = (0..n).filter(|&j| seen[j]).collect();
        let mut slot = vec![u32::MAX; n];
        for (s, &j) in cols.iter().enumerate() {
            slot[j] = s as u32;
        }
        ActiveRows {
            cols,
            slot,
            rows: Vec::new(),
        }
    }

    /// [`Self::of`] with those columns of `w` `[m, n]` gathered as rows.
    fn gathered(cols: impl Iterator<Item = usize>, w: &[T], m: usize, n: usize) -> ActiveRows<T> {
        let mut a = Self::of(cols, n);
        let mut rows = vec![T::ZERO; a.cols.len() * m];
        let per_task = rows_per_task(a.cols.len()).max(1);
        rows.par_chunks_mut((per_task * m).max(1))
            .zip(a.cols.par_chunks(per_task))
            .for_each(|(block, cols)| {
                // TILE outputs at a time: TILE rows of w are read along the ascending columns,
                // and each gathered row is written a cache line at a time.
                for o0 in (0..m).step_by(TILE) {
                    let o1 = (o0 + TILE).min(m);
                    for (r, &j) in cols.iter().enumerate() {
                        let dst = &mut block[r * m + o0..r * m + o1];
                        for (d, o) in dst.iter_mut().zip(o0..o1) {
                            *d = w[o * n + j];
                        }
                    }
                }
            });
        a.rows = rows;
        a
    }

    /// The gathered row of active column `j`, `[m]`.
    fn row(&self, j: usize, m: usize) -> &[T] {
        let s = self.slot[j] as usize;
        &self.rows[s * m..(s + 1) * m]
    }
}

/// Rows per parallel task: the rows split evenly over rayon's threads (a weight is then read
/// once per task).
fn rows_per_task(rows: usize) -> usize {
    rows.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// The columns an index list names, row after row (`n` padding included).
fn index_columns<T: CpuElement>(idx: &CpuTensor<T>) -> impl Iterator<Item = usize> + '_ {
    idx.data.iter().map(|j| j.to_f64() as usize)
}

/// `acc[key(j), :] += v * y[i, :]` for every pair `(j, v)` of sample `i` (`k` pairs a sample)
/// whose `key` is some; `acc` `[keys, m]`, cleared first unless `accumulate`. Each task owns a
/// range of keys, so the adds need no locks.
fn scatter_add_rows<T: CpuElement>(
    acc: &mut [T],
    m: usize,
    pairs: &[(usize, T)],
    k: usize,
    y: &[T],
    accumulate: bool,
    key: impl Fn(usize) -> Option<usize> + Sync,
) {
    let keys = acc.len() / m.max(1);
    let per_task = rows_per_task(keys);
    acc.par_chunks_mut((per_task * m).max(1))
        .enumerate()
        .for_each(|(b, block)| {
            if !accumulate {
                block.fill(T::ZERO);
            }
            let (lo, hi) = (b * per_task, b * per_task + block.len() / m.max(1));
            for (i, row_pairs) in pairs.chunks_exact(k.max(1)).enumerate() {
                let y_row = &y[i * m..(i + 1) * m];
                for &(j, v) in row_pairs {
                    let Some(r) = key(j).filter(|r| (lo..hi).contains(r)) else {
                        continue;
                    };
                    for (g, &yv) in block[(r - lo) * m..(r - lo + 1) * m].iter_mut().zip(y_row) {
                        *g += v * yv;
                    }
                }
            }
        });
}

impl<T: CpuElement> SparseOps for CpuBackend<T> {
    fn active_columns(&self, mask: &CpuTensor<T>, idx: &mut CpuTensor<T>) {
        let _timed = self.profiler.time("active_columns", 0.0);
        debug_assert_eq!(mask.rows, idx.rows, "active_columns rows");
        let (n, k) = (mask.cols, idx.cols);
        let none = T::from_f64(n as f64);
        for (m_row, idx_row) in mask
            .data
            .chunks_exact(n.max(1))
            .zip(idx.data.chunks_exact_mut(k.max(1)))
        {
            idx_row.fill(none);
            let active = m_row.iter().enumerate().filter(|(_, &v)| v != T::ZERO);
            for (slot, (j, _)) in idx_row.iter_mut().zip(active) {
                *slot = T::from_f64(j as f64);
            }
        }
    }

    fn sparse_matmul(
        &self,
        s: &CpuTensor<T>,
        idx: &CpuTensor<T>,
        w: &CpuTensor<T>,
        w_t: bool,
        out: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("sparse_matmul", 0.0);
        let (n, k, m) = (s.cols, idx.cols, out.cols);
        debug_assert_eq!(
            (w.rows * w.cols, out.rows),
            (m * n, s.rows),
            "sparse_matmul"
        );
        let pairs = active_pairs(s, idx);
        // One weight row per code column: out_row += v * w[j, :], from w itself when it is
        // stored [n, m], else from its active columns gathered as rows.
        let gathered =
            (!w_t).then(|| ActiveRows::gathered(pairs.iter().map(|p| p.0), &w.data, m, n));
        let row_of = |j: usize| match &gathered {
            Some(g) => g.row(j, m),
            None => &w.data[j * m..(j + 1) * m],
        };
        let block = rows_per_task(out.rows);
        out.data
            .par_chunks_mut((block * m).max(1))
            .enumerate()
            .for_each(|(b, out_block)| {
                let first = b * block;
                out_block.fill(T::ZERO);
                let rows = out_block.len() / m.max(1);
                let pairs = &pairs[first * k..(first + rows) * k];
                for (out_row, row_pairs) in out_block
                    .chunks_exact_mut(m)
                    .zip(pairs.chunks_exact(k.max(1)))
                {
                    for &(j, v) in row_pairs.iter().filter(|p| p.0 < n) {
                        for (o, &wv) in out_row.iter_mut().zip(row_of(j)) {
                            *o += v * wv;
                        }
                    }
                }
            });
    }

    fn sparse_input_grad(
        &self,
        dy: &CpuTensor<T>,
        idx: &CpuTensor<T>,
        w: &CpuTensor<T>,
        w_t: bool,
        grad: &mut CpuTensor<T>,
    ) {
        let _timed = self.profiler.time("sparse_input_grad", 0.0);
        let (n, k, m) = (grad.cols, idx.cols, dy.cols);
        debug_assert_eq!(
            (w.rows * w.cols, grad.rows),
            (m * n, dy.rows),
            "sparse_input_grad"
        );
        // grad[i, j] = dy[i, :] . w[:, j]: w's column j as a row, from w itself when it is
        // stored [n, m], else gathered.
        let gathered = (!w_t).then(|| ActiveRows::gathered(index_columns(idx), &w.data, m, n));
        let row_of = |j: usize| match &gathered {
            Some(g) => g.row(j, m),
            None => &w.data[j * m..(j + 1) * m],
        };
        let block = rows_per_task(grad.rows);
        grad.data
            .par_chunks_mut((block * n).max(1))
            .enumerate()
            .for_each(|(b, grad_block)| {
                grad_block.fill(T::ZERO);
                let first = b * block;
                let rows = grad_block.len() / n.max(1);
                for r in 0..rows {
                    let dy_row = &dy.data[(first + r) * m..(first + r + 1) * m];
                    let cols = &idx.data[(first + r) * k..(first + r + 1) * k];
                    for j in cols.iter().map(|j| j.to_f64() as usize).filter(|&j| j < n) {
                        let dot = dy_row
                            .iter()
                            .zip(row_of(j))
                            .fold(T::ZERO, |a, (&d, &wv)| a + d * wv);
                        grad_block[r * n + j] = dot;
                    }
                }
            });
    }

    fn sparse_weight_grad(
        &self,
        s: &CpuTensor<T>,
        idx: &CpuTensor<T>,
        y: &CpuTensor<T>,
        accumulate: bool,
        dw: &mut CpuTensor<T>,
        dw_t: bool,
    ) {
        let _timed = self.profiler.time("sparse_weight_grad", 0.0);
        let (n, k, m) = (s.cols, idx.cols, y.cols);
        debug_assert_eq!(
            (dw.rows * dw.cols, s.rows),
            (m * n, y.rows),
            "sparse_weight_grad"
        );
        let pairs = active_pairs(s, idx);
        if dw_t {
            // One gradient row per code column: dw[j, :] += v * y[i, :].
            scatter_add_rows(&mut dw.data, m, &pairs, k, &y.data, accumulate, |j| {
                (j < n).then_some(j)
            });
            return;
        }
        // dw [m, n]: the active columns' gradients as rows first (the same scatter-add into
        // [active, m]), then added into their columns of dw, TILE rows of dw per pass.
        let active = ActiveRows::<T>::of(pairs.iter().map(|p| p.0), n);
        let mut rows = vec![T::ZERO; active.cols.len() * m];
        scatter_add_rows(&mut rows, m, &pairs, k, &y.data, true, |j| {
            (j < n).then(|| active.slot[j] as usize)
        });
        dw.data
            .par_chunks_mut((TILE * n).max(1))
            .enumerate()
            .for_each(|(b, dw_block)| {
                if !accumulate {
                    dw_block.fill(T::ZERO);
                }
                let o0 = b * TILE;
                let tile = dw_block.len() / n.max(1);
                for (s, &j) in active.cols.iter().enumerate() {
                    let src = &rows[s * m + o0..s * m + o0 + tile];
                    for (t, &g) in src.iter().enumerate() {
                        dw_block[t * n + j] += g;
                    }
                }
            });
    }
}
