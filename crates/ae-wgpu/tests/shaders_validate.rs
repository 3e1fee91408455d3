//! Every WGSL shader parses and validates with naga, with no device needed.

#[test]
fn every_shader_validates_with_naga() {
    assert_eq!(ae_wgpu::SHADERS.len(), 11);
    for (name, src) in ae_wgpu::SHADERS {
        let module = naga::front::wgsl::parse_str(src)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
        assert!(
            module
                .entry_points
                .iter()
                .all(|e| e.stage == naga::ShaderStage::Compute),
            "{name}: only compute entry points"
        );
    }
}

#[test]
fn every_kernel_entry_point_exists() {
    let entry_points: Vec<String> = ae_wgpu::SHADERS
        .iter()
        .flat_map(|(_, src)| naga::front::wgsl::parse_str(src).unwrap().entry_points)
        .map(|e| e.name)
        .collect();
    for name in [
        "matmul",
        "activation_forward",
        "activation_backward",
        "fill",
        "copy",
        "scale_add",
        "add_bias",
        "gather_rows",
        "loss",
        "column_sum",
        "finish_sum",
        "sgd_step",
        "adam_step",
        "mul_assign",
        "l1_penalty",
        "kl_divergence",
        "kl_gradient",
        "corrupt",
        "topk",
        "track_dead",
        "mask_dead",
        "normalize_columns",
        "remove_parallel_component",
        "column_norms",
        "l1_decoder_norm_backward",
    ] {
        assert!(
            entry_points.iter().any(|e| e == name),
            "missing entry point {name}"
        );
    }
}
