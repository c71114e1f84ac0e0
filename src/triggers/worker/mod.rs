//! The SQS worker: long-polls the queue and runs one playbook per task, by the delivery
//! rules of the product spec (§8):
//! - one long poll at a time, up to `concurrency` tasks in flight;
//! - a heartbeat extends a message's visibility while its task runs, and stops at the end
//!   of the run's time budget;
//! - a message is deleted only after a final result (PR opened or updated, or failure
//!   reported on the issue); malformed, refused and unroutable messages are released
//!   (visibility 0) so that the queue's redrive policy moves them to the dead-letter queue;
//! - what a task has done is kept in the workdir under its idempotency key, so a
//!   redelivery resumes it without a second PR or comment and budgets hold across crashes;
//! - SIGTERM/SIGINT stop receiving; running tasks get `shutdown_grace` to finish, then they
//!   are stopped and their messages handed back.

mod choose;
mod cleanup;
mod decide;
mod handle;
mod heartbeat;
mod lease;
mod report;
pub(crate) mod route;
pub(crate) mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::adapters::github::{GitHub, OctocrabGitHub, RetryPolicy};
use crate::adapters::sqs::Queue;
use crate::config::worker::Settings;
use crate::engine::executor::EngineOptions;
use crate::error::{Error, Outcome};
use crate::process::env as child_env;

/// What the worker is asked to do (the command line's `worker` options).
#[derive(Debug, Clone)]
pub(crate) struct WorkerArgs {
    pub config: PathBuf,
    /// Exit when a receive finds the queue empty.
    pub once: bool,
    pub status_addr: Option<std::net::SocketAddr>,
    pub status_token: Option<String>,
}

/// Counters of what the worker did, logged with the events they count.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub received: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub malformed: AtomicU64,
    pub refused: AtomicU64,
    pub unroutable: AtomicU64,
    pub retried: AtomicU64,
    pub gave_up: AtomicU64,
    pub receive_errors: AtomicU64,
}

impl Stats {
    fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn line(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} received, {} succeeded, {} failed, {} malformed, {} refused, {} unroutable, {} to retry, {} given up, {} receive errors",
            g(&self.received),
            g(&self.succeeded),
            g(&self.failed),
            g(&self.malformed),
            g(&self.refused),
            g(&self.unroutable),
            g(&self.retried),
            g(&self.gave_up),
            g(&self.receive_errors)
        )
    }
}

/// The directories under the workdir.
#[derive(Debug, Clone)]
pub(crate) struct Dirs {
    pub repos: PathBuf,
    pub worktrees: PathBuf,
    pub runs: PathBuf,
    pub tasks: PathBuf,
}

impl Dirs {
    fn under(workdir: &Path) -> Self {
        Self {
            repos: workdir.join("repos"),
            worktrees: workdir.join("worktrees"),
            runs: workdir.join("runs"),
            tasks: workdir.join("tasks"),
        }
    }
}

/// Everything the tasks of one worker share.
pub(crate) struct Worker {
    pub settings: Settings,
    pub queue: Queue,
    /// `None` with `github.dry_run`.
    pub github: Option<Arc<dyn GitHub>>,
    pub token: Option<String>,
    pub env: BTreeMap<String, String>,
    pub options: EngineOptions,
    pub dirs: Dirs,
    pub store: state::Store,
    pub stats: Stats,
    /// Masks the worker's credentials (its token variable included, whatever its name).
    pub masker: crate::mask::Masker,
    /// Per-branch and per-mirror locks, and the mirrors in use.
    leases: lease::Leases,
    /// Cancels the runs in flight (after the shutdown grace, or a second signal).
    pub stop_runs: CancellationToken,
    /// The run history (`None` when it cannot be opened: runs go on without it).
    pub history: Option<Arc<crate::history::Store>>,
    /// The runs in progress, to cancel one on request.
    pub cancels: Arc<crate::history::Cancels>,
}

