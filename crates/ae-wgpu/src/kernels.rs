//! The kernel table: every compute entry point with its WGSL file, its typed parameters and its
//! bindings, declared once. The [`Kernel`] enum, [`Kernel::ALL`], the pipelines and their bind
//! group layouts all come from it, and a test (`tests/shader_reflection.rs`) holds it to the WGSL
//! by naga reflection, so Rust and WGSL cannot drift apart unnoticed.
//!
//! Each kernel reads a `#[repr(C)]` parameter struct ([`KernelParams`]) at binding 0 as a uniform,
//! and storage buffers at the bindings its table row names, in that order.

use crate::params::*;
pub use crate::reflect::{Binding, KernelParams, ParamField};
use ae_backend::ops::activation::{GELU_A, GELU_C, LEAKY_RELU_SLOPE};
use ae_backend::ops::sparsity::{ACTIVE_THRESHOLD, KL_EPS, MASKED};
use ae_backend::{Activation, Loss, Noise};

macro_rules! access {
    (read) => {
        false
    };
    (write) => {
        true
    };
}

/// The table: `Variant => family file, entry point, Params type, [binding name access, ...]`.
macro_rules! kernels {
    ($($(#[$meta:meta])* $kernel:ident => $file:literal, $entry:literal, $params:ty,
        [$($number:literal $name:ident $access:ident),* $(,)?];)*) => {
        /// One compute entry point.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kernel {
            $($(#[$meta])* $kernel,)*
        }

        impl Kernel {
            /// Every kernel, in table order.
            pub const ALL: &'static [Kernel] = &[$(Kernel::$kernel,)*];

            /// Its place in [`Kernel::ALL`] (the table's order, which is the declaration order).
            pub fn index(self) -> usize {
                self as usize
            }

            /// The WGSL file (without `.wgsl`) that holds the entry point.
            pub fn file(self) -> &'static str {
                match self { $(Kernel::$kernel => $file,)* }
            }

            /// The entry point's name.
            pub fn entry_point(self) -> &'static str {
                match self { $(Kernel::$kernel => $entry,)* }
            }

            /// The name of its parameter struct (Rust and WGSL).
            pub fn params_name(self) -> &'static str {
                match self { $(Kernel::$kernel => <$params as KernelParams>::NAME,)* }
            }

            /// The fields of its parameter struct.
            pub fn params_fields(self) -> &'static [ParamField] {
                match self { $(Kernel::$kernel => <$params as KernelParams>::FIELDS,)* }
            }

            /// The byte size of its parameter struct.
            pub fn params_size(self) -> usize {
                match self { $(Kernel::$kernel => std::mem::size_of::<$params>(),)* }
            }

            /// Its storage bindings, in the order the dispatch passes buffers.
            pub fn bindings(self) -> &'static [Binding] {
                match self {
                    $(Kernel::$kernel => &[$(Binding {
                        number: $number,
                        name: stringify!($name),
                        writable: access!($access),
                    },)*],)*
                }
            }
        }
    };
}

