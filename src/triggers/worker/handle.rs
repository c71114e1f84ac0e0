//! One message, from receipt to deletion or release.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::config::{PlaybookRef, REPO_PLAYBOOK_FILE};
use super::route;
use super::state::{self, Phase, RunRecord, TaskState};
use super::{Stats, Worker};
use crate::adapters::git::Remote;
use crate::adapters::github::comment_once;
use crate::adapters::mirror::{self, Mirror};
use crate::adapters::sqs::{Queue, Received};
use crate::engine::executor::{Engine, RunInput};
use crate::engine::observe::{Event, Observer};
use crate::engine::report::{RunReport, RunStatus};
use crate::engine::state::StepStatus;
use crate::error::Error;
use crate::process::Supervision;
use crate::source::SourceFile;
use crate::steps::comment;
use crate::task::Task;
use crate::triggers::local::{Prepared, branch_name, new_run_id, prepare_source};

/// What becomes of a message.
#[derive(Debug)]
enum Disposition {
    /// A final result: delete it.
    Delete(&'static str),
    /// Hand it back after `after` (zero: at once, for the redrive policy to take it).
    Release { after: Duration, why: &'static str },
}

/// A playbook chosen for a task, with the text it was read from.
struct Chosen {
    name: String,
    hash: String,
    prepared: Prepared,
}

/// Why no playbook could be chosen.
enum NoPlaybook {
    /// Only repository routes matched, and the repository has no playbook.
    Unroutable,
    /// The repository's own playbook does not load: its author has something to fix.
    RepoInvalid(String),
    /// One of the worker's playbooks cannot be used: the operator has (details logged).
    Worker(String),
}

/// Time for the reporting steps after the run's budget (they run after it is spent).
const REPORTING_MARGIN: Duration = Duration::from_secs(10 * 60);
/// How long fetching a repository may take.
const FETCH_LIMIT: Duration = Duration::from_secs(15 * 60);

impl Worker {
    /// Handles one message to its end: never panics the worker, always deletes or
    /// releases.
    pub async fn handle(self: Arc<Self>, msg: Received) {
        // Every line of a task carries the message id and, once the body is read, the task
        // id, repository and issue.
        let span = tracing::info_span!(
            "task",
            message_id = %msg.message_id,
            task = tracing::field::Empty,
            repo = tracing::field::Empty,
            issue = tracing::field::Empty
        );
        async {
            Stats::bump(&self.stats.received);
            let heartbeat = Heartbeat::start(
                self.queue.clone(),
                msg.receipt.clone(),
                self.settings.visibility_timeout,
            );
            let disposition = self.process(&msg, &heartbeat).await;
            drop(heartbeat);
            self.settle(&msg, disposition).await;
            self.forget_idle_locks();
        }
        .instrument(span)
        .await
    }

    async fn settle(&self, msg: &Received, d: Disposition) {
        match d {
            Disposition::Delete(why) => match self.queue.delete(&msg.receipt).await {
                Ok(()) => tracing::info!(reason = why, "message deleted"),
                // Its task state says it is done: a redelivery only deletes it.
                Err(e) => {
                    tracing::warn!(error = %e, "failed to delete the message; it will come back and be deleted then")
                }
            },
            Disposition::Release { after, why } => {
                match self.queue.set_visibility(&msg.receipt, after).await {
                    Ok(()) if after.is_zero() => {
                        tracing::info!(reason = why, "message released")
                    }
                    Ok(()) => {
                        tracing::info!(reason = why, retry_in = %humantime::format_duration(after), "message released")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, reason = why, "failed to release the message; it comes back when its visibility timeout ends")
                    }
                }
            }
        }
    }

    async fn process(&self, msg: &Received, hb: &Heartbeat) -> Disposition {
        let task = match Task::from_json(&msg.body, &format!("message {}", msg.message_id)) {
            Ok(t) => t,
            Err(e) => {
                let n = Stats::bump(&self.stats.malformed);
                tracing::error!(error = %e, receive_count = msg.receive_count, malformed_total = n, "malformed message: not a task; released for the dead-letter queue");
                return release_now("malformed");
            }
        };
        let span = tracing::Span::current();
        span.record("task", task.id.as_str());
        span.record("repo", task.repo.full_name.as_str());
        span.record("issue", task.issue.number);
        tracing::info!(receive_count = msg.receive_count, "received");
        self.process_task(msg, task, hb).await
    }

    async fn process_task(&self, msg: &Received, task: Task, hb: &Heartbeat) -> Disposition {
        if let Err(refusal) = route::allowed(&self.settings, &task) {
            let n = Stats::bump(&self.stats.refused);
            tracing::warn!(reason = %refusal, refused_total = n, "refused; released for the dead-letter queue");
            return release_now("refused");
        }
        let routing = route::route(&self.settings, &task);
        if routing.candidates.is_empty() {
            let n = Stats::bump(&self.stats.unroutable);
            tracing::warn!(
                unroutable_total = n,
                "unroutable: no route matches and there is no default_playbook; released for the dead-letter queue"
            );
            return release_now("unroutable");
        }
        let mirror = Mirror::for_repo(&self.dirs.repos, &task.repo.full_name);
        *self
            .busy
            .lock()
            .expect("busy map")
            .entry(mirror.dir.clone())
            .or_default() += 1;
        let result = self
            .work(msg, &task, &routing.candidates, &mirror, hb)
            .await;
        let busy: Vec<PathBuf> = {
            let mut map = self.busy.lock().expect("busy map");
            if let Some(n) = map.get_mut(&mirror.dir) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&mirror.dir);
                }
            }
            map.keys().cloned().collect()
        };
        let (repos, keep) = (self.dirs.repos.clone(), self.settings.max_cached_repos);
        let pruned = tokio::task::spawn_blocking(move || mirror::prune_cache(&repos, keep, &busy))
            .await
            .unwrap_or_default();
        for dir in pruned {
            tracing::info!(mirror = %dir.display(), "removed a least recently used mirror");
        }
        result
    }

    async fn work(
        &self,
        msg: &Received,
        task: &Task,
        candidates: &[route::Candidate],
        mirror: &Mirror,
        hb: &Heartbeat,
    ) -> Disposition {
        // The URL was checked against the GitHub host: https carries the token.
        let remote = Remote {
            url: task.repo.clone_url.clone(),
            token: if task.repo.clone_url.starts_with("https://") {
                self.token.clone()
            } else {
                None
            },
        };
        let mirror_key = format!("mirror:{}", mirror.dir.display());
        let tip = {
            let _m = self.lock(mirror_key.clone()).await;
            match mirror
                .update(
                    &remote,
                    &task.repo.default_branch,
                    &self.env,
                    &self.git_supervision(),
                )
                .await
            {
                Ok(tip) => tip,
                Err(e) => {
                    return self
                        .passing(
                            msg,
                            task,
                            None,
                            format!("failed to fetch the repository: {e}"),
                        )
                        .await;
                }
            }
        };
        let chosen = match self.choose(task, candidates, mirror, tip) {
            Ok(c) => c,
            Err(NoPlaybook::Unroutable) => {
                let n = Stats::bump(&self.stats.unroutable);
                tracing::warn!(
                    unroutable_total = n,
                    "unroutable: the route was the repository's own {REPO_PLAYBOOK_FILE}, which it does not have, and no route or default_playbook follows; released for the dead-letter queue"
                );
                return release_now("unroutable");
            }
            // The repository's own playbook is invalid: its author needs to know.
            Err(NoPlaybook::RepoInvalid(problem)) => {
                return self.permanent(task, None, problem).await;
            }
            Err(NoPlaybook::Worker(problem)) => {
                tracing::error!(problem = %problem, "the worker's playbook cannot be used");
                return self
                    .passing(
                        msg,
                        task,
                        None,
                        "a playbook of the worker's configuration cannot be used (the worker's log says why)".into(),
                    )
                    .await;
            }
        };
        tracing::info!(playbook = %chosen.name, "routed");
        let branch = match branch_name(&chosen.prepared, task, &self.env) {
            Ok(b) => b,
            Err(e) => return self.permanent(task, None, e.to_string()).await,
        };
        // One task on a run branch at a time: two deliveries of one issue wait for each
        // other rather than share the branch (and its worktree). Case is ignored: on a
        // case-insensitive file system (macOS) `Fix/x` and `fix/x` are one ref file.
        let _branch = self
            .lock(format!(
                "branch:{}:{}",
                mirror.dir.display(),
                branch.to_lowercase()
            ))
            .await;

        let key = state::key(task, &chosen.hash);
        let mut st = match self.store.load(&key) {
            Ok(Some(st)) => st,
            Ok(None) => new_state(&key, task, &chosen),
            Err(e) => {
                // Keep the unreadable file for a person to look at; start over.
                tracing::error!(error = %e, "task state unreadable; moved aside, the task starts over");
                let path = self.dirs.tasks.join(format!("{key}.json"));
                let _ = std::fs::rename(&path, path.with_extension("json.unreadable"));
                new_state(&key, task, &chosen)
            }
        };

        match st.phase {
            Phase::Done => {
                tracing::info!(
                    reported = st.reported.as_deref().unwrap_or(""),
                    "already done by an earlier delivery"
                );
                return Disposition::Delete("done by an earlier delivery");
            }
            Phase::GaveUp if st.last_message.as_deref() != Some(msg.message_id.as_str()) => {
                // A new message for a task given up on: redriven from the dead-letter queue
                // (which gives messages new ids) after a fix. It gets a fresh budget.
                tracing::info!(
                    "a task given up earlier came back (redriven?): starting over with a fresh budget"
                );
                st.phase = Phase::Running;
                st.spent_ms = 0;
                st.failure = None;
                st.budget_from = st.runs.len();
            }
            Phase::GaveUp => {
                tracing::info!(
                    "given up by an earlier delivery; released for the dead-letter queue"
                );
                return release_now("given up earlier");
            }
            Phase::Finished => {
                // The run ended; only its report to the issue is missing.
                st.last_message = Some(msg.message_id.clone());
                let why = st
                    .failure
                    .clone()
                    .unwrap_or_else(|| "The run failed.".into());
                let summary = st.runs.last().and_then(|r| {
                    std::fs::read_to_string(self.dirs.runs.join(&r.run_id).join("summary.md")).ok()
                });
                return self
                    .report_and_finish(msg, task, &mut st, why, summary)
                    .await;
            }
            Phase::Running => {}
        }
        st.last_message = Some(msg.message_id.clone());

        let timeout = chosen.prepared.playbook.timeout.0;
        let spent = Duration::from_millis(st.spent_ms);
        let interrupted = st.runs[st.budget_from.min(st.runs.len())..]
            .iter()
            .filter(|r| r.status.is_none())
            .count();
        if msg.receive_count > self.settings.max_receives || spent >= timeout {
            let why = if spent >= timeout {
                format!(
                    "its time budget ({}) is spent: {interrupted} runs were interrupted (the worker crashed or was stopped)",
                    humantime::format_duration(timeout),
                )
            } else {
                format!(
                    "the message was delivered {} times (max_receives is {}); {interrupted} runs were interrupted",
                    msg.receive_count, self.settings.max_receives
                )
            };
            return self.give_up(msg, task, Some(&mut st), why).await;
        }
        if interrupted > 0 {
            tracing::info!(
                interrupted,
                spent = %humantime::format_duration(Duration::from_secs(spent.as_secs())),
                "resuming: an earlier delivery's run did not finish; running again with what is left of the budget"
            );
        }
        let budget = timeout - spent;
        let at = Target {
            mirror,
            mirror_key: &mirror_key,
            tip,
            branch: &branch,
            remote: &remote,
        };
        self.execute(msg, task, &chosen, &mut st, &at, budget, hb)
            .await
    }

    /// Runs the playbook and turns its report into a disposition.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        msg: &Received,
        task: &Task,
        chosen: &Chosen,
        st: &mut TaskState,
        at: &Target<'_>,
        budget: Duration,
        hb: &Heartbeat,
    ) -> Disposition {
        let run_id = new_run_id(task.issue.number);
        let checkout = self.dirs.worktrees.join(&run_id);
        let run_dir = self.dirs.runs.join(&run_id);
        let cancel = self.stop_runs.child_token();
        let mut observers: Vec<Box<dyn Observer>> = Vec::new();
        if let Some(store) = &self.history {
            let meta = crate::history::RunMeta {
                run_id: run_id.clone(),
                trigger: "worker".into(),
                task_key: Some(st.key.clone()),
                message_id: Some(msg.message_id.clone()),
                run_dir: run_dir.clone(),
                ..Default::default()
            };
            observers.push(Box::new(crate::history::Recorder::new(store.clone(), meta)));
        }
        let input = RunInput {
            playbook: chosen.prepared.playbook.clone(),
            playbook_path: chosen.name.clone(),
            templates: chosen.prepared.templates.clone(),
            task: task.clone(),
            run_id: run_id.clone(),
            branch: at.branch.to_owned(),
            checkout: checkout.clone(),
            run_dir: run_dir.clone(),
            parent_env: self.env.clone(),
            github: self.github.clone(),
            push: self.github.is_some().then(|| at.remote.clone()),
            options: self.options.clone(),
            cancel: cancel.clone(),
            budget: Some(budget),
            credentials: vec![
                self.settings.github.token_env.clone(),
                "CODINGWORKER_STATUS_TOKEN".to_owned(),
            ],
            task_key: Some(st.key.clone()),
            observers,
            trigger: "worker",
        };
        let registration = self.cancels.register(&run_id, cancel);
        let mut engine = match Engine::new(input) {
            Ok(e) => e,
            Err(e) => return self.permanent(task, Some(st), e.to_string()).await,
        };
        let added = {
            let _m = self.lock(at.mirror_key.to_owned()).await;
            let (m, b, tip, c, r) = (
                at.mirror.clone(),
                at.branch.to_owned(),
                at.tip,
                checkout.clone(),
                run_id.clone(),
            );
            tokio::task::spawn_blocking(move || m.add_worktree(&b, tip, &c, &r))
                .await
                .map_err(|e| crate::adapters::git::GitError(e.to_string()))
                .and_then(|r| r)
        };
        if let Err(e) = added {
            self.remove_run(at, &run_id).await;
            return self
                .passing(
                    msg,
                    task,
                    Some(st),
                    format!("failed to create the worktree: {e}"),
                )
                .await;
        }
        let mut running = st.clone();
        running.runs.push(RunRecord {
            run_id: run_id.clone(),
            receive_count: msg.receive_count,
            started_at: jiff::Timestamp::now().to_string(),
            status: None,
            duration_ms: None,
        });
        running.phase = Phase::Running;
        // A crash loses at most the time since the last checkpoint of `spent_ms`.
        engine.observe(Box::new(Checkpoint::new(
            self.store.clone(),
            running.clone(),
        )));
        if let Err(e) = engine.start().await {
            self.remove_run(at, &run_id).await;
            return self
                .passing(msg, task, Some(st), format!("failed to start the run: {e}"))
                .await;
        }
        *st = running;
        self.save(st);
        // Keep the message hidden while the run may go on, and not longer.
        hb.stop_at(Instant::now() + budget + REPORTING_MARGIN);

        let started = Instant::now();
        let report = engine.run().await;
        self.remove_run(at, &run_id).await;
        st.spent_ms += started.elapsed().as_millis() as u64;
        if let Some(r) = st.runs.last_mut() {
            r.status = Some(report.status.as_str().to_owned());
            r.duration_ms = Some(report.duration_ms);
        }
        tracing::info!(run = %run_id, status = report.status.as_str(), report = %run_dir.join("run.json").display(), "run ended");

        if report.status == RunStatus::Cancelled && registration.requested() {
            // Stopped on request (`runs cancel`, the status page): a final result.
            let why =
                "The run was cancelled on request (`codingworker runs cancel` or the status page)."
                    .to_owned();
            st.outcome = Some(report.status.as_str().to_owned());
            st.phase = Phase::Finished;
            st.failure = Some(why.clone());
            self.save(st);
            let summary = Some(report.summary_markdown());
            return self.report_and_finish(msg, task, st, why, summary).await;
        }
        drop(registration);
        if report.status == RunStatus::Cancelled {
            // Stopped by a shutdown: the run did not end, the next delivery runs it again.
            if msg.receive_count >= self.settings.max_receives {
                return self
                    .give_up(
                        msg,
                        task,
                        Some(st),
                        "the worker was stopped during the last allowed delivery".into(),
                    )
                    .await;
            }
            self.save(st);
            return release_now("the worker is stopping");
        }
        st.outcome = Some(report.status.as_str().to_owned());
        if let Some(pr) = &report.pr {
            tracing::info!(pr = %pr.url, created = pr.created, "pull request");
        }
        match reported(&report) {
            Some(how) => {
                st.reported = Some(how);
                st.phase = Phase::Done;
                self.save(st);
                if report.status == RunStatus::Success {
                    Stats::bump(&self.stats.succeeded);
                } else {
                    Stats::bump(&self.stats.failed);
                }
                Disposition::Delete("final result")
            }
            None if report.status == RunStatus::Success => {
                st.phase = Phase::Done;
                self.save(st);
                Stats::bump(&self.stats.succeeded);
                Disposition::Delete("final result (the playbook opened no pull request)")
            }
            None => {
                let why = format!(
                    "The run {} and the playbook reported nothing on the issue.",
                    match report.status {
                        RunStatus::TimedOut => "ran out of time",
                        _ => "failed",
                    }
                );
                st.phase = Phase::Finished;
                st.failure = Some(why.clone());
                self.save(st);
                let summary = Some(report.summary_markdown());
                self.report_and_finish(msg, task, st, why, summary).await
            }
        }
    }

    /// Removes a run's worktree and branch from the mirror, off the async threads.
    async fn remove_run(&self, at: &Target<'_>, run_id: &str) {
        let _m = self.lock(at.mirror_key.to_owned()).await;
        let (m, b, r) = (at.mirror.clone(), at.branch.to_owned(), run_id.to_owned());
        let _ = tokio::task::spawn_blocking(move || m.remove_run(&r, &b)).await;
    }

    /// Reports a failed run on the issue, then the task is done; if GitHub cannot be
    /// reached, the message comes back later and only the report is tried again.
    async fn report_and_finish(
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
    async fn permanent(
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
    async fn passing(
        &self,
        msg: &Received,
        task: &Task,
        st: Option<&mut TaskState>,
        problem: String,
    ) -> Disposition {
        if self.stop_runs.is_cancelled() {
            tracing::info!(problem = %problem, "the worker is stopping; handing the message back");
            return release_now("the worker is stopping");
        }
        if msg.receive_count >= self.settings.max_receives {
            return self.give_up(msg, task, st, problem).await;
        }
        let n = Stats::bump(&self.stats.retried);
        tracing::warn!(problem = %problem, retried_total = n, "the task will be tried again");
        Disposition::Release {
            after: self.settings.retry_delay,
            why: "to be tried again",
        }
    }

    /// No budget left: report on the issue (once), then release for the dead-letter queue.
    async fn give_up(
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
    async fn report_failure(
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

    /// The playbook of the first candidate that applies.
    fn choose(
        &self,
        task: &Task,
        candidates: &[route::Candidate],
        mirror: &Mirror,
        tip: git2::Oid,
    ) -> Result<Chosen, NoPlaybook> {
        for c in candidates {
            let (name, text, own) = match &c.playbook {
                PlaybookRef::Repo => match mirror.read_file(tip, REPO_PLAYBOOK_FILE) {
                    Ok(Some(text)) => (
                        format!(
                            "{}:{REPO_PLAYBOOK_FILE}@{}",
                            task.repo.full_name, task.repo.default_branch
                        ),
                        text,
                        true,
                    ),
                    Ok(None) => {
                        tracing::info!(route = %c.why, "the repository has no {REPO_PLAYBOOK_FILE}; next route");
                        continue;
                    }
                    Err(e) => {
                        return Err(NoPlaybook::Worker(format!(
                            "failed to read {REPO_PLAYBOOK_FILE} from the mirror: {e}"
                        )));
                    }
                },
                PlaybookRef::File(path) => match std::fs::read_to_string(path) {
                    Ok(text) => (path.display().to_string(), text, false),
                    Err(e) => {
                        return Err(NoPlaybook::Worker(format!(
                            "the playbook {} cannot be read: {e}",
                            path.display()
                        )));
                    }
                },
            };
            let hash = state::playbook_hash(&text);
            return match prepare_source(SourceFile::new(name.clone(), text)) {
                Ok(prepared) => Ok(Chosen {
                    name,
                    hash,
                    prepared,
                }),
                Err(Error::InvalidPlaybook { path, rendered }) if own => {
                    Err(NoPlaybook::RepoInvalid(format!(
                        "{path} is not a valid playbook:\n\n```\n{}\n```",
                        rendered.trim_end()
                    )))
                }
                Err(e) => Err(NoPlaybook::Worker(e.to_string())),
            };
        }
        Err(NoPlaybook::Unroutable)
    }

    fn git_supervision(&self) -> Supervision {
        Supervision {
            deadline: Instant::now() + FETCH_LIMIT,
            cancel: self.stop_runs.child_token(),
            grace: Duration::from_secs(5),
            limit: 64 * 1024,
            log: None,
            masker: self.masker.clone(),
            watch: None,
        }
    }

    fn save(&self, st: &mut TaskState) {
        if let Err(e) = self.store.save(st) {
            tracing::error!(error = %e, "failed to save the task state");
        }
    }

    /// Removes what a killed worker left behind (the lock says no other worker runs):
    /// worktrees, and reports and task states older than 30 days.
    pub fn clean_leftovers(&self) {
        if let Ok(owners) = std::fs::read_dir(&self.dirs.repos) {
            for owner in owners.flatten() {
                for repo in std::fs::read_dir(owner.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    Mirror { dir: repo.path() }.remove_all_worktrees();
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.dirs.worktrees) {
            for e in entries.flatten() {
                tracing::info!(path = %e.path().display(), "removing a worktree left by an earlier worker");
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let month = Duration::from_secs(30 * 24 * 3600);
        let pruned = self.store.prune(month);
        let removed = std::cell::RefCell::new(Vec::new());
        let runs = state::remove_older_than(&self.dirs.runs, month, |p| {
            let gone = std::fs::remove_dir_all(p).is_ok();
            if gone && let Some(name) = p.file_name() {
                removed
                    .borrow_mut()
                    .push(name.to_string_lossy().into_owned());
            }
            gone
        });
        if let Some(h) = &self.history {
            for id in removed.into_inner() {
                if let Err(e) = h.delete(&id) {
                    tracing::warn!(run = %id, error = %e, "failed to remove a pruned run from the history");
                }
            }
            match h.settle_dead_runs() {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    runs = n,
                    "runs left running by a process that is gone are marked interrupted"
                ),
                Err(e) => tracing::warn!(error = %e, "failed to settle runs left running"),
            }
        }
        if pruned + runs > 0 {
            tracing::info!(
                task_states = pruned,
                run_reports = runs,
                "removed what ended more than 30 days ago"
            );
        }
    }
}

/// Where a run happens: the mirror, the commit it starts from, the branch, the remote.
struct Target<'a> {
    mirror: &'a Mirror,
    mirror_key: &'a str,
    tip: git2::Oid,
    branch: &'a str,
    remote: &'a Remote,
}

fn release_now(why: &'static str) -> Disposition {
    Disposition::Release {
        after: Duration::ZERO,
        why,
    }
}

/// Removes the directories under `dir` last modified more than `age` ago.
fn new_state(key: &str, task: &Task, chosen: &Chosen) -> TaskState {
    TaskState {
        key: key.to_owned(),
        task_id: task.id.clone(),
        repo: task.repo.full_name.clone(),
        issue: task.issue.number,
        playbook: chosen.name.clone(),
        playbook_hash: chosen.hash.clone(),
        phase: Phase::Running,
        runs: Vec::new(),
        budget_from: 0,
        spent_ms: 0,
        outcome: None,
        reported: None,
        failure: None,
        last_message: None,
        updated_at: String::new(),
    }
}

/// How a run's result reached the issue: its pull request, or a comment step that posted
/// once the run was failing (an early "working on it" comment does not count).
fn reported(report: &RunReport) -> Option<String> {
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

/// Extends a message's visibility while its task runs. Until the run starts it extends
/// without limit (waiting for another task of the branch, fetching: both bounded
/// elsewhere); from then on, until the end of the run's time budget.
pub struct Heartbeat {
    deadline: Arc<std::sync::Mutex<Option<Instant>>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    fn start(queue: Queue, receipt: String, visibility: Duration) -> Self {
        let deadline = Arc::new(std::sync::Mutex::new(None::<Instant>));
        let until = deadline.clone();
        let every = (visibility / 3).max(Duration::from_millis(500));
        let handle = tokio::spawn(
            async move {
                let mut warned = false;
                loop {
                    tokio::time::sleep(every).await;
                    let past = until
                        .lock()
                        .expect("deadline")
                        .is_some_and(|d| Instant::now() >= d);
                    if past {
                        if !warned {
                            tracing::warn!("heartbeat stopped: the task's time is up; the message becomes visible again when its visibility timeout ends");
                            warned = true;
                        }
                        continue;
                    }
                    match queue.set_visibility(&receipt, visibility).await {
                        Ok(()) => tracing::debug!("heartbeat: visibility extended"),
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
            }
            .in_current_span(),
        );
        Self { deadline, handle }
    }

    /// Stops extending at `deadline`.
    fn stop_at(&self, deadline: Instant) {
        *self.deadline.lock().expect("deadline") = Some(deadline);
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Saves the time a run has spent every few seconds, so that a crash (or `kill -9`) counts
/// against the task's budget too. An observer of the run: it writes on the observers'
/// thread, and never after the run ended (the worker's own final save comes after).
struct Checkpoint {
    store: state::Store,
    st: TaskState,
    base: u64,
    started: Option<std::time::Instant>,
    last: std::time::Instant,
}

/// How often a running task's spent time is saved.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

impl Checkpoint {
    fn new(store: state::Store, st: TaskState) -> Self {
        Self {
            store,
            base: st.spent_ms,
            st,
            started: None,
            last: std::time::Instant::now(),
        }
    }
}

impl Observer for Checkpoint {
    fn on(&mut self, event: &Event) {
        match event {
            Event::RunStarted { .. } => {
                self.started = Some(std::time::Instant::now());
                self.last = std::time::Instant::now();
            }
            Event::RunFinished { .. } => self.started = None,
            Event::StepStarted { .. } | Event::StepFinished { .. } => {}
        }
    }

    fn tick(&mut self) {
        let Some(started) = self.started else { return };
        if self.last.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        self.last = std::time::Instant::now();
        self.st.spent_ms = self.base + started.elapsed().as_millis() as u64;
        let _ = self.store.save(&mut self.st);
    }
}
