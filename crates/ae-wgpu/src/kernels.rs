//! The WGSL kernels (from the workspace's `shaders/` folder) and their compute pipelines, built
//! once when the backend opens.

/// A shader file of the workspace's `shaders/` folder with `common.wgsl` (shared helpers) in front.
macro_rules! shader {
    ($name:literal) => {
        (
            $name,
            concat!(
                include_str!("../../../shaders/common.wgsl"),
                include_str!(concat!("../../../shaders/", $name)),
            ),
        )
    };
}

/// Every WGSL shader, by file name, as compiled into the crate (each with `common.wgsl` first).
pub const SHADERS: [(&str, &str); 11] = [
    shader!("matmul.wgsl"),
    shader!("activation.wgsl"),
    shader!("elementwise.wgsl"),
    shader!("gather.wgsl"),
    shader!("loss.wgsl"),
    shader!("reduce.wgsl"),
    shader!("optimizer.wgsl"),
    shader!("sparsity.wgsl"),
    shader!("topk.wgsl"),
    shader!("dead.wgsl"),
    shader!("columns.wgsl"),
];

/// One compute entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    Matmul,
    ActivationForward,
    ActivationBackward,
    Fill,
    Copy,
    ScaleAdd,
    AddBias,
    GatherRows,
    Loss,
    ColumnSum,
    FinishSum,
    SgdStep,
    AdamStep,
    MulAssign,
    L1Penalty,
    KlDivergence,
    KlGradient,
    Corrupt,
    TopK,
    TrackDead,
    MaskDead,
    NormalizeColumns,
    RemoveParallel,
    ColumnNorms,
    L1DecoderNorm,
}

impl Kernel {
    pub(crate) const ALL: [Kernel; 25] = [
        Kernel::Matmul,
        Kernel::ActivationForward,
        Kernel::ActivationBackward,
        Kernel::Fill,
        Kernel::Copy,
        Kernel::ScaleAdd,
        Kernel::AddBias,
        Kernel::GatherRows,
        Kernel::Loss,
        Kernel::ColumnSum,
        Kernel::FinishSum,
        Kernel::SgdStep,
        Kernel::AdamStep,
        Kernel::MulAssign,
        Kernel::L1Penalty,
        Kernel::KlDivergence,
        Kernel::KlGradient,
        Kernel::Corrupt,
        Kernel::TopK,
        Kernel::TrackDead,
        Kernel::MaskDead,
        Kernel::NormalizeColumns,
        Kernel::RemoveParallel,
        Kernel::ColumnNorms,
        Kernel::L1DecoderNorm,
    ];

    /// `(shader file, entry point)`.
    pub(crate) fn source(self) -> (&'static str, &'static str) {
        match self {
            Kernel::Matmul => ("matmul.wgsl", "matmul"),
            Kernel::ActivationForward => ("activation.wgsl", "activation_forward"),
            Kernel::ActivationBackward => ("activation.wgsl", "activation_backward"),
            Kernel::Fill => ("elementwise.wgsl", "fill"),
            Kernel::Copy => ("elementwise.wgsl", "copy"),
            Kernel::ScaleAdd => ("elementwise.wgsl", "scale_add"),
            Kernel::AddBias => ("elementwise.wgsl", "add_bias"),
            Kernel::GatherRows => ("gather.wgsl", "gather_rows"),
            Kernel::Loss => ("loss.wgsl", "loss"),
            Kernel::ColumnSum => ("reduce.wgsl", "column_sum"),
            Kernel::FinishSum => ("reduce.wgsl", "finish_sum"),
            Kernel::SgdStep => ("optimizer.wgsl", "sgd_step"),
            Kernel::AdamStep => ("optimizer.wgsl", "adam_step"),
            Kernel::MulAssign => ("elementwise.wgsl", "mul_assign"),
            Kernel::L1Penalty => ("sparsity.wgsl", "l1_penalty"),
            Kernel::KlDivergence => ("sparsity.wgsl", "kl_divergence"),
            Kernel::KlGradient => ("sparsity.wgsl", "kl_gradient"),
            Kernel::Corrupt => ("sparsity.wgsl", "corrupt"),
            Kernel::TopK => ("topk.wgsl", "topk"),
            Kernel::TrackDead => ("dead.wgsl", "track_dead"),
            Kernel::MaskDead => ("dead.wgsl", "mask_dead"),
            Kernel::NormalizeColumns => ("columns.wgsl", "normalize_columns"),
            Kernel::RemoveParallel => ("columns.wgsl", "remove_parallel_component"),
            Kernel::ColumnNorms => ("columns.wgsl", "column_norms"),
            Kernel::L1DecoderNorm => ("columns.wgsl", "l1_decoder_norm_backward"),
        }
    }
}

/// Compute pipelines for every kernel.
pub(crate) struct Pipelines {
    pipelines: Vec<(Kernel, wgpu::ComputePipeline)>,
}

impl Pipelines {
    /// Compiles every shader and builds every pipeline (layouts inferred from the shaders).
    pub(crate) fn build(device: &wgpu::Device) -> Pipelines {
        let modules: Vec<(&str, wgpu::ShaderModule)> = SHADERS
            .iter()
            .map(|(name, src)| {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl((*src).into()),
                });
                (*name, module)
            })
            .collect();
        let pipelines = Kernel::ALL
            .iter()
            .map(|&k| {
                let (file, entry) = k.source();
                let module = &modules
                    .iter()
                    .find(|(n, _)| *n == file)
                    .expect("every kernel's file is in SHADERS")
                    .1;
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: None,
                    module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                });
                (k, pipeline)
            })
            .collect();
        Pipelines { pipelines }
    }

    pub(crate) fn get(&self, k: Kernel) -> &wgpu::ComputePipeline {
        &self
            .pipelines
            .iter()
            .find(|(kk, _)| *kk == k)
            .expect("all kernels are built")
            .1
    }
}
