//! Activation functions: the scalar definitions every backend implements, `f(z)` beside `f'(z)`.

use super::TensorOps;
use crate::{Element, Error};
use std::fmt;
use std::str::FromStr;

/// An elementwise activation, applied after a layer's affine map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `f(z) = z`.
    Identity,
    /// `f(z) = max(z, 0)`.
    Relu,
    /// `f(z) = z` for `z > 0`, else `0.01 z`.
    LeakyRelu,
    /// `f(z) = 1 / (1 + e^-z)`.
    Sigmoid,
    /// `f(z) = tanh z`.
    Tanh,
    /// GELU, tanh approximation: `0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))`.
    Gelu,
    /// `f(z) = ln(1 + e^z)`.
    Softplus,
}

/// Slope of [`Activation::LeakyRelu`] for negative inputs.
pub const LEAKY_RELU_SLOPE: f64 = 0.01;
/// GELU's `sqrt(2 / pi)`.
pub const GELU_C: f64 = 0.797_884_560_802_865_4; // sqrt(2 / pi)
/// GELU's cubic coefficient.
pub const GELU_A: f64 = 0.044_715;

/// Logistic sigmoid `1 / (1 + e^-z)`. Branch-free so it vectorises; stable at both ends (for
/// very negative `z`, `e^-z` is huge or infinite and the quotient goes to 0, never NaN).
#[inline(always)]
pub fn sigmoid<T: Element>(z: T) -> T {
    T::ONE / (T::ONE + (-z).exp())
}

/// GELU's `u = sqrt(2/pi) (z + 0.044715 z^3)`.
#[inline(always)]
fn gelu_inner<T: Element>(z: T) -> T {
    T::from_f64(GELU_C) * (z + T::from_f64(GELU_A) * z * z * z)
}

/// Numerically stable `ln(1 + e^z)`.
#[inline(always)]
pub fn softplus<T: Element>(z: T) -> T {
    z.max(T::ZERO) + (-z.abs()).exp().ln_1p()
}

