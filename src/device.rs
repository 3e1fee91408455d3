//! Run-time backend choice: one enum of the compiled backends, matched exhaustively, so a new
//! backend fails to compile until every `match` handles it.

use ae_core::{Backend, Error, Result};
use ae_cpu::CpuBackend;
use std::fmt;
use std::str::FromStr;

/// What the user asked for (`--backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// A real GPU when there is one, otherwise the CPU.
    Auto,
    /// The CPU backend.
    Cpu,
    /// The wgpu backend.
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
}

impl Device {
    /// Opens the backend `choice` names. Returns the device and one line saying which backend
    /// was taken and why.
    pub fn open(choice: BackendChoice) -> Result<(Device, String)> {
        match choice {
            BackendChoice::Cpu => Ok((Device::Cpu(CpuBackend::new()), "cpu: asked for".into())),
            BackendChoice::Auto => Ok((
                Device::Cpu(CpuBackend::new()),
                "cpu: auto picks the CPU (this build has no GPU backend yet)".into(),
            )),
            BackendChoice::Wgpu => Err(Error::Backend(
                "the wgpu backend is not implemented in this build yet; use --backend cpu".into(),
            )),
        }
    }

    /// The backend's description.
    pub fn name(&self) -> String {
        match self {
            Device::Cpu(b) => b.name(),
        }
    }

    /// Runs `job` on this backend.
    pub fn run<J: Job>(&self, job: J) -> Result<J::Output> {
        match self {
            Device::Cpu(b) => job.run(b),
        }
    }
}
