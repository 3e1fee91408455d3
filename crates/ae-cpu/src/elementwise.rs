//! Elementwise loops over slices, split across rayon's threads when the slice is large enough to
//! pay for it. Reductions sum per-chunk partials in chunk order, so results do not depend on
//! scheduling.

use rayon::prelude::*;

/// Below this many elements a loop runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 16;
/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

fn parallel(len: usize) -> bool {
    len >= PARALLEL_MIN && rayon::current_num_threads() > 1
}

/// `f(&mut y[i], x[i])` for every i.
pub(crate) fn update<T: Copy + Send + Sync>(y: &mut [T], x: &[T], f: impl Fn(&mut T, T) + Sync) {
    let body = |(y, x): (&mut [T], &[T])| y.iter_mut().zip(x).for_each(|(y, x)| f(y, *x));
    if parallel(y.len()) {
        y.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(body);
    } else {
        body((y, x));
    }
}

/// `f(&mut y[i], a[i], b[i])` for every i.
pub(crate) fn update2<T: Copy + Send + Sync>(
    y: &mut [T],
    a: &[T],
    b: &[T],
    f: impl Fn(&mut T, T, T) + Sync,
) {
    let body = |((y, a), b): ((&mut [T], &[T]), &[T])| {
        y.iter_mut()
            .zip(a)
            .zip(b)
            .for_each(|((y, a), b)| f(y, *a, *b))
    };
    if parallel(y.len()) {
        y.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK))
            .zip(b.par_chunks(CHUNK))
            .for_each(body);
    } else {
        body(((y, a), b));
    }
}

/// `f(&mut p[i], &mut s[i], g[i])` for every i (an optimiser with one state tensor).
pub(crate) fn update_pair<T: Copy + Send + Sync>(
    p: &mut [T],
    s: &mut [T],
    g: &[T],
    f: impl Fn(&mut T, &mut T, T) + Sync,
) {
    let body = |((p, s), g): ((&mut [T], &mut [T]), &[T])| {
        p.iter_mut()
            .zip(s.iter_mut())
            .zip(g)
            .for_each(|((p, s), g)| f(p, s, *g))
    };
    if parallel(p.len()) {
        p.par_chunks_mut(CHUNK)
            .zip(s.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(body);
    } else {
        body(((p, s), g));
    }
}

/// `f(&mut p[i], &mut s1[i], &mut s2[i], g[i])` for every i (an optimiser with two states).
pub(crate) fn update_triple<T: Copy + Send + Sync>(
    p: &mut [T],
    s1: &mut [T],
    s2: &mut [T],
    g: &[T],
    f: impl Fn(&mut T, &mut T, &mut T, T) + Sync,
) {
    type Chunks<'a, T> = (((&'a mut [T], &'a mut [T]), &'a mut [T]), &'a [T]);
    let body = |(((p, s1), s2), g): Chunks<'_, T>| {
        p.iter_mut()
            .zip(s1.iter_mut())
            .zip(s2.iter_mut())
            .zip(g)
            .for_each(|(((p, s1), s2), g)| f(p, s1, s2, *g))
    };
    if parallel(p.len()) {
        p.par_chunks_mut(CHUNK)
            .zip(s1.par_chunks_mut(CHUNK))
            .zip(s2.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(body);
    } else {
        body((((p, s1), s2), g));
    }
}

/// `f(&mut y[i], a[i], b[i])` for every i, returning the sum of what `f` returns (in f64).
pub(crate) fn sum_update2<T: Copy + Send + Sync>(
    y: &mut [T],
    a: &[T],
    b: &[T],
    f: impl Fn(&mut T, T, T) -> f64 + Sync,
) -> f64 {
    let body = |((y, a), b): ((&mut [T], &[T]), &[T])| -> f64 {
        y.iter_mut()
            .zip(a)
            .zip(b)
            .map(|((y, a), b)| f(y, *a, *b))
            .sum()
    };
    if parallel(y.len()) {
        let partials: Vec<f64> = y
            .par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK))
            .zip(b.par_chunks(CHUNK))
            .map(body)
            .collect();
        partials.iter().sum()
    } else {
        body(((y, a), b))
    }
}

/// The sum over i of `f(a[i], b[i])` (in f64).
pub(crate) fn sum_zip<T: Copy + Send + Sync>(
    a: &[T],
    b: &[T],
    f: impl Fn(T, T) -> f64 + Sync,
) -> f64 {
    let body = |(a, b): (&[T], &[T])| -> f64 { a.iter().zip(b).map(|(a, b)| f(*a, *b)).sum() };
    if parallel(a.len()) {
        let partials: Vec<f64> = a
            .par_chunks(CHUNK)
            .zip(b.par_chunks(CHUNK))
            .map(body)
            .collect();
        partials.iter().sum()
    } else {
        body((a, b))
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
        x.par_chunks_mut(rows_per_task * cols)
            .for_each(|block| block.chunks_exact_mut(cols).for_each(&f));
    } else {
        x.chunks_exact_mut(cols).for_each(f);
    }
}
