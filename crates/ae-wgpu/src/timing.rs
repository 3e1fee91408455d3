//! Timing on the device: choosing and timing matmul variants
//! ([`WgpuBackend::matmul_variant_for`], what `matmul` asks; [`WgpuBackend::tune_matmul`], what
//! `ae tune` asks) on scratch buffers in submissions of their own, apart from the pending step;
//! and the per-kernel profile of the pending work itself (`TensorOps::start_profile`; its
//! state in `profile.rs`).

use crate::backend::WgpuBackend;
use crate::kernels::{Kernel, Pipeline};
use crate::params::MatmulParams;
use crate::profile::TimestampBuffers;
use crate::tune::{MatmulState, TuneResult};
use crate::variants::{MatmulVariant, ShapeClass};
use ae_backend::Profile;
use ae_backend::{Error, Result};
use std::sync::Arc;
use std::time::Instant;

/// Timed calls per variant (after one untimed warm-up call); the median is kept.
const REPS: u32 = 3;

impl WgpuBackend {
    /// The variant `matmul` uses for a `[m, k] x [k, n]` product: the fixed one, the cached or
    /// already timed one for its [`ShapeClass`], or (timing it now where the tuning mode says
    /// so, else the default) a new choice.
    pub fn matmul_variant_for(
        &self,
        m: usize,
        k: usize,
        n: usize,
        trans_a: bool,
        trans_b: bool,
    ) -> MatmulVariant {
        let class = ShapeClass::of(m, k, n, trans_a, trans_b);
        let mut state = self.matmul.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = state.stored(&class) {
            return v;
        }
        if !state.times_on_miss() {
            return MatmulVariant::DEFAULT;
        }
        match self.time_class(&mut state, class, (m, k, n)) {
            Ok(result) => MatmulVariant::by_name(&result.chosen).unwrap_or(MatmulVariant::DEFAULT),
            Err(e) => {
                state.warn(format!(
                    "{}: timing matmul variants for {}: {e}; using {}",
                    self.report.name,
                    class.key(),
                    MatmulVariant::DEFAULT.name
                ));
                state.fall_back(class)
            }
        }
    }

    /// Times every variant on a `[m, k] x [k, n]` product now and keeps the fastest for its
    /// class, in memory and in the cache file (whatever the class had before).
    pub fn tune_matmul(
        &self,
        m: usize,
        k: usize,
        n: usize,
        trans_a: bool,
        trans_b: bool,
    ) -> Result<TuneResult> {
        let class = ShapeClass::of(m, k, n, trans_a, trans_b);
        let mut state = self.matmul.lock().unwrap_or_else(|p| p.into_inner());
        self.time_class(&mut state, class, (m, k, n))
    }

    /// The warnings the tuner gave so far (a cache ignored or not written, a variant that
    /// failed), each also printed to stderr when it happened.
    pub fn tuning_warnings(&self) -> Vec<String> {
        let state = self.matmul.lock().unwrap_or_else(|p| p.into_inner());
        state.warnings.clone()
    }

    /// The tuning cache file of this adapter (none with a fixed variant or no cache directory).
    pub fn tuning_cache_file(&self) -> Option<std::path::PathBuf> {
        let state = self.matmul.lock().unwrap_or_else(|p| p.into_inner());
        state.file.clone()
    }

    /// Whether the f16 matmul variants can run and be chosen: asked for
    /// ([`crate::AdapterChoice::f16_matmul`]) and the adapter has `SHADER_F16`.
    pub fn has_f16_matmul(&self) -> bool {
        self.matmul.lock().unwrap_or_else(|p| p.into_inner()).f16
    }

    /// Whether the tuner times with timestamp queries (else wall time with waits).
    pub fn has_timestamps(&self) -> bool {
        self.timestamps
    }

    /// The pipeline of variant `v`, built on first use (in an error scope, so that a device
    /// that rejects it gives an error here rather than a lost backend).
    pub(crate) fn variant_pipeline(
        &self,
        v: MatmulVariant,
        kernel: Kernel,
    ) -> Result<Arc<Pipeline>> {
        let mut state = self.matmul.lock().unwrap_or_else(|p| p.into_inner());
        self.pipeline_in(&mut state, v, kernel)
    }

