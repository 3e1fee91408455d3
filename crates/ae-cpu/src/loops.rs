//! Elementwise loops over slices, split across rayon's threads when the slice is large enough to
//! pay for it. Reductions sum in a fixed order (four lanes per chunk, chunk partials in chunk
//! order), so results do not depend on scheduling.

use rayon::prelude::*;

/// Below this many elements a loop runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 16;
/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

fn parallel(len: usize) -> bool {
    len >= PARALLEL_MIN && rayon::current_num_threads() > 1
}

/// Values per block of the summing loops.
const SUM_BLOCK: usize = 256;

/// `lanes[i % 4] += values[i]`, in order of `i`.
#[inline(always)]
fn add_in_lanes(lanes: &mut [f64; 4], values: &[f64]) {
    let mut quads = values.chunks_exact(4);
    for q in &mut quads {
        for (l, v) in lanes.iter_mut().zip(q) {
            *l += v;
        }
    }
    for (l, v) in lanes.iter_mut().zip(quads.remainder()) {
        *l += v;
    }
}

/// Runs `f`, compiled for AVX2 and FMA when the CPU has them (x86-64, detected at run time), so
/// that the loops inlined into it use 256-bit vectors in a portable build. Results do not
/// change: Rust never fuses `a * b + c` by itself, these loops never reassociate a sum, and
/// `mul_add` is exactly rounded either way. For the loops to take the wider instructions they
/// must be inlined into it: each helper below keeps its loop in an `#[inline(always)]` serial
/// function, passed in an `#[inline(always)]` closure, and the callers in `lib.rs` mark their
/// per-element closures `#[inline(always)]` too.
#[inline(always)]
fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features `with_avx2_fma` is compiled for.
        return unsafe { with_avx2_fma(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `f(&mut y[i], x[i])` for every i.
pub(crate) fn update<T: Copy + Send + Sync>(y: &mut [T], x: &[T], f: impl Fn(&mut T, T) + Sync) {
    if parallel(y.len()) {
        y.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(y, x)| {
                vectorised(
                    #[inline(always)]
                    || update_serial(y, x, &f),
                )
            });
    } else {
        vectorised(
            #[inline(always)]
            || update_serial(y, x, &f),
        );
    }
}

#[inline(always)]
fn update_serial<T: Copy>(y: &mut [T], x: &[T], f: &impl Fn(&mut T, T)) {
    y.iter_mut().zip(x).for_each(|(y, x)| f(y, *x));
}

/// `f(&mut y[i], a[i], b[i])` for every i.
pub(crate) fn update2<T: Copy + Send + Sync>(
    y: &mut [T],
    a: &[T],
    b: &[T],
    f: impl Fn(&mut T, T, T) + Sync,
) {
    if parallel(y.len()) {
        y.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK))
            .zip(b.par_chunks(CHUNK))
            .for_each(|((y, a), b)| {
                vectorised(
                    #[inline(always)]
                    || update2_serial(y, a, b, &f),
                )
            });
    } else {
        vectorised(
            #[inline(always)]
            || update2_serial(y, a, b, &f),
        );
    }
}

#[inline(always)]
fn update2_serial<T: Copy>(y: &mut [T], a: &[T], b: &[T], f: &impl Fn(&mut T, T, T)) {
    y.iter_mut()
        .zip(a)
        .zip(b)
        .for_each(|((y, a), b)| f(y, *a, *b));
}

/// `f(&mut p[i], &mut s[i], g[i])` for every i (an optimiser with one state tensor).
pub(crate) fn update_pair<T: Copy + Send + Sync>(
    p: &mut [T],
    s: &mut [T],
    g: &[T],
    f: impl Fn(&mut T, &mut T, T) + Sync,
) {
    if parallel(p.len()) {
        p.par_chunks_mut(CHUNK)
            .zip(s.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|((p, s), g)| {
                vectorised(
                    #[inline(always)]
                    || update_pair_serial(p, s, g, &f),
                )
            });
    } else {
        vectorised(
            #[inline(always)]
            || update_pair_serial(p, s, g, &f),
        );
    }
}

#[inline(always)]
fn update_pair_serial<T: Copy>(p: &mut [T], s: &mut [T], g: &[T], f: &impl Fn(&mut T, &mut T, T)) {
    p.iter_mut()
        .zip(s.iter_mut())
        .zip(g)
        .for_each(|((p, s), g)| f(p, s, *g));
}

/// `f(&mut p[i], &mut s1[i], &mut s2[i], g[i])` for every i (an optimiser with two states).
pub(crate) fn update_triple<T: Copy + Send + Sync>(
    p: &mut [T],
    s1: &mut [T],
    s2: &mut [T],
    g: &[T],
    f: impl Fn(&mut T, &mut T, &mut T, T) + Sync,
) {
    if parallel(p.len()) {
        p.par_chunks_mut(CHUNK)
            .zip(s1.par_chunks_mut(CHUNK))
            .zip(s2.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|(((p, s1), s2), g)| {
                vectorised(
                    #[inline(always)]
                    || update_triple_serial(p, s1, s2, g, &f),
                )
            });
    } else {
        vectorised(
            #[inline(always)]
            || update_triple_serial(p, s1, s2, g, &f),
        );
    }
}

