//! The `retry` step: run nested steps once per attempt entry until a condition holds.
//!
//! Each attempt entry is data (`attempt.model`, ...) plus an optional `env` of templates.
//! With `reset` (the default) every attempt starts from the commit the retry started at:
//! commits dropped, untracked files removed, ignored files kept.

use tokio::time::Instant;

use crate::playbook::model::{RetrySpec, Step};
use crate::playbook::types::Condition;

use crate::engine::executor::{Engine, Scope};
use crate::steps::result::{StepResult, StepStatus};
use crate::template::sites::child_pointer;

impl Engine {
    /// Runs the attempts of a retry step until `until` holds.
    pub(crate) async fn run_retry(
        &mut self,
        step: &Step,
        pointer: &str,
        spec: &RetrySpec,
        scope: &Scope,
    ) -> StepResult {
        let total = spec.attempts.len();
        let before = self.s.workspace.off_thread(|w| w.snapshot().ok()).await;
        // Each attempt starts from the checkout as the retry found it. Uncommitted work of
        // earlier steps is committed first, so that a reset cannot lose it.
        if spec.reset && before.as_ref().is_some_and(|b| !b.status.is_empty()) {
            let message = format!("codingworker: state before retry `{}`", step.id);
            if let Err(e) = self
                .s
                .workspace
                .off_thread(move |w| w.commit_all(&message))
                .await
            {
                return StepResult::failed(format!(
                    "failed to commit the checkout before the retry: {e}"
                ));
            }
        }
        let start_commit = self
            .s
            .workspace
            .off_thread(|w| w.head().ok().flatten())
            .await;
        let deadline = match (step.timeout.map(|t| Instant::now() + t.0), scope.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut outcome = None;
        for (i, entry) in spec.attempts.iter().enumerate() {
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            if self.s.run.cancel.is_cancelled() {
                outcome = Some(StepResult::with_status(
                    StepStatus::Cancelled,
                    "the run was cancelled",
                ));
                break;
            }
            if self.out_of_time_now() {
                self.mark_timed_out();
                outcome = Some(StepResult::with_status(
                    StepStatus::TimedOut,
                    format!("the run's time budget ran out before attempt {number} of {total}"),
                ));
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                outcome = Some(StepResult::with_status(
                    StepStatus::TimedOut,
                    format!("the retry's time budget ran out before attempt {number} of {total}"),
                ));
                break;
            }
            if i > 0
                && spec.reset
                && let Some(commit) = start_commit
                && let Err(e) = self
                    .s
                    .workspace
                    .off_thread(move |w| w.reset_to(commit))
                    .await
            {
                return StepResult::failed(format!(
                    "failed to reset the checkout before attempt {number}: {e}"
                ));
            }
            tracing::info!(step = %step.id, attempt = number, total, keys = %serde_json::to_string(&entry.keys).unwrap_or_default(), "attempt started");
            let mut inner = scope.attempt(number, &entry.keys, deadline);
            let ctx = self.ctx(&inner);
            match super::executor::render_env(&self.s.run.templates, &entry.env, &ctx) {
                Ok(env) => {
                    if let Some(a) = inner.attempt.as_mut() {
                        a.env.extend(env);
                    }
                }
                Err(e) => {
                    tracing::warn!(step = %step.id, attempt = number, error = %e, "attempt skipped: its env cannot be rendered");
                    let why = format!("attempt skipped: its env cannot be rendered: {e}");
                    for child in &spec.steps {
                        self.skip_step(child, &mut inner, why.clone());
                    }
                    continue;
                }
            }
            for (j, child) in spec.steps.iter().enumerate() {
                Box::pin(self.run_step(child, &child_pointer(pointer, j), &mut inner)).await;
            }
            let satisfied = match &spec.until {
                // No nested step failed, and one at least did its work.
                None => !inner.failed_here && inner.succeeded_here,
                Some(Condition::Bool(b)) => *b,
                Some(Condition::Expr(_)) => {
                    let ctx = self.ctx(&inner);
                    match self
                        .s
                        .run
                        .templates
                        .eval(&format!("{pointer}/retry/until"), &ctx)
                    {
                        Ok(b) => b,
                        Err(e) => {
                            return StepResult::failed(format!("`until` cannot be evaluated: {e}"));
                        }
                    }
                }
            };
            tracing::info!(step = %step.id, attempt = number, satisfied, "attempt finished");
            if satisfied {
                let mut r = StepResult::success();
                r.message = Some(format!("attempt {number} of {total} succeeded"));
                outcome = Some(r);
                break;
            }
        }
        let mut result = outcome
            .unwrap_or_else(|| StepResult::failed(format!("none of {total} attempts succeeded")));
        result.changed = self.snapshot_changed_since(&before).await;
        result
    }
}
