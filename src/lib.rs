//! # ae
//!
//! Autoencoders in Rust, trained on the CPU or (soon) any GPU through wgpu, from one binary or as
//! a library. This facade crate re-exports [`ae_core`] (model, trainer, data, PCA) and
//! [`ae_cpu`] (the CPU backend), chooses a backend at run time ([`Device`]), and holds the
//! workflows the `ae` command runs ([`workflow`]), the charts it draws ([`chart`], SVG), its
//! image grids ([`picture`], PNG), its HTML reports ([`report`]), its sweeps ([`sweep`]) and its
//! benchmark ([`bench`](mod@bench)).

pub mod anomaly;
pub mod bench;
pub mod chart;
pub mod device;
pub mod picture;
pub mod preset;
pub mod report;
pub mod sweep;
pub mod workflow;

pub use ae_core;
pub use ae_core::{Error, Matrix, Result};
pub use ae_cpu;
pub use device::{BackendChoice, Device, Job};

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