/// `codingworker worker`.
/// Runs the worker on `runtime` until it is stopped.
pub(crate) fn run_worker(
    args: &WorkerArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<Outcome, Error> {
    let mut env = child_env::current();
    // A token given on the command line is masked like one from the environment.
    if let Some(t) = args.status_token.as_ref().filter(|t| !t.is_empty()) {
        env.insert("CODINGWORKER_STATUS_TOKEN".into(), t.clone());
    }
    let settings = crate::config::worker::load(&args.config, &env)?;
    let queue_url = settings.queue_url.clone().ok_or_else(|| {
        Error::Setup(format!(
            "no queue URL: set `queue_url` in {} or CODINGWORKER_QUEUE_URL",
            args.config.display()
        ))
    })?;
    let token = env
        .get(&settings.github.token_env)
        .filter(|t| !t.is_empty())
        .cloned();
    if token.is_none() && !settings.github.dry_run {
        return Err(Error::Setup(format!(
            "no GitHub token in ${}: the worker needs one to push branches and open pull requests (set `github.token_env` to read another variable, or `github.dry_run: true` to try a setup without GitHub)",
            settings.github.token_env
        )));
    }
    if settings.workdir.starts_with("~") {
        return Err(Error::Setup(format!(
            "the workdir {} needs HOME, which is not set; give `workdir` an absolute path or set CODINGWORKER_WORKDIR",
            settings.workdir.display()
        )));
    }
    let workdir = std::path::absolute(&settings.workdir).map_err(Error::io(format!(
        "failed to resolve {}",
        settings.workdir.display()
    )))?;
    let dirs = Dirs::under(&workdir);
    let status_token = args.status_token.clone().filter(|t| !t.is_empty());
    if let Some(addr) = &args.status_addr {
        crate::status::check_addr(addr, status_token.as_deref()).map_err(Error::Setup)?;
    }

    let _entered = runtime.enter();
    let github: Option<Arc<dyn GitHub>> = match (&token, settings.github.dry_run) {
        (Some(t), false) => Some(Arc::new(
            OctocrabGitHub::new(t, &settings.github.api_url)
                .map_err(|e| Error::Setup(e.to_string()))?
                .with_policy(RetryPolicy::from_env(&env)),
        )),
        _ => None,
    };
    let options = EngineOptions::from_env(&env);
    let once = args.once;
    let status_addr = args.status_addr;
    runtime.block_on(async move {
        let queue = Queue::connect(&queue_url).await;
        let info = queue.info().await.map_err(|e| {
            Error::Setup(format!(
                "cannot use the queue {queue_url}: {e} (check queue_url, the AWS region and credentials, and AWS_ENDPOINT_URL_SQS for a local server)"
            ))
        })?;
        match info.max_receive_count {
            None => tracing::warn!("the queue has no redrive policy: a message that cannot be worked on comes back forever instead of moving to a dead-letter queue"),
            Some(n) if n != settings.max_receives => tracing::warn!(
                queue_max_receive_count = n,
                max_receives = settings.max_receives,
                "max_receives differs from the queue's redrive policy; the last receive may not report on the issue"
            ),
            Some(_) => {}
        }
        tracing::info!(visible = info.visible, in_flight = info.in_flight, "queue reachable");
        for d in [&dirs.repos, &dirs.worktrees, &dirs.runs, &dirs.tasks] {
            std::fs::create_dir_all(d)
                .map_err(Error::io(format!("failed to create {}", d.display())))?;
        }
        let _lock = lock_workdir(&workdir)?;
        let masker = crate::mask::Masker::for_environment(
            &env,
            &[
                settings.github.token_env.clone(),
                "CODINGWORKER_STATUS_TOKEN".to_owned(),
            ],
        );
        let history = match crate::history::Store::open(&workdir) {
            Ok(h) => Some(Arc::new(h)),
            Err(e) => {
                tracing::error!(error = %e, "runs are not recorded in the history");
                None
            }
        };
        let worker = Arc::new(Worker {
            store: state::Store::new(&dirs.tasks),
            settings,
            queue,
            github,
            token,
            env,
            options,
            dirs,
            stats: Stats::default(),
            masker,
            leases: lease::Leases::default(),
            stop_runs: CancellationToken::new(),
            history,
            cancels: Arc::default(),
        });
        if let Some(h) = &worker.history {
            tokio::spawn(crate::history::watch_requests(
                h.clone(),
                worker.cancels.clone(),
            ));
        }
        if let Some(addr) = status_addr {
            let Some(history) = worker.history.clone() else {
                return Err(Error::Setup(
                    "the status page needs the run history, which could not be opened (see above)".into(),
                ));
            };
            let listener = crate::status::bind(addr).await.map_err(Error::Setup)?;
            let local = listener.local_addr().map_err(Error::io("failed to read the status page's address"))?;
            tracing::info!(url = %format!("http://{local}/"), "status page");
            let sources = crate::status::Sources {
                history,
                cancels: worker.cancels.clone(),
                queue: worker.queue.clone(),
                worker: crate::status::WorkerInfo {
                    version: env!("CARGO_PKG_VERSION"),
                    pid: std::process::id(),
                    started_at: jiff::Timestamp::now().to_string(),
                    queue_url: worker.queue.url.clone(),
                    concurrency: worker.settings.concurrency,
                },
                token: status_token,
            };
            tokio::spawn(crate::status::serve(listener, sources));
        }
        worker.clean_leftovers();
        let shutdown = CancellationToken::new();
        tokio::spawn(on_signals(shutdown.clone(), worker.stop_runs.clone()));
        main_loop(worker.clone(), once, shutdown).await;
        tracing::info!(stats = %worker.stats.line(), "worker stopped");
        Ok(Outcome::Success)
    })
}

/// One worker per workdir: a second one would share mirrors, worktrees and task state.
fn lock_workdir(workdir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, Error> {
    let path = workdir.join("worker.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(Error::io(format!("failed to open {}", path.display())))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
        Error::Setup(format!(
            "another worker is using {} (it holds {}); give each worker its own workdir",
            workdir.display(),
            path.display()
        ))
    })
}

/// The first SIGTERM/SIGINT stops receiving (running tasks get the grace period); a
/// second one stops the running tasks at once.
async fn on_signals(shutdown: CancellationToken, stop_runs: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    for first in [true, false] {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        if first {
            tracing::info!("signal received: no new tasks; running tasks may finish");
            shutdown.cancel();
        } else {
            tracing::warn!("second signal: stopping running tasks now");
            stop_runs.cancel();
        }
    }
}

/// Receives and dispatches until told to stop (or, with `once`, until the queue is empty).
async fn main_loop(worker: Arc<Worker>, once: bool, shutdown: CancellationToken) {
    let s = &worker.settings;
    let slots = Arc::new(Semaphore::new(s.concurrency));
    let mut tasks = JoinSet::new();
    let mut backoff = Duration::from_secs(1);
    tracing::info!(queue = %worker.queue.url, concurrency = s.concurrency, workdir = %s.workdir.display(), "worker started");
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("never closed"),
            () = shutdown.cancelled() => break,
        };
        let free = 1 + slots.available_permits();
        let received = tokio::select! {
            r = worker.queue.receive(free, s.poll_wait, s.visibility_timeout) => r,
            () = shutdown.cancelled() => break,
        };
        match received {
            Err(e) => {
                let n = Stats::bump(&worker.stats.receive_errors);
                tracing::error!(error = %e, retry_in = ?backoff, receive_errors = n, "failed to receive from the queue");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    () = shutdown.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
            Ok(messages) if messages.is_empty() => {
                if once {
                    tracing::info!("the queue is empty (--once)");
                    break;
                }
            }
            Ok(messages) => {
                backoff = Duration::from_secs(1);
                let mut permit = Some(permit);
                for m in messages {
                    let p = match permit.take() {
                        Some(p) => p,
                        None => slots.clone().acquire_owned().await.expect("never closed"),
                    };
                    let w = worker.clone();
                    tasks.spawn(async move {
                        w.handle(m).await;
                        drop(p);
                    });
                }
            }
        }
    }
    if tasks.is_empty() {
        return;
    }
    if shutdown.is_cancelled() {
        let grace = s.shutdown_grace;
        tracing::info!(running = tasks.len(), grace = %humantime::format_duration(grace), "waiting for running tasks");
        let all = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                running = tasks.len(),
                "grace period over: stopping running tasks and handing their messages back"
            );
            worker.stop_runs.cancel();
        }
    }
    while tasks.join_next().await.is_some() {}
}
