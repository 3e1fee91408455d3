//! Reconstruction losses: the scalar definitions every backend implements, value beside gradient.

use super::activation::{sigmoid, softplus};
use super::TensorOps;
use crate::{Element, Error};
use std::fmt;
use std::str::FromStr;

/// Reconstruction loss per element; a [`Reduction`] says how a sample's elements add up.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Mean squared error on the model's output: `mean((y - x)^2)`.
    #[default]
    Mse,
    /// Binary cross-entropy on the output layer's logits `z` (the sigmoid is folded in, which is
    /// numerically stable): `mean(softplus(z) - x z)`. Targets should lie in [0, 1].
    Bce,
}

impl Loss {
    /// Per-element loss. `input` is the output `y` for MSE and the logit `z` for BCE.
    #[inline(always)]
    pub fn value<T: Element>(self, input: T, target: T) -> T {
        match self {
            Loss::Mse => {
                let d = input - target;
                d * d
            }
            Loss::Bce => softplus(input) - target * input,
        }
    }

    /// Derivative of the per-element loss with respect to `input` (before the `1/N` of the mean).
    #[inline(always)]
    pub fn gradient<T: Element>(self, input: T, target: T) -> T {
        match self {
            Loss::Mse => T::from_f64(2.0) * (input - target),
            Loss::Bce => sigmoid(input) - target,
        }
    }

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::Bce => "bce",
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Loss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mse" => Ok(Loss::Mse),
            "bce" => Ok(Loss::Bce),
            other => Err(Error::Config(format!(
                "unknown loss '{other}': expected mse or bce"
            ))),
        }
    }
}

/// How the per-element losses of a sample add up; samples are always averaged.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Reduction {
    /// The mean over a sample's features (ae's default, comparable across input widths).
    #[default]
    Mean,
    /// The sum over a sample's features.
    Sum,
    /// Half the sum over a sample's features: the classic sparse autoencoder's
    /// `1/2 ||x_hat - x||^2`, under which its published hyper-parameters (KL beta 3, weight
    /// decay 1e-4) apply as written.
    HalfSum,
}

impl Reduction {
    /// The factor on the element mean: the loss of a batch is `weight * mean(loss)`, with
    /// `features` the width of a sample.
    pub fn weight(self, features: usize) -> f32 {
        match self {
            Reduction::Mean => 1.0,
            Reduction::Sum => features as f32,
            Reduction::HalfSum => 0.5 * features as f32,
        }
    }

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
            Reduction::HalfSum => "half-sum",
        }
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Reduction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            "half-sum" => Ok(Reduction::HalfSum),
            other => Err(Error::Config(format!(
                "unknown reduction '{other}': expected mean, sum or half-sum"
            ))),
        }
    }
}

/// A reconstruction objective: the per-element loss and how a sample's elements add up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconstruction {
    /// The per-element loss.
    pub loss: Loss,
    /// How a sample's element losses add up.
    pub reduction: Reduction,
}

impl From<Loss> for Reconstruction {
    /// The loss averaged over every element.
    fn from(loss: Loss) -> Self {
        Reconstruction {
            loss,
            reduction: Reduction::Mean,
        }
    }
}

/// The reconstruction loss, value and gradient in one pass.
pub trait LossOps: TensorOps {
    /// Reconstruction loss `weight * mean(loss)` of `input` (outputs for MSE, logits for BCE)
    /// against `target`, both `[rows, cols]`: `acc[0, 0] += scale * weight * mean(loss)`, and
    /// when `grad` is given, `grad = weight * d mean(loss) / d input` (each element divided by
    /// `rows * cols`). `weight` is the [`Reduction`]'s factor, `scale` the batch's share of a
    /// reported mean; `acc` is `[1, 1]`.
    #[allow(clippy::too_many_arguments)]
    fn loss(
        &self,
        loss: Loss,
        input: &Self::Tensor,
        target: &Self::Tensor,
        weight: f32,
        scale: f32,
        acc: &mut Self::Tensor,
        grad: Option<&mut Self::Tensor>,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_central_difference() {
        for loss in [Loss::Mse, Loss::Bce] {
            for (z, t) in [(-2.0f64, 0.3), (0.1, 1.0), (3.0, 0.0), (0.7, 0.7)] {
                let h = 1e-6;
                let numeric = (loss.value(z + h, t) - loss.value(z - h, t)) / (2.0 * h);
                let analytic = loss.gradient(z, t);
                assert!((numeric - analytic).abs() < 1e-8, "{loss} {z} {t}");
            }
        }
    }

    #[test]
    fn bce_equals_cross_entropy_of_sigmoid() {
        let (z, t) = (0.8f64, 0.25);
        let p = sigmoid(z);
        let ce = -(t * p.ln() + (1.0 - t) * (1.0 - p).ln());
        assert!((Loss::Bce.value(z, t) - ce).abs() < 1e-12);
    }
}
