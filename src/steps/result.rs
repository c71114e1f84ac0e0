//! The state of a run in progress: each step's latest result, as templates see it.

use std::collections::BTreeMap;
use std::time::Duration;

use minijinja::Value;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::status::StepStatus;
use crate::process::capture::Captured;
use crate::process::{Ending, Finished};

/// What one step execution produced.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub captured: Captured,
    pub duration: Duration,
    /// Whether the checkout changed (a commit or a modified file).
    pub changed: bool,
    /// Why it failed, timed out or was skipped.
    pub message: Option<String>,
    /// Outputs of the kind (`pr_open`: `number`, `url`, `created`).
    pub outputs: BTreeMap<String, Value>,
    /// The pull request a `pr_open` step opened or updated.
    pub pr: Option<PrRef>,
    /// Whether a log file was written.
    pub logged: bool,
    /// The model an `aider` step used.
    pub model: Option<String>,
    /// The test counts a `shell` step's output shows.
    pub tests: Option<super::tests_count::TestCounts>,
    /// What an `aider` step showed the model, and why.
    pub context: Option<Box<crate::context::Selection>>,
}

impl StepResult {
    pub fn with_status(status: StepStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            exit_code: None,
            captured: Captured::default(),
            duration: Duration::ZERO,
            changed: false,
            message: Some(message.into()),
            outputs: BTreeMap::new(),
            pr: None,
            logged: false,
            model: None,
            tests: None,
            context: None,
        }
    }

    pub fn skipped(message: impl Into<String>) -> Self {
        Self::with_status(StepStatus::Skipped, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::with_status(StepStatus::Failure, message)
    }

    pub fn success() -> Self {
        Self {
            message: None,
            ..Self::with_status(StepStatus::Success, "")
        }
    }

    /// The result of a process: exit 0 is success, anything else says how it ended.
    pub fn from_process(f: Finished, limit: Option<Duration>) -> Self {
        let (status, exit_code) = match f.ending {
            Ending::Exited(0) => (StepStatus::Success, Some(0)),
            Ending::Exited(c) => (StepStatus::Failure, Some(c)),
            Ending::Signaled(_) => (StepStatus::Failure, None),
            Ending::TimedOut => (StepStatus::TimedOut, None),
            Ending::Cancelled => (StepStatus::Cancelled, None),
            Ending::Stopped => (StepStatus::Failure, None),
        };
        Self {
            status,
            exit_code,
            message: (status != StepStatus::Success).then(|| f.ending.describe(limit)),
            captured: f.captured,
            duration: f.duration,
            changed: false,
            outputs: BTreeMap::new(),
            pr: None,
            logged: true,
            model: None,
            tests: None,
            context: None,
        }
    }

    /// `steps.<id>` as templates see it.
    pub fn to_value(&self) -> Value {
        let mut map: BTreeMap<String, Value> = BTreeMap::from([
            ("status".into(), Value::from(self.status.as_str())),
            ("ok".into(), Value::from(self.status == StepStatus::Success)),
            ("failed".into(), Value::from(self.status.is_failed())),
            (
                "exit_code".into(),
                self.exit_code.map_or(Value::from(()), Value::from),
            ),
            ("stdout".into(), Value::from(self.captured.stdout.as_str())),
            ("stderr".into(), Value::from(self.captured.stderr.as_str())),
            ("output".into(), Value::from(self.captured.output.as_str())),
            ("duration_ms".into(), Value::from(millis(self.duration))),
            ("changed".into(), Value::from(self.changed)),
        ]);
        map.extend(self.outputs.clone());
        Value::from(map)
    }

    /// `steps.<id>` of a step that has not run (yet).
    pub fn not_run_value(kind: &str) -> Value {
        let mut r = Self::skipped("");
        if kind == "pr_open" {
            r.outputs = pr_outputs(None);
        }
        if kind == "shell" {
            r.outputs.insert("tests".into(), Value::from(()));
        }
        r.to_value()
    }
}

/// The outputs of `pr_open`; null until a pull request exists.
pub fn pr_outputs(pr: Option<&PrRef>) -> BTreeMap<String, Value> {
    BTreeMap::from([
        (
            "number".into(),
            pr.map_or(Value::from(()), |p| Value::from(p.number)),
        ),
        (
            "url".into(),
            pr.map_or(Value::from(()), |p| Value::from(p.url.as_str())),
        ),
        ("created".into(), Value::from(pr.is_some_and(|p| p.created))),
    ])
}

pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrRef {
    pub number: u64,
    pub url: String,
    /// True when this run opened it, false when it updated one already open.
    pub created: bool,
}
