//! The one error type of `ae-core`: every failure names what it was reading and what was expected.

use std::path::PathBuf;

/// Everything that can go wrong in `ae-core`, as a value (no panics on bad input).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed at the OS level.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A data file is malformed: `place` says where (line and column, byte offset, header field).
    #[error("{path}: {place}: {message}")]
    Format {
        path: PathBuf,
        place: String,
        message: String,
    },
    /// Shapes that must agree do not.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A configuration value is out of range or unknown.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A saved model does not match its own config or the data it is used with.
    #[error("{path}: {message}")]
    Model { path: PathBuf, message: String },
    /// Training produced a non-finite loss.
    #[error("training diverged: {0}")]
    Diverged(String),
    /// The run was stopped on request (Ctrl-C): where it stopped and what was kept.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// The backend (device) failed or cannot hold what was asked of it.
    #[error("backend: {0}")]
    Backend(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A [`Error::Format`] for `path` at `place`.
    pub fn format(
        path: impl Into<PathBuf>,
        place: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Format {
            path: path.into(),
            place: place.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
