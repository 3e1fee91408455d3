//! # ae-backend
//!
//! The seam between `ae`'s model and its compute backends: the scalar [`Element`], the host
//! [`Matrix`], the one [`Error`] type, and the [`Backend`] trait, assembled from one trait per
//! op family under [`ops`]. Each family's module also holds the scalar reference maths its ops
//! compute (formula, `f` beside `df`, constants), which every backend implements exactly.
//!
//! The rule of the seam:
//! - this crate depends on no other crate of the workspace; the backends (`ae-cpu`, `ae-wgpu`)
//!   depend on it alone, and everything above is generic over `B: Backend`;
//! - tensors are device-resident 2-D row-major matrices, rows = samples; ops write into outputs
//!   the caller allocated, return nothing, and report device failures at the next download or
//!   sync;
//! - a new op goes into one family: its trait method here (with shapes), its CPU body in
//!   `ae-cpu/src/ops/F.rs`, its WGSL entry point of the same name in `ae-wgpu/shaders/F.wgsl`.
//!
//! Bring the family traits into scope with `use ae_backend::prelude::*` to call ops on a
//! concrete backend; generic code bounded by `B: Backend` sees them without it.

pub mod element;
pub mod error;
pub mod matrix;
pub mod ops;
pub mod profile;
pub mod rng;

pub use element::Element;
pub use error::{Error, Result};
pub use matrix::Matrix;
pub use ops::activation::Activation;
pub use ops::data::Noise;
pub use ops::loss::{Loss, Reconstruction, Reduction};
pub use ops::optim::{AdamStep, SgdStep};
pub use ops::*;
pub use profile::{KernelTime, Profile, ProfileClock};
pub use rng::Rng;

/// Declares [`Backend`] as the sum of the op families, with the blanket impl that makes every
/// type implementing all of them a backend: the list is written once.
macro_rules! backend {
    ($($family:ident),+) => {
        /// A compute backend: device memory and every op family a training step needs.
        ///
        /// Implemented for every type that implements all the families; a backend implements
        /// each family trait (one file per family) and gets this one. A backend owns its device
        /// (`'static`), so that boxed penalties holding its tensors (`Box<dyn Regularizer<B>>`)
        /// need no lifetime.
        pub trait Backend: $($family +)+ 'static {}

        impl<B: $($family +)+ 'static> Backend for B {}
    };
}

backend!(
    TensorOps,
    ElementwiseOps,
    LinearOps,
    ActivationOps,
    LossOps,
    OptimOps,
    SparsityOps,
    SparseOps,
    ColumnOps,
    DataOps
);

/// The [`Backend`] trait and every op-family trait, for calling ops on a concrete backend.
pub mod prelude {
    pub use crate::ops::{
        ActivationOps, ColumnOps, DataOps, ElementwiseOps, LinearOps, LossOps, OptimOps, SparseOps,
        SparsityOps, TensorOps,
    };
    pub use crate::Backend;
}
