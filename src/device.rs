//! Run-time backend choice: one enum of the compiled backends, matched exhaustively, so a new
//! backend fails to compile until every `match` handles it.

use ae_core::prelude::*;
use ae_core::{Backend, Error, Result};
use ae_cpu::CpuBackend;
use ae_wgpu::{AdapterChoice, WgpuBackend};
use std::fmt;
use std::str::FromStr;

/// What the user asked for (`--backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// A hardware GPU through wgpu when there is one, otherwise the CPU (a software adapter such
    /// as lavapipe is far slower than the CPU backend, so `auto` never takes one).
    Auto,
    /// The CPU backend.
    Cpu,
    /// The wgpu backend, on the best adapter (a software one if that is all there is).
    Wgpu,
}

impl FromStr for BackendChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "cpu" => Ok(BackendChoice::Cpu),
            "wgpu" | "gpu" => Ok(BackendChoice::Wgpu),
            other => Err(Error::Config(format!(
                "unknown backend '{other}': expected auto, cpu or wgpu"
            ))),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Cpu => "cpu",
            BackendChoice::Wgpu => "wgpu",
        })
    }
}

/// Work that runs on whichever backend was chosen: generic, so it is monomorphised per backend.
pub trait Job {
    /// What the work returns.
    type Output;
    /// Runs the work on `backend`.
    fn run<B: Backend>(self, backend: &B) -> Result<Self::Output>;
}

/// A compiled backend, chosen at run time.
pub enum Device {
    /// The CPU backend in f32.
    Cpu(CpuBackend<f32>),
    /// The wgpu backend.
    Wgpu(Box<WgpuBackend>),
}

impl Device {
    /// Opens the backend `choice` names (with `adapter` picking a wgpu adapter by name). Returns
    /// the device and one line saying which backend was taken and why.
    pub fn open(choice: BackendChoice, adapter: Option<&str>) -> Result<(Device, String)> {
        let wanted = AdapterChoice {
            name: adapter.map(str::to_string),
            ..AdapterChoice::default()
        };
        Device::open_with(choice, wanted)
    }

    /// [`Device::open`] with every wgpu setting given (adapter name, matmul tuning, tuning cache
    /// directory); `hardware_only` is set for `auto`.
    pub fn open_with(choice: BackendChoice, mut wanted: AdapterChoice) -> Result<(Device, String)> {
        match choice {
            BackendChoice::Cpu => Ok((Device::Cpu(CpuBackend::new()), "asked for".into())),
            BackendChoice::Auto => {
                wanted.hardware_only = true;
                match WgpuBackend::new(&wanted) {
                    Ok(gpu) => Ok((Device::Wgpu(Box::new(gpu)), "auto: a hardware GPU".into())),
                    Err(e) => Ok((
                        Device::Cpu(CpuBackend::new()),
                        format!("auto: no hardware GPU, so the CPU ({e})"),
                    )),
                }
            }
            BackendChoice::Wgpu => {
                let gpu = WgpuBackend::new(&wanted)?;
                let why = if gpu.is_software() {
                    "asked for; only a software adapter is available: correct but slower than --backend cpu"
                } else {
                    "asked for"
                };
                Ok((Device::Wgpu(Box::new(gpu)), why.into()))
            }
        }
    }

    /// The backend's description.
    pub fn name(&self) -> String {
        match self {
            Device::Cpu(b) => b.name(),
            Device::Wgpu(b) => b.name(),
        }
    }

    /// Runs `job` on this backend.
    pub fn run<J: Job>(&self, job: J) -> Result<J::Output> {
        match self {
            Device::Cpu(b) => job.run(b),
            Device::Wgpu(b) => job.run(b.as_ref()),
        }
    }
}
