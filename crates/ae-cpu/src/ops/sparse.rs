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

/// Rows per parallel task: the rows split evenly over rayon's threads (a weight is then read
/// once per task).
fn rows_per_task(rows: usize) -> usize {
    rows.div_ceil(rayon::current_num_threads().max(1)).max(1)
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
        let block = rows_per_task(out.rows);
        out.data
            .par_chunks_mut((block * m).max(1))
            .enumerate()
            .for_each(|(b, out_block)| {
                let first = b * block;
                out_block.fill(T::ZERO);
                let rows = out_block.len() / m.max(1);
                let pairs = &pairs[first * k..(first + rows) * k];
                if w_t {
                    // One weight row per code column: out_row += v * w[j, :].
                    for (out_row, row_pairs) in out_block
                        .chunks_exact_mut(m)
                        .zip(pairs.chunks_exact(k.max(1)))
                    {
                        for &(j, v) in row_pairs.iter().filter(|p| p.0 < n) {
                            for (o, &wv) in out_row.iter_mut().zip(&w.data[j * m..(j + 1) * m]) {
                                *o += v * wv;
                            }
                        }
                    }
                } else {
                    // One weight row per output: out[i, o] = sum_t v w[o, j].
                    for (o, w_row) in w.data.chunks_exact(n.max(1)).enumerate() {
                        for (r, row_pairs) in pairs.chunks_exact(k.max(1)).enumerate() {
                            let mut acc = T::ZERO;
                            for &(j, v) in row_pairs.iter().filter(|p| p.0 < n) {
                                acc += v * w_row[j];
                            }
                            out_block[r * m + o] = acc;
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
        let block = rows_per_task(grad.rows);
        grad.data
            .par_chunks_mut((block * n).max(1))
            .enumerate()
            .for_each(|(b, grad_block)| {
                grad_block.fill(T::ZERO);
                let first = b * block;
                let rows = grad_block.len() / n.max(1);
                let cols = |r: usize| {
                    idx.data[(first + r) * k..(first + r + 1) * k]
                        .iter()
                        .map(|j| j.to_f64() as usize)
                        .filter(move |&j| j < n)
                };
                let dy_row = |r: usize| &dy.data[(first + r) * m..(first + r + 1) * m];
                if w_t {
                    for r in 0..rows {
                        for j in cols(r) {
                            let w_row = &w.data[j * m..(j + 1) * m];
                            let dot = dy_row(r)
                                .iter()
                                .zip(w_row)
                                .fold(T::ZERO, |a, (&d, &wv)| a + d * wv);
                            grad_block[r * n + j] = dot;
                        }
                    }
                } else {
                    for (o, w_row) in w.data.chunks_exact(n.max(1)).enumerate() {
                        for r in 0..rows {
                            let d = dy_row(r)[o];
                            for j in cols(r) {
                                grad_block[r * n + j] += d * w_row[j];
                            }
                        }
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
        let scale = |row: &mut [T]| {
            if !accumulate {
                row.fill(T::ZERO)
            }
        };
        if dw_t {
            // One gradient row per code column: dw[j, :] += v * y[i, :], each task the rows j
            // of its own range.
            let per_task = rows_per_task(n);
            dw.data
                .par_chunks_mut((per_task * m).max(1))
                .enumerate()
                .for_each(|(b, dw_block)| {
                    scale(dw_block);
                    let (lo, hi) = (b * per_task, b * per_task + dw_block.len() / m.max(1));
                    for (i, row_pairs) in pairs.chunks_exact(k.max(1)).enumerate() {
                        let y_row = &y.data[i * m..(i + 1) * m];
                        for &(j, v) in row_pairs.iter().filter(|p| p.0 >= lo && p.0 < hi) {
                            let row = &mut dw_block[(j - lo) * m..(j - lo + 1) * m];
                            for (g, &yv) in row.iter_mut().zip(y_row) {
                                *g += v * yv;
                            }
                        }
                    }
                });
        } else {
            // One gradient row per output c: dw[c, j] += y[i, c] * v.
            dw.data
                .par_chunks_mut(n.max(1))
                .enumerate()
                .for_each(|(c, dw_row)| {
                    scale(dw_row);
                    for (i, row_pairs) in pairs.chunks_exact(k.max(1)).enumerate() {
                        let yv = y.data[i * m + c];
                        for &(j, v) in row_pairs.iter().filter(|p| p.0 < n) {
                            dw_row[j] += yv * v;
                        }
                    }
                });
        }
    }
}
