//! What becomes of a delivery: pure decisions from (task state, message, run report,
//! settings), with no queue, disk or GitHub in sight. `handle.rs` carries them out.
//!
//! The rules, in the order a delivery meets them:
//! - before a run, the task's state file decides: a task done is deleted; one given up on
//!   goes to the dead-letter queue (unless a redrive brought it back with a new message id:
//!   then it starts over with a fresh budget); one whose run ended but was not reported is
//!   only reported; one out of deliveries or time is given up on; otherwise it runs with
//!   what is left of its budget.
//! - after a run, its report decides: cancelled on request is a final result (reported);
//!   cancelled by a shutdown runs again on the next delivery (or is given up on, on the last
//!   one); a run whose result reached the issue (a pull request, a comment step after the
//!   failure) or that succeeded is done; any other failure is reported by the worker.
//! - a problem that may pass (fetch, worktree, GitHub down) is tried again after
//!   `retry_delay`, handed back at once while the worker stops, and given up on at the last
//!   allowed delivery.

use std::time::Duration;

use super::state::{Phase, TaskState};
use crate::engine::report::{RunReport, RunStatus};
use crate::steps::result::StepStatus;

/// What becomes of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// A final result: delete it.
    Delete(&'static str),
    /// Hand it back after `after` (zero: at once, for the redrive policy to take it).
    Release { after: Duration, why: &'static str },
}

/// Hands a message back at once.
pub(crate) fn release_now(why: &'static str) -> Disposition {
    Disposition::Release {
        after: Duration::ZERO,
        why,
    }
}

/// The delivery being handled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivery<'a> {
    pub message_id: &'a str,
    /// How many times SQS delivered the message (1 the first time).
    pub receive_count: u32,
}

/// What to do with a task before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Before {
    /// An earlier delivery finished it: delete the message.
    Done,
    /// An earlier delivery gave up on it: hand the message to the dead-letter queue.
    GivenUp,
    /// The run ended but its result did not reach the issue: report `why` only.
    ReportOnly { why: String },
    /// No deliveries or time left: give up, saying why.
    GiveUp { why: String },
    /// Run with `budget` left; `interrupted` earlier runs did not finish; `fresh`: a
    /// redriven task starts its budget over.
    Run {
        budget: Duration,
        interrupted: usize,
        fresh: bool,
    },
}

/// Decides what a delivery does with a task in state `st`, whose playbook allows `timeout`.
pub(crate) fn before_run(
    st: &TaskState,
    msg: Delivery<'_>,
    max_receives: u32,
    timeout: Duration,
) -> Before {
    let mut fresh = false;
    match st.phase {
        Phase::Done => return Before::Done,
        // A new message for a task given up on: redriven from the dead-letter queue (which
        // gives messages new ids) after a fix. It gets a fresh budget.
        Phase::GaveUp if st.last_message.as_deref() != Some(msg.message_id) => fresh = true,
        Phase::GaveUp => return Before::GivenUp,
        Phase::Finished => {
            return Before::ReportOnly {
                why: st
                    .failure
                    .clone()
                    .unwrap_or_else(|| "The run failed.".into()),
            };
        }
        Phase::Running => {}
    }
    let (spent, interrupted) = if fresh {
        (Duration::ZERO, 0)
    } else {
        let interrupted = st.runs[st.budget_from.min(st.runs.len())..]
            .iter()
            .filter(|r| r.status.is_none())
            .count();
        (Duration::from_millis(st.spent_ms), interrupted)
    };
    if spent >= timeout {
        return Before::GiveUp {
            why: format!(
                "its time budget ({}) is spent: {interrupted} runs were interrupted (the worker crashed or was stopped)",
                humantime::format_duration(timeout),
            ),
        };
    }
    if msg.receive_count > max_receives {
        return Before::GiveUp {
            why: format!(
                "the message was delivered {} times (max_receives is {max_receives}); {interrupted} runs were interrupted",
                msg.receive_count
            ),
        };
    }
    Before::Run {
        budget: timeout - spent,
        interrupted,
        fresh,
    }
}

/// What to do once a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum After {
    /// The result reached the issue (`reported`: how), or the run succeeded without
    /// reporting: the task is done.
    Done {
        reported: Option<String>,
        succeeded: bool,
        why: &'static str,
    },
    /// The worker reports the failure (`why`) on the issue, with the run's summary.
    Report { why: String },
    /// The worker stops: the next delivery runs the task again.
    Stopping,
    /// Stopped during the last allowed delivery: give up.
    GiveUp { why: String },
}

/// Decides what a run's report means for the task. `requested`: the run was cancelled on
/// request (`runs cancel`, the status page), not by a shutdown.
pub(crate) fn after_run(
    report: &RunReport,
    requested: bool,
    msg: Delivery<'_>,
    max_receives: u32,
) -> After {
    if report.status == RunStatus::Cancelled {
        if requested {
            return After::Report {
                why: "The run was cancelled on request (`codingworker runs cancel` or the status page).".into(),
            };
        }
        if msg.receive_count >= max_receives {
            return After::GiveUp {
                why: "the worker was stopped during the last allowed delivery".into(),
            };
        }
        return After::Stopping;
    }
    let succeeded = report.status == RunStatus::Success;
    match reported(report) {
        Some(how) => After::Done {
            reported: Some(how),
            succeeded,
            why: "final result",
        },
        None if succeeded => After::Done {
            reported: None,
            succeeded,
            why: "final result (the playbook opened no pull request)",
        },
        None => After::Report {
            why: format!(
                "The run {} and the playbook reported nothing on the issue.",
                match report.status {
                    RunStatus::TimedOut => "ran out of time",
                    _ => "failed",
                }
            ),
        },
    }
}

/// How a run's result reached the issue: its pull request, or a comment step that posted
/// once the run was failing (an early "working on it" comment does not count).
pub(crate) fn reported(report: &RunReport) -> Option<String> {
    if let Some(pr) = &report.pr {
        return Some(pr.url.clone());
    }
    let first_failure = report
        .steps
        .iter()
        .position(|s| s.attempt.is_none() && s.status.is_failed())?;
    report.steps[first_failure..]
        .iter()
        .rev()
        .find(|s| s.kind == "comment" && s.status == StepStatus::Success && s.message.is_none())
        .map(|s| format!("comment by step `{}`", s.id))
}

/// What to do about a problem that may pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Passing {
    /// The worker is stopping (the problem may be the stop): hand the message back now.
    HandBack,
    /// The last allowed delivery: give up.
    GiveUp,
    /// Try again after `retry_delay`.
    Retry,
}

pub(crate) fn passing(stopping: bool, msg: Delivery<'_>, max_receives: u32) -> Passing {
    if stopping {
        Passing::HandBack
    } else if msg.receive_count >= max_receives {
        Passing::GiveUp
    } else {
        Passing::Retry
    }
}

#[cfg(test)]
mod tests;
