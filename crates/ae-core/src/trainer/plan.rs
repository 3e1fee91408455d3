//! The memory a training run needs, worked out before it starts, so that a run that cannot fit
//! is refused with the numbers instead of being killed by the kernel halfway.

use super::TrainConfig;
use crate::{ModelConfig, OptimizerKind};
use std::fmt;

/// Bytes a training run holds at its peak, by what holds them (f32 everywhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MemoryPlan {
    /// The parameters.
    pub model: u64,
    /// Their gradients, the optimiser's state and the two weight snapshots (last good, best).
    pub optimizer: u64,
    /// Per-batch buffers: each layer's pre-activation, activation and gradient, the batch itself,
    /// for the full batch and the last, shorter one (and the denoising and AuxK buffers).
    pub buffers: u64,
    /// The data held at once: the whole training and validation set where it is resident, or
    /// the reader's shuffle windows and queued batches and the row numbers where it is read as
    /// training goes.
    pub data: u64,
}

impl MemoryPlan {
    /// The plan for `model` trained under `train` on `rows` rows (of which `resident` are held in
    /// memory at once: all of them for a host matrix, a chunk for a lazily read source).
    pub fn new(model: &ModelConfig, train: &TrainConfig, rows: usize, resident: usize) -> Self {
        let f = 4u64;
        let layers = model.layers();
        let params: u64 = layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let tied = model.tied && i >= model.encoder_depth();
                let weight = if tied { 0 } else { l.inputs * l.outputs };
                (weight + l.outputs) as u64
            })
            .sum();
        let moments = match train.optimizer.kind {
            OptimizerKind::Sgd => 1,
            OptimizerKind::Adam | OptimizerKind::AdamW => 2,
        };
        let batch = train.batch_size.min(rows.max(1)) as u64;
        let per_row: u64 = layers
            .iter()
            .map(|l| l.outputs as u64 * if l.activation.is_identity() { 2 } else { 3 })
            .sum::<u64>()
            + model.input_dim as u64 * (1 + train.noise.is_some() as u64)
            + train.auxk.map_or(0, |_| {
                4 * model.code_dim() as u64 + 3 * model.input_dim as u64
            });
        MemoryPlan {
            model: f * params,
            optimizer: f * params * (1 + moments + 2),
            buffers: f * per_row * batch * 2,
            data: f * resident as u64 * model.input_dim as u64,
        }
    }

    /// Everything together.
    pub fn total(&self) -> u64 {
        self.model + self.optimizer + self.buffers + self.data
    }
}

/// `bytes` in MiB or GiB, one decimal.
pub fn human_bytes(bytes: u64) -> String {
    let mib = bytes as f64 / (1u64 << 20) as f64;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB")
    }
}

impl fmt::Display for MemoryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory plan: model {}, optimizer and snapshots {}, batch buffers {}, data {}; \
             total {}",
            human_bytes(self.model),
            human_bytes(self.optimizer),
            human_bytes(self.buffers),
            human_bytes(self.data),
            human_bytes(self.total())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_model_plans_its_bytes() {
        // 4-3-4 (identity code, sigmoid output): weights 12 + 12, biases 3 + 4 = 31 parameters.
        let model = ModelConfig::mirrored(&[4, 3]).unwrap();
        let train = TrainConfig {
            batch_size: 10,
            ..TrainConfig::default()
        };
        let plan = MemoryPlan::new(&model, &train, 100, 100);
        assert_eq!(plan.model, 4 * 31);
        // Gradients, two Adam moments, two snapshots.
        assert_eq!(plan.optimizer, 4 * 31 * 5);
        // Per row: z and grad of the 3 code units (identity), z, a and grad of the 4 outputs, the
        // input of 4; two batches of 10.
        assert_eq!(plan.buffers, 4 * (2 * 3 + 3 * 4 + 4) * 10 * 2);
        assert_eq!(plan.data, 4 * 100 * 4);
        assert_eq!(
            plan.total(),
            plan.model + plan.optimizer + plan.buffers + plan.data
        );
        assert!(plan.to_string().contains("total"));
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
