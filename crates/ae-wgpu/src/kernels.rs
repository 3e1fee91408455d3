//! The WGSL kernels (from the workspace's `shaders/` folder) and their compute pipelines, built
//! once when the backend opens.

/// Every WGSL source file, by name, as compiled into the crate.
pub const SHADERS: [(&str, &str); 11] = [
    ("matmul.wgsl", include_str!("../../../shaders/matmul.wgsl")),
    (
        "activation.wgsl",
        include_str!("../../../shaders/activation.wgsl"),
    ),
    (
        "elementwise.wgsl",
        include_str!("../../../shaders/elementwise.wgsl"),
    ),
    ("gather.wgsl", include_str!("../../../shaders/gather.wgsl")),
    ("loss.wgsl", include_str!("../../../shaders/loss.wgsl")),
    ("reduce.wgsl", include_str!("../../../shaders/reduce.wgsl")),
    (
        "optimizer.wgsl",
        include_str!("../../../shaders/optimizer.wgsl"),
    ),
    (
        "sparsity.wgsl",
        include_str!("../../../shaders/sparsity.wgsl"),
    ),
    ("topk.wgsl", include_str!("../../../shaders/topk.wgsl")),
    ("dead.wgsl", include_str!("../../../shaders/dead.wgsl")),
    (
        "columns.wgsl",
        include_str!("../../../shaders/columns.wgsl"),
    ),
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
}

impl Kernel {
    pub(crate) const ALL: [Kernel; 23] = [
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
