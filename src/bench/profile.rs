//! `ae bench --profile`: a training step's time per kernel, its arithmetic rate and, where the
//! device is known, the fraction of its fp32 peak.

use ae_core::backend::{KernelTime, Profile, ProfileClock};
use ae_core::{Backend, Result};

/// Profiles up to `steps` full steps of a run's first epoch, from the end of its second step
/// (the first steps allocate and build pipelines; the last may be a partial batch). Feed it
/// every `TrainEvent::Step`; [`Self::profile`] holds the result once the window closes.
pub struct ProfileWindow {
    steps: usize,
    /// While profiling: the step it ends at and the steps it spans.
    open: Option<(usize, usize)>,
    profile: Option<StepProfile>,
}

impl ProfileWindow {
    /// A window of at most `steps` steps (0: never opens).
    pub fn new(steps: usize) -> ProfileWindow {
        ProfileWindow {
            steps,
            open: None,
            profile: None,
        }
    }

    /// Step `step` (1-based) of epoch `epoch` of `steps_per_epoch` ended on `backend`.
    pub fn on_step<B: Backend>(
        &mut self,
        backend: &B,
        epoch: usize,
        step: usize,
        steps_per_epoch: usize,
    ) -> Result<()> {
        if epoch != 1 {
            return Ok(());
        }
        let steps = self.steps.min(steps_per_epoch.saturating_sub(3));
        if step == 2 && steps > 0 && backend.start_profile()? {
            self.open = Some((step + steps, steps));
        }
        if let Some((_, steps)) = self.open.filter(|&(end, _)| end == step) {
            self.open = None;
            self.profile = backend
                .finish_profile()?
                .map(|p| StepProfile::new(p, steps, &backend.name()));
        }
        Ok(())
    }

    /// The profile, once taken.
    pub fn take(&mut self) -> Option<StepProfile> {
        self.profile.take()
    }
}

/// Known fp32 (non-tensor-core) peaks, TFLOP/s, by a name fragment of the adapter (matched
/// case-insensitively, first match wins; more specific names first).
pub const FP32_PEAKS: &[(&str, f64)] = &[
    ("H200", 67.0),
    ("H100", 67.0),
    ("A100", 19.5),
    ("RTX 4090", 82.6),
    ("Apple M2", 3.6),
];

/// The known fp32 peak of the device named `name`: the table's name and TFLOP/s.
pub fn fp32_peak(name: &str) -> Option<(&'static str, f64)> {
    let lower = name.to_lowercase();
    FP32_PEAKS
        .iter()
        .find(|(fragment, _)| lower.contains(&fragment.to_lowercase()))
        .copied()
}

/// One kernel's share of a training step.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct KernelRow {
    /// The kernel (WGSL entry point or CPU op).
    pub kernel: String,
    /// Times it runs per step.
    pub calls_per_step: f64,
    /// Its milliseconds per step.
    pub ms_per_step: f64,
    /// Its fraction of all kernels' time.
    pub share: f64,
    /// Its arithmetic rate, where its operations are counted (matrix products).
    pub gflops: Option<f64>,
    /// `gflops` as a fraction of the device's fp32 peak, where both are known.
    pub peak_fraction: Option<f64>,
}

/// What `ae bench --profile` reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StepProfile {
    /// How the times were taken: `timestamps` (device time) or `wall` (each kernel waited
    /// for, so launch costs included).
    pub clock: ProfileClock,
    /// Training steps profiled (of the warm-up epoch, so the timed epochs run unprofiled).
    pub steps: usize,
    /// All kernels' milliseconds per step.
    pub kernel_ms_per_step: f64,
    /// The device's fp32 peak the fractions use: `[name, TFLOP/s]`.
    pub peak: Option<(String, f64)>,
    /// One row per kernel, most time first.
    pub kernels: Vec<KernelRow>,
}

