//! Time per kernel: what a backend measures between [`crate::TensorOps::start_profile`] and
//! [`crate::TensorOps::finish_profile`], for `ae bench --profile`.
//!
//! A backend adds each kernel's time and arithmetic as it runs ([`KernelTimes::add`]); a
//! synchronous backend (the CPU) times its ops with a [`WallProfiler`], one guard per op.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// How the times were taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileClock {
    /// GPU timestamps written at the start and end of each kernel's pass: device time alone.
    Timestamps,
    /// Wall time around each kernel with the device idle before and waited for after (a GPU
    /// without timestamp queries; the CPU, whose ops are synchronous): includes launch costs.
    Wall,
}

/// One kernel's totals.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct KernelTime {
    /// The kernel: a WGSL entry point, or the CPU op of the same name.
    pub kernel: &'static str,
    /// Times it ran.
    pub calls: u64,
    /// Seconds it ran in all.
    pub seconds: f64,
    /// Floating-point operations it did in all, where counted (matrix products: `2 m n k`);
    /// 0 where not.
    pub flops: f64,
}

/// Per-kernel totals, in the order the kernels first ran.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelTimes {
    by_kernel: Vec<KernelTime>,
}

impl KernelTimes {
    fn entry(&mut self, kernel: &'static str) -> &mut KernelTime {
        let i = match self.by_kernel.iter().position(|t| t.kernel == kernel) {
            Some(i) => i,
            None => {
                self.by_kernel.push(KernelTime {
                    kernel,
                    calls: 0,
                    seconds: 0.0,
                    flops: 0.0,
                });
                self.by_kernel.len() - 1
            }
        };
        &mut self.by_kernel[i]
    }

    /// Counts one run of `kernel` that took `seconds`.
    pub fn add(&mut self, kernel: &'static str, seconds: f64) {
        let t = self.entry(kernel);
        t.calls += 1;
        t.seconds += seconds;
    }

    /// Counts `flops` operations of `kernel` (its time comes separately, from [`Self::add`]).
    pub fn add_flops(&mut self, kernel: &'static str, flops: f64) {
        self.entry(kernel).flops += flops;
    }

    /// The totals, most time first.
    pub fn into_sorted(mut self) -> Vec<KernelTime> {
        self.by_kernel
            .sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(a.kernel.cmp(b.kernel)));
        self.by_kernel
    }
}

/// What [`crate::TensorOps::finish_profile`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// How the times were taken.
    pub clock: ProfileClock,
    /// Each kernel's totals, most time first.
    pub kernels: Vec<KernelTime>,
}

/// Wall-time profiling for a backend whose ops finish before they return: off until
/// [`Self::start`], then each op holds a [`Self::time`] guard while it runs.
#[derive(Debug, Default)]
pub struct WallProfiler {
    on: AtomicBool,
    times: Mutex<KernelTimes>,
}

/// Adds the time from its creation to its drop to one kernel (nothing when profiling is off,
/// or inside another op's guard on the same thread: a fused op that calls two others counts
/// once, as itself).
pub struct Timed<'a> {
    running: Option<(&'a WallProfiler, &'static str, Instant)>,
    /// Whether it holds a level of this thread's nesting depth.
    nested_level: bool,
}

thread_local! {
    /// Guards alive on this thread.
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl Drop for Timed<'_> {
    fn drop(&mut self) {
        if self.nested_level {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
        if let Some((p, kernel, start)) = self.running.take() {
            let seconds = start.elapsed().as_secs_f64();
            p.times
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(kernel, seconds);
        }
    }
}

impl WallProfiler {
    /// Clears the totals and starts counting.
    pub fn start(&self) {
        *self.times.lock().unwrap_or_else(|e| e.into_inner()) = KernelTimes::default();
        self.on.store(true, Ordering::Release);
    }

    /// Stops counting and returns the totals since [`Self::start`] (`None` if it was off).
    pub fn finish(&self) -> Option<Profile> {
        if !self.on.swap(false, Ordering::AcqRel) {
            return None;
        }
        let times = std::mem::take(&mut *self.times.lock().unwrap_or_else(|e| e.into_inner()));
        Some(Profile {
            clock: ProfileClock::Wall,
            kernels: times.into_sorted(),
        })
    }

    /// A guard timing one run of `kernel` that did `flops` operations, until it drops.
    pub fn time(&self, kernel: &'static str, flops: f64) -> Timed<'_> {
        if !self.on.load(Ordering::Acquire) {
            return Timed {
                running: None,
                nested_level: false,
            };
        }
        let outer = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get() == 1
        });
        if !outer {
            return Timed {
                running: None,
                nested_level: true,
            };
        }
        if flops > 0.0 {
            let mut times = self.times.lock().unwrap_or_else(|e| e.into_inner());
            times.add_flops(kernel, flops);
        }
        Timed {
            running: Some((self, kernel, Instant::now())),
            nested_level: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_per_kernel_and_sort_by_time() {
        let mut t = KernelTimes::default();
        t.add("copy", 1.0);
        t.add("matmul", 2.0);
        t.add_flops("matmul", 10.0);
        t.add("matmul", 3.0);
        t.add_flops("matmul", 5.0);
        let sorted = t.into_sorted();
        assert_eq!(sorted.len(), 2);
        assert_eq!(
            sorted[0],
            KernelTime {
                kernel: "matmul",
                calls: 2,
                seconds: 5.0,
                flops: 15.0
            }
        );
        assert_eq!((sorted[1].kernel, sorted[1].calls), ("copy", 1));
    }

    #[test]
    fn the_wall_profiler_counts_only_between_start_and_finish() {
        let p = WallProfiler::default();
        drop(p.time("before", 1.0));
        assert_eq!(p.finish(), None, "never started");
        p.start();
        {
            let _t = p.time("op", 4.0);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        drop(p.time("op", 4.0));
        {
            // A fused op calling another: counted once, as the outer one.
            let _outer = p.time("fused", 0.0);
            drop(p.time("op", 4.0));
        }
        let profile = p.finish().expect("started");
        assert_eq!(profile.clock, ProfileClock::Wall);
        assert_eq!(profile.kernels.len(), 2, "{:?}", profile.kernels);
        let op = &profile.kernels[0];
        assert_eq!(
            (profile.kernels[1].kernel, profile.kernels[1].calls),
            ("fused", 1)
        );
        assert_eq!((op.kernel, op.calls, op.flops), ("op", 2, 8.0));
        assert!(op.seconds >= 0.002, "{}", op.seconds);
        drop(p.time("after", 1.0));
        assert_eq!(p.finish(), None, "finished");
    }
}