#[inline(always)]
fn update_triple_serial<T: Copy>(
    p: &mut [T],
    s1: &mut [T],
    s2: &mut [T],
    g: &[T],
    f: &impl Fn(&mut T, &mut T, &mut T, T),
) {
    p.iter_mut()
        .zip(s1.iter_mut())
        .zip(s2.iter_mut())
        .zip(g)
        .for_each(|(((p, s1), s2), g)| f(p, s1, s2, *g));
}

/// `f(&mut y[i], a[i], b[i])` for every i, returning the sum of what `f` returns (in f64).
pub(crate) fn sum_update2<T: Copy + Send + Sync>(
    y: &mut [T],
    a: &[T],
    b: &[T],
    f: impl Fn(&mut T, T, T) -> f64 + Sync,
) -> f64 {
    if parallel(y.len()) {
        let partials: Vec<f64> = y
            .par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK))
            .zip(b.par_chunks(CHUNK))
            .map(|((y, a), b)| {
                vectorised(
                    #[inline(always)]
                    || sum_update2_serial(y, a, b, &f),
                )
            })
            .collect();
        partials.iter().sum()
    } else {
        vectorised(
            #[inline(always)]
            || sum_update2_serial(y, a, b, &f),
        )
    }
}

/// [`sum_update2`] on one thread: blocks of values computed by a loop that vectorises, then
/// summed in a fixed order with four f64 accumulators (a single running sum would serialise on
/// its add latency).
#[inline(always)]
fn sum_update2_serial<T: Copy>(
    y: &mut [T],
    a: &[T],
    b: &[T],
    f: &impl Fn(&mut T, T, T) -> f64,
) -> f64 {
    let mut values = [0.0f64; SUM_BLOCK];
    let mut lanes = [0.0f64; 4];
    for ((y, a), b) in y
        .chunks_mut(SUM_BLOCK)
        .zip(a.chunks(SUM_BLOCK))
        .zip(b.chunks(SUM_BLOCK))
    {
        let values = &mut values[..y.len()];
        for (((v, y), a), b) in values.iter_mut().zip(y.iter_mut()).zip(a).zip(b) {
            *v = f(y, *a, *b);
        }
        add_in_lanes(&mut lanes, values);
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}

/// The sum over i of `f(a[i], b[i])` (in f64).
pub(crate) fn sum_zip<T: Copy + Send + Sync>(
    a: &[T],
    b: &[T],
    f: impl Fn(T, T) -> f64 + Sync,
) -> f64 {
    if parallel(a.len()) {
        let partials: Vec<f64> = a
            .par_chunks(CHUNK)
            .zip(b.par_chunks(CHUNK))
            .map(|(a, b)| {
                vectorised(
                    #[inline(always)]
                    || sum_zip_serial(a, b, &f),
                )
            })
            .collect();
        partials.iter().sum()
    } else {
        vectorised(
            #[inline(always)]
            || sum_zip_serial(a, b, &f),
        )
    }
}

/// [`sum_zip`] on one thread, summed as in [`sum_update2_serial`].
#[inline(always)]
fn sum_zip_serial<T: Copy>(a: &[T], b: &[T], f: &impl Fn(T, T) -> f64) -> f64 {
    let mut values = [0.0f64; SUM_BLOCK];
    let mut lanes = [0.0f64; 4];
    for (a, b) in a.chunks(SUM_BLOCK).zip(b.chunks(SUM_BLOCK)) {
        let values = &mut values[..a.len()];
        for ((v, a), b) in values.iter_mut().zip(a).zip(b) {
            *v = f(*a, *b);
        }
        add_in_lanes(&mut lanes, values);
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}

/// `f(x_row, y_row)` for each pair of `cols`-wide rows of `x` and `y` (same length).
pub(crate) fn for_rows2<T: Copy + Send + Sync>(
    x: &mut [T],
    y: &mut [T],
    cols: usize,
    f: impl Fn(&mut [T], &mut [T]) + Sync,
) {
    debug_assert_eq!(x.len(), y.len(), "for_rows2 lengths");
    let cols = cols.max(1);
    let pairs = |x: &mut [T], y: &mut [T]| {
        x.chunks_exact_mut(cols)
            .zip(y.chunks_exact_mut(cols))
            .for_each(|(a, b)| f(a, b))
    };
    if parallel(x.len()) {
        let block = (CHUNK / cols).max(1) * cols;
        x.par_chunks_mut(block)
            .zip(y.par_chunks_mut(block))
            .for_each(|(xb, yb)| {
                vectorised(
                    #[inline(always)]
                    || pairs(xb, yb),
                )
            });
    } else {
        vectorised(
            #[inline(always)]
            || pairs(x, y),
        );
    }
}

/// `f(row)` for each `cols`-wide row of `x`.
pub(crate) fn for_rows<T: Copy + Send + Sync>(
    x: &mut [T],
    cols: usize,
    f: impl Fn(&mut [T]) + Sync,
) {
    if parallel(x.len()) {
        let rows_per_task = (CHUNK / cols.max(1)).max(1);
        x.par_chunks_mut(rows_per_task * cols).for_each(|block| {
            vectorised(
                #[inline(always)]
                || block.chunks_exact_mut(cols).for_each(&f),
            )
        });
    } else {
        vectorised(
            #[inline(always)]
            || x.chunks_exact_mut(cols).for_each(&f),
        );
    }
}
