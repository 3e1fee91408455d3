//! The per-kernel profile (`TensorOps::start_profile` / `finish_profile`) on both backends and
//! both clocks: it counts every kernel run between start and finish and nothing outside, counts
//! the products' arithmetic, survives more timed passes than one query set holds, and changes
//! no result.

mod gpu;
use ae_core::backend::{Profile, ProfileClock};
use ae_core::prelude::*;
use ae_core::{Matrix, Rng};
use ae_cpu::CpuBackend;
use ae_wgpu::{AdapterChoice, MatmulVariant, Tuning};

/// More scale_adds than one submission's query set times (2,048 passes).
const MANY: usize = 2100;

fn random(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    let data = (0..rows * cols)
        .map(|_| rng.uniform_in(-1.0, 1.0) as f32)
        .collect();
    Matrix::new(rows, cols, data).unwrap()
}

/// Three `[17, 33] x [33, 9]` products and `MANY` scale_adds; returns the results.
fn work<B: Backend>(b: &B) -> (Matrix, Matrix) {
    let (x, w) = (
        b.upload(&random(17, 33, 1)).unwrap(),
        b.upload(&random(33, 9, 2)).unwrap(),
    );
    let mut c = b.zeros(17, 9).unwrap();
    for _ in 0..3 {
        b.matmul(&x, false, &w, false, 1.0, 0.5, &mut c);
    }
    let mut acc = b.zeros(17, 9).unwrap();
    for _ in 0..MANY {
        b.scale_add(0.25, &c, &mut acc);
    }
    (b.download(&c).unwrap(), b.download(&acc).unwrap())
}

/// Profiles `work` on `b` and checks the profile's counts; returns the clock.
fn profiled<B: Backend>(b: &B) -> ProfileClock {
    let unprofiled = work(b);
    assert_eq!(b.finish_profile().unwrap(), None, "not started");
    assert!(b.start_profile().unwrap());
    let results = work(b);
    let p: Profile = b.finish_profile().unwrap().expect("started");
    assert_eq!(results, unprofiled, "profiling changes no result");
    let row = |k: &str| {
        p.kernels
            .iter()
            .find(|t| t.kernel == k)
            .unwrap_or_else(|| panic!("{k}: {p:?}"))
    };
    let mm = row("matmul");
    assert_eq!(mm.calls, 3, "{p:?}");
    assert_eq!(mm.flops, 3.0 * 2.0 * (17 * 9 * 33) as f64, "{p:?}");
    assert!(mm.seconds > 0.0, "{p:?}");
    let sa = row("scale_add");
    assert_eq!((sa.calls, sa.flops), (MANY as u64, 0.0), "{p:?}");
    assert!(sa.seconds > 0.0, "{p:?}");
    work(b);
    assert_eq!(
        b.finish_profile().unwrap(),
        None,
        "finished: nothing more is counted"
    );
    p.clock
}

#[test]
fn the_cpu_profiles_each_op_by_the_wall_clock() {
    assert_eq!(profiled(&CpuBackend::<f32>::new()), ProfileClock::Wall);
}

#[test]
fn wgpu_profiles_each_kernel_by_timestamps_or_by_the_wall_clock() {
    let fixed = |no_timestamps| AdapterChoice {
        tuning: Tuning::Fixed(MatmulVariant::DEFAULT),
        no_timestamps,
        ..AdapterChoice::default()
    };
    let Some(gpu) = gpu::gpu_with(&fixed(false)) else {
        return;
    };
    let want = match gpu.has_timestamps() {
        true => ProfileClock::Timestamps,
        false => ProfileClock::Wall,
    };
    assert_eq!(profiled(&gpu), want);
    let wall = gpu::gpu_with(&fixed(true)).expect("the same adapter opens again");
    assert!(!wall.has_timestamps());
    assert_eq!(profiled(&wall), ProfileClock::Wall);
}
