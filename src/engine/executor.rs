//! The executor: runs a playbook's steps in order against a task, in a checkout.
//!
//! For each step it decides whether to run (`if`, default `success()`; a spent run budget),
//! builds the child environment in layers, computes the deadline (the step's timeout, capped
//! by the run's), runs the kind, and records the result for templates (`steps.<id>`) and
//! for the report, which its observers hear of after every step (`observe.rs`: `run.json`
//! at most every 200 ms, the history at every step's end). After the run's budget is spent,
//! only reporting steps (`pr_open`, `comment`) still run, each within its own timeout, so
//! that work already done is pushed and reported rather than lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use minijinja::Value;
use tokio::time::Instant;

use super::observe::{Event, Observer, Observers, RunFiles};
use super::report::{AttemptInfo, RunReport, RunStatus, StepReport};
use crate::adapters::git::{IDENTITY, Workspace};
use crate::mask::Masker;
use crate::playbook::model::{Playbook, Step, StepKind};
use crate::playbook::types::Version1;
use crate::playbook::types::{Condition, EnvMap};
use crate::process::env as child_env;
use crate::steps;
pub use crate::steps::call::{EngineOptions, RunInput};
use crate::steps::call::{Services, StepCall};
use crate::steps::result::{StepResult, StepStatus, millis};
use crate::task::Task;
use crate::template::context::{ContextBase, run_value};
use crate::template::sites::step_pointer;
use crate::template::{SiteKind, Templates};

/// A run that could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// The scope steps run in: the top level, or one attempt of a retry.
pub(crate) struct Scope {
    /// Something failed before this scope began.
    pub outer_failed: bool,
    /// The deadline of an enclosing retry that set a `timeout`.
    pub deadline: Option<Instant>,
    /// Something failed in this scope.
    pub failed_here: bool,
    /// Some step succeeded in this scope.
    pub succeeded_here: bool,
    pub attempt: Option<AttemptScope>,
    /// The plan's number of the scope's steps before their own (`2.1.` in attempt 1 of
    /// step 2) and their indent.
    pub number: String,
    pub indent: usize,
}

pub(crate) struct AttemptScope {
    pub value: Value,
    pub info: AttemptInfo,
    pub env: BTreeMap<String, String>,
}

impl Scope {
    pub(crate) fn top() -> Self {
        Self {
            outer_failed: false,
            deadline: None,
            failed_here: false,
            succeeded_here: false,
            attempt: None,
            number: String::new(),
            indent: 0,
        }
    }

    pub(crate) fn failed(&self) -> bool {
        self.outer_failed || self.failed_here
    }

    /// The scope of attempt `number` (with `keys`) of a retry inside this scope; it
    /// starts with the enclosing attempt's env, if any.
    pub(crate) fn attempt(
        &self,
        number: u32,
        keys: &BTreeMap<String, serde_json::Value>,
        deadline: Option<Instant>,
    ) -> Scope {
        Scope {
            outer_failed: self.failed(),
            deadline,
            failed_here: false,
            succeeded_here: false,
            attempt: Some(AttemptScope {
                value: crate::template::context::attempt_value(number, keys),
                info: AttemptInfo {
                    number,
                    keys: keys.clone(),
                },
                env: self
                    .attempt
                    .as_ref()
                    .map(|a| a.env.clone())
                    .unwrap_or_default(),
            }),
            number: String::new(),
            indent: 0,
        }
    }
}

/// A run in progress.
pub struct Engine {
    pub(crate) s: Services,
    reads_changed: ReadsChanged,
    pub(super) steps: BTreeMap<String, Value>,
    pub(crate) report: RunReport,
    timed_out: bool,
    seq: usize,
    started: Instant,
    /// Until [`Engine::start`]: the observers the trigger gave.
    waiting: Vec<Box<dyn Observer>>,
    observers: Observers,
    /// A dry run: steps are shown here instead of run.
    pub(crate) plan: Option<super::plan::PlanState>,
    /// The checkout as templates and the report name it.
    checkout_label: String,
    /// Some template reads `project`: the checkout's setup and test commands are detected
    /// when the run starts.
    reads_project: bool,
    /// What detection found.
    pub(crate) project: Option<crate::project::Project>,
    /// The dependency cache this run holds.
    cache: Option<crate::project::cache::Held>,
}

impl Engine {
    /// Prepares a run: secrets, masking, the child environment, the report.
    pub fn new(input: RunInput) -> Result<Self, SetupError> {
        Self::build(input, None)
    }

