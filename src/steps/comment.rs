//! The `comment` step: comment on the issue.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::playbook::types::Template;

/// The `comment:` block.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentSpec {
    /// The comment's Markdown body (a template).
    pub body: Template,
}

// ---------------------------------------------------------------------------------------
// Running it

use crate::engine::executor::{Services, StepCall};
use crate::engine::state::{StepResult, StepStatus};
use crate::steps::pr_open::{Bounded, bounded};

/// The hidden marker a worker's comment carries: the task's key and the step.
pub fn marker(task_key: &str, step: &str) -> String {
    format!("<!-- codingworker:{task_key}:{step} -->")
}

pub async fn run(s: &Services, call: &StepCall<'_>, _spec: &CommentSpec) -> StepResult {
    let mut body = match call.render(s, "comment/body") {
        Ok(b) => s.masker.mask(&b),
        Err(e) => return StepResult::failed(e),
    };
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
        if let Some(github) = &s.run.github {
            match bounded(call, s, github.find_comment(repo, issue, m)).await {
                Bounded::Done(Ok(Some(url))) => {
                    let mut r = StepResult::success();
                    r.captured.stdout =
                        format!("already commented by an earlier delivery of this task: {url}\n");
                    r.captured.output = r.captured.stdout.clone();
                    r.logged = std::fs::write(call.log_path(s), &r.captured.stdout).is_ok();
                    return r;
                }
                Bounded::Done(Ok(None)) => {}
                Bounded::Done(Err(e)) => {
                    return StepResult::failed(
                        s.masker
                            .mask(&format!("failed to read the issue's comments: {e}")),
                    );
                }
                Bounded::TimedOut => {
                    return StepResult::with_status(
                        StepStatus::TimedOut,
                        "timed out talking to GitHub",
                    );
                }
                Bounded::Cancelled => {
                    return StepResult::with_status(StepStatus::Cancelled, "cancelled");
                }
            }
        }
    }
    let (log, message) = match &s.run.github {
        None => {
            let text = format!(
                "comment: not sent (no GitHub credentials). It would comment on {repo}#{issue}:\n{body}\n"
            );
            print!("{text}");
            (
                text,
                Some("not sent: no GitHub credentials (printed instead)".to_owned()),
            )
        }
        Some(github) => match bounded(call, s, github.comment(repo, issue, &body)).await {
            Bounded::Done(Ok(url)) => (format!("commented on {repo}#{issue}: {url}\n"), None),
            Bounded::Done(Err(e)) => {
                return StepResult::failed(s.masker.mask(&format!("failed to comment: {e}")));
            }
            Bounded::TimedOut => {
                return StepResult::with_status(
                    StepStatus::TimedOut,
                    "timed out talking to GitHub",
                );
            }
            Bounded::Cancelled => {
                return StepResult::with_status(StepStatus::Cancelled, "cancelled");
            }
        },
    };
    let mut r = StepResult::success();
    r.logged = std::fs::write(call.log_path(s), &log).is_ok();
    r.captured.stdout = log;
    r.captured.output = r.captured.stdout.clone();
    r.message = message;
    r
}
