//! Opening the GPU backend in tests: skip with a printed reason when there is no adapter, but
//! fail when `AE_REQUIRE_GPU=1` (as `.ci/run` sets).
#![allow(dead_code)]

use ae_wgpu::{AdapterChoice, WgpuBackend};

/// The wgpu backend on the best adapter, or `None` (after saying why) when there is none and
/// the GPU is not required.
pub fn gpu() -> Option<WgpuBackend> {
    gpu_with(&AdapterChoice::default())
}

/// Like [`gpu`], with a chosen adapter configuration.
pub fn gpu_with(choice: &AdapterChoice) -> Option<WgpuBackend> {
    match WgpuBackend::new(choice) {
        Ok(b) => Some(b),
        Err(e) => {
            if std::env::var("AE_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("AE_REQUIRE_GPU=1 but the wgpu backend cannot open: {e}");
            }
            eprintln!(
                "SKIPPED: no wgpu adapter ({e}); set AE_REQUIRE_GPU=1 to make this a failure"
            );
            None
        }
    }
}
