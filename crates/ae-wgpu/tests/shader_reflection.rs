//! The kernel table against the WGSL, by naga reflection, with no device: every shader file
//! parses and validates; every kernel's entry point exists; its uniform at binding 0 is a struct
//! of the Rust `Params` type's name whose fields have the Rust fields' names, offsets and sizes;
//! and the storage bindings it uses are exactly the table's, with the table's names and access.

use ae_wgpu::kernels::{shader_source, Kernel, SHADER_FILES};
use ae_wgpu::MatmulVariant;
use naga::{AddressSpace, StorageAccess};
use std::collections::BTreeMap;

fn module(file: &str) -> (String, naga::Module) {
    parse(file, shader_source(file).expect("a listed file"))
}

fn parse(file: &str, src: String) -> (String, naga::Module) {
    let module = naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("{file}.wgsl: {}", e.emit_to_string(&src)));
    (src, module)
}

fn validate(file: &str) -> (naga::Module, naga::valid::ModuleInfo) {
    validate_source(file, shader_source(file).expect("a listed file"))
}

/// Validates with the capabilities the source enables (f16 for the f16 matmul variants).
fn validate_source(file: &str, src: String) -> (naga::Module, naga::valid::ModuleInfo) {
    let mut caps = naga::valid::Capabilities::default();
    if src.starts_with("enable f16;") {
        caps |= naga::valid::Capabilities::SHADER_FLOAT16;
    }
    if src.contains("subgroupAdd(") {
        caps |= naga::valid::Capabilities::SUBGROUP;
    }
    validate_with(file, src, caps)
}

fn validate_with(
    file: &str,
    src: String,
    capabilities: naga::valid::Capabilities,
) -> (naga::Module, naga::valid::ModuleInfo) {
    let (src, module) = parse(file, src);
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{file}.wgsl: {}", e.emit_to_string(&src)));
    (module, info)
}

#[test]
fn every_shader_file_validates_and_has_only_compute_entry_points() {
    assert_eq!(SHADER_FILES.len(), 10);
    for (file, _) in SHADER_FILES {
        let (module, _) = validate(file);
        assert!(
            module
                .entry_points
                .iter()
                .all(|e| e.stage == naga::ShaderStage::Compute),
            "{file}: only compute entry points"
        );
    }
}

#[test]
fn every_entry_point_is_in_the_kernel_table() {
    for (file, _) in SHADER_FILES {
        let (_, module) = module(file);
        for e in &module.entry_points {
            assert!(
                Kernel::ALL
                    .iter()
                    .any(|k| k.file() == *file && k.entry_point() == e.name),
                "{file}.wgsl: entry point {} has no row in the kernel table",
                e.name
            );
        }
    }
}

/// The uniform struct an entry point reads: its name, its members (name, offset, size), its size.
type UniformStruct = (String, Vec<(String, u32, u32)>, u32);

/// What an entry point binds: storage binding number -> (variable name, writable), and the
/// uniform.
struct Reflected {
    storage: BTreeMap<u32, (String, bool)>,
    uniform: Option<UniformStruct>,
}

fn reflect(kernel: Kernel) -> Reflected {
    reflect_source(kernel, shader_source(kernel.file()).expect("a listed file"))
}

