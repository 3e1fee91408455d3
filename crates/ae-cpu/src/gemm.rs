//! `c = alpha op(a) op(b) + beta c` through the `gemm` crate, with strides standing in for
//! transposes.

use crate::{CpuElement, CpuTensor};
use gemm::Parallelism;

/// Products below this many multiply-adds run on one thread (a second one gains nothing and
/// can lose, measured on 2-core Zen3).
const PARALLEL_MIN_MACS: usize = 2 << 20;

/// `c [m, n] = alpha * op(a) [m, k] * op(b) [k, n] + beta * c`.
pub(crate) fn matmul<T: CpuElement>(
    a: &CpuTensor<T>,
    trans_a: bool,
    b: &CpuTensor<T>,
    trans_b: bool,
    alpha: f32,
    beta: f32,
    c: &mut CpuTensor<T>,
) {
    let (m, k, n) = ae_backend::ops::linear::matmul_dims(
        (a.rows, a.cols),
        trans_a,
        (b.rows, b.cols),
        trans_b,
        (c.rows, c.cols),
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        let beta = T::from_f32(beta);
        c.data
            .iter_mut()
            .for_each(|v| *v = if beta == T::ZERO { T::ZERO } else { *v * beta });
        return;
    }
    // Row-major strides of op(x): element (i, j) of op(x) sits at i * rs + j * cs.
    let strides = |t: &CpuTensor<T>, trans: bool| -> (isize, isize) {
        if trans {
            (1, t.cols as isize)
        } else {
            (t.cols as isize, 1)
        }
    };
    let (a_rs, a_cs) = strides(a, trans_a);
    let (b_rs, b_cs) = strides(b, trans_b);
    let threads = rayon::current_num_threads();
    let parallelism = if m * n * k >= PARALLEL_MIN_MACS && threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the pointers and strides describe the three tensors exactly (checked shapes above),
    // `c` does not alias `a` or `b` (it is borrowed mutably), and T is f32 or f64.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.data.as_mut_ptr(),
            1,
            n as isize,
            beta != 0.0,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            T::from_f32(beta),
            T::from_f32(alpha),
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn transpose(x: &[f64], r: usize, c: usize) -> Vec<f64> {
        let mut t = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = x[i * c + j];
            }
        }
        t
    }

    #[test]
    fn all_transpose_combinations_with_alpha_beta() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let c0: Vec<f64> = (0..m * n).map(|i| i as f64 * 0.01).collect();
        let want: Vec<f64> = naive(&a, &b, m, k, n)
            .iter()
            .zip(&c0)
            .map(|(p, c)| 0.5 * p + 2.0 * c)
            .collect();
        for ta in [false, true] {
            for tb in [false, true] {
                let at = if ta {
                    CpuTensor {
                        rows: k,
                        cols: m,
                        data: transpose(&a, m, k),
                    }
                } else {
                    CpuTensor {
                        rows: m,
                        cols: k,
                        data: a.clone(),
                    }
                };
                let bt = if tb {
                    CpuTensor {
                        rows: n,
                        cols: k,
                        data: transpose(&b, k, n),
                    }
                } else {
                    CpuTensor {
                        rows: k,
                        cols: n,
                        data: b.clone(),
                    }
                };
                let mut c = CpuTensor {
                    rows: m,
                    cols: n,
                    data: c0.clone(),
                };
                matmul(&at, ta, &bt, tb, 0.5, 2.0, &mut c);
                for (x, y) in c.data.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-12, "ta={ta} tb={tb}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn beta_zero_ignores_nan_in_c() {
        let a = CpuTensor {
            rows: 2,
            cols: 2,
            data: vec![1.0f32, 2., 3., 4.],
        };
        let mut c = CpuTensor {
            rows: 2,
            cols: 2,
            data: vec![f32::NAN; 4],
        };
        matmul(&a, false, &a, false, 1.0, 0.0, &mut c);
        assert_eq!(c.data, vec![7., 10., 15., 22.]);
    }
}