impl StepProfile {
    /// The per-step view of `profile`, taken over `steps` steps on the device `device_name`.
    pub fn new(profile: Profile, steps: usize, device_name: &str) -> StepProfile {
        let steps_f = steps.max(1) as f64;
        let total: f64 = profile.kernels.iter().map(|k| k.seconds).sum();
        let peak = fp32_peak(device_name);
        let kernels = profile
            .kernels
            .iter()
            .map(|k: &KernelTime| {
                let gflops = (k.flops > 0.0 && k.seconds > 0.0).then(|| k.flops / k.seconds / 1e9);
                KernelRow {
                    kernel: k.kernel.to_string(),
                    calls_per_step: k.calls as f64 / steps_f,
                    ms_per_step: k.seconds * 1e3 / steps_f,
                    share: if total > 0.0 { k.seconds / total } else { 0.0 },
                    gflops,
                    peak_fraction: gflops.zip(peak).map(|(g, (_, tflops))| g / (tflops * 1e3)),
                }
            })
            .collect();
        StepProfile {
            clock: profile.clock,
            steps,
            kernel_ms_per_step: total * 1e3 / steps_f,
            peak: peak.map(|(n, t)| (n.to_string(), t)),
            kernels,
        }
    }
}

impl std::fmt::Display for StepProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clock = match self.clock {
            ProfileClock::Timestamps => "GPU timestamps",
            ProfileClock::Wall => "wall time, each kernel waited for",
        };
        write!(
            f,
            "    profile of {} steps ({clock}): kernels {:.3} ms per step",
            self.steps, self.kernel_ms_per_step
        )?;
        if let Some((name, tflops)) = &self.peak {
            write!(f, "; peak fp32 of {name}: {tflops} TFLOP/s")?;
        }
        write!(
            f,
            "\n    {:<26} {:>9} {:>10} {:>7} {:>10} {:>7}",
            "kernel", "per step", "ms/step", "share", "GFLOP/s", "of peak"
        )?;
        for k in &self.kernels {
            let gflops = k.gflops.map_or("-".into(), |g| format!("{g:.1}"));
            let peak = k
                .peak_fraction
                .map_or("-".into(), |p| format!("{:.1}%", p * 100.0));
            write!(
                f,
                "\n    {:<26} {:>9.1} {:>10.4} {:>6.1}% {:>10} {:>7}",
                k.kernel,
                k.calls_per_step,
                k.ms_per_step,
                k.share * 100.0,
                gflops,
                peak
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_match_adapter_names_case_insensitively() {
        assert_eq!(fp32_peak("NVIDIA H200"), Some(("H200", 67.0)));
        assert_eq!(fp32_peak("nvidia a100-sxm4-80gb"), Some(("A100", 19.5)));
        assert_eq!(
            fp32_peak("NVIDIA GeForce RTX 4090"),
            Some(("RTX 4090", 82.6))
        );
        assert_eq!(fp32_peak("llvmpipe (LLVM 15.0.6, 256 bits)"), None);
    }

    #[test]
    fn a_profile_is_divided_per_step_with_rates_and_peak_fractions() {
        let profile = Profile {
            clock: ProfileClock::Timestamps,
            kernels: vec![
                KernelTime {
                    kernel: "matmul",
                    calls: 20,
                    seconds: 0.003,
                    flops: 6.7e10, // 6.7e10 / 0.003 s = 22,333 GFLOP/s
                },
                KernelTime {
                    kernel: "adam_step",
                    calls: 24,
                    seconds: 0.001,
                    flops: 0.0,
                },
            ],
        };
        let p = StepProfile::new(profile, 2, "NVIDIA H100 80GB HBM3");
        assert_eq!(p.steps, 2);
        assert!((p.kernel_ms_per_step - 2.0).abs() < 1e-12);
        assert_eq!(p.peak, Some(("H100".to_string(), 67.0)));
        let mm = &p.kernels[0];
        assert_eq!((mm.kernel.as_str(), mm.calls_per_step), ("matmul", 10.0));
        assert!((mm.ms_per_step - 1.5).abs() < 1e-12);
        assert!((mm.share - 0.75).abs() < 1e-12);
        let g = mm.gflops.unwrap();
        assert!((g - 6.7e10 / 0.003 / 1e9).abs() < 1e-6, "{g}");
        assert!((mm.peak_fraction.unwrap() - g / 67_000.0).abs() < 1e-12);
        let adam = &p.kernels[1];
        assert_eq!((adam.gflops, adam.peak_fraction), (None, None));
        let text = p.to_string();
        assert!(
            text.contains("matmul") && text.contains("adam_step"),
            "{text}"
        );
        assert!(text.contains("33.3%"), "matmul's share of peak: {text}");
    }
}
