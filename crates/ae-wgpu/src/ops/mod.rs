//! The wgpu bodies of each op family, one file per family, each dispatching the entry points
//! of `shaders/F.wgsl` (the traits, shapes and scalar maths are in `ae_backend::ops` under the
//! same names).

pub(crate) mod activation;
pub(crate) mod columns;
pub(crate) mod data;
pub(crate) mod elementwise;
pub(crate) mod linear;
pub(crate) mod loss;
pub(crate) mod optim;
pub(crate) mod sparse;
pub(crate) mod sparsity;
