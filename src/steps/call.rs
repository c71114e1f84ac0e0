//! What a step kind is given to run: the run's inputs and services, and the call of one
//! step (its rendered context, environment, directory, deadline and file stem). The engine
//! builds these; the kinds only read them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use minijinja::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::result::StepResult;
use crate::adapters::git::{Remote, Workspace};
use crate::adapters::github::GitHub;
use crate::mask::Masker;
use crate::playbook::model::{Playbook, Step};
use crate::playbook::types::Template;
use crate::process::{self, Supervision};
use crate::task::Task;
use crate::template::context::ContextBase;
use crate::template::{SiteKind, Templates};

/// Knobs of the engine that are not part of a playbook.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Time between SIGTERM and SIGKILL when a step is stopped.
    pub kill_grace: Duration,
    /// Bytes of each output stream kept in memory per step.
    pub output_limit: usize,
    /// The aider executable.
    pub aider_program: String,
    /// How long the Ollama probe waits.
    pub probe_timeout: Duration,
}

impl EngineOptions {
    /// Defaults, with `CODINGWORKER_AIDER` and `CODINGWORKER_KILL_GRACE` from the worker's
    /// environment.
    pub fn from_env(env: &BTreeMap<String, String>) -> Self {
        Self {
            kill_grace: env
                .get("CODINGWORKER_KILL_GRACE")
                .and_then(|g| humantime::parse_duration(g).ok())
                .unwrap_or(Duration::from_secs(10)),
            output_limit: 256 * 1024,
            aider_program: env
                .get("CODINGWORKER_AIDER")
                .cloned()
                .unwrap_or_else(|| "aider".into()),
            probe_timeout: Duration::from_secs(5),
        }
    }
}

/// Everything a run needs, prepared by a trigger (local run or worker).
pub struct RunInput {
    pub playbook: Arc<Playbook>,
    pub playbook_path: String,
    pub templates: Arc<Templates>,
    pub task: Task,
    pub run_id: String,
    pub branch: String,
    /// The checkout the steps run in (a git worktree on the run branch).
    pub checkout: PathBuf,
    /// Where `run.json`, `summary.md`, logs and prompts go.
    pub run_dir: PathBuf,
    /// The worker's environment (secrets are read from it; children get a scrubbed copy).
    pub parent_env: BTreeMap<String, String>,
    /// `None`: `pr_open` and `comment` print what they would send.
    pub github: Option<Arc<dyn GitHub>>,
    /// Where `pr_open` pushes; `None`: it commits but does not push.
    pub push: Option<Remote>,
    pub options: EngineOptions,
    pub cancel: CancellationToken,
    /// What is left of the run's budget when it is less than the playbook's `timeout` (a
    /// task redelivered after a crash); `None`: the whole `timeout`.
    pub budget: Option<Duration>,
    /// Names of variables that hold the worker's own credentials (e.g. its configured
    /// GitHub token variable): never exposed as secrets, always masked.
    pub credentials: Vec<String>,
    /// The worker's idempotency key of the task: comments carry it in a hidden marker, so
    /// that a redelivered task does not comment twice. `None` for local runs.
    pub task_key: Option<String>,
    /// `local` or `worker`.
    pub trigger: &'static str,
    /// Where dependency caches are kept between runs (`WORKDIR/cache/deps`); `None`: the
    /// tools' own caches.
    pub cache_root: Option<PathBuf>,
}

/// What step kinds may use while they run; it does not change during the run.
pub struct Services {
    /// What the trigger prepared.
    pub run: RunInput,
    pub base: ContextBase,
    pub masker: Masker,
    /// passthrough + issue variables + secrets + playbook env.
    pub child_env: BTreeMap<String, String>,
    pub workspace: Workspace,
    pub deadline: Instant,
    /// `sh`, found on PATH once rather than at every spawn.
    pub shell: String,
    /// The commit the checkout was at when the run started.
    pub start: Option<git2::Oid>,
}

/// One step about to run: what its kind needs.
pub struct StepCall<'a> {
    pub step: &'a Step,
    pub pointer: &'a str,
    pub ctx: Value,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub deadline: Instant,
    /// The step's own timeout, for messages.
    pub limit: Option<Duration>,
    /// Stem of this execution's files under the run directory (`03-test-a2`).
    pub stem: String,
    pub attempt: Option<u32>,
}

impl StepCall<'_> {
    /// Renders a text template of this step (a field of its spec: `&spec.model`).
    ///
    /// A template made by code rather than read from the playbook (`eval`'s model) has no
    /// place: it is its own text.
    pub fn render(&self, s: &Services, t: &Template) -> Result<String, String> {
        let Some(pointer) = t.pointer() else {
            return Ok(t.as_str().to_owned());
        };
        // `aider.files.0` for `/steps/2/aider/files/0`.
        let field = pointer
            .strip_prefix(self.pointer)
            .unwrap_or(pointer)
            .trim_start_matches('/')
            .replace('/', ".");
        let bounds = crate::template::Bounds {
            deadline: Some(self.deadline.into_std()),
            cancel: Some(s.run.cancel.clone()),
        };
        s.run
            .templates
            .render_bounded(SiteKind::Text, pointer, &self.ctx, &bounds)
            .map_err(|e| format!("template error in `{field}`: {e}"))
    }

    pub fn log_path(&self, s: &Services) -> PathBuf {
        s.run
            .run_dir
            .join("logs")
            .join(format!("{}.log", self.stem))
    }

    pub fn supervision(&self, s: &Services) -> Supervision {
        Supervision {
            deadline: self.deadline,
            cancel: s.run.cancel.clone(),
            grace: s.run.options.kill_grace,
            limit: s.run.options.output_limit,
            log: Some(self.log_path(s)),
            masker: s.masker.clone(),
            watch: None,
        }
    }
}

/// Runs a process for a step (the shared tail of `shell` and `aider`) with its environment,
/// and optionally a watch on its output.
pub(crate) async fn run_process(
    s: &Services,
    call: &StepCall<'_>,
    program: &str,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    header: &str,
    watch: Option<process::Watch>,
) -> StepResult {
    let cmd = process::Command {
        program: program.to_owned(),
        args,
        cwd: call.cwd.clone(),
        env,
        fd3: None,
    };
    let mut sup = call.supervision(s);
    sup.watch = watch.clone();
    match process::run_command(&cmd, &sup, Some(header)).await {
        Ok(f) => {
            let mut r = StepResult::from_process(f, call.limit);
            if let Some(reason) = watch.and_then(|w| w.reason()) {
                r.message = Some(s.masker.mask(&reason));
            }
            r
        }
        Err(e) => StepResult::failed(e.to_string()),
    }
}

/// Runs `f`, which blocks for a while (a walk over the checkout, git work with borrowed
/// data), without holding up the other tasks: on a multi-thread runtime (the worker's) the
/// thread hands its other tasks, the queue's heartbeats among them, to another thread
/// first; on a one-thread runtime (a local run) there is nothing else to hold up.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
