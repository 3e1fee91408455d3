//! # ae-cpu
//!
//! [`CpuBackend`]: the reference backend of `ae`, and a fast one. Matrix products go through the
//! `gemm` crate (AVX-512 or AVX2/FMA kernels picked at run time, strided operands so transposes
//! cost nothing); elementwise ops, reductions and optimiser updates are fused loops, split
//! across rayon's threads when large. It is generic over the element type: `CpuBackend<f32>` trains,
//! `CpuBackend<f64>` checks gradients against finite differences.
//!
//! ```
//! use ae_backend::prelude::*;
//! use ae_backend::Matrix;
//! use ae_cpu::CpuBackend;
//! let cpu = CpuBackend::<f32>::new();
//! let a = cpu.upload(&Matrix::new(2, 2, vec![1., 2., 3., 4.]).unwrap()).unwrap();
//! let mut c = cpu.zeros(2, 2).unwrap();
//! cpu.matmul(&a, false, &a, true, 1.0, 0.0, &mut c); // c = a aᵀ
//! assert_eq!(cpu.download(&c).unwrap().data, vec![5., 11., 11., 25.]);
//! ```

mod gemm;
mod loops;
mod ops;

use ae_backend::ops::tensor::check_write;
use ae_backend::ops::TensorOps;
use ae_backend::profile::WallProfiler;
use ae_backend::Profile;
use ae_backend::{Element, Error, Matrix, Result};
use std::marker::PhantomData;
use std::sync::Arc;

/// A row-major `[rows, cols]` tensor in host memory.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuTensor<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T> CpuTensor<T> {
    /// The values, row after row.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }
}

/// Scalars the CPU backend computes in: f32 or f64 (what `gemm` multiplies).
pub trait CpuElement: Element {}
impl CpuElement for f32 {}
impl CpuElement for f64 {}

/// The CPU backend, computing in `T` (f32 by default).
#[derive(Clone, Debug, Default)]
pub struct CpuBackend<T: CpuElement = f32> {
    _elem: PhantomData<T>,
    /// Times each op while profiling ([`TensorOps::start_profile`]); shared by clones.
    profiler: Arc<WallProfiler>,
}

impl<T: CpuElement> CpuBackend<T> {
    /// A backend on rayon's global thread pool (size it with `RAYON_NUM_THREADS` or
    /// `rayon::ThreadPoolBuilder::build_global`).
    pub fn new() -> Self {
        CpuBackend {
            _elem: PhantomData,
            profiler: Arc::default(),
        }
    }

    fn tensor(rows: usize, cols: usize, data: Vec<T>) -> Result<CpuTensor<T>> {
        if data.len() != rows * cols {
            return Err(Error::Shape(format!(
                "{} values cannot form a [{rows}, {cols}] tensor",
                data.len()
            )));
        }
        Ok(CpuTensor { rows, cols, data })
    }
}

pub(crate) fn same_shape<T>(a: &CpuTensor<T>, b: &CpuTensor<T>, op: &str) {
    debug_assert!(
        a.rows == b.rows && a.cols == b.cols,
        "{op}: [{}, {}] vs [{}, {}]",
        a.rows,
        a.cols,
        b.rows,
        b.cols
    );
}

impl<T: CpuElement> TensorOps for CpuBackend<T> {
    type Elem = T;
    type Tensor = CpuTensor<T>;

    fn name(&self) -> String {
        format!(
            "cpu ({}, {} threads)",
            std::any::type_name::<T>(),
            rayon::current_num_threads()
        )
    }

    fn zeros(&self, rows: usize, cols: usize) -> Result<CpuTensor<T>> {
        Self::tensor(rows, cols, vec![T::ZERO; rows * cols])
    }

    fn upload(&self, m: &Matrix) -> Result<CpuTensor<T>> {
        Self::tensor(
            m.rows,
            m.cols,
            m.data.iter().map(|&v| T::from_f32(v)).collect(),
        )
    }

    fn write(&self, m: &Matrix, dst: &mut CpuTensor<T>) -> Result<()> {
        check_write(m, (dst.rows, dst.cols))?;
        for (d, &v) in dst.data.iter_mut().zip(&m.data) {
            *d = T::from_f32(v);
        }
        Ok(())
    }

    fn upload_f64(&self, rows: usize, cols: usize, data: &[f64]) -> Result<CpuTensor<T>> {
        Self::tensor(rows, cols, data.iter().map(|&v| T::from_f64(v)).collect())
    }

    fn download(&self, t: &CpuTensor<T>) -> Result<Matrix> {
        Matrix::new(t.rows, t.cols, t.data.iter().map(|v| v.to_f32()).collect())
    }

    fn download_f64(&self, t: &CpuTensor<T>) -> Result<Vec<f64>> {
        Ok(t.data.iter().map(|v| v.to_f64()).collect())
    }

    fn shape(&self, t: &CpuTensor<T>) -> (usize, usize) {
        (t.rows, t.cols)
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn start_profile(&self) -> Result<bool> {
        self.profiler.start();
        Ok(true)
    }

    fn finish_profile(&self) -> Result<Option<Profile>> {
        Ok(self.profiler.finish())
    }
}
