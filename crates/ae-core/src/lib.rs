//! # ae-core
//!
//! The backend-independent half of `ae`: the [`Backend`] trait (the seam every compute backend
//! implements), the dense [`Autoencoder`] built from a [`ModelConfig`], losses, regularisers,
//! optimisers, the [`train`](trainer::train) loop, data loading ([`data`]), model checkpoints
//! ([`checkpoint`]) and an exact [`Pca`] baseline. It contains no device code.

pub mod activation;
pub mod atomic;
pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod element;
pub mod error;
pub mod loss;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod pca;
pub mod regularizer;
pub mod rng;
pub mod sparsity;
pub mod synth;
pub mod trainer;

pub use activation::Activation;
pub use backend::{AdamStep, Backend, SgdStep};
pub use config::{LayerSpec, ModelConfig};
pub use element::Element;
pub use error::{Error, Result};
pub use loss::{Loss, Reconstruction, Reduction};
pub use matrix::Matrix;
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
