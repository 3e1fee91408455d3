//! # ae-wgpu
//!
//! [`WgpuBackend`]: the `ae_backend::Backend` ops as WGSL compute kernels, on any GPU wgpu
//! reaches (Vulkan, Metal, DX12) or a software adapter such as Mesa's lavapipe. The kernels live
//! in this crate's `shaders/` folder, one file per op family (`shaders/F.wgsl` beside
//! `src/ops/F.rs`), and are compiled into it; [`kernels`] is the table that ties each entry
//! point to its parameter struct and bindings.
//!
//! ```no_run
//! use ae_backend::prelude::*;
//! use ae_backend::Matrix;
//! use ae_wgpu::{AdapterChoice, WgpuBackend};
//! let gpu = WgpuBackend::new(&AdapterChoice::default())?;
//! let a = gpu.upload(&Matrix::new(2, 2, vec![1., 2., 3., 4.])?)?;
//! let mut c = gpu.zeros(2, 2)?;
//! gpu.matmul(&a, false, &a, true, 1.0, 0.0, &mut c); // c = a aᵀ
//! assert_eq!(gpu.download(&c)?.data, vec![5., 11., 11., 25.]);
//! # Ok::<(), ae_backend::Error>(())
//! ```

mod adapter;
mod backend;
pub mod kernels;
mod ops;
pub mod params;
mod profile;
mod reflect;
mod tensor;
mod timing;
pub mod tune;
pub mod variants;

pub use adapter::{list_adapters, AdapterChoice, AdapterReport, ComputeLimits};
pub use backend::{WgpuBackend, WgpuTensor};
pub use tune::{TuneResult, Tuning, CACHE_FORMAT};
pub use variants::{MatmulVariant, ShapeClass};