impl Activation {
    /// All activations, in the order the CLI lists them.
    pub const ALL: [Activation; 7] = [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Gelu,
        Activation::Softplus,
    ];

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
        }
    }

    /// `f(z)`.
    #[inline(always)]
    pub fn forward<T: Element>(self, z: T) -> T {
        match self {
            Activation::Identity => z,
            Activation::Relu => z.max(T::ZERO),
            Activation::LeakyRelu => {
                if z > T::ZERO {
                    z
                } else {
                    T::from_f64(LEAKY_RELU_SLOPE) * z
                }
            }
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh(),
            // 0.5 z (1 + tanh u) = z sigmoid(2u): no cancellation where tanh u nears -1.
            Activation::Gelu => z * sigmoid(T::from_f64(2.0) * gelu_inner(z)),
            Activation::Softplus => softplus(z),
        }
    }

    /// `f'(z)`, given the pre-activation `z` and the output `a = f(z)`. Every current activation
    /// computes it from `z` (from `a`, sigmoid's `a (1 - a)` and tanh's `1 - a^2` lose all
    /// precision where `a` nears 1); `a` stays in the signature, as in the backend op, for
    /// activations whose derivative is cheaper from the output.
    #[inline(always)]
    pub fn derivative<T: Element>(self, z: T, _a: T) -> T {
        match self {
            Activation::Identity => T::ONE,
            Activation::Relu => {
                if z > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            Activation::LeakyRelu => {
                if z > T::ZERO {
                    T::ONE
                } else {
                    T::from_f64(LEAKY_RELU_SLOPE)
                }
            }
            // From z, not from a: a (1 - a) and 1 - a^2 cancel catastrophically where a is
            // near 1, so large |z| would lose all precision.
            Activation::Sigmoid => {
                let t = (-z.abs()).exp();
                t / ((T::ONE + t) * (T::ONE + t))
            }
            Activation::Tanh => {
                let t = (T::from_f64(-2.0) * z.abs()).exp();
                T::from_f64(4.0) * t / ((T::ONE + t) * (T::ONE + t))
            }
            Activation::Gelu => {
                // d/dz [z sigmoid(2u)] = s + z 2 s (1 - s) u', with s (1 - s) = t / (1 + t)^2,
                // t = e^(-|2u|), free of cancellation.
                let two_u = T::from_f64(2.0) * gelu_inner(z);
                let t = (-two_u.abs()).exp();
                let ds = t / ((T::ONE + t) * (T::ONE + t));
                let du = T::from_f64(GELU_C) * (T::ONE + T::from_f64(3.0 * GELU_A) * z * z);
                sigmoid(two_u) + T::from_f64(2.0) * z * ds * du
            }
            Activation::Softplus => sigmoid(z),
        }
    }

    /// Whether `f` is the identity (lets a model skip the elementwise pass).
    pub fn is_identity(self) -> bool {
        self == Activation::Identity
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == key || (key == "linear" && *a == Activation::Identity))
            .ok_or_else(|| {
                let names: Vec<_> = Activation::ALL.iter().map(|a| a.name()).collect();
                Error::Config(format!(
                    "unknown activation '{s}': expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Elementwise activations and their backward.
pub trait ActivationOps: TensorOps {
    /// `a = f(z)` elementwise, same shapes.
    fn activation(&self, act: Activation, z: &Self::Tensor, a: &mut Self::Tensor);
    /// A layer's epilogue in one pass: `z[i, j] += bias[0, j]`, then `a = f(z)`; `z`, `a`
    /// `[rows, cols]`, `bias` `[1, cols]`. The same values as
    /// [`crate::ops::LinearOps::add_bias`] then [`ActivationOps::activation`].
    fn bias_activation(
        &self,
        act: Activation,
        z: &mut Self::Tensor,
        bias: &Self::Tensor,
        a: &mut Self::Tensor,
    );
    /// A layer's forward: `z = x op(w) + bias`, then `a = f(z)`; `x` `[rows, in]`, `op(w)`
    /// `[in, out]` (`w` `[out, in]` with `trans_w`, as `nn.Linear` stores it), `bias` `[1, out]`,
    /// `z`, `a` `[rows, out]`. The same values as [`crate::ops::LinearOps::matmul`] (alpha 1,
    /// beta 0) then [`ActivationOps::bias_activation`], which is what it does unless a backend
    /// fuses them (wgpu: the bias and activation in the matmul's store, one dispatch).
    #[allow(clippy::too_many_arguments)]
    fn linear_activation(
        &self,
        act: Activation,
        x: &Self::Tensor,
        w: &Self::Tensor,
        trans_w: bool,
        bias: &Self::Tensor,
        z: &mut Self::Tensor,
        a: &mut Self::Tensor,
    ) where
        Self: crate::ops::LinearOps,
    {
        self.matmul(x, false, w, trans_w, 1.0, 0.0, z);
        self.bias_activation(act, z, bias, a);
    }
    /// The epilogue's backward in one pass: `grad *= f'(z)` in place (given `a = f(z)`), then
    /// `db[0, j] = sum_i grad[i, j]`; `z`, `a`, `grad` `[rows, cols]`, `db` `[1, cols]`. The same
    /// values as [`ActivationOps::activation_backward`] then
    /// [`crate::ops::LinearOps::bias_grad`].
    fn activation_bias_backward(
        &self,
        act: Activation,
        z: &Self::Tensor,
        a: &Self::Tensor,
        grad: &mut Self::Tensor,
        db: &mut Self::Tensor,
    );
    /// The backward of [`ActivationOps::activation`], in place: `grad *= f'(z)` (given
    /// `a = f(z)`), same shapes.
    fn activation_backward(
        &self,
        act: Activation,
        z: &Self::Tensor,
        a: &Self::Tensor,
        grad: &mut Self::Tensor,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_matches_central_difference_in_f64() {
        let points = [-3.1, -0.7, -0.05, 0.03, 0.4, 1.3, 4.2];
        for act in Activation::ALL {
            for &z in &points {
                let h = 1e-6;
                let numeric = (act.forward(z + h) - act.forward(z - h)) / (2.0 * h);
                let analytic = act.derivative(z, act.forward(z));
                let err = (numeric - analytic).abs() / analytic.abs().max(1e-3);
                assert!(err < 1e-6, "{act} at {z}: {analytic} vs {numeric}");
            }
        }
    }

    /// f32 forward and derivative stay within 2e-6 of f64 on [-4, 4], including where a naive
    /// formula cancels (gelu near z = -4, sigmoid' and tanh' at |z| = 4). Beyond that, f32's
    /// rounding of the exponent's argument alone exceeds this (exp amplifies it by |argument|).
    #[test]
    fn f32_matches_f64_without_cancellation() {
        for act in Activation::ALL {
            // Steps of 1/16 are exact in f32, so both precisions see the same z.
            for i in -64..=64 {
                let z = i as f64 / 16.0;
                let (f32_val, f64_val) = (act.forward(z as f32) as f64, act.forward(z));
                let (d32, d64) = (act.derivative(z as f32, 0.0) as f64, act.derivative(z, 0.0));
                // Forward: relative. Derivative: relative above 0.01 and absolute below, since
                // GELU's derivative crosses zero near z = -0.75, where no relative error means
                // anything.
                for (got, want, floor, what) in [
                    (f32_val, f64_val, 1e-30, "forward"),
                    (d32, d64, 1e-2, "derivative"),
                ] {
                    let err = (got - want).abs() / want.abs().max(floor);
                    assert!(err < 2e-6, "{act} {what} at {z}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn stable_at_extremes() {
        assert!(sigmoid(-1000.0f32) >= 0.0 && sigmoid(-1000.0f32) < 1e-37);
        assert_eq!(sigmoid(-1000.0f64), 0.0);
        assert_eq!(sigmoid(1000.0f32), 1.0);
        assert!((softplus(1000.0f64) - 1000.0).abs() < 1e-9);
        assert!(softplus(-1000.0f64) >= 0.0);
    }

    #[test]
    fn parses_names_and_rejects_unknown() {
        assert_eq!(
            "leaky-relu".parse::<Activation>().unwrap(),
            Activation::LeakyRelu
        );
        assert_eq!(
            "linear".parse::<Activation>().unwrap(),
            Activation::Identity
        );
        let err = "swish".parse::<Activation>().unwrap_err().to_string();
        assert!(err.contains("swish") && err.contains("relu"), "{err}");
    }
}