kernels! {
    Copy => "elementwise", "copy", ElementwiseParams, [1 x read, 2 y write];
    Fill => "elementwise", "fill", ElementwiseParams, [2 y write];
    ScaleAdd => "elementwise", "scale_add", ElementwiseParams, [1 x read, 2 y write];
    MulAssign => "elementwise", "mul_assign", ElementwiseParams, [1 x read, 2 y write];
    Exponential => "elementwise", "exponential", ElementwiseParams, [1 x read, 2 y write];
    DivideBy => "elementwise", "divide_by", ElementwiseParams, [1 x read, 2 y write];
    Matmul => "linear", "matmul", MatmulParams, [1 a read, 2 b read, 3 c write];
    MatmulBiasActivation => "linear", "matmul_bias_activation", MatmulParams,
        [1 a read, 2 b read, 3 c write, 4 epi_bias read, 5 epi_post write];
    AddBias => "linear", "add_bias", AddBiasParams, [1 bias read, 2 y write];
    BiasGrad => "linear", "bias_grad", BiasGradParams, [1 dy read, 2 db write];
    Activation => "activation", "activation", ActivationParams, [1 z read, 3 out write];
    ActivationBackward => "activation", "activation_backward", ActivationParams,
        [1 z read, 2 a read, 3 out write];
    BiasActivation => "activation", "bias_activation", BiasActivationParams,
        [1 act_bias read, 2 pre write, 3 post write];
    ActivationBiasBackward => "activation", "activation_bias_backward",
        ActivationBiasBackwardParams, [1 z read, 2 a read, 4 grad_in_place write, 5 bias_grad write];
    Loss => "loss", "loss", LossParams,
        [1 input read, 2 expected read, 3 grad write, 4 partial write];
    /// `acc[0] += scale * sum(partial)`: the end of every reduction (loss, L1, KL).
    FinishSum => "reduce", "finish_sum", FinishSumParams, [1 partial read, 2 acc write];
    SgdStep => "optim", "sgd_step", SgdParams, [1 grad read, 2 param write, 3 velocity write];
    AdamStep => "optim", "adam_step", AdamParams,
        [1 grad read, 2 param write, 3 m write, 4 v write];
    L1Penalty => "sparsity", "l1_penalty", L1PenaltyParams,
        [1 h read, 2 weights read, 3 grad write, 4 partial write];
    KlSparsityDivergence => "sparsity", "kl_sparsity_divergence", KlSparsityParams,
        [4 partial write, 5 means write];
    KlSparsityGradient => "sparsity", "kl_sparsity_gradient", KlSparsityParams,
        [3 grad write, 5 means write];
    Topk => "sparsity", "topk", TopkParams, [5 z read, 6 out write, 7 mask write];
    JumpRelu => "sparsity", "jump_relu", JumpReluParams,
        [5 z read, 6 out write, 7 mask write, 9 theta read];
    JumpReluBackward => "sparsity", "jump_relu_backward", JumpReluParams,
        [3 grad write, 4 partial write, 5 z read, 9 theta read, 10 theta_grad write];
    TrackDead => "sparsity", "track_dead", DeadParams, [1 code read, 2 since write];
    ActiveColumns => "sparse", "active_columns", SparseParams, [1 s read, 6 idx_out write];
    SparseMatmul => "sparse", "sparse_matmul", SparseParams,
        [1 s read, 2 idx read, 3 w read, 4 out write];
    SparseInputGrad => "sparse", "sparse_input_grad", SparseParams,
        [2 idx read, 3 w read, 4 out write, 7 dy read];
    SparseWeightGrad => "sparse", "sparse_weight_grad", SparseParams,
        [1 s read, 2 idx read, 5 dw write, 7 dy read];
    MaskDead => "sparsity", "mask_dead", DeadParams, [5 z read, 6 out write, 8 since_in read];
    ThresholdAverage => "sparsity", "threshold_average", ThresholdParams,
        [1 code read, 11 threshold write];
    NormalizeColumns => "columns", "normalize_columns", ColumnParams, [2 w write];
    RemoveParallelComponent => "columns", "remove_parallel_component", ColumnParams,
        [1 w_in read, 3 grad write];
    ColumnNorms => "columns", "column_norms", ColumnParams, [1 w_in read, 5 norms write];
    L1DecoderNormBackward => "columns", "l1_decoder_norm_backward", ColumnParams,
        [1 w_in read, 3 grad write, 4 h read];
    GatherRows => "data", "gather_rows", GatherRowsParams, [1 src read, 2 rows read, 3 dst write];
    CopyColumns => "data", "copy_columns", CopyColumnsParams,
        [1 block_src read, 2 block_dst write];
    Corrupt => "data", "corrupt", CorruptParams, [1 x read, 2 out write];
    GatherRowsCorrupted => "data", "gather_rows_corrupted", GatherCorruptParams,
        [1 src read, 2 rows read, 3 dst write, 4 noisy write];
}

/// Every WGSL file of the crate's `shaders/` folder, by name, as written (without the generated
/// constants and `common.wgsl` that [`shader_source`] puts in front).
pub const SHADER_FILES: &[(&str, &str)] = &[
    ("elementwise", include_str!("../shaders/elementwise.wgsl")),
    ("linear", include_str!("../shaders/linear.wgsl")),
    ("activation", include_str!("../shaders/activation.wgsl")),
    ("loss", include_str!("../shaders/loss.wgsl")),
    ("reduce", include_str!("../shaders/reduce.wgsl")),
    ("optim", include_str!("../shaders/optim.wgsl")),
    ("sparsity", include_str!("../shaders/sparsity.wgsl")),
    ("sparse", include_str!("../shaders/sparse.wgsl")),
    ("columns", include_str!("../shaders/columns.wgsl")),
    ("data", include_str!("../shaders/data.wgsl")),
];

const COMMON: &str = include_str!("../shaders/common.wgsl");

