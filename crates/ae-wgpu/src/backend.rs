//! `WgpuBackend`: the device, its buffer pool and the recorder every op dispatches through; the
//! op bodies are in `ops/`, one file per family.
//!
//! Ops are recorded into one pending command encoder and submitted together when a result is
//! read back ([`Backend::download`], [`Backend::sync`]), so a training step is one submission.
//! Each dispatch's parameters take a 256-byte slot of a uniform arena, and `gather_rows`'
//! indices a slot of an index arena; both are written with one `write_buffer` each just before the
//! submission, so every op sees its own values. Tensor buffers are pooled by size and reused.

use crate::adapter::{self, AdapterChoice, AdapterReport};
use crate::kernels::{Kernel, KernelParams, Pipeline, Pipelines};
use crate::params::FinishSumParams;
use crate::profile::Profiling;
pub use crate::tensor::WgpuTensor;
use crate::tensor::{BufferPool, SharedBuffer};
use crate::tune::MatmulState;
use ae_backend::ops::tensor::check_write;
use ae_backend::ops::TensorOps;
use ae_backend::{Error, Matrix, Result};
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};

/// Bytes of one parameter slot (covers every kernel's `Params` and the offset alignment).
const SLOT: u64 = 256;
/// Slots in the uniform arena; more dispatches than this in one submission flush early.
const SLOTS: u64 = 4096;
/// Threads per workgroup of the 1-D kernels.
const WORKGROUP: u64 = 256;

/// Work recorded since the last submission.
#[derive(Default)]
struct Pending {
    encoder: Option<wgpu::CommandEncoder>,
    /// Parameter bytes, one `SLOT` per dispatch.
    uniforms: Vec<u8>,
    /// Gather indices, each run starting at a multiple of the storage offset alignment.
    indices: Vec<u32>,
}

