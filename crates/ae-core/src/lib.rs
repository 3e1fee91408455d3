//! # ae-core
//!
//! The backend-independent half of `ae`, generic over the [`Backend`] seam of `ae-backend`
//! (re-exported here with [`Element`], [`Matrix`] and [`Error`]): the dense [`Autoencoder`] built from a [`ModelConfig`], losses, regularisers,
//! optimisers, the [`train`](trainer::train) loop, data loading ([`data`]), model checkpoints
//! ([`checkpoint`]) and an exact [`Pca`] baseline. It contains no device code.

pub mod atomic;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod pca;
pub mod regularizer;
pub mod rng;
pub mod sparsity;
pub mod synth;
pub mod trainer;

/// The seam, re-exported: `ae_core::Backend` is `ae_backend::Backend`.
pub use ae_backend as backend;
pub use ae_backend::{
    activation, element, error, loss, matrix, prelude, Activation, AdamStep, Backend, Element,
    Error, Loss, Matrix, Reconstruction, Reduction, Result, SgdStep,
};
pub use config::{LayerSpec, ModelConfig};
pub use model::{
    Autoencoder, AuxWorkspace, CodeTerms, Gradients, Output, ParamKind, ParamSpec, Workspace,
};
pub use optim::{LrSchedule, Optimizer, OptimizerConfig, OptimizerKind};
pub use pca::Pca;
pub use regularizer::{Regularizer, WeightDecay};
pub use rng::Rng;
pub use sparsity::{AuxK, CodeMetrics, CodePenalty, Noise, SparsitySpec};
pub use synth::{SynthKind, Synthetic};
pub use trainer::{train, EpochMetrics, TrainConfig, TrainEvent, TrainReport};