    /// The pipeline of `kernel` (`Matmul` or `MatmulBiasActivation`, entry points of one
    /// module) in variant `v`, built on first use.
    fn pipeline_in(
        &self,
        state: &mut MatmulState,
        v: MatmulVariant,
        kernel: Kernel,
    ) -> Result<Arc<Pipeline>> {
        debug_assert!(matches!(
            kernel,
            Kernel::Matmul | Kernel::MatmulBiasActivation
        ));
        if let Some(p) = state.pipelines.get(&(v.name, kernel)) {
            return Ok(p.clone());
        }
        if v == MatmulVariant::DEFAULT {
            // The file as written: the table's own pipeline.
            let p = Arc::new(self.pipelines.get(kernel).clone());
            state.pipelines.insert((v.name, kernel), p.clone());
            return Ok(p);
        }
        if !v.fits(&self.limits) {
            return Err(Error::Backend(format!(
                "{}: matmul variant {} needs more than the device's workgroup limits",
                self.report.name, v.name
            )));
        }
        if !state.candidate(&v) {
            return Err(Error::Backend(format!(
                "{}: matmul variant {} needs {}",
                self.report.name,
                v.name,
                match v.subgroup {
                    true => "SUBGROUP",
                    false => "SHADER_F16 and --matmul-f16",
                }
            )));
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(v.name),
                source: wgpu::ShaderSource::Wgsl(v.source().into()),
            });
        let layout = self.pipelines.get(kernel).layout.clone();
        let pipeline = Pipeline::new(&self.device, &module, kernel.entry_point(), layout);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Backend(format!(
                "{}: matmul variant {}: {e}",
                self.report.name, v.name
            )));
        }
        let pipeline = Arc::new(pipeline);
        state.pipelines.insert((v.name, kernel), pipeline.clone());
        Ok(pipeline)
    }

    /// Times every variant the device can run on zero-filled scratch operands of `dims` and
    /// records the fastest for `class`.
    fn time_class(
        &self,
        state: &mut MatmulState,
        class: ShapeClass,
        (m, k, n): (usize, usize, usize),
    ) -> Result<TuneResult> {
        let (m, k, n) = (m.max(1), k.max(1), n.max(1));
        let max = self.limits.max_storage_buffer_binding_size;
        let buffer = |elems: usize, label| -> Result<wgpu::Buffer> {
            let size = (elems as u64 * 4).max(4);
            if size > max {
                return Err(Error::Backend(format!(
                    "a {label} of {elems} f32 is over max_storage_buffer_binding_size"
                )));
            }
            Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            }))
        };
        let (a, b, c) = (
            buffer(m * k, "a")?,
            buffer(k * n, "b")?,
            buffer(m * n, "c")?,
        );
        let params = MatmulParams {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            trans_a: class.trans_a as u32,
            trans_b: class.trans_b as u32,
            alpha: 1.0,
            ..Default::default()
        };
        let uniform = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tuning params"),
            size: std::mem::size_of::<MatmulParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue
            .write_buffer(&uniform, 0, bytemuck::bytes_of(&params));
        let layout = &self.pipelines.get(Kernel::Matmul).layout;
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tuning"),
            layout,
            entries: &[(0, &uniform), (1, &a), (2, &b), (3, &c)].map(|(binding, buf)| {
                wgpu::BindGroupEntry {
                    binding,
                    resource: buf.as_entire_binding(),
                }
            }),
        });
        let mut times = Vec::new();
        let mut timer = "wall";
        let candidates: Vec<MatmulVariant> = MatmulVariant::ALL
            .iter()
            .copied()
            .filter(|v| {
                v.fits(&self.limits)
                    && state.candidate(v)
                    && (class.aligned || !v.vec4)
                    && v.suits(&class)
            })
            .collect();
        for v in candidates {
            let pipeline = match self.pipeline_in(state, v, Kernel::Matmul) {
                Ok(p) => p,
                Err(e) => {
                    state.warn(format!("{e}; not a candidate"));
                    continue;
                }
            };
            let run = |timestamps: Option<&wgpu::QuerySet>, reps: u32| {
                let mut encoder = self.device.create_command_encoder(&Default::default());
                for r in 0..reps {
                    let writes = timestamps.map(|q| wgpu::ComputePassTimestampWrites {
                        query_set: q,
                        beginning_of_pass_write_index: Some(2 * r),
                        end_of_pass_write_index: Some(2 * r + 1),
                    });
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("tuning"),
                        timestamp_writes: writes,
                    });
                    pass.set_pipeline(&pipeline.pipeline);
                    pass.set_bind_group(0, &bind_group, &[]);
                    let g = v.groups(m, n);
                    pass.dispatch_workgroups(g.0, g.1, g.2);
                }
                encoder
            };
            // Warm-up: the driver compiles and uploads the pipeline on first use.
            self.submit_and_wait(run(None, 1))?;
            let mut secs = match self.timestamps {
                true => self.timestamp_seconds(|q| run(Some(q), REPS))?,
                false => Vec::new(),
            };
            if secs.len() == REPS as usize && secs.iter().all(|s| *s > 0.0) {
                timer = "timestamp";
            } else {
                secs.clear();
                for _ in 0..REPS {
                    let t = Instant::now();
                    self.submit_and_wait(run(None, 1))?;
                    secs.push(t.elapsed().as_secs_f64());
                }
            }
            secs.sort_by(f64::total_cmp);
            times.push((v.name.to_string(), secs[secs.len() / 2]));
        }
        let chosen = times
            .iter()
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .map(|t| t.0.clone())
            .ok_or_else(|| Error::Backend("no matmul variant fits the device".into()))?;
        let result = TuneResult {
            class: class.key(),
            m,
            k,
            n,
            timer: timer.into(),
            times,
            chosen,
        };
        state.record(class, &result);
        Ok(result)
    }

    fn submit_and_wait(&self, encoder: wgpu::CommandEncoder) -> Result<()> {
        self.queue.submit([encoder.finish()]);
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| {
                Error::Backend(format!("{}: waiting for the device: {e}", self.report.name))
            })?;
        Ok(())
    }

    /// Records `REPS` timestamped passes with `record`, and returns each pass's seconds.
    fn timestamp_seconds(
        &self,
        record: impl Fn(&wgpu::QuerySet) -> wgpu::CommandEncoder,
    ) -> Result<Vec<f64>> {
        let buffers = TimestampBuffers::new(&self.device, REPS);
        let mut encoder = record(&buffers.set);
        buffers.resolve(&mut encoder, REPS);
        self.submit_and_wait(encoder)?;
        self.pass_seconds(&buffers.staging, REPS as usize)
    }

    /// The seconds of each of `passes` passes whose resolved timestamp pairs a submitted copy
    /// is writing into `staging` (waits for it).
    pub(crate) fn pass_seconds(&self, staging: &wgpu::Buffer, passes: usize) -> Result<Vec<f64>> {
        let bytes = passes as u64 * 16;
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, ..bytes, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Backend(format!("waiting for the device: {e}")))?;
        rx.recv()
            .map_err(|_| Error::Backend("timestamp readback was never answered".into()))?
            .map_err(|e| Error::Backend(format!("reading timestamps: {e}")))?;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(
            &staging
                .get_mapped_range(..bytes)
                .map_err(|e| Error::Backend(format!("reading timestamps: {e}")))?,
        );
        staging.unmap();
        let period = self.queue.get_timestamp_period() as f64 * 1e-9;
        Ok(ticks
            .chunks(2)
            .map(|t| t[1].saturating_sub(t[0]) as f64 * period)
            .collect())
    }

    /// Starts a profile (after the queued work): timestamps where the device has them.
    pub(crate) fn begin_profile(&self) -> Result<bool> {
        ae_backend::TensorOps::sync(self)?;
        let p = crate::profile::Profiling::new(&self.device, self.timestamps);
        *self.profiling.lock().unwrap_or_else(|p| p.into_inner()) = Some(p);
        Ok(true)
    }

    /// Ends the profile (after the queued work) and returns it.
    pub(crate) fn end_profile(&self) -> Result<Option<Profile>> {
        ae_backend::TensorOps::sync(self)?;
        let taken = self
            .profiling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(p) = taken else {
            return Ok(None);
        };
        p.finish()
            .map(Some)
            .map_err(|e| Error::Backend(format!("{}: profiling: {e}", self.report.name)))
    }

    /// Counts `flops` operations of `kernel` when profiling.
    pub(crate) fn profile_flops(&self, kernel: &'static str, flops: f64) {
        let mut profiling = self.profiling.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = profiling.as_mut() {
            p.add_flops(kernel, flops);
        }
    }

    /// Before a submission: records resolving the timed passes of `encoder`; returns their
    /// kernels, whose times [`Self::read_profiled`] reads once it is submitted.
    pub(crate) fn resolve_profiled(
        &self,
        encoder: &mut wgpu::CommandEncoder,
    ) -> Option<Vec<&'static str>> {
        let mut profiling = self.profiling.lock().unwrap_or_else(|p| p.into_inner());
        profiling.as_mut()?.resolve(encoder)
    }

    /// After a submission: waits for it and adds the times of its timed passes `kernels`.
    pub(crate) fn read_profiled(&self, kernels: Vec<&'static str>) {
        let mut profiling = self.profiling.lock().unwrap_or_else(|p| p.into_inner());
        let Some(p) = profiling.as_mut() else { return };
        let Some(staging) = p.staging() else { return };
        match self.pass_seconds(staging, kernels.len()) {
            Ok(seconds) => p.add_passes(kernels, seconds),
            Err(e) => p.fail(e.to_string()),
        }
    }
}
