//! The words a run and a step end with, in one place: `run.json`, the history, the status
//! page and the terminal all spell them from here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a step execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Success,
    Failure,
    TimedOut,
    Skipped,
    Cancelled,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Success => "success",
            StepStatus::Failure => "failure",
            StepStatus::TimedOut => "timed_out",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }

    /// Failure and timeout count as failed; a skip or a cancellation does not.
    pub fn is_failed(self) -> bool {
        matches!(self, StepStatus::Failure | StepStatus::TimedOut)
    }
}

/// The outcome of a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Success,
    Failure,
    TimedOut,
    Cancelled,
    // The process running it went away before it ended (a crash, `kill -9`, a reboot):
    // found by the history, never written by the run itself. (A plain comment keeps the
    // schema's enum a plain list.)
    Interrupted,
}

impl RunStatus {
    /// Every status, in the order people read them.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Failure,
        RunStatus::TimedOut,
        RunStatus::Cancelled,
        RunStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// The status a word names (as [`RunStatus::as_str`] spells it).
    pub fn parse(word: &str) -> Option<RunStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
}
