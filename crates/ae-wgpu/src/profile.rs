//! Per-kernel times for [`ae_backend::TensorOps::start_profile`]. With timestamp queries each
//! dispatch's pass writes a pair of timestamps, resolved and read back at every submission
//! (device time alone); without them each dispatch is submitted alone and waited for, and its
//! wall time counted (launch costs included).

use ae_backend::profile::KernelTimes;
use ae_backend::{Profile, ProfileClock};

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
    /// A profile with timestamp queries where `timestamps` (the device has them), else by the
    /// wall clock.
    pub(crate) fn new(device: &wgpu::Device, timestamps: bool) -> Profiling {
        Profiling {
            times: KernelTimes::default(),
            queries: timestamps.then(|| TimestampBuffers::new(device, PROFILED_PASSES)),
            passes: Vec::new(),
            error: None,
        }
    }

    /// Before a submission: records resolving the pending encoder's timed passes into
    /// `encoder`; returns their kernels, whose times [`Self::add_passes`] takes once read.
    pub(crate) fn resolve(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
    ) -> Option<Vec<&'static str>> {
        let queries = self.queries.as_ref()?;
        if self.passes.is_empty() {
            return None;
        }
        queries.resolve(encoder, self.passes.len() as u32);
        Some(std::mem::take(&mut self.passes))
    }

    /// Where [`Self::resolve`] copies the timestamps to.
    pub(crate) fn staging(&self) -> Option<&wgpu::Buffer> {
        self.queries.as_ref().map(|q| &q.staging)
    }

    /// Counts the resolved passes of `kernels`, which took `seconds` each.
    pub(crate) fn add_passes(&mut self, kernels: Vec<&'static str>, seconds: Vec<f64>) {
        for (kernel, s) in kernels.into_iter().zip(seconds) {
            self.times.add(kernel, s);
        }
    }

    /// The totals, or the first error met reading them.
    pub(crate) fn finish(self) -> Result<Profile, String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(Profile {
            clock: match self.queries {
                Some(_) => ProfileClock::Timestamps,
                None => ProfileClock::Wall,
            },
            kernels: self.times.into_sorted(),
        })
    }

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
