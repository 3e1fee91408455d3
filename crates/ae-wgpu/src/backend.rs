//! `WgpuBackend`: the `Backend` ops as WGSL dispatches.
//!
//! Ops are recorded into one pending command encoder and submitted together when a result is
//! read back ([`Backend::download`], [`Backend::sync`]), so a training step is one submission.
//! Each dispatch's parameters take a 256-byte slot of a uniform arena, and `gather_rows`'
//! indices a slot of an index arena; both are written with one `write_buffer` each just before the
//! submission, so every op sees its own values. Tensor buffers are pooled by size and reused.

use crate::adapter::{self, AdapterChoice, AdapterReport};
use crate::kernels::{Kernel, Pipelines};
use ae_core::backend::{AdamStep, SgdStep};
use ae_core::sparsity::Noise;
use ae_core::{Activation, Backend, Error, Loss, Matrix, Result};
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};

/// Bytes of one parameter slot (covers every kernel's `Params` and the offset alignment).
const SLOT: u64 = 256;
/// Slots in the uniform arena; more dispatches than this in one submission flush early.
const SLOTS: u64 = 4096;
/// Threads per workgroup of the 1-D kernels.
const WORKGROUP: u64 = 256;

/// A device-resident `[rows, cols]` f32 tensor. Its buffer returns to the pool when dropped.
pub struct WgpuTensor {
    buffer: Option<wgpu::Buffer>,
    rows: usize,
    cols: usize,
    pool: Arc<Mutex<BufferPool>>,
}

impl WgpuTensor {
    fn buffer(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("a live tensor has a buffer")
    }
    fn len(&self) -> usize {
        self.rows * self.cols
    }
}

impl Drop for WgpuTensor {
    fn drop(&mut self) {
        if let (Some(b), Ok(mut pool)) = (self.buffer.take(), self.pool.lock()) {
            pool.put(b);
        }
    }
}

/// Free buffers by size, for reuse.
#[derive(Default)]
struct BufferPool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
}

impl BufferPool {
    fn take(&mut self, size: u64) -> Option<wgpu::Buffer> {
        self.free.get_mut(&size).and_then(Vec::pop)
    }
    fn put(&mut self, b: wgpu::Buffer) {
        self.free.entry(b.size()).or_default().push(b);
    }
}

/// Work recorded since the last submission.
#[derive(Default)]
struct Pending {
    encoder: Option<wgpu::CommandEncoder>,
    /// Parameter bytes, one `SLOT` per dispatch.
    uniforms: Vec<u8>,
    /// Gather indices, each run starting at a multiple of the storage offset alignment.
    indices: Vec<u32>,
}

/// Kernel parameters: sixteen 4-byte words, read by each shader's `Params` struct.
#[derive(Clone, Copy, Default)]
struct Params([u32; 16]);

impl Params {
    fn u(mut self, i: usize, v: u32) -> Self {
        self.0[i] = v;
        self
    }
    fn f(mut self, i: usize, v: f32) -> Self {
        self.0[i] = v.to_bits();
        self
    }
}

/// The parameters of a one-thread-per-column kernel of `columns.wgsl` over `w` `[rows, cols]`:
/// the column count, the row width and the row count (words 0, 1 and 3).
fn column_params(w: &WgpuTensor) -> Params {
    Params::default()
        .u(0, w.cols as u32)
        .u(1, w.cols as u32)
        .u(3, w.rows as u32)
}

/// The wgpu backend: one device and queue, its pipelines, pools and pending work.
pub struct WgpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    report: AdapterReport,
    pipelines: Pipelines,
    limits: wgpu::Limits,
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
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

fn binding(buffer: &wgpu::Buffer) -> wgpu::BindingResource<'_> {
    buffer.as_entire_binding()
}

impl WgpuBackend {
    /// Opens the adapter `choice` names and builds every pipeline.
    pub fn new(choice: &AdapterChoice) -> Result<Self> {
        let instance = adapter::instance();
        let adapter = adapter::choose(&instance, choice)?;
        let report = adapter::report(&adapter);
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("ae"),
            required_limits: limits.clone(),
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
        let backend = WgpuBackend {
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
            partials: Mutex::new(partials),
            failure,
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
            buffer: Some(buffer),
            rows,
            cols,
            pool: self.pool.clone(),
        }
    }