    /// [`Engine::new`] with observers (the history, a spinner, a worker's checkpoint)
    /// besides `run.json` and `summary.md`, which are always written.
    pub fn observed(
        input: RunInput,
        observers: Vec<Box<dyn Observer>>,
    ) -> Result<Self, SetupError> {
        let mut engine = Self::build(input, None)?;
        engine.waiting = observers;
        Ok(engine)
    }

    /// [`Engine::new`], or the engine of a dry run when `plan` is given: then nothing is
    /// logged, and what cannot be rendered is shown in the plan rather than refused.
    pub(crate) fn build(
        input: RunInput,
        mut plan: Option<super::plan::PlanState>,
    ) -> Result<Self, SetupError> {
        let quiet = plan.is_some();
        let (listed, refused): (Vec<String>, Vec<String>) = input
            .playbook
            .secrets
            .iter()
            .map(|s| s.0.clone())
            .partition(|name| {
                !crate::mask::is_worker_credential(name) && !input.credentials.contains(name)
            });
        for name in refused.iter().filter(|_| !quiet) {
            tracing::warn!(secret = %name, "the worker's GitHub token and AWS credentials never reach processes; not exposed");
        }
        let secrets: BTreeMap<String, String> = listed
            .iter()
            .filter_map(|name| {
                input
                    .parent_env
                    .get(name)
                    .map(|v| (name.clone(), v.clone()))
            })
            .collect();
        for name in listed
            .iter()
            .filter(|n| !quiet && !secrets.contains_key(*n))
        {
            tracing::warn!(secret = %name, "secret listed by the playbook is not set in the environment; templates that read it will fail");
        }
        let masked: Vec<String> = listed.iter().chain(&input.credentials).cloned().collect();
        let masker = Masker::for_environment(&input.parent_env, &masked);
        let checkout_label = match &plan {
            Some(_) => super::plan::WORKTREE.to_owned(),
            None => input.checkout.display().to_string(),
        };
        let base = ContextBase::new(&input.task, &input.playbook.vars, &secrets);
        let workspace = Workspace::new(&input.checkout);
        let started = Instant::now();
        let budget = input.budget.map_or(input.playbook.timeout.0, |b| {
            b.min(input.playbook.timeout.0)
        });
        let deadline = started + budget;

        let mut env = child_env::passthrough(&input.parent_env);
        issue_env(&input.task, &input.branch, &input.run_dir, &mut env);
        setup_env(&input.run_dir, &mut env);
        env.extend(secrets.clone());

        let mut steps = BTreeMap::new();
        index_steps(&input.playbook.steps, &mut steps);
        let report = RunReport {
            version: Version1,
            id: input.run_id.clone(),
            playbook: input.playbook_path.clone(),
            playbook_name: input.playbook.name.clone(),
            task_id: input.task.id.clone(),
            repo: input.task.repo.full_name.clone(),
            issue: input.task.issue.number,
            issue_title: masker.mask(&input.task.issue.title),
            trigger: Some(input.trigger.to_owned()),
            status: RunStatus::Running,
            branch: input.branch.clone(),
            workdir: checkout_label.clone(),
            started_at: jiff::Timestamp::now(),
            finished_at: None,
            duration_ms: 0,
            steps: Vec::new(),
            pr: None,
            cache: None,
        };
        let reads_changed = ReadsChanged::of(&input.playbook, &input.templates);
        let reads_project = crate::template::sites::collect(&input.playbook)
            .iter()
            .any(|site| site.source.contains("project"));
        let mut engine = Engine {
            reads_changed,
            s: Services {
                run: input,
                base,
                masker,
                child_env: BTreeMap::new(),
                workspace,
                deadline,
                shell: String::new(),
                start: None,
            },
            steps,
            report,
            timed_out: false,
            seq: 0,
            started,
            waiting: Vec::new(),
            observers: Observers::default(),
            plan: None,
            checkout_label,
            reads_project,
            project: None,
            cache: None,
        };
        // The playbook's env is rendered once, with the run's context.
        let top = Scope::top();
        let ctx = engine.ctx(&top);
        let rendered = render_env(&engine.s.run.templates, &engine.s.run.playbook.env, &ctx);
        match (rendered, &mut plan) {
            (Ok(rendered), plan) => {
                if let Some(p) = plan {
                    p.env = Ok(rendered.clone());
                }
                env.extend(rendered);
            }
            (Err(e), Some(p)) => p.env = Err(e),
            (Err(e), None) => {
                return Err(SetupError(format!(
                    "the playbook's `env` cannot be rendered: {e}"
                )));
            }
        }
        engine.plan = plan;
        engine.s.shell = find_program("sh", env.get("PATH").map(String::as_str));
        engine.s.child_env = env;
        Ok(engine)
    }

