//! # ae-eval
//!
//! What an autoencoder is measured against and with: exact [`Pca`] (the linear baseline at the
//! same code size), the [`metrics`] of anomaly detection on per-sample scores, and the
//! [`median::geometric_median`] of a sample.

pub mod median;
pub mod metrics;
pub mod pca;

pub use pca::{CovarianceAccumulator, Pca};
