//! Every wgpu matmul variant against the CPU backend: the tile shapes, the vec4 reads (on
//! shapes aligned for them, and their scalar twins on shapes that are not) and the opt-in f16
//! slices (to half precision's tolerance), with every output poisoned (NaN) first where
//! `beta == 0`; and each variant's fused layer forward (`linear_activation`: bias and
//! activation in the matmul's store). Shapes that are no tile multiple (1, 3, 17, 257, 535)
//! and a long K.

mod gpu;
use ae_core::prelude::*;
use ae_core::{Activation, Matrix};
use ae_cpu::CpuBackend;
use ae_wgpu::{AdapterChoice, MatmulVariant, ShapeClass, Tuning, WgpuBackend};
use gpu::{assert_close, poison, random, rel_err};
use proptest::prelude::*;

/// Relative Frobenius error allowed of the f32 variants (DESIGN.md: matmul up to K = 4096).
const F32_TOL: f64 = 1e-4;
/// Of the f16-slice variants: both operands rounded to 11 significant bits (relative error
/// 2^-12 each), summed in f32.
const F16_TOL: f64 = 2e-3;

use gpu::shared as device;

/// A backend opened with the f16 variants allowed, or `None` (after saying why) without an
/// adapter or without `SHADER_F16`; under `AE_REQUIRE_GPU=1` (CI's lavapipe has `SHADER_F16`)
/// either is a failure.
fn f16_device() -> Option<&'static WgpuBackend> {
    static GPU: std::sync::OnceLock<Option<WgpuBackend>> = std::sync::OnceLock::new();
    GPU.get_or_init(|| {
        let gpu = gpu::gpu_with(&AdapterChoice {
            f16_matmul: true,
            ..Default::default()
        })?;
        if gpu.has_f16_matmul() {
            return Some(gpu);
        }
        let why = format!("{} has no SHADER_F16", gpu.adapter().name);
        if std::env::var("AE_REQUIRE_GPU").as_deref() == Ok("1") {
            panic!("AE_REQUIRE_GPU=1 but {why}: the f16 matmul variants cannot be tested");
        }
        eprintln!("SKIPPED: {why}; the f16 matmul variants are not tested");
        None
    })
    .as_ref()
}

/// `gpu::odd_dim()`, and M = 535 (burn's regression).
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![Just(535usize), gpu::odd_dim()]
}

fn small_n() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(3), Just(17), Just(257), 1..130usize]
}

/// `(a, b, c0)` of a `c = alpha op(a) op(b) + beta c` case: `c0` poisoned where `beta == 0`.
fn operands(
    (m, k, n): (usize, usize, usize),
    (ta, tb): (bool, bool),
    beta: f32,
    seed: u64,
) -> (Matrix, Matrix, Matrix) {
    let a = if ta {
        random(k, m, seed, 1.0)
    } else {
        random(m, k, seed, 1.0)
    };
    let b = if tb {
        random(n, k, seed + 1, 1.0)
    } else {
        random(k, n, seed + 1, 1.0)
    };
    let c0 = if beta != 0.0 {
        random(m, n, seed + 2, 1.0)
    } else {
        poison(m, n)
    };
    (a, b, c0)
}

/// The product on `gpu` with variant `v` (which must build there).
fn on_gpu(
    gpu: &WgpuBackend,
    v: MatmulVariant,
    (a, b, c0): &(Matrix, Matrix, Matrix),
    (ta, tb): (bool, bool),
    (alpha, beta): (f32, f32),
) -> Matrix {
    let (ga, gb) = (gpu.upload(a).unwrap(), gpu.upload(b).unwrap());
    let mut out = gpu.upload(c0).unwrap();
    gpu.matmul_with(v, &ga, ta, &gb, tb, alpha, beta, &mut out)
        .unwrap_or_else(|e| panic!("{} does not build: {e}", v.name));
    gpu.download(&out).unwrap()
}

fn on_cpu(
    (a, b, c0): &(Matrix, Matrix, Matrix),
    (ta, tb): (bool, bool),
    (alpha, beta): (f32, f32),
) -> Matrix {
    let cpu = CpuBackend::<f32>::new();
    let mut want = cpu.upload(c0).unwrap();
    let (ca, cb) = (cpu.upload(a).unwrap(), cpu.upload(b).unwrap());
    cpu.matmul(&ca, ta, &cb, tb, alpha, beta, &mut want);
    cpu.download(&want).unwrap()
}