    /// Adds an observer of the run (before [`Engine::start`]).
    pub fn observe(&mut self, observer: Box<dyn Observer>) {
        self.waiting.push(observer);
    }

    /// Prepares the run directory and the checkout's side of the environment. [`Engine::new`]
    /// touches nothing on disk, so a run that cannot start leaves nothing behind; this runs
    /// once the checkout exists.
    pub async fn start(&mut self) -> Result<(), SetupError> {
        let dir = &self.s.run.run_dir;
        // A reused --out directory must not mix two runs' logs, prompts and setups.
        let _ = std::fs::remove_dir_all(dir.join(SETUP_DIR));
        for sub in ["logs", "prompts"] {
            let _ = std::fs::remove_dir_all(dir.join(sub));
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| {
                SetupError(format!("failed to create {}: {e}", dir.join(sub).display()))
            })?;
        }
        let body = dir.join("issue-body.md");
        std::fs::write(&body, &self.s.run.task.issue.body)
            .map_err(|e| SetupError(format!("failed to write {}: {e}", body.display())))?;
        let (start, identity) = self
            .s
            .workspace
            .off_thread(|w| (w.head().ok().flatten(), w.has_identity()))
            .await;
        self.s.start = start;
        if !identity {
            for (k, v) in [
                ("GIT_AUTHOR_NAME", IDENTITY.0),
                ("GIT_AUTHOR_EMAIL", IDENTITY.1),
                ("GIT_COMMITTER_NAME", IDENTITY.0),
                ("GIT_COMMITTER_EMAIL", IDENTITY.1),
            ] {
                self.s.child_env.insert(k.into(), v.into());
            }
        }
        self.detect_project().await;
        let mut observers: Vec<Box<dyn Observer>> =
            vec![Box::new(RunFiles::new(self.s.run.run_dir.clone()))];
        observers.append(&mut self.waiting);
        self.observers = Observers::start(observers);
        self.observers.send(Event::RunStarted {
            report: Box::new(self.report.clone()),
        });
        Ok(())
    }

    /// Finds how the checkout installs and tests itself (`project.*`), when a template reads
    /// it. Detection reads files only, off the async threads.
    pub(crate) async fn detect_project(&mut self) {
        // A run with a cache root finds its project for the caches even when no template
        // reads `project`; a plan only when one does.
        let caching = self.s.run.cache_root.is_some() && self.plan.is_none();
        if !self.reads_project && !caching {
            return;
        }
        let checkout = self.s.run.checkout.clone();
        let tools =
            crate::project::Tools::from_path(self.s.run.parent_env.get("PATH").map(String::as_str));
        let cache_root = self
            .s
            .run
            .cache_root
            .clone()
            .filter(|_| self.plan.is_none());
        let repo = self.s.run.task.repo.full_name.clone();
        let max = crate::project::cache::max_from(
            self.s
                .run
                .parent_env
                .get("CODINGWORKER_CACHE_MAX")
                .map(String::as_str),
        )
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "using the default bound for dependency caches");
            crate::project::cache::DEFAULT_MAX
        });
        let detected = tokio::task::spawn_blocking(move || {
            let project = crate::project::detect(&checkout, &tools);
            let cache = cache_root
                .filter(|_| project.ecosystem.is_some())
                .map(|root| crate::project::cache::open(&root, &repo, &checkout, &project, max));
            (project, cache)
        })
        .await;
        let Ok((project, cache)) = detected else {
            tracing::warn!("project detection failed; project.setup and project.test are empty");
            return;
        };
        match cache {
            Some(Ok(held)) => {
                tracing::info!(cache = %held.used.dir, hit = held.used.hit, "dependency cache");
                // Below the playbook's env: a playbook that sets CARGO_TARGET_DIR keeps it.
                for (k, v) in &held.env {
                    self.s
                        .child_env
                        .entry(k.clone())
                        .or_insert_with(|| v.clone());
                }
                self.report.cache = Some(held.used.clone());
                self.cache = Some(held);
            }
            Some(Err(why)) => tracing::info!(reason = %why, "no dependency cache for this run"),
            None => {}
        }
        if self.plan.is_none() {
            tracing::info!(
                ecosystem = project.ecosystem.map_or("none", |e| e.name()),
                setup = %project.setup_script().replace('\n', " "),
                test = %project.test_script(),
                "project detected"
            );
            for note in &project.notes {
                tracing::info!(note = %crate::text::printable(note), "project detection");
            }
            if !project.missing.is_empty() {
                tracing::warn!(missing = %project.missing.join(", "), "the project's setup or tests need programs this machine's PATH lacks");
            }
        }
        self.s.base.project = project.to_value();
        self.project = Some(project);
    }

    /// Runs every step and returns the final report (also written to the run directory).
    /// Call [`Engine::start`] first.
    pub async fn run(mut self) -> RunReport {
        tracing::info!(run = %self.s.run.run_id, playbook = %self.s.run.playbook.name, repo = %self.s.run.task.repo.full_name,
            issue = self.s.run.task.issue.number, branch = %self.s.run.branch, "run started");
        let pb = self.s.run.playbook.clone();
        let mut scope = Scope::top();
        for (i, step) in pb.steps.iter().enumerate() {
            self.run_step(step, &step_pointer(i), &mut scope).await;
        }
        self.report.status = if self.s.run.cancel.is_cancelled() {
            RunStatus::Cancelled
        } else if self.timed_out {
            RunStatus::TimedOut
        } else if scope.failed() {
            RunStatus::Failure
        } else {
            RunStatus::Success
        };
        // What setup made outside the checkout (a venv, a build tree) goes with the run.
        let setup = self.s.run.run_dir.join(SETUP_DIR);
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(setup)).await;
        self.report.finished_at = Some(jiff::Timestamp::now());
        self.report.duration_ms = millis(self.started.elapsed());
        self.observers.send(Event::RunFinished {
            report: Box::new(self.report.clone()),
        });
        std::mem::take(&mut self.observers).finish().await;
        tracing::info!(run = %self.s.run.run_id, status = self.report.status.as_str(), "run finished");
        self.report
    }

    /// The template context for a step in `scope`.
    pub(crate) fn ctx(&self, scope: &Scope) -> Value {
        // The steps table grows with the run: build it only when a template reads it.
        let summary = if self.reads_changed.summary {
            self.report.steps_table()
        } else {
            String::new()
        };
        let run = run_value(
            &self.s.run.run_id,
            &self.s.run.branch,
            &self.checkout_label,
            &summary,
        );
        self.s.base.with(
            run,
            Value::from(self.steps.clone()),
            scope.attempt.as_ref().map(|a| &a.value),
            scope.failed(),
        )
    }

    fn out_of_time(&self) -> bool {
        self.timed_out || Instant::now() >= self.s.deadline
    }

    /// Records a step as skipped without running it (e.g. its attempt could not start).
    pub(crate) fn skip_step(&mut self, step: &Step, scope: &mut Scope, message: String) {
        let index = self.report.steps.len();
        self.seq += 1;
        let stem = format!("{:02}-{}", self.seq, step.id);
        tracing::info!(step = %step.id, reason = %message, "step skipped");
        self.record(
            step,
            scope,
            index,
            self.seq,
            &stem,
            StepResult::skipped(message),
            Instant::now(),
        );
    }

    /// Runs one step and records its result.
    pub(crate) async fn run_step(&mut self, step: &Step, pointer: &str, scope: &mut Scope) {
        let index = self.report.steps.len();
        self.seq += 1;
        let stem = match &scope.attempt {
            Some(a) => format!("{:02}-{}-a{}", self.seq, step.id, a.info.number),
            None => format!("{:02}-{}", self.seq, step.id),
        };
        if self.plan.is_some() {
            return self.plan_step(step, pointer, scope, index, stem).await;
        }
        let started = Instant::now();
        tracing::info!(step = %step.id, kind = step.kind.name(), attempt = scope.attempt.as_ref().map(|a| a.info.number), "step started");
        {
            let logs = steps::kind_of(&step.kind).is_some_and(|k| k.logs());
            let entry = StepReport {
                id: step.id.0.clone(),
                name: step.name.clone(),
                kind: step.kind.name().to_owned(),
                status: StepStatus::Skipped,
                exit_code: None,
                duration_ms: 0,
                attempt: scope.attempt.as_ref().map(|a| a.info.clone()),
                model: None,
                message: None,
                log: logs.then(|| format!("logs/{stem}.log")),
                tests: None,
                context: None,
            };
            self.observers.send(Event::StepStarted {
                seq: self.seq,
                step: entry,
                at: jiff::Timestamp::now().to_string(),
            });
        }
        let seq = self.seq;
        let result = self.execute(step, pointer, scope, stem.clone()).await;
        self.record(step, scope, index, seq, &stem, result, started);
    }

    async fn execute(
        &mut self,
        step: &Step,
        pointer: &str,
        scope: &mut Scope,
        stem: String,
    ) -> StepResult {
        if self.s.run.cancel.is_cancelled() {
            return StepResult::with_status(StepStatus::Cancelled, "the run was cancelled");
        }
        let kind = steps::kind_of(&step.kind);
        let reporting = kind.is_some_and(|k| k.reports());
        if self.out_of_time() && !reporting {
            self.timed_out = true;
            return StepResult::skipped(format!(
                "skipped: the run's time budget ({}) is spent",
                humantime::format_duration(self.s.run.playbook.timeout.0)
            ));
        }
        if scope.deadline.is_some_and(|d| Instant::now() >= d) && !reporting {
            return StepResult::skipped("skipped: the enclosing retry's time budget is spent");
        }
        let ctx = self.ctx(scope);
        let run_it = match &step.condition {
            None => !scope.failed(),
            Some(Condition::Bool(b)) => *b,
            Some(Condition::Expr(_)) => {
                match self.s.run.templates.eval(&format!("{pointer}/if"), &ctx) {
                    Ok(b) => b,
                    Err(e) => return StepResult::failed(format!("`if` cannot be evaluated: {e}")),
                }
            }
        };
        if !run_it {
            return StepResult::skipped(match &step.condition {
                None => "skipped: an earlier step failed".to_owned(),
                Some(Condition::Bool(_)) => "skipped: `if: false`".to_owned(),
                Some(Condition::Expr(e)) => format!("skipped: `if: {e}` is false"),
            });
        }
        let kind = match (kind, &step.kind) {
            (Some(kind), _) => kind,
            (None, StepKind::Retry(spec)) => {
                return self.run_retry(step, pointer, spec, scope).await;
            }
            (None, other) => unreachable!("`{}` has no kind", other.name()),
        };
        let env = match self.step_env(step, scope, &ctx) {
            (mut env, Ok(own)) => {
                env.extend(own);
                env
            }
            (_, Err(e)) => return StepResult::failed(e),
        };
        let cwd = match step_cwd(&self.s.run.checkout, step.workdir.as_deref()) {
            Ok(c) => c,
            Err(e) => return StepResult::failed(e),
        };
        let limit = step.timeout();
        let (deadline, run_bound) = self.deadline_for(limit, reporting, scope.deadline);
        let call = StepCall {
            step,
            pointer,
            ctx,
            env,
            cwd,
            deadline,
            limit,
            stem,
            attempt: scope.attempt.as_ref().map(|a| a.info.number),
        };
        // Telling whether a shell step changed the checkout costs two git status scans; only
        // pay for it when a template reads it.
        let track =
            matches!(step.kind, StepKind::Shell(_)) && self.reads_changed.reads(step.id.as_str());
        let before = if track {
            self.s.workspace.off_thread(|w| w.snapshot().ok()).await
        } else {
            None
        };
        let mut result = kind.run(&self.s, &call).await;
        if track {
            result.changed = before != self.s.workspace.off_thread(|w| w.snapshot().ok()).await;
        }
        if result.status == StepStatus::TimedOut && run_bound {
            self.timed_out = true;
            result.message = Some(format!(
                "timed out: the run's time budget ({}) ran out",
                humantime::format_duration(self.s.run.playbook.timeout.0)
            ));
        }
        result
    }

    /// A step's environment in its layers: the run's (with the attempt's, inside a retry),
    /// and apart, the step's own `env` rendered, or why it cannot be. Later layers win.
    pub(crate) fn step_env(
        &self,
        step: &Step,
        scope: &Scope,
        ctx: &Value,
    ) -> (
        BTreeMap<String, String>,
        Result<BTreeMap<String, String>, String>,
    ) {
        let mut env = self.s.child_env.clone();
        if let Some(a) = &scope.attempt {
            env.extend(a.env.clone());
        }
        (env, render_env(&self.s.run.templates, &step.env, ctx))
    }

    /// A step's deadline and whether the run's budget (not the step's own or an enclosing
    /// retry's) sets it.
    pub(crate) fn deadline_for(
        &self,
        limit: Option<Duration>,
        reporting: bool,
        outer: Option<Instant>,
    ) -> (Instant, bool) {
        let now = Instant::now();
        let own = match (limit.map(|l| now + l), outer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if reporting && self.out_of_time() {
            return (own.unwrap_or(now + Duration::from_secs(60)), false);
        }
        match own {
            Some(o) if o < self.s.deadline => (o, false),
            _ => (self.s.deadline, true),
        }
    }

    pub(crate) fn out_of_time_now(&self) -> bool {
        self.out_of_time()
    }

    pub(crate) fn mark_timed_out(&mut self) {
        self.timed_out = true;
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        step: &Step,
        scope: &mut Scope,
        index: usize,
        seq: usize,
        stem: &str,
        result: StepResult,
        started: Instant,
    ) {
        let mut value_result = result.clone();
        if matches!(step.kind, StepKind::PrOpen(_)) && value_result.outputs.is_empty() {
            value_result.outputs = crate::steps::result::pr_outputs(None);
        }
        self.steps
            .insert(step.id.0.clone(), value_result.to_value());
        if result.status.is_failed() && !step.continue_on_error {
            scope.failed_here = true;
        }
        if result.status == StepStatus::Success {
            scope.succeeded_here = true;
        }
        let message = result.message.as_deref().map(|m| self.s.masker.mask(m));
        let duration_ms = millis(started.elapsed());
        tracing::info!(step = %step.id, status = result.status.as_str(), duration_ms,
            reason = message.as_deref().unwrap_or(""), "step finished");
        let entry = StepReport {
            id: step.id.0.clone(),
            name: step.name.clone(),
            kind: step.kind.name().to_owned(),
            status: result.status,
            exit_code: result.exit_code,
            duration_ms,
            attempt: scope.attempt.as_ref().map(|a| a.info.clone()),
            model: result.model.clone(),
            message,
            log: result.logged.then(|| format!("logs/{stem}.log")),
            tests: result.tests,
            context: result.context,
        };
        self.report
            .steps
            .insert(index.min(self.report.steps.len()), entry.clone());
        if let Some(pr) = result.pr {
            self.report.pr = Some(pr);
        }
        self.report.duration_ms = millis(self.started.elapsed());
        self.observers.send(Event::StepFinished {
            seq,
            step: entry,
            report: Box::new(self.report.clone()),
        });
    }

    pub(crate) async fn snapshot_changed_since(
        &self,
        before: &Option<crate::adapters::git::Snapshot>,
    ) -> bool {
        *before != self.s.workspace.off_thread(|w| w.snapshot().ok()).await
    }
}

