//! The closed sets of values the flags take, as `clap::ValueEnum`s, so that `--help` lists them
//! and clap refuses any other value naming the flag. Each maps onto the library's type; the
//! library stays free of clap. The names are the library's own (its `FromStr` and its config
//! files), which a test holds them to.

use ae_core::data::normalize::Normalization;
use ae_core::interop::SaeFormat;
use ae_core::{Activation, CodeProducts, Loss, LrSchedule, OptimizerKind, Reduction, SynthKind};
use clap::ValueEnum;

/// One `ValueEnum` per library enum, with the conversions both ways (the one into the flag's
/// type is exhaustive, so a variant added to the library fails to compile until it is here).
macro_rules! value_enum {
    ($(#[$meta:meta])* $name:ident => $lib:ty {
        $($(#[$vmeta:meta])* $variant:ident => $lib_variant:path,)+
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl From<$name> for $lib {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$variant => $lib_variant,)+
                }
            }
        }

        impl From<$lib> for $name {
            fn from(v: $lib) -> Self {
                match v {
                    $($lib_variant => $name::$variant,)+
                }
            }
        }
    };
}

value_enum! {
    /// `--activation`, `--code-activation`, `--output`.
    ActivationArg => Activation {
        #[value(alias = "linear")]
        Identity => Activation::Identity,
        Relu => Activation::Relu,
        #[value(name = "leaky_relu", alias = "leaky-relu")]
        LeakyRelu => Activation::LeakyRelu,
        Sigmoid => Activation::Sigmoid,
        Tanh => Activation::Tanh,
        Gelu => Activation::Gelu,
        Softplus => Activation::Softplus,
    }
}

value_enum! {
    /// `--vae-score`: a variational model's anomaly score.
    VaeScoreArg => ae::anomaly::VaeScore {
        #[value(name = "elbo")]
        NegativeElbo => ae::anomaly::VaeScore::NegativeElbo,
        Reconstruction => ae::anomaly::VaeScore::Reconstruction,
    }
}

value_enum! {
    /// `--code-products`.
    CodeProductsArg => CodeProducts {
        Auto => CodeProducts::Auto,
        Dense => CodeProducts::Dense,
        Sparse => CodeProducts::Sparse,
    }
}

value_enum! {
    /// `--loss`.
    LossArg => Loss {
        Mse => Loss::Mse,
        Bce => Loss::Bce,
    }
}

value_enum! {
    /// `--reduction`.
    ReductionArg => Reduction {
        Mean => Reduction::Mean,
        Sum => Reduction::Sum,
        HalfSum => Reduction::HalfSum,
    }
}

value_enum! {
    /// `--optimizer`.
    OptimizerArg => OptimizerKind {
        Adam => OptimizerKind::Adam,
        #[value(name = "adamw")]
        AdamW => OptimizerKind::AdamW,
        Sgd => OptimizerKind::Sgd,
    }
}

value_enum! {
    /// `--normalize`.
    NormalizeArg => Normalization {
        None => Normalization::None,
        #[value(name = "minmax")]
        MinMax => Normalization::MinMax,
        Standard => Normalization::Standard,
        Robust => Normalization::Robust,
    }
}

value_enum! {
    /// `ae synth`'s dataset.
    SynthArg => SynthKind {
        #[value(alias = "swiss_roll", alias = "swissroll")]
        SwissRoll => SynthKind::SwissRoll,
        #[value(alias = "s_curve", alias = "scurve")]
        SCurve => SynthKind::SCurve,
        Blobs => SynthKind::Blobs,
        Gaussian => SynthKind::Gaussian,
    }
}

value_enum! {
    /// `ae export --format`.
    SaeFormatArg => SaeFormat {
        #[value(name = "saelens")]
        SaeLens => SaeFormat::SaeLens,
        Sparsify => SaeFormat::Sparsify,
    }
}

/// `--schedule`: the learning-rate schedule's shape (its steps come from `--warmup`). (The
/// variants have no doc comments: those would make `--help` list each value on a line of its
/// own, and switch the whole of `ae train --help` to clap's long layout.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    // The peak rate throughout.
    Constant,
    // Linear warmup over `--warmup` steps, then cosine decay to 1% of the peak.
    Cosine,
}

impl ScheduleArg {
    /// The schedule, with `warmup_steps` of warmup for `cosine`.
    pub fn schedule(self, warmup_steps: usize) -> LrSchedule {
        match self {
            ScheduleArg::Constant => LrSchedule::Constant,
            ScheduleArg::Cosine => LrSchedule::WarmupCosine {
                warmup_steps,
                final_fraction: 0.01,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Debug;
    use std::str::FromStr;

    /// Every name and alias of every value parses, through the library's `FromStr`, to the value
    /// it maps onto, and every library value maps back: the CLI's names are the library's.
    fn names_are_the_library_s<A, L>(library: &[L])
    where
        A: ValueEnum + Copy + Debug + PartialEq + From<L>,
        L: FromStr + Copy + Debug + PartialEq + From<A>,
        L::Err: Debug,
    {
        for &a in A::value_variants() {
            let value = a.to_possible_value().expect("no value is hidden");
            for name in value.get_name_and_aliases() {
                let parsed = L::from_str(name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert_eq!(parsed, L::from(a), "{name}");
            }
        }
        assert_eq!(A::value_variants().len(), library.len());
        for &l in library {
            assert_eq!(L::from(A::from(l)), l);
        }
    }

    #[test]
    fn every_flag_value_is_the_library_s_name() {
        names_are_the_library_s::<ActivationArg, _>(&Activation::ALL);
        names_are_the_library_s::<LossArg, _>(&[Loss::Mse, Loss::Bce]);
        names_are_the_library_s::<ReductionArg, _>(&[
            Reduction::Mean,
            Reduction::Sum,
            Reduction::HalfSum,
        ]);
        names_are_the_library_s::<OptimizerArg, _>(&[
            OptimizerKind::Sgd,
            OptimizerKind::Adam,
            OptimizerKind::AdamW,
        ]);
        names_are_the_library_s::<NormalizeArg, _>(&[
            Normalization::None,
            Normalization::MinMax,
            Normalization::Standard,
            Normalization::Robust,
        ]);
        names_are_the_library_s::<SynthArg, _>(&SynthKind::ALL);
        names_are_the_library_s::<SaeFormatArg, _>(&SaeFormat::ALL);
    }

    #[test]
    fn schedules() {
        assert_eq!(ScheduleArg::Constant.schedule(7), LrSchedule::Constant);
        assert_eq!(
            ScheduleArg::Cosine.schedule(7),
            LrSchedule::WarmupCosine {
                warmup_steps: 7,
                final_fraction: 0.01
            }
        );
    }
}
