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

/// One backend for every case of every test of the binary (opening one takes 10-300 ms), or
/// `None` as [`gpu`] says.
pub fn shared() -> Option<&'static WgpuBackend> {
    static GPU: std::sync::OnceLock<Option<WgpuBackend>> = std::sync::OnceLock::new();
    GPU.get_or_init(gpu).as_ref()
}

/// Relative Frobenius error of `got` against `want`; a non-finite element of `got` (an element
/// left poisoned) fails the test.
pub fn rel_err(got: &ae_core::Matrix, want: &ae_core::Matrix) -> f64 {
    assert_eq!((got.rows, got.cols), (want.rows, want.cols));
    if let Some((r, c, v)) = got.first_non_finite() {
        panic!("element [{r}, {c}] is {v}: never written, or not finite");
    }
    let sq = |v: f64| v * v;
    let diff: f64 = got
        .data
        .iter()
        .zip(&want.data)
        .map(|(a, b)| sq(*a as f64 - *b as f64))
        .sum();
    let norm: f64 = want.data.iter().map(|v| sq(*v as f64)).sum();
    diff.sqrt() / norm.sqrt().max(1e-30)
}

/// A `[rows, cols]` matrix of seeded uniform values in `[-scale, scale]`.
pub fn random(rows: usize, cols: usize, seed: u64, scale: f64) -> ae_core::Matrix {
    let mut rng = ae_core::Rng::new(seed);
    let data = (0..rows * cols)
        .map(|_| rng.uniform_in(-scale, scale) as f32)
        .collect();
    ae_core::Matrix::new(rows, cols, data).unwrap()
}

/// A `[rows, cols]` matrix of NaN: an output element a kernel never writes stays NaN.
pub fn poison(rows: usize, cols: usize) -> ae_core::Matrix {
    ae_core::Matrix::new(rows, cols, vec![f32::NAN; rows * cols]).unwrap()
}

/// Fails the property case where an output's [`rel_err`] is over `tol`.
pub fn assert_close(
    got: &[ae_core::Matrix],
    want: &[ae_core::Matrix],
    tol: f64,
    what: &str,
) -> Result<(), proptest::test_runner::TestCaseError> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let e = rel_err(g, w);
        proptest::prop_assert!(e <= tol, "{what} output {i}: relative error {e} > {tol}");
    }
    Ok(())
}

/// Sizes that are no tile multiple (1, 3, 17, 65, 257), one that is (64), and any up to 300.
pub fn odd_dim() -> impl proptest::strategy::Strategy<Value = usize> {
    use proptest::prelude::*;
    prop_oneof![
        Just(1usize),
        Just(3),
        Just(17),
        Just(64),
        Just(65),
        Just(257),
        1..300usize
    ]
}