/// The full path of `name` on the children's PATH, or `name` itself (then the spawn finds it,
/// or says it cannot).
fn find_program(name: &str, path: Option<&str>) -> String {
    use std::os::unix::fs::PermissionsExt;
    path.into_iter()
        .flat_map(|p| p.split(':'))
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map_or_else(|| name.to_owned(), |p| p.display().to_string())
}

/// What of the run's state templates read that costs something to provide: which steps'
/// `changed` output, and whether `run.summary`.
struct ReadsChanged {
    /// A template reads `steps` in a way we cannot follow (`steps[name]`, the whole map).
    all: bool,
    ids: std::collections::HashSet<String>,
    /// Some template reads `run.summary` (or `run` in a way we cannot follow).
    summary: bool,
}

impl ReadsChanged {
    fn of(playbook: &Playbook, templates: &Templates) -> Self {
        let mut all = false;
        let mut summary = false;
        let mut ids = std::collections::HashSet::new();
        for site in crate::template::sites::collect(playbook) {
            if site.source.contains("steps[") {
                all = true;
            }
            if site.source.contains("run[") {
                summary = true;
            }
            for name in templates.names_read(&site) {
                if name == "run" || name == "run.summary" {
                    summary = true;
                }
                let mut parts = name.split('.');
                if parts.next() != Some("steps") {
                    continue;
                }
                match (parts.next(), parts.next()) {
                    (Some(id), Some("changed")) => {
                        ids.insert(id.to_owned());
                    }
                    (Some(_), Some(_)) => {}
                    _ => all = true,
                }
            }
        }
        Self { all, ids, summary }
    }