/// The WGSL ids of the closed sets a kernel switches on: activations, losses, noises. The only
/// place these numbers are written; the shaders read them as `ACT_*`, `LOSS_*`, `NOISE_*`.
pub fn activation_id(act: Activation) -> u32 {
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

/// See [`activation_id`].
pub fn loss_id(loss: Loss) -> u32 {
    match loss {
        Loss::Mse => 0,
        Loss::Bce => 1,
    }
}

/// See [`activation_id`]; the noise's parameter travels beside it.
pub fn noise_id(noise: Noise) -> (u32, f32) {
    match noise {
        Noise::Mask { p } => (0, p),
        Noise::Gauss { sigma } => (1, sigma),
    }
}

/// The WGSL constants generated from the Rust ones (`ae_backend`'s thresholds and epsilons, the
/// ids above), so both sides read one definition.
pub fn generated_constants() -> String {
    // `{:?}` of an f32 is the shortest decimal that reads back as the same f32.
    let f = |v: f32| format!("{v:?}");
    let mut s = String::from("// Generated by ae-wgpu/src/kernels.rs from the Rust constants.\n");
    for (name, value) in [
        ("KL_EPS", f(KL_EPS as f32)),
        ("ACTIVE_THRESHOLD", f(ACTIVE_THRESHOLD)),
        ("MASKED", f(MASKED)),
        ("LEAKY_RELU_SLOPE", f(LEAKY_RELU_SLOPE as f32)),
        ("GELU_C", f(GELU_C as f32)),
        ("GELU_A", f(GELU_A as f32)),
    ] {
        s += &format!("const {name}: f32 = {value};\n");
    }
    for act in Activation::ALL {
        let name = format!("{act:?}")
            .chars()
            .flat_map(|c| {
                let sep = c.is_uppercase().then_some('_');
                sep.into_iter()
                    .chain(std::iter::once(c.to_ascii_uppercase()))
            })
            .collect::<String>();
        s += &format!("const ACT{name}: u32 = {}u;\n", activation_id(act));
    }
    for (name, loss) in [("MSE", Loss::Mse), ("BCE", Loss::Bce)] {
        s += &format!("const LOSS_{name}: u32 = {}u;\n", loss_id(loss));
    }
    for (name, noise) in [
        ("MASK", Noise::Mask { p: 0.0 }),
        ("GAUSS", Noise::Gauss { sigma: 0.0 }),
    ] {
        s += &format!("const NOISE_{name}: u32 = {}u;\n", noise_id(noise).0);
    }
    s
}

/// The source the device compiles for `file`: the generated constants, `common.wgsl`, then the
/// file. `None` for an unknown file name.
pub fn shader_source(file: &str) -> Option<String> {
    let (_, body) = SHADER_FILES.iter().find(|(name, _)| *name == file)?;
    Some(format!("{}\n{COMMON}\n{body}", generated_constants()))
}

/// A compute pipeline and its bind group layout.
#[derive(Clone)]
pub(crate) struct Pipeline {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
}

impl Pipeline {
    /// The pipeline of `entry` in `module` with the one bind group `layout`.
    pub(crate) fn new(
        device: &wgpu::Device,
        module: &wgpu::ShaderModule,
        entry: &str,
        layout: wgpu::BindGroupLayout,
    ) -> Pipeline {
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(entry),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: Some(&pipeline_layout),
            module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        });
        Pipeline { pipeline, layout }
    }
}

/// Compute pipelines for every kernel.
pub(crate) struct Pipelines {
    pipelines: Vec<Pipeline>,
}

impl Pipelines {
    /// Compiles every shader file and builds every pipeline with the layout its table row
    /// declares: the parameters as a uniform at binding 0, then its storage bindings.
    pub(crate) fn build(device: &wgpu::Device) -> Pipelines {
        let modules: Vec<(&str, wgpu::ShaderModule)> = SHADER_FILES
            .iter()
            .map(|(name, _)| {
                let source = shader_source(name).expect("a listed file");
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
                (*name, module)
            })
            .collect();
        let buffer_entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let pipelines = Kernel::ALL
            .iter()
            .map(|&k| {
                let module = &modules
                    .iter()
                    .find(|(n, _)| *n == k.file())
                    .expect("every kernel's file is in SHADER_FILES")
                    .1;
                let entries: Vec<wgpu::BindGroupLayoutEntry> =
                    std::iter::once(buffer_entry(0, wgpu::BufferBindingType::Uniform))
                        .chain(k.bindings().iter().map(|b| {
                            let ty = wgpu::BufferBindingType::Storage {
                                read_only: !b.writable,
                            };
                            buffer_entry(b.number, ty)
                        }))
                        .collect();
                let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(k.entry_point()),
                    entries: &entries,
                });
                Pipeline::new(device, module, k.entry_point(), layout)
            })
            .collect();
        Pipelines { pipelines }
    }

    pub(crate) fn get(&self, k: Kernel) -> &Pipeline {
        &self.pipelines[k.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_constants_read_back_as_the_rust_values() {
        let s = generated_constants();
        assert!(s.contains("const ACT_LEAKY_RELU: u32 = 2u;"), "{s}");
        assert!(s.contains("const ACT_IDENTITY: u32 = 0u;"), "{s}");
        let masked = s
            .lines()
            .find_map(|l| l.strip_prefix("const MASKED: f32 = "))
            .and_then(|v| v.trim_end_matches(';').parse::<f32>().ok());
        assert_eq!(masked, Some(f32::MIN));
    }

    #[test]
    fn every_kernel_has_a_file_and_distinct_entry_point() {
        let mut seen = std::collections::HashSet::new();
        for (i, k) in Kernel::ALL.iter().enumerate() {
            assert_eq!(k.index(), i, "{k:?}: the index is its place in the table");
            assert!(shader_source(k.file()).is_some(), "{k:?}");
            assert!(seen.insert(k.entry_point()), "{k:?} repeats an entry point");
            assert_eq!(
                k.params_size() % 16,
                0,
                "{k:?}: uniform structs are 16-byte multiples"
            );
        }
    }
}
