//! Reconstruction losses: the scalar definitions every backend implements, value beside gradient.

use crate::activation::{sigmoid, softplus};
use crate::{Element, Error};
use std::fmt;
use std::str::FromStr;

/// Reconstruction loss, averaged over every element of the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Mean squared error on the model's output: `mean((y - x)^2)`.
    Mse,
    /// Binary cross-entropy on the output layer's logits `z` (the sigmoid is folded in, which is
    /// numerically stable): `mean(softplus(z) - x z)`. Targets should lie in [0, 1].
    Bce,
}

impl Loss {
    /// Per-element loss. `input` is the output `y` for MSE and the logit `z` for BCE.
    #[inline]
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
    #[inline]
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