    fn reads(&self, id: &str) -> bool {
        self.all || self.ids.contains(id)
    }
}

/// `steps.<id>` for every step, nested ones included, before anything ran.
pub(crate) fn index_steps(steps: &[Step], out: &mut BTreeMap<String, Value>) {
    for step in steps {
        out.insert(
            step.id.0.clone(),
            StepResult::not_run_value(step.kind.name()),
        );
        index_steps(step.children(), out);
    }
}

/// Renders an env map, each value by its own place.
pub(crate) fn render_env(
    templates: &Templates,
    env: &EnvMap,
    ctx: &Value,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (name, t) in env.iter() {
        let p = t
            .pointer()
            .ok_or_else(|| format!("internal error: env `{name}` was not compiled"))?;
        let value = templates
            .render(SiteKind::Text, p, ctx)
            .map_err(|e| format!("template error in env `{name}`: {e}"))?;
        if !child_env::env_safe(name, &value) {
            return Err(format!(
                "env `{name}` cannot be set: it contains a NUL byte or is too long"
            ));
        }
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// The folder of the run directory where setup keeps what it makes outside the checkout.
pub(crate) const SETUP_DIR: &str = "setup";

/// `CW_SETUP_DIR`, where setup keeps what must stay out of the checkout (the Python venv, a
/// CMake build tree), and the venv's `bin` at the head of PATH, so that once setup made it,
/// `python3`, `pip` and `pytest` are the run's own.
fn setup_env(run_dir: &Path, env: &mut BTreeMap<String, String>) {
    let dir = run_dir.join(SETUP_DIR);
    let bin = dir.join("venv").join("bin").display().to_string();
    let path = match env.get("PATH").filter(|p| !p.is_empty()) {
        Some(p) => format!("{bin}:{p}"),
        None => bin,
    };
    env.insert("PATH".into(), path);
    env.insert("CW_SETUP_DIR".into(), dir.display().to_string());
}

/// The issue variables of every child: `CW_ISSUE_*` (labels one per line, and as JSON),
/// `CW_REPO`, `CW_BRANCH`. A value the
/// environment cannot hold (NUL byte, over 128 KiB) is left out; the body is always in the
/// file `CW_ISSUE_BODY_FILE` names (written by [`Engine::start`]).
fn issue_env(task: &Task, branch: &str, run_dir: &Path, env: &mut BTreeMap<String, String>) {
    env.insert(
        "CW_ISSUE_BODY_FILE".into(),
        run_dir.join("issue-body.md").display().to_string(),
    );
    let vars = [
        ("CW_ISSUE_NUMBER", task.issue.number.to_string()),
        ("CW_ISSUE_TITLE", task.issue.title.clone()),
        ("CW_ISSUE_BODY", task.issue.body.clone()),
        // One label per line (a label may hold a comma, GitHub's names have no line
        // break); the JSON list is exact whatever a label holds.
        ("CW_ISSUE_LABELS", task.issue.labels.join("\n")),
        (
            "CW_ISSUE_LABELS_JSON",
            serde_json::to_string(&task.issue.labels).unwrap_or_else(|_| "[]".into()),
        ),
        ("CW_ISSUE_AUTHOR", task.issue.author.clone()),
        ("CW_ISSUE_URL", task.issue.url.clone()),
        ("CW_REPO", task.repo.full_name.clone()),
        ("CW_BRANCH", branch.to_owned()),
    ];
    for (name, value) in vars {
        if child_env::env_safe(name, &value) {
            env.insert(name.into(), value);
        } else {
            tracing::warn!(
                variable = name,
                "issue text cannot be put in the environment (NUL byte or over 128 KiB); left out"
            );
        }
    }
}

/// The directory a step runs in: the checkout or `workdir` inside it (which must exist and
/// must not lead outside through a symlink).
pub fn step_cwd(checkout: &Path, workdir: Option<&str>) -> Result<PathBuf, String> {
    let Some(dir) = workdir else {
        return Ok(checkout.to_path_buf());
    };
    crate::paths::check_relative(dir).map_err(|why| format!("`workdir` {why}"))?;
    let path = checkout.join(dir);
    if !path.is_dir() {
        return Err(format!("`workdir` {dir} does not exist in the checkout"));
    }
    crate::paths::inside(checkout, checkout, dir).map_err(|why| format!("`workdir` {dir} {why}"))
}
