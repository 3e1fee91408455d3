//! `ae devices`: what the backends can run on.

use super::{print_result, GlobalArgs};
use ae::Result;
use ae_wgpu::AdapterReport;
use std::fmt;

/// What `ae devices` prints: the CPU's threads and every wgpu adapter.
#[derive(Debug, serde::Serialize)]
pub struct DevicesOutput {
    /// The CPU backend.
    pub cpu: CpuReport,
    /// Every wgpu adapter, with its limits and features.
    pub adapters: Vec<AdapterReport>,
}

/// The CPU backend's resources.
#[derive(Debug, serde::Serialize)]
pub struct CpuReport {
    /// Threads of its pool.
    pub threads: usize,
}

impl fmt::Display for DevicesOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu: {} threads", self.cpu.threads)?;
        if self.adapters.is_empty() {
            write!(
                f,
                "\nwgpu: no adapters (no Vulkan, Metal or DX12 driver found)"
            )?;
        }
        for a in &self.adapters {
            let l = &a.limits;
            write!(
                f,
                "\nwgpu: {} [{}, {}{}] driver {}",
                a.name,
                a.backend,
                a.device_type,
                if a.is_software { ", software" } else { "" },
                a.driver
            )?;
            write!(
                f,
                "\n      max_storage_buffer_binding_size {} B, max_buffer_size {} B, workgroup \
                 storage {} B, {} invocations/workgroup, {} workgroups/dimension, {} storage \
                 buffers/stage",
                l.max_storage_buffer_binding_size,
                l.max_buffer_size,
                l.max_compute_workgroup_storage_size,
                l.max_compute_invocations_per_workgroup,
                l.max_compute_workgroups_per_dimension,
                l.max_storage_buffers_per_shader_stage
            )?;
            write!(
                f,
                "\n      features: {}",
                if a.features.is_empty() {
                    "-".to_string()
                } else {
                    a.features.join(", ")
                }
            )?;
        }
        Ok(())
    }
}

pub fn run(g: &GlobalArgs) -> Result<()> {
    let out = DevicesOutput {
        cpu: CpuReport {
            threads: rayon::current_num_threads(),
        },
        adapters: ae_wgpu::list_adapters(),
    };
    print_result(g, &out);
    Ok(())
}
