//! `ae devices`: what the backends can run on.

use super::{print_json, GlobalArgs};
use ae::Result;

pub fn run(g: &GlobalArgs) -> Result<()> {
    let adapters = ae_wgpu::list_adapters();
    let threads = rayon::current_num_threads();
    if g.json {
        print_json(&serde_json::json!({
            "cpu": { "threads": threads },
            "adapters": adapters,
        }));
        return Ok(());
    }
    println!("cpu: {threads} threads");
    if adapters.is_empty() {
        println!("wgpu: no adapters (no Vulkan, Metal or DX12 driver found)");
    }
    for a in adapters {
        let l = &a.limits;
        println!(
            "wgpu: {} [{}, {}{}] driver {}",
            a.name,
            a.backend,
            a.device_type,
            if a.is_software { ", software" } else { "" },
            a.driver
        );
        println!(
            "      max_storage_buffer_binding_size {} B, max_buffer_size {} B, workgroup storage {} B, \
             {} invocations/workgroup, {} workgroups/dimension, {} storage buffers/stage",
            l.max_storage_buffer_binding_size,
            l.max_buffer_size,
            l.max_compute_workgroup_storage_size,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension,
            l.max_storage_buffers_per_shader_stage
        );
        println!(
            "      features: {}",
            if a.features.is_empty() {
                "-".to_string()
            } else {
                a.features.join(", ")
            }
        );
    }
    Ok(())
}
