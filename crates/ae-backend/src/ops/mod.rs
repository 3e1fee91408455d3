//! The op families. Family `F` is this module's `F.rs` (its trait, with shapes, and its scalar
//! maths), `ae-cpu/src/ops/F.rs`, `ae-wgpu/src/ops/F.rs` and `ae-wgpu/shaders/F.wgsl`, whose
//! entry points are named after the trait's methods.

pub mod activation;
pub mod columns;
pub mod data;
pub mod elementwise;
pub mod linear;
pub mod loss;
pub mod optim;
pub mod sparse;
pub mod sparsity;
pub mod tensor;

pub use activation::ActivationOps;
pub use columns::ColumnOps;
pub use data::DataOps;
pub use elementwise::ElementwiseOps;
pub use linear::LinearOps;
pub use loss::LossOps;
pub use optim::OptimOps;
pub use sparse::SparseOps;
pub use sparsity::SparsityOps;
pub use tensor::TensorOps;
