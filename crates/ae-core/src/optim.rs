//! Optimisers (SGD with momentum, Adam, AdamW) and learning-rate schedules. The update itself is
//! one fused backend op over all parameter tensors ([`Backend::sgd_step_all`],
//! [`Backend::adam_step_all`]: one kernel on wgpu, whose tensors are made together).

use crate::{Autoencoder, Backend, Error, Gradients, Matrix, Result};
use ae_backend::{AdamStep, SgdStep};
use std::fmt;
use std::str::FromStr;

/// Which update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with momentum; weight decay is an L2 penalty.
    Sgd,
    /// Adam; weight decay is an L2 penalty (PyTorch `Adam(weight_decay=..)`).
    Adam,
    /// Adam with decoupled weight decay (PyTorch `AdamW`).
    AdamW,
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        })
    }
}

impl FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            other => Err(Error::Config(format!(
                "unknown optimizer '{other}': expected sgd, adam or adamw"
            ))),
        }
    }
}

/// Optimiser settings.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimizerConfig {
    /// Update rule.
    pub kind: OptimizerKind,
    /// Peak learning rate.
    pub lr: f32,
    /// SGD momentum.
    pub momentum: f32,
    /// Adam beta1.
    pub beta1: f32,
    /// Adam beta2.
    pub beta2: f32,
    /// Adam epsilon.
    pub eps: f32,
    /// Weight decay: decoupled for AdamW, an L2 penalty otherwise (see `WeightDecay`).
    pub weight_decay: f32,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Learning rate over training, as a multiple of the peak rate.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LrSchedule {
    /// The peak rate throughout.
    Constant,
    /// Linear warmup from 0 over `warmup_steps`, then a half cosine down to
    /// `final_fraction` of the peak at the last step.
    WarmupCosine {
        /// Steps of linear warmup.
        warmup_steps: usize,
        /// Final rate as a fraction of the peak.
        final_fraction: f32,
    },
}

impl LrSchedule {
    /// The multiplier at `step` (0-based) of `total` steps.
    pub fn factor(&self, step: usize, total: usize) -> f32 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::WarmupCosine {
                warmup_steps,
                final_fraction,
            } => {
                if step < warmup_steps {
                    return (step + 1) as f32 / warmup_steps as f32;
                }
                let span = total.saturating_sub(warmup_steps).max(1) as f32;
                let t = ((step - warmup_steps) as f32 / span).min(1.0);
                let cos = 0.5 * (1.0 + (std::f32::consts::PI * t).cos());
                final_fraction + (1.0 - final_fraction) * cos
            }
        }
    }
}

/// Optimiser state for one model: one or two moment tensors per parameter.
pub struct Optimizer<B: Backend> {
    config: OptimizerConfig,
    /// Momentum (SGD) or first moment (Adam).
    first: Vec<B::Tensor>,
    /// Second moment (Adam only).
    second: Vec<B::Tensor>,
    steps: u64,
}

impl<B: Backend> Optimizer<B> {
    /// Zeroed state for `model`'s parameters.
    pub fn new(backend: &B, config: OptimizerConfig, model: &Autoencoder<B>) -> Result<Self> {
        let zeros = || backend.zeros_many(&model.shapes());
        let second = match config.kind {
            OptimizerKind::Sgd => Vec::new(),
            OptimizerKind::Adam | OptimizerKind::AdamW => zeros()?,
        };
        Ok(Optimizer {
            config,
            first: zeros()?,
            second,
            steps: 0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Updates taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Every state tensor: the first moments (or momenta), then the second moments (Adam).
    pub fn state(&self) -> impl Iterator<Item = &B::Tensor> {
        self.first.iter().chain(&self.second)
    }

    /// Sets the state to `tensors` (in [`Optimizer::state`]'s order) after `steps` updates, as a
    /// resumed run continues it.
    pub fn restore(&mut self, backend: &B, tensors: &[Matrix], steps: u64) -> Result<()> {
        let count = self.first.len() + self.second.len();
        if tensors.len() != count {
            return Err(Error::Shape(format!(
                "the saved optimiser state has {} tensors, this optimiser {count}",
                tensors.len()
            )));
        }
        for (t, m) in self.first.iter_mut().chain(&mut self.second).zip(tensors) {
            if backend.shape(t) != (m.rows, m.cols) {
                return Err(Error::Shape(format!(
                    "a saved optimiser tensor is [{}, {}], its parameter {:?}",
                    m.rows,
                    m.cols,
                    backend.shape(t)
                )));
            }
            backend.write(m, t)?;
        }
        self.steps = steps;
        Ok(())
    }

    /// The state tensors of parameter `i` (momentum, or Adam's two moments), same shape as it.
    pub fn state_of(&mut self, i: usize) -> Vec<&mut B::Tensor> {
        let mut out = vec![&mut self.first[i]];
        if let Some(v) = self.second.get_mut(i) {
            out.push(v);
        }
        out
    }

    /// Applies one update with learning rate `lr` to every parameter of `model`.
    pub fn step(&mut self, backend: &B, model: &mut Autoencoder<B>, grads: &Gradients<B>, lr: f32) {
        self.steps += 1;
        let c = &self.config;
        match c.kind {
            OptimizerKind::Sgd => {
                let step = SgdStep {
                    lr,
                    momentum: c.momentum,
                };
                backend.sgd_step_all(&step, model.params_mut(), &grads.tensors, &mut self.first);
            }
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let t = self.steps as i32;
                let step = AdamStep {
                    lr,
                    beta1: c.beta1,
                    beta2: c.beta2,
                    eps: c.eps,
                    decoupled_weight_decay: if c.kind == OptimizerKind::AdamW {
                        c.weight_decay
                    } else {
                        0.0
                    },
                    bias_correction1: 1.0 - c.beta1.powi(t),
                    bias_correction2: 1.0 - c.beta2.powi(t),
                };
                backend.adam_step_all(
                    &step,
                    model.params_mut(),
                    &grads.tensors,
                    &mut self.first,
                    &mut self.second,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_cosine_shape() {
        let s = LrSchedule::WarmupCosine {
            warmup_steps: 10,
            final_fraction: 0.1,
        };
        assert!((s.factor(0, 110) - 0.1).abs() < 1e-6);
        assert!((s.factor(9, 110) - 1.0).abs() < 1e-6);
        assert!((s.factor(10, 110) - 1.0).abs() < 1e-6);
        assert!((s.factor(60, 110) - 0.55).abs() < 1e-6);
        assert!((s.factor(110, 110) - 0.1).abs() < 1e-6);
        assert_eq!(LrSchedule::Constant.factor(5, 10), 1.0);
    }

    #[test]
    fn parses_optimizers() {
        assert_eq!(
            "AdamW".parse::<OptimizerKind>().unwrap(),
            OptimizerKind::AdamW
        );
        assert!("rmsprop".parse::<OptimizerKind>().is_err());
    }
}
