//! Finding adapters: list every one with its limits and features (`ae devices`), and pick one by
//! name or by kind (a real GPU first, a software one such as lavapipe last).

use crate::variants::Tuning;
use ae_backend::{Error, Result};

/// The limits that matter for compute, as an adapter reports them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ComputeLimits {
    /// Largest storage-buffer binding, in bytes: bounds the largest tensor.
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer, in bytes.
    pub max_buffer_size: u64,
    /// Workgroup (shared) memory per workgroup, in bytes.
    pub max_compute_workgroup_storage_size: u32,
    /// Threads per workgroup.
    pub max_compute_invocations_per_workgroup: u32,
    /// Workgroups per dispatch dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Storage buffers one shader stage may bind.
    pub max_storage_buffers_per_shader_stage: u32,
}

/// One adapter, as `ae devices` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterReport {
    /// Device name, e.g. `NVIDIA H100 80GB HBM3` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// Graphics API: Vulkan, Metal, Dx12, Gl.
    pub backend: String,
    /// discrete, integrated, virtual, cpu or other.
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// A software rasteriser rather than a GPU.
    pub is_software: bool,
    /// Compute limits.
    pub limits: ComputeLimits,
    /// Present features among SHADER_F16, SUBGROUP, TIMESTAMP_QUERY, SHADER_F64.
    pub features: Vec<String>,
}

/// How to choose an adapter.
#[derive(Clone, Debug, Default)]
pub struct AdapterChoice {
    /// Take the first adapter whose name contains this (case-insensitive).
    pub name: Option<String>,
    /// Refuse software adapters (lavapipe, llvmpipe, WARP).
    pub hardware_only: bool,
    /// Cap every tensor at this many bytes, below the device's own limits (to leave room for
    /// other work on a shared GPU; a dataset over the cap is streamed in batches).
    pub max_tensor_bytes: Option<u64>,
    /// How `matmul` picks its kernel variant (default: the tuning cache, timed on first use).
    pub tuning: Tuning,
    /// The tuning cache's directory (default: the tuner's `cache_dir`).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Do not open the device with timestamp queries even where the adapter has them: the
    /// tuner and the profile fall back to wall time (for a driver whose timestamps are wrong).
    pub no_timestamps: bool,
    /// Let the autotuner pick the f16-slice matmul variants (operands rounded to half precision
    /// in workgroup memory, f32 accumulation) where the adapter has `SHADER_F16`: faster on
    /// some GPUs, about 1e-3 relative error. Off by default; never the reference.
    pub f16_matmul: bool,
}

pub(crate) fn instance() -> wgpu::Instance {
    // Honours WGPU_BACKEND (vulkan, metal, dx12, gl) and the other WGPU_* variables.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn device_type_name(t: wgpu::DeviceType) -> &'static str {
    match t {
        wgpu::DeviceType::DiscreteGpu => "discrete",
        wgpu::DeviceType::IntegratedGpu => "integrated",
        wgpu::DeviceType::VirtualGpu => "virtual",
        wgpu::DeviceType::Cpu => "cpu",
        wgpu::DeviceType::Other => "other",
    }
}

/// Preference order: discrete, integrated, virtual, other, software.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

pub(crate) fn report(adapter: &wgpu::Adapter) -> AdapterReport {
    let info = adapter.get_info();
    let l = adapter.limits();
    let f = adapter.features();
    let features = [
        (wgpu::Features::SHADER_F16, "SHADER_F16"),
        (wgpu::Features::SUBGROUP, "SUBGROUP"),
        (wgpu::Features::TIMESTAMP_QUERY, "TIMESTAMP_QUERY"),
        (wgpu::Features::SHADER_F64, "SHADER_F64"),
    ]
    .iter()
    .filter(|(flag, _)| f.contains(*flag))
    .map(|(_, name)| name.to_string())
    .collect();
    AdapterReport {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: device_type_name(info.device_type).into(),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        is_software: info.device_type == wgpu::DeviceType::Cpu,
        limits: ComputeLimits {
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
        },
        features,
    }
}

fn adapters(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    let mut all = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    all.sort_by_key(|a| rank(a.get_info().device_type));
    all
}

/// Every adapter wgpu can see, best first.
pub fn list_adapters() -> Vec<AdapterReport> {
    adapters(&instance()).iter().map(report).collect()
}

/// The adapter `choice` asks for, or an error saying why there is none.
pub(crate) fn choose(instance: &wgpu::Instance, choice: &AdapterChoice) -> Result<wgpu::Adapter> {
    let all = adapters(instance);
    if all.is_empty() {
        return Err(Error::Backend(
            "no GPU adapter found: wgpu saw no Vulkan, Metal or DX12 device (on Linux without a \
             GPU, install Mesa's software driver: apt-get install mesa-vulkan-drivers libvulkan1)"
                .into(),
        ));
    }
    let names = || {
        all.iter()
            .map(|a| format!("'{}'", a.get_info().name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found = all.iter().find(|a| {
        let info = a.get_info();
        let name_ok = choice
            .name
            .as_ref()
            .is_none_or(|n| info.name.to_lowercase().contains(&n.to_lowercase()));
        name_ok && !(choice.hardware_only && info.device_type == wgpu::DeviceType::Cpu)
    });
    match found {
        Some(a) => Ok(a.clone()),
        None => Err(Error::Backend(match &choice.name {
            Some(n) => format!("no adapter's name contains '{n}'; adapters: {}", names()),
            None => format!("no hardware GPU adapter; adapters: {}", names()),
        })),
    }
}
