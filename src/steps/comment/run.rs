//! Running a `comment` step.

use super::spec::*;
use crate::adapters::github::{GitHubError, comment_once};
use crate::steps::call::{Services, StepCall};
use crate::steps::kind::PlanOut;
use crate::steps::kind::{Kind, Running};
use crate::steps::pr_open::{Bounded, bounded};
use crate::steps::result::{StepResult, StepStatus};

/// The hidden marker a worker's comment carries: the task's key and the step.
pub fn marker(task_key: &str, step: &str) -> String {
    format!("<!-- codingworker:{task_key}:{step} -->")
}

impl Kind for CommentSpec {
    fn run<'a>(&'a self, s: &'a Services, call: &'a StepCall<'a>) -> Running<'a> {
        Box::pin(async move {
            match comment(s, call, self).await {
                Ok(r) | Err(r) => r,
            }
        })
    }

    fn plan(&self, s: &Services, call: &StepCall<'_>, out: &mut PlanOut) {
        match call.render(s, &self.body) {
            Ok(body) => {
                let t = &s.run.task;
                out.block(
                    &format!("comment on {}#{}", t.repo.full_name, t.issue.number),
                    &body,
                );
            }
            Err(e) => out.problem(&e),
        }
    }

    fn reports(&self) -> bool {
        true
    }
}

// The error side is the step's result too, once per step: its size does not matter.
#[allow(clippy::result_large_err)]
async fn comment(
    s: &Services,
    call: &StepCall<'_>,
    spec: &CommentSpec,
) -> Result<StepResult, StepResult> {
    let mut body = s
        .masker
        .mask(&call.render(s, &spec.body).map_err(StepResult::failed)?);
    let repo = &s.run.task.repo.full_name;
    let issue = s.run.task.issue.number;
    // A task the queue delivers again (after a crash) must not comment twice: the comment
    // carries a marker, and one that is already there is not posted again.
    let marker = s
        .run
        .task_key
        .as_deref()
        .map(|k| marker(k, &call.step.id.0));
    if let Some(m) = &marker {
        body = format!("{}\n\n{m}", body.trim_end());
    }
    let (log, message) = match &s.run.github {
        None => {
            let text = format!(
                "comment: not sent (no GitHub credentials). It would comment on {repo}#{issue}:\n{body}\n"
            );
            print!("{}", crate::text::for_stdout(&text));
            (
                text,
                Some("not sent: no GitHub credentials (printed instead)".to_owned()),
            )
        }
        Some(github) => {
            let (url, now) = match &marker {
                Some(m) => {
                    let once = comment_once(github.as_ref(), repo, issue, &body, m);
                    settled(bounded(call, s, once).await, s, "failed to comment")?
                }
                None => {
                    let posted = bounded(call, s, github.comment(repo, issue, &body)).await;
                    (settled(posted, s, "failed to comment")?, true)
                }
            };
            let log = if now {
                format!("commented on {repo}#{issue}: {url}\n")
            } else {
                format!("already commented by an earlier delivery of this task: {url}\n")
            };
            (log, None)
        }
    };
    Ok(finish(s, call, log, message))
}

/// A GitHub call bounded by the step: its value, or the step's result when it failed,
/// timed out or was cancelled.
#[allow(clippy::result_large_err)]
fn settled<T>(
    b: Bounded<Result<T, GitHubError>>,
    s: &Services,
    what: &str,
) -> Result<T, StepResult> {
    match b {
        Bounded::Done(Ok(v)) => Ok(v),
        Bounded::Done(Err(e)) => Err(StepResult::failed(s.masker.mask(&format!("{what}: {e}")))),
        Bounded::TimedOut => Err(StepResult::with_status(
            StepStatus::TimedOut,
            "timed out talking to GitHub",
        )),
        Bounded::Cancelled => Err(StepResult::with_status(StepStatus::Cancelled, "cancelled")),
    }
}

/// A successful comment step with its log.
fn finish(s: &Services, call: &StepCall<'_>, log: String, message: Option<String>) -> StepResult {
    let mut r = StepResult::success();
    r.logged = std::fs::write(call.log_path(s), &log).is_ok();
    r.captured.stdout = log;
    r.captured.output = r.captured.stdout.clone();
    r.message = message;
    r
}
