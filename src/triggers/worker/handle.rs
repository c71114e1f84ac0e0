//! One message, from receipt to deletion or release.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::choose::{Chosen, NoPlaybook, new_state};
use super::decide::{self, After, Before, Delivery, Disposition, release_now};
use super::heartbeat::{Checkpoint, Heartbeat};
use super::route;
use super::state::{self, Phase, RunRecord, TaskState};
use super::{Stats, Worker};
use crate::adapters::git::Remote;
use crate::adapters::mirror::Mirror;
use crate::adapters::sqs::Received;
use crate::config::worker::REPO_PLAYBOOK_FILE;
use crate::engine::executor::{Engine, RunInput};
use crate::engine::observe::Observer;
use crate::engine::prepare::{branch_name, new_run_id};
use crate::process::Supervision;
use crate::task::Task;

/// Time for the reporting steps after the run's budget (they run after it is spent).
const REPORTING_MARGIN: Duration = Duration::from_secs(10 * 60);
/// How long fetching a repository may take.
const FETCH_LIMIT: Duration = Duration::from_secs(15 * 60);

impl Worker {
    /// Handles one message to its end: never panics the worker, always deletes or
    /// releases.
    pub(crate) async fn handle(self: Arc<Self>, msg: Received) {
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
            self.leases.forget_idle_locks();
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
        let lease = self.leases.take(&mirror);
        let result = self
            .work(msg, &task, &routing.candidates, &mirror, hb)
            .await;
        self.leases
            .give_back(lease, &self.dirs.repos, self.settings.max_cached_repos)
            .await;
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
            let _m = self.leases.lock(mirror_key.clone()).await;
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
            Err(e) => return self.permanent(task, None, e).await,
        };
        // One task on a run branch at a time: two deliveries of one issue wait for each
        // other rather than share the branch (and its worktree). Case is ignored: on a
        // case-insensitive file system (macOS) `Fix/x` and `fix/x` are one ref file.
        let _branch = self
            .leases
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

        let delivery = Delivery {
            message_id: &msg.message_id,
            receive_count: msg.receive_count,
        };
        let timeout = chosen.prepared.playbook.timeout.0;
        let budget = match decide::before_run(&st, delivery, self.settings.max_receives, timeout) {
            Before::Done => {
                tracing::info!(
                    reported = st.reported.as_deref().unwrap_or(""),
                    "already done by an earlier delivery"
                );
                return Disposition::Delete("done by an earlier delivery");
            }
            Before::GivenUp => {
                tracing::info!(
                    "given up by an earlier delivery; released for the dead-letter queue"
                );
                return release_now("given up earlier");
            }
            Before::ReportOnly { why } => {
                // The run ended; only its report to the issue is missing.
                st.last_message = Some(msg.message_id.clone());
                let summary = st.runs.last().and_then(|r| {
                    std::fs::read_to_string(self.dirs.runs.join(&r.run_id).join("summary.md")).ok()
                });
                return self
                    .report_and_finish(msg, task, &mut st, why, summary)
                    .await;
            }
            Before::GiveUp { why } => {
                st.last_message = Some(msg.message_id.clone());
                return self.give_up(msg, task, Some(&mut st), why).await;
            }
            Before::Run {
                budget,
                interrupted,
                fresh,
            } => {
                if fresh {
                    tracing::info!(
                        "a task given up earlier came back (redriven?): starting over with a fresh budget"
                    );
                    st.phase = Phase::Running;
                    st.spent_ms = 0;
                    st.failure = None;
                    st.budget_from = st.runs.len();
                }
                if interrupted > 0 {
                    tracing::info!(
                        interrupted,
                        spent = %humantime::format_duration(Duration::from_secs(st.spent_ms / 1000)),
                        "resuming: an earlier delivery's run did not finish; running again with what is left of the budget"
                    );
                }
                budget
            }
        };
        st.last_message = Some(msg.message_id.clone());
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
            trigger: "worker",
            cache_root: Some(self.settings.workdir.join("cache").join("deps")),
        };
        let registration = self.cancels.register(&run_id, cancel);
        let mut engine = match Engine::observed(input, observers) {
            Ok(e) => e,
            Err(e) => return self.permanent(task, Some(st), e.to_string()).await,
        };
        let added = {
            let _m = self.leases.lock(at.mirror_key.to_owned()).await;
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

        let requested = registration.requested();
        drop(registration);
        let delivery = Delivery {
            message_id: &msg.message_id,
            receive_count: msg.receive_count,
        };
        if let Some(pr) = &report.pr {
            tracing::info!(pr = %pr.url, created = pr.created, "pull request");
        }
        match decide::after_run(&report, requested, delivery, self.settings.max_receives) {
            After::Done {
                reported,
                succeeded,
                why,
            } => {
                st.outcome = Some(report.status.as_str().to_owned());
                st.reported = reported;
                st.phase = Phase::Done;
                self.save(st);
                Stats::bump(if succeeded {
                    &self.stats.succeeded
                } else {
                    &self.stats.failed
                });
                Disposition::Delete(why)
            }
            After::Report { why } => {
                st.outcome = Some(report.status.as_str().to_owned());
                st.phase = Phase::Finished;
                st.failure = Some(why.clone());
                self.save(st);
                let summary = Some(report.summary_markdown());
                self.report_and_finish(msg, task, st, why, summary).await
            }
            // Stopped by a shutdown: the run did not end, the next delivery runs it again.
            After::Stopping => {
                self.save(st);
                release_now("the worker is stopping")
            }
            After::GiveUp { why } => self.give_up(msg, task, Some(st), why).await,
        }
    }

    /// Removes a run's worktree and branch from the mirror, off the async threads.
    async fn remove_run(&self, at: &Target<'_>, run_id: &str) {
        let _m = self.leases.lock(at.mirror_key.to_owned()).await;
        let (m, b, r) = (at.mirror.clone(), at.branch.to_owned(), run_id.to_owned());
        let _ = tokio::task::spawn_blocking(move || m.remove_run(&r, &b)).await;
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
}

/// Where a run happens: the mirror, the commit it starts from, the branch, the remote.
struct Target<'a> {
    mirror: &'a Mirror,
    mirror_key: &'a str,
    tip: git2::Oid,
    branch: &'a str,
    remote: &'a Remote,
}
