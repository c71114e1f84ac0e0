//! How a task ends on the issue: the worker's own failure report, and what a problem
//! that stops a task becomes (reported and done, tried again, given up on).

use super::decide::{self, Delivery, Disposition, Passing, release_now};
use super::state::{self, Phase, TaskState};
use super::{Stats, Worker};
use crate::adapters::github::comment_once;
use crate::adapters::sqs::Received;
use crate::steps::comment;
use crate::task::Task;

impl Worker {
    /// Reports a failed run on the issue, then the task is done; if GitHub cannot be
    /// reached, the message comes back later and only the report is tried again.
    pub(super) async fn report_and_finish(
        &self,
        msg: &Received,
        task: &Task,
        st: &mut TaskState,
        why: String,
        summary: Option<String>,
    ) -> Disposition {
        match self
            .report_failure(task, &st.key, &why, summary.as_deref())
            .await
        {
            Ok(url) => {
                st.reported = Some(url);
                st.phase = Phase::Done;
                self.save(st);
                Stats::bump(&self.stats.failed);
                Disposition::Delete("failure reported on the issue")
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to report the failure on the issue");
                self.passing(
                    msg,
                    task,
                    Some(st),
                    format!("failed to report on the issue: {e}"),
                )
                .await
            }
        }
    }

    /// A problem with the task itself that will not go away (its repository's playbook
    /// does not load, its branch does not render): reported on the issue as the task's
    /// final result. If GitHub cannot be told, the message comes back later.
    pub(super) async fn permanent(
        &self,
        task: &Task,
        st: Option<&mut TaskState>,
        problem: String,
    ) -> Disposition {
        tracing::error!(problem = %problem, "the task cannot run");
        let key = st
            .as_ref()
            .map_or_else(|| state::key(task, "-"), |s| s.key.clone());
        match self.report_failure(task, &key, &problem, None).await {
            Ok(url) => {
                if let Some(st) = st {
                    st.phase = Phase::Done;
                    st.reported = Some(url);
                    st.failure = Some(problem);
                    self.save(st);
                }
                Stats::bump(&self.stats.failed);
                Disposition::Delete("failure reported on the issue")
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to report on the issue");
                Disposition::Release {
                    after: self.settings.retry_delay,
                    why: "to report later",
                }
            }
        }
    }

    /// A problem that may pass: try again after `retry_delay`; on the last allowed receive,
    /// report on the issue and let the redrive policy take the message. While the worker
    /// stops, the message is handed back at once instead (the problem may be the stop).
    pub(super) async fn passing(
        &self,
        msg: &Received,
        task: &Task,
        st: Option<&mut TaskState>,
        problem: String,
    ) -> Disposition {
        let delivery = Delivery {
            message_id: &msg.message_id,
            receive_count: msg.receive_count,
        };
        let stopping = self.stop_runs.is_cancelled();
        match decide::passing(stopping, delivery, self.settings.max_receives) {
            Passing::HandBack => {
                tracing::info!(problem = %problem, "the worker is stopping; handing the message back");
                release_now("the worker is stopping")
            }
            Passing::GiveUp => self.give_up(msg, task, st, problem).await,
            Passing::Retry => {
                let n = Stats::bump(&self.stats.retried);
                tracing::warn!(problem = %problem, retried_total = n, "the task will be tried again");
                Disposition::Release {
                    after: self.settings.retry_delay,
                    why: "to be tried again",
                }
            }
        }
    }

    /// No budget left: report on the issue (once), then release for the dead-letter queue.
    pub(super) async fn give_up(
        &self,
        msg: &Received,
        task: &Task,
        st: Option<&mut TaskState>,
        why: String,
    ) -> Disposition {
        let n = Stats::bump(&self.stats.gave_up);
        tracing::error!(reason = %why, receive_count = msg.receive_count, gave_up_total = n, "giving up on the task");
        let key = st
            .as_ref()
            .map_or_else(|| state::key(task, "-"), |s| s.key.clone());
        let text = format!("codingworker gave up on this task: {why}.");
        let reported = self.report_failure(task, &key, &text, None).await;
        if let Err(e) = &reported {
            tracing::warn!(error = %e, "failed to report on the issue");
        }
        if let Some(st) = st {
            st.phase = Phase::GaveUp;
            st.reported = reported.ok();
            st.failure = Some(why);
            st.last_message = Some(msg.message_id.clone());
            self.save(st);
        }
        release_now("given up: for the dead-letter queue")
    }

    /// Comments on the issue, once per task: a comment with the task's marker is not
    /// posted again. Returns the comment's URL.
    pub(super) async fn report_failure(
        &self,
        task: &Task,
        key: &str,
        why: &str,
        summary: Option<&str>,
    ) -> Result<String, String> {
        let marker = comment::marker(key, "worker");
        let mut body = format!("codingworker could not finish this issue.\n\n{why}\n");
        if let Some(s) = summary {
            body.push_str(&format!("\n{}\n", s.trim_end()));
        }
        body.push_str(&format!("\n<sub>task {}</sub>\n\n{marker}", task.id));
        let body = self.masker.mask(&body);
        let repo = &task.repo.full_name;
        let Some(github) = &self.github else {
            println!(
                "comment: not sent (github.dry_run). It would comment on {repo}#{}:\n{body}\n",
                task.issue.number
            );
            return Ok("(dry run: printed)".into());
        };
        let (url, now) = comment_once(github.as_ref(), repo, task.issue.number, &body, &marker)
            .await
            .map_err(|e| e.to_string())?;
        if now {
            tracing::info!(comment = %url, "failure reported on the issue");
        } else {
            tracing::info!(comment = %url, "failure already reported by an earlier delivery");
        }
        Ok(url)
    }

    pub(super) fn save(&self, st: &mut TaskState) {
        if let Err(e) = self.store.save(st) {
            tracing::error!(error = %e, "failed to save the task state");
        }
    }
}
