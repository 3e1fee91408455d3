//! # ae-eval
//!
//! What an autoencoder is measured against and with: exact [`Pca`] (the linear baseline at the
//! same code size; its reconstruction error and full-spectrum anomaly scores), the exact
//! k-nearest-neighbour distance ([`knn::KthNeighbour`]), the [`metrics`] of anomaly detection
//! on per-sample scores, and the [`median::geometric_median`] of a sample.

pub mod knn;
pub mod median;
pub mod metrics;
pub mod pca;

pub use pca::{CovarianceAccumulator, Pca};
