//! # ae-core
//!
//! The model graph and its training, generic over the [`Backend`] seam of `ae-backend`: the dense
//! [`Autoencoder`] built from a [`ModelConfig`], regularisers, optimisers, the
//! [`train`](trainer::train) loop and model [`checkpoint`]s, and one-layer SAEs to and from
//! SAELens and sparsify directories ([`interop`]). It contains no device code.
//!
//! It re-exports the layers it builds on, so that a user links this crate and a backend: the seam
//! (`ae-backend`: [`Element`], [`Matrix`], [`Error`], the op families, [`prelude`]), the data layer
//! (`ae-data` as [`data`]: files, normalisation, synthetic data) and the evaluation layer
//! (`ae-eval`: [`Pca`], [`metrics`]).

pub mod checkpoint;
mod code_metrics;
pub mod config;
pub mod interop;
pub mod model;
pub mod optim;
pub mod params;
pub mod regularizer;
pub mod sparsity;
pub mod trainer;

/// The seam, re-exported: `ae_core::Backend` is `ae_backend::Backend`.
pub use ae_backend as backend;
pub use ae_backend::{
    activation, element, error, loss, matrix, prelude, rng, Activation, AdamStep, Backend, Element,
    Error, Loss, Matrix, Reconstruction, Reduction, Result, Rng, SgdStep,
};
/// The data layer, re-exported: `ae_core::data` is `ae_data`.
pub use ae_data as data;
pub use ae_data::{atomic, synth, SynthKind, Synthetic};
pub use ae_eval::{knn, manifold, median, metrics, pca, Pca};
pub use config::{LayerSpec, ModelConfig};
pub use model::{
    Autoencoder, AuxWorkspace, CodeProducts, CodeTerms, Contractive, ContractiveMethod,
    ContractiveWorkspace, Gradients, Output, ParamKind, ParamSpec, VaeBuffers, Variational,
    Workspace, CONTRACTIVE_STEP, LOGVAR_LIMIT, SPARSE_CODE_RATIO,
};
pub use optim::{LrSchedule, Optimizer, OptimizerConfig, OptimizerKind};
pub use regularizer::{CodeTarget, Regularizer, WeightDecay};
pub use sparsity::{
    AuxK, AuxKUnits, CodeMetrics, CodeMetricsAccumulator, CodePenalty, JumpReluTraining, Noise,
    PrefixFvu, SparsitySpec,
};
pub use trainer::{train, EpochMetrics, TrainConfig, TrainEvent, TrainReport};
