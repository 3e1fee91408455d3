//! The CPU bodies of each op family, one file per family (the traits, shapes and scalar maths
//! are in `ae_backend::ops` under the same names).

mod activation;
mod columns;
mod data;
mod elementwise;
mod linear;
mod loss;
mod optim;
mod sparse;
mod sparsity;