/// Every f32 variant (vec4 ones included: on an unaligned shape they run their scalar twins)
/// against the CPU on one case.
fn check_f32_variants(
    gpu: &WgpuBackend,
    dims: (usize, usize, usize),
    flags: (bool, bool),
    (alpha, beta): (f32, f32),
    seed: u64,
) -> Result<(), TestCaseError> {
    let ops = operands(dims, flags, beta, seed);
    let want = on_cpu(&ops, flags, (alpha, beta));
    let (m, k, n) = dims;
    for &v in MatmulVariant::ALL.iter().filter(|v| !v.f16) {
        let got = on_gpu(gpu, v, &ops, flags, (alpha, beta));
        let what = format!("matmul {} [{m}, {k}] x [{k}, {n}] {flags:?}", v.name);
        assert_close(&[got], std::slice::from_ref(&want), F32_TOL, &what)?;
    }
    Ok(())
}

/// `d` rounded up to a multiple of 4.
fn up4(d: usize) -> usize {
    d.div_ceil(4) * 4
}

/// `(m, k, n)` with the stored row lengths of both operands rounded up to multiples of 4 (the
/// other dimensions as drawn), so that the vec4 variants run as themselves.
fn aligned((m, k, n): (usize, usize, usize), (ta, tb): (bool, bool)) -> (usize, usize, usize) {
    let (mut m, mut k, mut n) = (m, k, n);
    if ta {
        m = up4(m)
    } else {
        k = up4(k)
    }
    if tb {
        k = up4(k)
    } else {
        n = up4(n)
    }
    assert!(ShapeClass::of(m, k, n, ta, tb).aligned);
    (m, k, n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every f32 variant on shapes as drawn (mostly unaligned: the vec4 ones' scalar twins).
    #[test]
    fn matmul_variants_match_cpu(m in dim(), k in dim(), n in small_n(), ta: bool, tb: bool,
                                 alpha in -2.0f32..2.0, use_beta: bool, seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let beta = if use_beta { 0.5 } else { 0.0 };
        check_f32_variants(gpu, (m, k, n), (ta, tb), (alpha, beta), seed)?;
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Every f32 variant on shapes aligned for vec4 reads (the other dimensions odd as drawn).
    #[test]
    fn vec4_variants_match_cpu_on_aligned_shapes(m in dim(), k in dim(), n in small_n(),
                                                 ta: bool, tb: bool, use_beta: bool,
                                                 seed in 0u64..1000) {
        let Some(gpu) = device() else { return Ok(()) };
        let beta = if use_beta { -0.75 } else { 0.0 };
        check_f32_variants(gpu, aligned((m, k, n), (ta, tb)), (ta, tb), (1.25, beta), seed)?;
    }

    /// The f16-slice variants: within half precision's tolerance of the CPU, and not equal to
    /// the f32 kernel's result (the operands really were rounded).
    #[test]
    fn f16_variants_match_cpu_to_half_precision(m in dim(), k in 1..600usize, n in small_n(),
                                                ta: bool, tb: bool, vec: bool,
                                                seed in 0u64..1000) {
        let Some(gpu) = f16_device() else { return Ok(()) };
        let dims = if vec { aligned((m, k, n), (ta, tb)) } else { (m, k, n) };
        let ops = operands(dims, (ta, tb), 0.0, seed);
        let want = on_cpu(&ops, (ta, tb), (1.0, 0.0));
        let exact = on_gpu(gpu, MatmulVariant::DEFAULT, &ops, (ta, tb), (1.0, 0.0));
        for &v in MatmulVariant::ALL.iter().filter(|v| v.f16) {
            let got = on_gpu(gpu, v, &ops, (ta, tb), (1.0, 0.0));
            let what = format!("matmul {} {dims:?} {:?}", v.name, (ta, tb));
            assert_close(std::slice::from_ref(&got), std::slice::from_ref(&want), F16_TOL, &what)?;
            prop_assert!(rel_err(&got, &exact) > 1e-6, "{what}: no rounding, so no f16 slices");
        }
    }
}

#[test]
fn every_matmul_variant_on_odd_shapes_and_long_k() {
    let Some(gpu) = device() else { return };
    let shapes = [
        (1, 3, 17),
        (3, 17, 257),
        (17, 257, 535),
        (257, 535, 1),
        (535, 1, 3),
        (17, 4096, 3),
        (3, 4096, 17),
        (17, 4096, 12),
        (12, 4096, 17),
    ];
    for (i, &(m, k, n)) in shapes.iter().enumerate() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let beta = if (i + ta as usize).is_multiple_of(2) {
                0.0
            } else {
                -0.75
            };
            check_f32_variants(gpu, (m, k, n), (ta, tb), (1.5, beta), i as u64).unwrap();
        }
    }
}

#[test]
fn f16_variants_refuse_to_build_unless_asked_for() {
    let Some(gpu) = device() else { return };
    assert!(!gpu.has_f16_matmul(), "the default choice leaves them out");
    let ops = operands((5, 8, 4), (false, false), 0.0, 1);
    let (a, b) = (gpu.upload(&ops.0).unwrap(), gpu.upload(&ops.1).unwrap());
    let mut c = gpu.upload(&ops.2).unwrap();
    for v in MatmulVariant::ALL.iter().filter(|v| v.f16) {
        let e = gpu
            .matmul_with(*v, &a, false, &b, false, 1.0, 0.0, &mut c)
            .unwrap_err();
        assert!(e.to_string().contains("--matmul-f16"), "{}: {e}", v.name);
    }
    // Nothing was recorded: c is still poisoned.
    assert!(gpu.download(&c).unwrap().first_non_finite().is_some());
}

/// `(z, a)` of `linear_activation` on `be`: `z = x wᵀ + bias`, `a = act(z)`, both poisoned
/// first.
fn layer_forward<B: Backend>(
    be: &B,
    act: Activation,
    (x, w, bias): (&Matrix, &Matrix, &Matrix),
) -> Vec<Matrix> {
    let (rows, out) = (x.rows, w.rows);
    let mut z = be.upload(&poison(rows, out)).unwrap();
    let mut a = be.upload(&poison(rows, out)).unwrap();
    let (x, w, bias) = (
        be.upload(x).unwrap(),
        be.upload(w).unwrap(),
        be.upload(bias).unwrap(),
    );
    be.linear_activation(act, &x, &w, true, &bias, &mut z, &mut a);
    vec![be.download(&z).unwrap(), be.download(&a).unwrap()]
}

/// The fused layer forward of every f32 variant (each on a backend that uses only it) and
/// every activation, against the CPU's matmul then bias_activation, on aligned and unaligned
/// shapes.
#[test]
fn every_variant_fuses_the_layer_forward_as_the_cpu_computes_it() {
    if device().is_none() {
        return;
    }
    let shapes = [(17, 12, 8), (257, 33, 17), (3, 784, 64), (64, 5, 1)];
    let acts = Activation::ALL;
    let cpu = CpuBackend::<f32>::new();
    for &v in MatmulVariant::ALL.iter().filter(|v| !v.f16) {
        let gpu = gpu::gpu_with(&AdapterChoice {
            tuning: Tuning::Fixed(v),
            ..Default::default()
        })
        .unwrap();
        for (i, &(rows, inp, out)) in shapes.iter().enumerate() {
            let (x, w) = (
                random(rows, inp, i as u64, 2.0),
                random(out, inp, 9 + i as u64, 1.0),
            );
            let bias = random(1, out, 20 + i as u64, 1.0);
            for act in acts {
                let want = layer_forward(&cpu, act, (&x, &w, &bias));
                let got = layer_forward(&gpu, act, (&x, &w, &bias));
                let what = format!("{} {act:?} [{rows}, {inp}] -> {out}", v.name);
                assert_close(&got, &want, F32_TOL, &what).unwrap();
            }
        }
        let counts = gpu.dispatch_counts();
        let fused = counts.iter().find(|c| c.0 == "matmul_bias_activation");
        assert_eq!(
            fused.map(|c| c.1),
            Some((shapes.len() * acts.len()) as u64),
            "{}",
            v.name
        );
    }
}
