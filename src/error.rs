//! The error type of the command line, and the exit codes that come from it.
//!
//! Exit codes (product spec §5): 0 success, 1 the run or the validation failed, 2 bad input
//! or setup. A failed run is not an error here, it is an [`Outcome`]; every [`Error`] is a
//! problem with what the user gave us or with the machine, so it exits 2.

use crate::source::ReadError;
use crate::task::TaskError;

/// What a command achieved when it ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// The run or validation failed: exit 1.
    Failed,
    /// A signal stopped the run (its report is written): exit 128 + the signal's number,
    /// as shells report it (130 for Ctrl-C, 143 for SIGTERM).
    Stopped(i32),
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failed => 1,
            Outcome::Stopped(signal) => u8::try_from(128 + signal).unwrap_or(1),
        }
    }
}

/// Bad input or setup: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A playbook with errors; the diagnostics are already rendered.
    #[error("{path} is not a valid playbook:\n\n{rendered}")]
    InvalidPlaybook { path: String, rendered: String },
    /// A worker config with errors; the diagnostics are already rendered.
    #[error("{path} is not a valid worker config:\n\n{rendered}")]
    InvalidConfig { path: String, rendered: String },
    #[error("{0}")]
    Setup(String),
    /// An error already shown to the user; only its exit code is left to give.
    #[error("{0}")]
    Reported(Box<Error>),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl From<crate::engine::prepare::PrepareError> for Error {
    fn from(e: crate::engine::prepare::PrepareError) -> Self {
        use crate::engine::prepare::PrepareError;
        match e {
            PrepareError::Invalid { path, rendered } => Error::InvalidPlaybook { path, rendered },
            PrepareError::Internal(_) => Error::Setup(e.to_string()),
        }
    }
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        2
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