/// What a dispatch binds at one of its kernel's storage bindings.
pub(crate) enum Bind<'a> {
    /// A whole buffer.
    Buffer(&'a wgpu::Buffer),
    /// A tensor's range of its buffer.
    Tensor(&'a WgpuTensor),
    /// Row indices, copied into a run of the index arena.
    Indices(&'a [u32]),
}

/// A 1-D launch over `len` threads in 256-wide workgroups, folded into a 2-D grid when it is
/// wider than the device allows: thread `i = y * row_stride + x`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grid {
    /// Workgroups in x and y.
    pub(crate) groups: (u32, u32, u32),
    /// Threads per row of the grid.
    pub(crate) row_stride: u32,
}

impl Grid {
    /// The number of workgroups.
    pub(crate) fn count(&self) -> u64 {
        self.groups.0 as u64 * self.groups.1 as u64
    }
}

/// The wgpu backend: one device and queue, its pipelines, pools and pending work.
pub struct WgpuBackend {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) report: AdapterReport,
    pub(crate) pipelines: Pipelines,
    pub(crate) limits: wgpu::Limits,
    /// The device was opened with `TIMESTAMP_QUERY`.
    pub(crate) timestamps: bool,
    /// The matmul variants: tuning mode, choices per shape class, built pipelines.
    pub(crate) matmul: Mutex<MatmulState>,
    /// `AdapterChoice::max_tensor_bytes`.
    max_tensor_bytes: Option<u64>,
    pool: Arc<Mutex<BufferPool>>,
    pending: Mutex<Pending>,
    uniform_arena: wgpu::Buffer,
    index_arena: Mutex<wgpu::Buffer>,
    /// Per-workgroup partial sums of the loss kernel.
    partials: Mutex<wgpu::Buffer>,
    /// The first device error or loss, reported by the next `sync` or `download`.
    failure: Arc<Mutex<Option<String>>>,
    /// Dispatches recorded per kernel, in [`Kernel::ALL`] order.
    dispatched: Vec<std::sync::atomic::AtomicU64>,
    /// The profile being taken, between `start_profile` and `finish_profile`.
    pub(crate) profiling: Mutex<Option<Profiling>>,
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

impl WgpuBackend {
    /// Opens the adapter `choice` names and builds every pipeline.
    pub fn new(choice: &AdapterChoice) -> Result<Self> {
        let instance = adapter::instance();
        let adapter = adapter::choose(&instance, choice)?;
        let report = adapter::report(&adapter);
        let limits = adapter.limits();
        // Timestamp queries time the matmul variants for the autotuner (tune.rs).
        let features = match choice.no_timestamps {
            true => wgpu::Features::empty(),
            false => adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
        };
        // SHADER_F16 only for the opt-in f16 matmul variants.
        let f16 = choice.f16_matmul && adapter.features().contains(wgpu::Features::SHADER_F16);
        // SUBGROUP, where the adapter has it, for the split-k matmul variant.
        let subgroup = adapter.features().contains(wgpu::Features::SUBGROUP);
        let mut wanted = features;
        wanted.set(wgpu::Features::SHADER_F16, f16);
        wanted.set(wgpu::Features::SUBGROUP, subgroup);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("ae"),
            required_limits: limits.clone(),
            required_features: wanted,
            ..Default::default()
        }))
        .map_err(|e| Error::Backend(format!("{}: cannot open the device: {e}", report.name)))?;
        let failure: Arc<Mutex<Option<String>>> = Arc::default();
        let f = failure.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = f.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| format!("device error: {e}"));
        }));
        let f = failure.clone();
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = f.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| format!("device lost ({reason:?}): {message}"));
        });
        let pipelines = Pipelines::build(&device);
        let uniform_arena = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("uniform arena"),
            size: SLOT * SLOTS,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let small = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 1 << 16,
                usage: storage_usage(),
                mapped_at_creation: false,
            })
        };
        let (index_arena, partials) = (small("index arena"), small("partial sums"));
        let cache_dir = choice.cache_dir.clone().or_else(crate::tune::cache_dir);
        let mut matmul = MatmulState::new(choice.tuning, f16, &report, cache_dir.as_deref());
        matmul.subgroup = subgroup;
        let backend = WgpuBackend {
            timestamps: !features.is_empty(),
            matmul: Mutex::new(matmul),
            device,
            queue,
            report,
            pipelines,
            limits,
            max_tensor_bytes: choice.max_tensor_bytes,
            pool: Arc::default(),
            pending: Mutex::default(),
            uniform_arena,
            index_arena: Mutex::new(index_arena),
            dispatched: Kernel::ALL.iter().map(|_| Default::default()).collect(),
            partials: Mutex::new(partials),
            failure,
            profiling: Mutex::default(),
        };
        backend.sync()?;
        Ok(backend)
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterReport {
        &self.report
    }

    /// A software adapter (lavapipe, llvmpipe, WARP): correct but slow.
    pub fn is_software(&self) -> bool {
        self.report.is_software
    }

    fn check_failure(&self) -> Result<()> {
        match self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(msg) => Err(Error::Backend(format!("{}: {msg}", self.report.name))),
            None => Ok(()),
        }
    }

    /// A buffer of `bytes` (at least 4) from the pool or new; errors past the device's limits.
    fn buffer(&self, rows: usize, cols: usize) -> Result<(wgpu::Buffer, bool)> {
        let bytes = (rows as u64)
            .checked_mul(cols as u64)
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| Error::Backend(format!("a [{rows}, {cols}] tensor is too large")))?;
        let size = bytes.max(4).next_multiple_of(4);
        for (limit, name) in [
            (
                self.limits.max_storage_buffer_binding_size,
                "max_storage_buffer_binding_size",
            ),
            (self.limits.max_buffer_size, "max_buffer_size"),
            (
                self.max_tensor_bytes.unwrap_or(u64::MAX),
                "max_tensor_bytes setting",
            ),
        ] {
            if size > limit {
                return Err(Error::Backend(format!(
                    "a [{rows}, {cols}] f32 tensor needs {size} bytes, more than {}'s {name} \
                     ({limit} bytes); use a smaller layer or batch, or --backend cpu",
                    self.report.name
                )));
            }
        }
        if let Some(b) = self.pool.lock().expect("pool lock").take(size) {
            return Ok((b, true));
        }
        let b = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: storage_usage(),
            mapped_at_creation: false,
        });
        Ok((b, false))
    }

    fn tensor(&self, buffer: wgpu::Buffer, rows: usize, cols: usize) -> WgpuTensor {
        WgpuTensor {
            storage: Arc::new(self.shared(buffer, 1)),
            offset: 0,
            rows,
            cols,
        }
    }

    fn shared(&self, buffer: wgpu::Buffer, views: usize) -> SharedBuffer {
        SharedBuffer {
            buffer: Some(buffer),
            views,
            pool: self.pool.clone(),
        }
    }

    /// Byte offsets of `shapes` laid out in one buffer (each at the storage offset alignment,
    /// at least 4 bytes long) and the buffer's size; `None` past the device's limits.
    fn group_layout(&self, shapes: &[(usize, usize)]) -> Option<(Vec<u64>, u64)> {
        let align = (self.limits.min_storage_buffer_offset_alignment as u64).max(4);
        let mut offsets = Vec::with_capacity(shapes.len());
        let mut end = 0u64;
        for &(rows, cols) in shapes {
            let bytes = (rows as u64)
                .checked_mul(cols as u64)?
                .checked_mul(4)?
                .max(4);
            let start = end.next_multiple_of(align);
            offsets.push(start);
            end = start.checked_add(bytes)?;
        }
        let limit = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
            .min(self.max_tensor_bytes.unwrap_or(u64::MAX));
        (end <= limit).then_some((offsets, end))
    }

    fn encoder<'a>(&self, pending: &'a mut Pending) -> &'a mut wgpu::CommandEncoder {
        pending.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("ae step"),
                })
        })
    }

    /// Submits the pending work (after writing the arenas it reads); when profiling with
    /// timestamps, waits for it and reads its passes' times.
    fn flush(&self, pending: &mut Pending) {
        let Some(mut encoder) = pending.encoder.take() else {
            return;
        };
        if !pending.uniforms.is_empty() {
            self.queue
                .write_buffer(&self.uniform_arena, 0, &pending.uniforms);
        }
        if !pending.indices.is_empty() {
            let arena = self.index_arena.lock().expect("arena lock");
            self.queue
                .write_buffer(&arena, 0, bytemuck::cast_slice(&pending.indices));
        }
        let profiled = self.resolve_profiled(&mut encoder);
        self.queue.submit([encoder.finish()]);
        pending.uniforms.clear();
        pending.indices.clear();
        if let Some(kernels) = profiled {
            self.read_profiled(kernels);
        }
    }

    /// When profiling by the wall clock: submits the pending work and waits for it, returning
    /// the time then (`None` when not profiling so).
    fn wall_mark(&self, pending: &mut Pending) -> Option<std::time::Instant> {
        let by_wall = self
            .profiling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(Profiling::by_wall);
        if !by_wall {
            return None;
        }
        self.flush(pending);
        if let Err(e) = self.device.poll(wgpu::PollType::wait_indefinitely()) {
            let mut profiling = self.profiling.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = profiling.as_mut() {
                p.fail(format!("waiting for the device: {e}"));
            }
        }
        Some(std::time::Instant::now())
    }

    /// The grid of a 1-D launch over `len` threads.
    pub(crate) fn grid(&self, len: usize) -> Grid {
        let groups = (len as u64).div_ceil(WORKGROUP).max(1);
        let max = self.limits.max_compute_workgroups_per_dimension.min(32768) as u64;
        let x = groups.min(max);
        let y = groups.div_ceil(x);
        Grid {
            groups: (x as u32, y as u32, 1),
            row_stride: (x * WORKGROUP) as u32,
        }
    }

    /// One workgroup per row of `rows`, folded into a 2-D grid (`row = y * nwg.x + x`).
    pub(crate) fn row_groups(&self, rows: usize) -> (u32, u32, u32) {
        let max = self.limits.max_compute_workgroups_per_dimension.min(32768) as usize;
        let x = rows.clamp(1, max);
        (x as u32, rows.div_ceil(x) as u32, 1)
    }

    /// Records one dispatch of `kernel` with `params` at binding 0 and `binds` at the kernel's
    /// storage bindings, in the order its table row lists them.
    pub(crate) fn dispatch<P: KernelParams>(
        &self,
        kernel: Kernel,
        params: &P,
        binds: &[Bind<'_>],
        groups: (u32, u32, u32),
    ) {
        self.dispatch_on(kernel, self.pipelines.get(kernel), params, binds, groups);
    }

    /// [`Self::dispatch`] on `pipeline`, a variant of `kernel` with its bind group layout.
    pub(crate) fn dispatch_on<P: KernelParams>(
        &self,
        kernel: Kernel,
        pipeline: &Pipeline,
        params: &P,
        binds: &[Bind<'_>],
        groups: (u32, u32, u32),
    ) {
        debug_assert_eq!(P::NAME, kernel.params_name(), "{kernel:?}'s parameters");
        self.dispatched[kernel.index()].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let bindings = kernel.bindings();
        assert_eq!(
            binds.len(),
            bindings.len(),
            "{kernel:?}: one buffer per binding"
        );
        let tensors = binds
            .iter()
            .zip(bindings)
            .filter_map(|(bind, b)| match bind {
                Bind::Tensor(t) => Some((*t, b)),
                _ => None,
            });
        if let Some((a, b)) = crate::tensor::shared_writable(tensors) {
            // wgpu refuses this dispatch; say which kernel and bindings, not only that it did.
            let mut slot = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| {
                format!(
                    "{kernel:?} binds `{a}` and `{b}` to ranges of one buffer (tensors made \
                     together), one read-only and one writable"
                )
            });
        }
        let mut pending = self.pending.lock().expect("pending lock");
        let profile_full = self
            .profiling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(Profiling::full);
        if pending.uniforms.len() as u64 >= SLOT * SLOTS || profile_full {
            self.flush(&mut pending);
        }
        // Index runs first: growing the arena flushes, which must not drop this dispatch's slot.
        let mut index_runs = Vec::new();
        for bind in binds {
            if let Bind::Indices(rows) = bind {
                index_runs.push(self.index_run(&mut pending, rows));
            }
        }
        let offset = pending.uniforms.len() as u64;
        let bytes = bytemuck::bytes_of(params);
        let mut slot = [0u8; SLOT as usize];
        slot[..bytes.len()].copy_from_slice(bytes);
        pending.uniforms.extend_from_slice(&slot);

        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.uniform_arena,
                offset,
                size: NonZeroU64::new(bytes.len() as u64),
            }),
        }];
        let mut runs = index_runs.iter();
        for (binding, bind) in bindings.iter().zip(binds) {
            let resource = match bind {
                Bind::Buffer(buffer) => buffer.as_entire_binding(),
                Bind::Tensor(t) => t.binding(),
                Bind::Indices(_) => {
                    let (arena, off, size) = runs.next().expect("one run per index binding");
                    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: arena,
                        offset: *off,
                        size: NonZeroU64::new(*size),
                    })
                }
            };
            entries.push(wgpu::BindGroupEntry {
                binding: binding.number,
                resource,
            });
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.layout,
            entries: &entries,
        });
        let started = self.wall_mark(&mut pending);
        {
            let mut profiling = self.profiling.lock().unwrap_or_else(|p| p.into_inner());
            let timestamp_writes = profiling
                .as_mut()
                .and_then(|p| p.next_pass(kernel.entry_point()));
            let encoder = self.encoder(&mut pending);
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes,
            });
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, groups.2);
        }
        if let Some(start) = started {
            self.wall_mark(&mut pending);
            let seconds = start.elapsed().as_secs_f64();
            let mut profiling = self.profiling.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = profiling.as_mut() {
                p.add_wall(kernel.entry_point(), seconds);
            }
        }
    }

    /// Copies `rows` into the pending index arena at the storage offset alignment; returns the
    /// arena, the run's byte offset and its byte size.
    fn index_run(&self, pending: &mut Pending, rows: &[u32]) -> (wgpu::Buffer, u64, u64) {
        let align = (self.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
        let mut arena = self.index_arena.lock().expect("arena lock");
        let start = pending.indices.len().next_multiple_of(align);
        let needed = ((start + rows.len()) * 4) as u64;
        if needed > arena.size() {
            // Grow the arena: submit what reads the old one first.
            drop(arena);
            self.flush(pending);
            arena = self.index_arena.lock().expect("arena lock");
            *arena = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("index arena"),
                size: (rows.len() as u64 * 4).next_power_of_two().max(1 << 16),
                usage: storage_usage(),
                mapped_at_creation: false,
            });
        }
        let start = pending.indices.len().next_multiple_of(align);
        pending.indices.resize(start, 0);
        pending.indices.extend_from_slice(rows);
        (
            arena.clone(),
            start as u64 * 4,
            (rows.len().max(1) * 4) as u64,
        )
    }

    /// The partial-sums buffer, grown to hold at least `count` values.
    pub(crate) fn partials(&self, count: u64) -> std::sync::MutexGuard<'_, wgpu::Buffer> {
        let mut partials = self.partials.lock().expect("partials lock");
        if partials.size() < count * 4 {
            *partials = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("partial sums"),
                size: (count * 4).next_power_of_two(),
                usage: storage_usage(),
                mapped_at_creation: false,
            });
        }
        partials
    }

    /// `acc[0, 0] += scale * sum(partials[0..count])`.
    pub(crate) fn finish_sum(
        &self,
        partials: &wgpu::Buffer,
        count: u64,
        scale: f32,
        acc: &WgpuTensor,
    ) {
        let p = FinishSumParams {
            count: count as u32,
            scale,
            ..Default::default()
        };
        let binds = [Bind::Buffer(partials), Bind::Tensor(acc)];
        self.dispatch(Kernel::FinishSum, &p, &binds, (1, 1, 1));
    }

    fn read_bytes(&self, t: &WgpuTensor) -> Result<Vec<u8>> {
        let size = (t.len() as u64 * 4).max(4);
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        {
            let mut pending = self.pending.lock().expect("pending lock");
            self.encoder(&mut pending).copy_buffer_to_buffer(
                t.buffer(),
                t.offset,
                &staging,
                0,
                size,
            );
            self.flush(&mut pending);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| {
                Error::Backend(format!("{}: waiting for the device: {e}", self.report.name))
            })?;
        self.check_failure()?;
        rx.recv()
            .map_err(|_| Error::Backend("readback was never answered".into()))?
            .map_err(|e| {
                Error::Backend(format!("{}: reading a result back: {e}", self.report.name))
            })?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Backend(format!("reading a result back: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes[..t.len() * 4].to_vec())
    }
}

impl TensorOps for WgpuBackend {
    type Elem = f32;
    type Tensor = WgpuTensor;

    fn name(&self) -> String {
        format!(
            "wgpu ({}, {}{})",
            self.report.name,
            self.report.backend,
            if self.is_software() { ", software" } else { "" }
        )
    }

    fn zeros(&self, rows: usize, cols: usize) -> Result<WgpuTensor> {
        let (buffer, reused) = self.buffer(rows, cols)?;
        if reused {
            let mut pending = self.pending.lock().expect("pending lock");
            self.encoder(&mut pending).clear_buffer(&buffer, 0, None);
        }
        Ok(self.tensor(buffer, rows, cols))
    }

    /// One buffer for the group where it fits the device's limits (so the optimiser updates
    /// a model's parameters with one dispatch: `OptimOps::adam_step_all`), else a buffer each.
    fn zeros_many(&self, shapes: &[(usize, usize)]) -> Result<Vec<WgpuTensor>> {
        let layout = self.group_layout(shapes).filter(|_| shapes.len() > 1);
        let Some((offsets, size)) = layout else {
            return shapes.iter().map(|&(r, c)| self.zeros(r, c)).collect();
        };
        let (buffer, reused) = self.buffer(1, (size / 4) as usize)?;
        if reused {
            let mut pending = self.pending.lock().expect("pending lock");
            self.encoder(&mut pending).clear_buffer(&buffer, 0, None);
        }
        let storage = Arc::new(self.shared(buffer, shapes.len()));
        Ok(shapes
            .iter()
            .zip(offsets)
            .map(|(&(rows, cols), offset)| WgpuTensor {
                storage: storage.clone(),
                offset,
                rows,
                cols,
            })
            .collect())
    }

    fn upload(&self, m: &Matrix) -> Result<WgpuTensor> {
        let (buffer, _) = self.buffer(m.rows, m.cols)?;
        // Work recorded before this upload must run before the write lands.
        self.flush(&mut self.pending.lock().expect("pending lock"));
        if !m.data.is_empty() {
            self.queue
                .write_buffer(&buffer, 0, bytemuck::cast_slice(&m.data));
        }
        Ok(self.tensor(buffer, m.rows, m.cols))
    }

    fn write(&self, m: &Matrix, dst: &mut WgpuTensor) -> Result<()> {
        check_write(m, (dst.rows, dst.cols))?;
        // Work recorded before this write (which may still read `dst`) must run before it lands.
        self.flush(&mut self.pending.lock().expect("pending lock"));
        if !m.data.is_empty() {
            self.queue
                .write_buffer(dst.buffer(), dst.offset, bytemuck::cast_slice(&m.data));
        }
        Ok(())
    }

    fn upload_f64(&self, rows: usize, cols: usize, data: &[f64]) -> Result<WgpuTensor> {
        let m = Matrix::new(rows, cols, data.iter().map(|&v| v as f32).collect())?;
        self.upload(&m)
    }

    fn download(&self, t: &WgpuTensor) -> Result<Matrix> {
        let bytes = self.read_bytes(t)?;
        Matrix::new(t.rows, t.cols, bytemuck::pod_collect_to_vec(&bytes))
    }

    fn download_f64(&self, t: &WgpuTensor) -> Result<Vec<f64>> {
        Ok(self.download(t)?.data.into_iter().map(f64::from).collect())
    }

    fn shape(&self, t: &WgpuTensor) -> (usize, usize) {
        (t.rows, t.cols)
    }

    fn dispatch_counts(&self) -> Vec<(&'static str, u64)> {
        Kernel::ALL
            .iter()
            .zip(&self.dispatched)
            .map(|(k, n)| {
                (
                    k.entry_point(),
                    n.load(std::sync::atomic::Ordering::Relaxed),
                )
            })
            .collect()
    }

    fn start_profile(&self) -> Result<bool> {
        self.begin_profile()
    }

    fn finish_profile(&self) -> Result<Option<ae_backend::Profile>> {
        self.end_profile()
    }

    fn sync(&self) -> Result<()> {
        self.flush(&mut self.pending.lock().expect("pending lock"));
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| {
                Error::Backend(format!("{}: waiting for the device: {e}", self.report.name))
            })?;
        self.check_failure()
    }
}