fn reflect_source(kernel: Kernel, src: String) -> Reflected {
    let (module, info) = validate_source(kernel.file(), src);
    let index = module
        .entry_points
        .iter()
        .position(|e| e.name == kernel.entry_point())
        .unwrap_or_else(|| panic!("{kernel:?}: no entry point {}", kernel.entry_point()));
    let ep_info = info.get_entry_point(index);
    let mut out = Reflected {
        storage: BTreeMap::new(),
        uniform: None,
    };
    for (handle, var) in module.global_variables.iter() {
        if ep_info[handle].is_empty() {
            continue; // not used by this entry point
        }
        let Some(binding) = &var.binding else {
            continue;
        };
        assert_eq!(binding.group, 0, "{kernel:?}: {:?} is in group 0", var.name);
        let name = var.name.clone().unwrap_or_default();
        match var.space {
            AddressSpace::Uniform => {
                assert_eq!(
                    binding.binding, 0,
                    "{kernel:?}: the uniform is at binding 0"
                );
                let ty = &module.types[var.ty];
                let naga::TypeInner::Struct { members, span } = &ty.inner else {
                    panic!("{kernel:?}: the uniform is a struct");
                };
                let fields = members
                    .iter()
                    .map(|m| {
                        let size = module.types[m.ty].inner.size(module.to_ctx());
                        (m.name.clone().unwrap_or_default(), m.offset, size)
                    })
                    .collect();
                out.uniform = Some((ty.name.clone().unwrap_or_default(), fields, *span));
            }
            AddressSpace::Storage { access } => {
                let writable = access.contains(StorageAccess::STORE);
                out.storage.insert(binding.binding, (name, writable));
            }
            other => panic!("{kernel:?}: unexpected address space {other:?}"),
        }
    }
    out
}

#[test]
fn every_kernel_params_struct_matches_its_wgsl_struct() {
    for &kernel in Kernel::ALL {
        let reflected = reflect(kernel);
        let (name, fields, span) = reflected
            .uniform
            .unwrap_or_else(|| panic!("{kernel:?} reads no uniform parameters"));
        assert_eq!(
            name,
            kernel.params_name(),
            "{kernel:?}: parameter struct name"
        );
        let rust: Vec<(String, u32, u32)> = kernel
            .params_fields()
            .iter()
            .map(|f| (f.name.to_string(), f.offset, f.size))
            .collect();
        assert_eq!(
            fields, rust,
            "{kernel:?}: WGSL {name} (name, offset, size) vs the Rust struct"
        );
        assert_eq!(
            span as usize,
            kernel.params_size(),
            "{kernel:?}: struct size"
        );
    }
}

/// The matmul variants are `linear.wgsl` with other tile constants, load widths and slice
/// precisions: each validates (the f16 ones with the f16 capability, and only with it), and its
/// `matmul` reads the same parameters and bindings as the table's row, with its workgroup size.
#[test]
fn every_matmul_variant_validates_with_the_matmul_interface() {
    assert_eq!(MatmulVariant::ALL.len(), 16);
    for v in MatmulVariant::ALL {
        for kernel in [Kernel::Matmul, Kernel::MatmulBiasActivation] {
            let want = reflect(kernel);
            let got = reflect_source(kernel, v.source());
            assert_eq!(got.storage, want.storage, "{} {kernel:?}: bindings", v.name);
            assert_eq!(
                got.uniform, want.uniform,
                "{} {kernel:?}: parameters",
                v.name
            );
        }
        if v.f16 {
            let (_, module) = parse("linear", v.source());
            let plain = naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::default(),
            )
            .validate(&module);
            assert!(plain.is_err(), "{}: validates only with f16", v.name);
        }
        let (module, _) = validate_source("linear", v.source());
        for name in ["matmul", "matmul_bias_activation"] {
            let ep = module.entry_points.iter().find(|e| e.name == name).unwrap();
            assert_eq!(ep.workgroup_size, [v.wx, v.wy, 1], "{} {name}", v.name);
        }
        let tile_a = module
            .global_variables
            .iter()
            .find(|(_, g)| g.name.as_deref() == Some("tile_a"))
            .map(|(_, g)| module.types[g.ty].inner.size(module.to_ctx()))
            .unwrap();
        let element = if v.f16 { 2 } else { 4 };
        assert_eq!(
            tile_a,
            element * v.bk * v.tile_m(),
            "{}: tile_a bytes",
            v.name
        );
    }
}

#[test]
fn every_kernel_binds_exactly_its_table_row() {
    for &kernel in Kernel::ALL {
        let reflected = reflect(kernel);
        let table: BTreeMap<u32, (String, bool)> = kernel
            .bindings()
            .iter()
            .map(|b| (b.number, (b.name.to_string(), b.writable)))
            .collect();
        assert_eq!(
            reflected.storage, table,
            "{kernel:?}: the storage bindings its entry point uses (number -> name, writable) \
             vs the kernel table"
        );
    }
}
