//! # ae-eval
//!
//! What an autoencoder is measured against and with: exact [`Pca`] (the linear baseline at the
//! same code size) and the [`metrics`] of anomaly detection on per-sample scores.

pub mod metrics;
pub mod pca;

pub use pca::{CovarianceAccumulator, Pca};