    fn encoder<'a>(&self, pending: &'a mut Pending) -> &'a mut wgpu::CommandEncoder {
        pending.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("ae step"),
                })
        })
    }

    /// Submits the pending work (after writing the arenas it reads).
    fn flush(&self, pending: &mut Pending) {
        let Some(encoder) = pending.encoder.take() else {
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
        self.queue.submit([encoder.finish()]);
        pending.uniforms.clear();
        pending.indices.clear();
    }

    /// `(x, y, row_stride)` workgroups for `len` threads in 256-wide workgroups.
    fn grid(&self, len: usize) -> (u32, u32, u32) {
        let groups = (len as u64).div_ceil(WORKGROUP).max(1);
        let max = self.limits.max_compute_workgroups_per_dimension.min(32768) as u64;
        let x = groups.min(max);
        let y = groups.div_ceil(x);
        (x as u32, y as u32, (x * WORKGROUP) as u32)
    }

    /// Records one dispatch of `kernel` with `params` at binding 0 and `buffers` at bindings
    /// 1, 2, ... (an index-arena run at `indices` replaces the binding `indices.0`).
    fn dispatch(
        &self,
        kernel: Kernel,
        params: Params,
        buffers: &[(u32, &wgpu::Buffer)],
        indices: Option<(u32, &[u32])>,
        groups: (u32, u32, u32),
    ) {
        let mut pending = self.pending.lock().expect("pending lock");
        if pending.uniforms.len() as u64 >= SLOT * SLOTS {
            self.flush(&mut pending);
        }
        let index_run = indices.map(|(b, rows)| {
            let align = (self.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
            let mut arena = self.index_arena.lock().expect("arena lock");
            let start = pending.indices.len().next_multiple_of(align);
            let needed = ((start + rows.len()) * 4) as u64;
            if needed > arena.size() {
                // Grow the arena: submit what reads the old one first.
                drop(arena);
                self.flush(&mut pending);
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
                b,
                start as u64 * 4,
                (rows.len().max(1) * 4) as u64,
                arena.clone(),
            )
        });
        let offset = pending.uniforms.len() as u64;
        let mut slot = [0u8; SLOT as usize];
        slot[..64].copy_from_slice(bytemuck::cast_slice(&params.0));
        pending.uniforms.extend_from_slice(&slot);

        let pipeline = self.pipelines.get(kernel);
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.uniform_arena,
                offset,
                size: NonZeroU64::new(64),
            }),
        }];
        for (b, buf) in buffers {
            entries.push(wgpu::BindGroupEntry {
                binding: *b,
                resource: binding(buf),
            });
        }
        if let Some((b, off, size, arena)) = &index_run {
            entries.push(wgpu::BindGroupEntry {
                binding: *b,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: arena,
                    offset: *off,
                    size: NonZeroU64::new(*size),
                }),
            });
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let encoder = self.encoder(&mut pending);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, groups.2);
    }

    /// A 1-D elementwise dispatch over `len` threads; `params` gets `row_stride` at word
    /// `stride_word`.
    fn dispatch_1d(
        &self,
        kernel: Kernel,
        len: usize,
        params: Params,
        stride_word: usize,
        buffers: &[(u32, &wgpu::Buffer)],
    ) {
        if len == 0 {
            return;
        }
        let (x, y, stride) = self.grid(len);
        self.dispatch(
            kernel,
            params.u(stride_word, stride),
            buffers,
            None,
            (x, y, 1),
        );
    }

    /// The partial-sums buffer, grown to hold at least `count` values.
    fn partials(&self, count: u64) -> std::sync::MutexGuard<'_, wgpu::Buffer> {
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
    fn finish_sum(&self, partials: &wgpu::Buffer, count: u64, scale: f32, acc: &WgpuTensor) {
        let p = Params::default().u(2, count as u32).f(4, scale);
        self.dispatch(
            Kernel::FinishSum,
            p,
            &[(1, partials), (2, acc.buffer())],
            None,
            (1, 1, 1),
        );
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
            self.encoder(&mut pending)
                .copy_buffer_to_buffer(t.buffer(), 0, &staging, 0, size);
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

fn activation_id(act: Activation) -> u32 {
    match act {
        Activation::Identity => 0,
        Activation::Relu => 1,
        Activation::LeakyRelu => 2,
        Activation::Sigmoid => 3,
        Activation::Tanh => 4,
        Activation::Gelu => 5,
        Activation::Softplus => 6,
    }
}

impl Backend for WgpuBackend {
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

    fn sync(&self) -> Result<()> {
        self.flush(&mut self.pending.lock().expect("pending lock"));
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| {
                Error::Backend(format!("{}: waiting for the device: {e}", self.report.name))
            })?;
        self.check_failure()
    }

    fn copy(&self, src: &WgpuTensor, dst: &mut WgpuTensor) {
        let p = Params::default().u(0, dst.len() as u32);
        self.dispatch_1d(
            Kernel::Copy,
            dst.len(),
            p,
            2,
            &[(1, src.buffer()), (2, dst.buffer())],
        );
    }

    fn fill(&self, t: &mut WgpuTensor, value: f32) {
        let p = Params::default().u(0, t.len() as u32).f(4, value);
        self.dispatch_1d(Kernel::Fill, t.len(), p, 2, &[(2, t.buffer())]);
    }

    fn scale_add(&self, alpha: f32, x: &WgpuTensor, y: &mut WgpuTensor) {
        let p = Params::default().u(0, y.len() as u32).f(4, alpha);
        self.dispatch_1d(
            Kernel::ScaleAdd,
            y.len(),
            p,
            2,
            &[(1, x.buffer()), (2, y.buffer())],
        );
    }

    fn mul_assign(&self, y: &mut WgpuTensor, x: &WgpuTensor) {
        let p = Params::default().u(0, y.len() as u32);
        self.dispatch_1d(
            Kernel::MulAssign,
            y.len(),
            p,
            2,
            &[(1, x.buffer()), (2, y.buffer())],
        );
    }

    fn matmul(
        &self,
        a: &WgpuTensor,
        trans_a: bool,
        b: &WgpuTensor,
        trans_b: bool,
        alpha: f32,
        beta: f32,
        c: &mut WgpuTensor,
    ) {
        let (m, k, n) = ae_core::backend::matmul_dims(
            (a.rows, a.cols),
            trans_a,
            (b.rows, b.cols),
            trans_b,
            (c.rows, c.cols),
        );
        if m == 0 || n == 0 {
            return;
        }
        let p = Params::default()
            .u(0, m as u32)
            .u(1, n as u32)
            .u(2, k as u32)
            .u(3, trans_a as u32)
            .u(4, trans_b as u32)
            .f(8, alpha)
            .f(9, beta);
        let groups = (n.div_ceil(64) as u32, m.div_ceil(64) as u32, 1);
        self.dispatch(
            Kernel::Matmul,
            p,
            &[(1, a.buffer()), (2, b.buffer()), (3, c.buffer())],
            None,
            groups,
        );
    }

    fn add_bias(&self, x: &mut WgpuTensor, bias: &WgpuTensor) {
        let p = Params::default().u(0, x.len() as u32).u(1, x.cols as u32);
        self.dispatch_1d(
            Kernel::AddBias,
            x.len(),
            p,
            2,
            &[(1, bias.buffer()), (2, x.buffer())],
        );
    }

    fn bias_grad(&self, dy: &WgpuTensor, db: &mut WgpuTensor) {
        let p = Params::default().u(0, dy.rows as u32).u(1, dy.cols as u32);
        let groups = (dy.cols.div_ceil(64).max(1) as u32, 1, 1);
        self.dispatch(
            Kernel::ColumnSum,
            p,
            &[(1, dy.buffer()), (2, db.buffer())],
            None,
            groups,
        );
    }

    fn activation(&self, act: Activation, z: &WgpuTensor, a: &mut WgpuTensor) {
        let p = Params::default()
            .u(0, a.len() as u32)
            .u(1, activation_id(act));
        self.dispatch_1d(
            Kernel::ActivationForward,
            a.len(),
            p,
            2,
            &[(1, z.buffer()), (3, a.buffer())],
        );
    }

    fn activation_backward(
        &self,
        act: Activation,
        z: &WgpuTensor,
        a: &WgpuTensor,
        grad: &mut WgpuTensor,
    ) {
        let p = Params::default()
            .u(0, grad.len() as u32)
            .u(1, activation_id(act));
        // Identity and ReLU-like derivatives read only z; bind a only where the shader reads it.
        self.dispatch_1d(
            Kernel::ActivationBackward,
            grad.len(),
            p,
            2,
            &[(1, z.buffer()), (2, a.buffer()), (3, grad.buffer())],
        );
    }

    fn loss(
        &self,
        loss: Loss,
        input: &WgpuTensor,
        target: &WgpuTensor,
        weight: f32,
        scale: f32,
        acc: &mut WgpuTensor,
        grad: Option<&mut WgpuTensor>,
    ) {
        let len = input.len();
        let (x, y, stride) = self.grid(len);
        let count = x as u64 * y as u64;
        let partials = self.partials(count);
        let kind = match loss {
            Loss::Mse => 0,
            Loss::Bce => 1,
        };
        let p = Params::default()
            .u(0, len as u32)
            .u(1, kind)
            .u(2, grad.is_some() as u32)
            .u(3, stride)
            .f(4, weight / len.max(1) as f32);
        // Without a gradient the shader never touches binding 3; `acc` (not bound otherwise in
        // this dispatch, so no writable binding aliases another) stands in for it.
        let grad_buffer = match grad {
            Some(g) => g.buffer(),
            None => acc.buffer(),
        };
        self.dispatch(
            Kernel::Loss,
            p,
            &[
                (1, input.buffer()),
                (2, target.buffer()),
                (3, grad_buffer),
                (4, &partials),
            ],
            None,
            (x, y, 1),
        );
        self.finish_sum(&partials, count, scale * weight / len.max(1) as f32, acc);
    }

    fn sgd_step(
        &self,
        step: &SgdStep,
        param: &mut WgpuTensor,
        grad: &WgpuTensor,
        velocity: &mut WgpuTensor,
    ) {
        let p = Params::default()
            .u(0, param.len() as u32)
            .f(4, step.lr)
            .f(5, step.momentum);
        self.dispatch_1d(
            Kernel::SgdStep,
            param.len(),
            p,
            1,
            &[
                (1, grad.buffer()),
                (2, param.buffer()),
                (3, velocity.buffer()),
            ],
        );
    }

    fn adam_step(
        &self,
        step: &AdamStep,
        param: &mut WgpuTensor,
        grad: &WgpuTensor,
        m: &mut WgpuTensor,
        v: &mut WgpuTensor,
    ) {
        let p = Params::default()
            .u(0, param.len() as u32)
            .f(4, step.lr)
            .f(6, step.beta1)
            .f(7, step.beta2)
            .f(8, step.eps)
            .f(9, 1.0 - step.lr * step.decoupled_weight_decay)
            .f(10, 1.0 / step.bias_correction1)
            .f(11, 1.0 / step.bias_correction2);
        self.dispatch_1d(
            Kernel::AdamStep,
            param.len(),
            p,
            1,
            &[
                (1, grad.buffer()),
                (2, param.buffer()),
                (3, m.buffer()),
                (4, v.buffer()),
            ],
        );
    }

    fn l1_penalty(
        &self,
        h: &WgpuTensor,
        unit_weights: Option<&WgpuTensor>,
        lambda: f32,
        scale: f32,
        acc: &mut WgpuTensor,
        grad: &mut WgpuTensor,
    ) {
        let len = h.len();
        if len == 0 {
            return;
        }
        let (x, y, stride) = self.grid(len);
        let count = x as u64 * y as u64;
        let partials = self.partials(count);
        let step = lambda / h.rows.max(1) as f32;
        let p = Params::default()
            .u(0, len as u32)
            .u(1, h.cols as u32)
            .u(2, unit_weights.is_some() as u32)
            .u(3, stride)
            .f(4, step);
        // Without weights the shader never reads binding 2; `h` stands in for it.
        let weights = unit_weights.unwrap_or(h);
        self.dispatch(
            Kernel::L1Penalty,
            p,
            &[
                (1, h.buffer()),
                (2, weights.buffer()),
                (3, grad.buffer()),
                (4, &partials),
            ],
            None,
            (x, y, 1),
        );
        self.finish_sum(&partials, count, scale * step, acc);
    }

    fn kl_sparsity(
        &self,
        h: &WgpuTensor,
        rho: f32,
        beta: f32,
        scale: f32,
        acc: &mut WgpuTensor,
        grad: &mut WgpuTensor,
        mean_out: &mut WgpuTensor,
    ) {
        let (rows, cols) = (h.rows, h.cols);
        if rows == 0 || cols == 0 {
            return;
        }
        self.bias_grad(h, mean_out); // column sums
        let partials = self.partials(cols as u64);
        let inv_rows = 1.0 / rows as f32;
        let p = Params::default()
            .u(0, cols as u32)
            .u(1, cols as u32)
            .f(4, rho)
            .f(5, inv_rows);
        self.dispatch_1d(
            Kernel::KlDivergence,
            cols,
            p,
            3,
            &[(4, &partials), (5, mean_out.buffer())],
        );
        let p = Params::default()
            .u(0, grad.len() as u32)
            .u(1, cols as u32)
            .f(4, rho)
            .f(5, beta * inv_rows);
        self.dispatch_1d(
            Kernel::KlGradient,
            grad.len(),
            p,
            3,
            &[(3, grad.buffer()), (5, mean_out.buffer())],
        );
        self.finish_sum(&partials, cols as u64, scale * beta, acc);
    }

    fn topk(&self, z: &WgpuTensor, k: usize, out: &mut WgpuTensor, mask: &mut WgpuTensor) {
        if z.rows == 0 || z.cols == 0 {
            return;
        }
        let max = self.limits.max_compute_workgroups_per_dimension.min(32768) as usize;
        let x = z.rows.min(max);
        let p = Params::default()
            .u(0, z.rows as u32)
            .u(1, z.cols as u32)
            .u(2, k as u32);
        self.dispatch(
            Kernel::TopK,
            p,
            &[(1, z.buffer()), (2, out.buffer()), (3, mask.buffer())],
            None,
            (x as u32, z.rows.div_ceil(x) as u32, 1),
        );
    }

    fn track_dead(&self, active: &WgpuTensor, since: &mut WgpuTensor) {
        let p = Params::default()
            .u(0, active.cols as u32)
            .u(1, active.cols as u32)
            .u(3, active.rows as u32);
        self.dispatch_1d(
            Kernel::TrackDead,
            active.cols,
            p,
            2,
            &[(1, active.buffer()), (2, since.buffer())],
        );
    }

    fn mask_dead(&self, z: &WgpuTensor, since: &WgpuTensor, window: f32, out: &mut WgpuTensor) {
        let p = Params::default()
            .u(0, out.len() as u32)
            .u(1, z.cols as u32)
            .f(4, window);
        self.dispatch_1d(
            Kernel::MaskDead,
            out.len(),
            p,
            2,
            &[(1, z.buffer()), (2, since.buffer()), (3, out.buffer())],
        );
    }

    fn normalize_columns(&self, w: &mut WgpuTensor) {
        let p = column_params(w);
        self.dispatch_1d(Kernel::NormalizeColumns, w.cols, p, 2, &[(2, w.buffer())]);
    }

    fn remove_parallel_component(&self, w: &WgpuTensor, grad: &mut WgpuTensor) {
        let buffers = [(1, w.buffer()), (3, grad.buffer())];
        self.dispatch_1d(
            Kernel::RemoveParallel,
            w.cols,
            column_params(w),
            2,
            &buffers,
        );
    }

    fn column_norms(&self, w: &WgpuTensor, out: &mut WgpuTensor) {
        debug_assert_eq!((out.rows, out.cols), (1, w.cols), "column_norms");
        let buffers = [(1, w.buffer()), (5, out.buffer())];
        self.dispatch_1d(Kernel::ColumnNorms, w.cols, column_params(w), 2, &buffers);
    }

    fn l1_decoder_norm_backward(
        &self,
        h: &WgpuTensor,
        w: &WgpuTensor,
        alpha: f32,
        grad: &mut WgpuTensor,
    ) {
        debug_assert_eq!(h.cols, w.cols, "l1_decoder_norm_backward");
        let p = column_params(w).f(4, alpha).u(5, h.rows as u32);
        self.dispatch_1d(
            Kernel::L1DecoderNorm,
            w.cols,
            p,
            2,
            &[(1, w.buffer()), (3, grad.buffer()), (4, h.buffer())],
        );
    }

    fn corrupt(&self, noise: Noise, seed: u32, x: &WgpuTensor, out: &mut WgpuTensor) {
        let (kind, param) = match noise {
            Noise::Mask { p } => (0, p),
            Noise::Gauss { sigma } => (1, sigma),
        };
        let p = Params::default()
            .u(0, out.len() as u32)
            .u(2, kind)
            .f(4, param)
            .u(6, seed);
        self.dispatch_1d(
            Kernel::Corrupt,
            out.len(),
            p,
            3,
            &[(1, x.buffer()), (3, out.buffer())],
        );
    }

    fn gather_rows(&self, src: &WgpuTensor, rows: &[u32], dst: &mut WgpuTensor) {
        debug_assert_eq!(dst.rows, rows.len(), "gather_rows count");
        debug_assert_eq!(dst.cols, src.cols, "gather_rows width");
        let len = dst.len();
        if len == 0 {
            return;
        }
        let (x, y, stride) = self.grid(len);
        let p = Params::default()
            .u(0, len as u32)
            .u(1, dst.cols as u32)
            .u(2, stride);
        self.dispatch(
            Kernel::GatherRows,
            p,
            &[(1, src.buffer()), (3, dst.buffer())],
            Some((2, rows)),
            (x, y, 1),
        );
    }
}
