//! Per-kernel times for [`ae_backend::TensorOps::start_profile`]. With timestamp queries each
//! dispatch's pass writes a pair of timestamps, resolved and read back at every submission
//! (device time alone); without them each dispatch is submitted alone and waited for, and its
//! wall time counted (launch costs included).

use crate::backend::WgpuBackend;
use ae_backend::profile::KernelTimes;
use ae_backend::{Error, Profile, ProfileClock, Result};

/// Timed passes per submission: a query set holds at most 4,096 queries, two per pass.
pub(crate) const PROFILED_PASSES: u32 = 2048;
const _: () = assert!(2 * PROFILED_PASSES <= wgpu::QUERY_SET_MAX_QUERIES);

/// The profile being taken.
pub(crate) struct Profiling {
    times: KernelTimes,
    /// The query set and its buffers, with timestamp queries; else wall time.
    queries: Option<TimestampBuffers>,
    /// The kernels of the pending encoder's timed passes: pass `i` writes queries `2i, 2i + 1`.
    passes: Vec<&'static str>,
    /// The first error reading timestamps back, reported by `finish_profile`.
    error: Option<String>,
}

/// A query set of `2 * passes` timestamps, the buffer it resolves into and a mappable copy.
pub(crate) struct TimestampBuffers {
    pub(crate) set: wgpu::QuerySet,
    pub(crate) resolve: wgpu::Buffer,
    pub(crate) staging: wgpu::Buffer,
}

impl TimestampBuffers {
    pub(crate) fn new(device: &wgpu::Device, passes: u32) -> TimestampBuffers {
        let count = 2 * passes;
        let bytes = count as u64 * 8;
        TimestampBuffers {
            set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count,
            }),
            resolve: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            staging: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        }
    }

    /// The writes of pass `i`: queries `2i` at its start and `2i + 1` at its end.
    pub(crate) fn pass(&self, i: u32) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(2 * i),
            end_of_pass_write_index: Some(2 * i + 1),
        }
    }

    /// Records resolving the first `passes` passes' queries and copying them to `staging`.
    pub(crate) fn resolve(&self, encoder: &mut wgpu::CommandEncoder, passes: u32) {
        let count = 2 * passes;
        encoder.resolve_query_set(&self.set, 0..count, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.staging, 0, count as u64 * 8);
    }
}

impl Profiling {
    /// Whether the pending encoder holds as many timed passes as the query set can.
    pub(crate) fn full(&self) -> bool {
        self.queries.is_some() && self.passes.len() as u32 >= PROFILED_PASSES
    }

    /// Whether each dispatch is timed by the wall clock (no timestamp queries).
    pub(crate) fn by_wall(&self) -> bool {
        self.queries.is_none()
    }

    /// The timestamp writes of the next pass, which runs `kernel` (none by the wall clock).
    pub(crate) fn next_pass(
        &mut self,
        kernel: &'static str,
    ) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        let queries = self.queries.as_ref()?;
        self.passes.push(kernel);
        Some(queries.pass(self.passes.len() as u32 - 1))
    }

    /// Counts a dispatch timed by the wall clock.
    pub(crate) fn add_wall(&mut self, kernel: &'static str, seconds: f64) {
        self.times.add(kernel, seconds);
    }

    /// Counts `flops` operations of `kernel`.
    pub(crate) fn add_flops(&mut self, kernel: &'static str, flops: f64) {
        self.times.add_flops(kernel, flops);
    }

    /// Keeps the first error.
    pub(crate) fn fail(&mut self, e: String) {
        self.error.get_or_insert(e);
    }
}

impl WgpuBackend {
    /// Starts a profile (after the queued work): timestamps where the device has them.
    pub(crate) fn begin_profile(&self) -> Result<bool> {
        ae_backend::TensorOps::sync(self)?;
        let queries = self
            .timestamps
            .then(|| TimestampBuffers::new(&self.device, PROFILED_PASSES));
        *self.profiling.lock().unwrap_or_else(|p| p.into_inner()) = Some(Profiling {
            times: KernelTimes::default(),
            queries,
            passes: Vec::new(),
            error: None,
        });
        Ok(true)
    }

    /// Ends the profile (after the queued work) and returns it.
    pub(crate) fn end_profile(&self) -> Result<Option<Profile>> {
        ae_backend::TensorOps::sync(self)?;
        let Some(p) = self
            .profiling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return Ok(None);
        };
        if let Some(e) = p.error {
            return Err(Error::Backend(format!(
                "{}: profiling: {e}",
                self.report.name
            )));
        }
        Ok(Some(Profile {
            clock: match p.queries {
                Some(_) => ProfileClock::Timestamps,
                None => ProfileClock::Wall,
            },
            kernels: p.times.into_sorted(),
        }))
    }

    /// Counts `flops` operations of `kernel` when profiling.
    pub(crate) fn profile_flops(&self, kernel: &'static str, flops: f64) {
        if let Some(p) = self
            .profiling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            p.add_flops(kernel, flops);
        }
    }

    /// Before a submission: records resolving the timed passes of `encoder`; returns their
    /// kernels, whose times [`Self::read_profiled`] reads once it is submitted.
    pub(crate) fn resolve_profiled(
        &self,
        encoder: &mut wgpu::CommandEncoder,
    ) -> Option<Vec<&'static str>> {
        let mut guard = self.profiling.lock().unwrap_or_else(|p| p.into_inner());
        let p = guard.as_mut()?;
        let queries = p.queries.as_ref()?;
        if p.passes.is_empty() {
            return None;
        }
        queries.resolve(encoder, p.passes.len() as u32);
        Some(std::mem::take(&mut p.passes))
    }

    /// After a submission: waits for it and adds the times of its timed passes `kernels`.
    pub(crate) fn read_profiled(&self, kernels: Vec<&'static str>) {
        let mut guard = self.profiling.lock().unwrap_or_else(|p| p.into_inner());
        let Some(p) = guard.as_mut() else { return };
        let Some(queries) = p.queries.as_ref() else {
            return;
        };
        match self.pass_seconds(&queries.staging, kernels.len()) {
            Ok(seconds) => {
                for (kernel, s) in kernels.into_iter().zip(seconds) {
                    p.times.add(kernel, s);
                }
            }
            Err(e) => p.fail(e.to_string()),
        }
    }
}
