//! The one interface between the engine and a step kind.
//!
//! A kind that does something (every kind but `retry`, which is the engine's own control
//! flow) implements [`Kind`]: how it runs, and how a dry run shows what it would do. Both
//! get the same [`StepCall`] (the step's rendered context, environment, directory, deadline
//! and file stem), prepared by the same code, so the plan cannot drift from the run. The
//! kinds are listed once, in [`kind_of`](super::kind_of). [`PlanOut`] is what a plan is
//! written to.

use std::future::Future;
use std::pin::Pin;

use std::collections::BTreeMap;
use std::fmt::Write;

use super::call::{Services, StepCall};
use super::result::StepResult;
use crate::mask::Masker;
use crate::text::printable;

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

/// The plan's text as it is written, and what it found wrong.
pub struct PlanOut {
    pub(crate) text: String,
    masker: Masker,
    pub(crate) problems: usize,
    /// The indent of the lines of the step being shown.
    pub indent: usize,
    /// The step's environment of its own (attempt and step `env`), as `NAME=value` words.
    pub env_line: String,
}

impl PlanOut {
    /// An empty plan whose lines are masked by `masker`.
    pub fn new(masker: Masker) -> Self {
        Self {
            text: String::new(),
            masker,
            problems: 0,
            indent: 0,
            env_line: String::new(),
        }
    }

    /// A line of the step being shown.
    pub fn say(&mut self, text: &str) {
        self.line(self.indent, text);
    }

    /// Something that would fail at run time.
    pub fn problem(&mut self, text: &str) {
        self.problems += 1;
        self.say(&format!("<{text}>"));
    }

    /// A multi-line value, quoted with a bar so its exact text (and its end) is visible.
    pub fn block(&mut self, label: &str, text: &str) {
        let indent = self.indent;
        self.say(&format!("{label}:"));
        let masked = self.masker.mask(text);
        if masked.is_empty() {
            self.say("  │ (empty)");
        }
        for l in masked.split('\n') {
            let _ = writeln!(self.text, "{}  │ {}", "  ".repeat(indent), printable(l));
        }
    }

    /// A line at `indent`, masked and made printable.
    pub(crate) fn line(&mut self, indent: usize, text: &str) {
        let _ = writeln!(
            self.text,
            "{}{}",
            "  ".repeat(indent),
            printable(&self.masker.mask(text))
        );
    }
}

/// `NAME=value` words, values quoted for a shell.
pub fn words(env: &BTreeMap<String, String>) -> String {
    env.iter()
        .map(|(k, v)| format!("{k}={}", crate::template::shell_quote(v)))
        .collect::<Vec<_>>()
        .join(" ")
}
