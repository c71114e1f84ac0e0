//! The one interface between the engine and a step kind.
//!
//! A kind that does something (every kind but `retry`, which is the engine's own control
//! flow) implements [`Kind`]: how it runs, and how a dry run shows what it would do. Both
//! get the same [`StepCall`] (the step's rendered context, environment, directory, deadline
//! and file stem), prepared by the same code, so the plan cannot drift from the run. The
//! kinds are listed once, in `crate::steps::kind_of`.

use std::future::Future;
use std::pin::Pin;

use super::executor::{Services, StepCall};
use super::plan::PlanOut;
use super::state::StepResult;

/// A step's run, as a future the engine awaits.
pub type Running<'a> = Pin<Box<dyn Future<Output = StepResult> + Send + 'a>>;

/// What a step kind does, in a run and in a dry run.
pub trait Kind: Sync {
    /// Runs the step.
    fn run<'a>(&'a self, s: &'a Services, call: &'a StepCall<'a>) -> Running<'a>;

    /// Shows what [`Kind::run`] would do: the processes it would start, what it would
    /// send. Nothing is run, written or sent. What cannot be rendered is a
    /// [`PlanOut::problem`].
    fn plan(&self, s: &Services, call: &StepCall<'_>, out: &mut PlanOut);

    /// Runs even after the run's time budget is spent (within its own timeout), so that
    /// work already done is reported rather than lost.
    fn reports(&self) -> bool {
        false
    }

    /// Writes a log file of its own under `logs/`.
    fn logs(&self) -> bool {
        false
    }
}
