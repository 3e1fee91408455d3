//! # ae-eval
//!
//! What an autoencoder is measured against and with: exact [`Pca`] (the linear baseline at the
//! same code size; its reconstruction error and full-spectrum anomaly scores), the exact
//! k-nearest-neighbour distance ([`knn::KthNeighbour`]), the [`metrics`] of anomaly detection
//! on per-sample scores, the [`median::geometric_median`] of a sample, and the [`manifold`]
//! measures of a 2-D embedding (unrolling, trustworthiness) with Isomap.

pub mod knn;
pub mod manifold;
pub mod median;
pub mod metrics;
pub mod pca;

pub use pca::{CovarianceAccumulator, Pca};
