//! A local run: `codingworker run PLAYBOOK --issue FILE [--repo DIR]`.
//!
//! The user's checkout is never touched: the run works in a fresh worktree of DIR's HEAD on
//! the run branch, under the workdir, and leaves the branch with its commits in DIR and the
//! worktree for inspection. `--dry-run` prints the plan and needs no git repository at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use tokio_util::sync::CancellationToken;

use crate::adapters::git::{Remote, SourceRepo};
use crate::adapters::github::{GitHub, OctocrabGitHub, RetryPolicy};
use crate::engine::executor::{Engine, EngineOptions, RunInput};
use crate::engine::observe::Observer;
use crate::engine::plan::{self, PlanInput};
use crate::engine::prepare::{Prepared, branch_name, new_run_id, prepare};
use crate::engine::report::RunReport;
use crate::error::Error;
use crate::process::env as child_env;
use crate::source::SourceFile;
use crate::task::Task;

/// What a local run is asked to do (the command line's `run` options).
#[derive(Debug, Clone)]
pub(crate) struct LocalRun {
    pub playbook: PathBuf,
    pub issue: PathBuf,
    /// The repository (default: the current directory).
    pub repo: Option<PathBuf>,
    pub dry_run: bool,
    /// Where run.json, summary.md and logs go (default: WORKDIR/runs/RUN_ID).
    pub out: Option<PathBuf>,
    pub workdir: Option<PathBuf>,
    /// Restart the run branch from HEAD if it exists.
    pub force: bool,
    /// Push and talk to GitHub with $GITHUB_TOKEN.
    pub github: bool,
}

/// Loads and compiles a playbook file; its warnings go to stderr, its errors become exit
/// code 2 with the diagnostics.
pub(crate) fn prepare_playbook(path: &Path) -> Result<Prepared, Error> {
    let prepared = prepare(SourceFile::read(path)?)?;
    eprint!("{}", prepared.warnings);
    Ok(prepared)
}

/// What a local run did, for the command line to show.
pub(crate) enum Done {
    /// `--dry-run`: the plan.
    Planned(crate::engine::plan::Plan),
    /// The run ended: its report, the repository its branch is in, its directory, and
    /// the signal that stopped it (0: none).
    Ran {
        report: Box<RunReport>,
        repo: PathBuf,
        run_dir: PathBuf,
        signal: i32,
    },
}

/// Runs (or plans) one issue; `observers` hear of the run as it goes (a spinner).
pub(crate) fn run_issue(
    opts: &LocalRun,
    mut observers: Vec<Box<dyn Observer>>,
    runtime: &tokio::runtime::Runtime,
) -> Result<Done, Error> {
    let env = child_env::current();
    let prepared = prepare_playbook(&opts.playbook)?;
    let task = Task::from_file(&opts.issue)?;
    let branch = branch_name(&prepared, &task, &env).map_err(Error::Setup)?;
    let repo_dir = match &opts.repo {
        Some(r) => r.clone(),
        None => {
            std::env::current_dir().map_err(Error::io("failed to read the current directory"))?
        }
    };
    let options = EngineOptions::from_env(&env);

    if opts.dry_run {
        if !repo_dir.is_dir() {
            return Err(Error::Setup(format!(
                "{} is not a directory",
                repo_dir.display()
            )));
        }
        let plan = runtime.block_on(plan::render(PlanInput {
            playbook: prepared.playbook.clone(),
            playbook_path: &opts.playbook.display().to_string(),
            templates: prepared.templates.clone(),
            task: &task,
            branch: &branch,
            repo_dir: &repo_dir,
            parent_env: &env,
            options,
            // A plain directory is fine for a dry run; a repository is checked for the branch.
            branch_exists: SourceRepo::discover(&repo_dir).is_ok_and(|r| r.has_branch(&branch)),
            force: opts.force,
        }));
        return Ok(Done::Planned(plan));
    }

    if !repo_dir.is_dir() {
        return Err(Error::Setup(format!(
            "{} does not exist or is not a directory",
            repo_dir.display()
        )));
    }
    let source = SourceRepo::discover(&repo_dir).map_err(|e| Error::Setup(e.to_string()))?;
    // Steps run in the worktree: every path they are given must be absolute.
    let absolute = |p: &Path| {
        std::path::absolute(p).map_err(Error::io(format!("failed to resolve {}", p.display())))
    };
    let workdir = absolute(&crate::config::workdir(opts.workdir.as_deref(), &env)?)?;
    let run_id = new_run_id(task.issue.number);
    let worktrees = workdir.join("worktrees");
    let checkout = worktrees.join(&run_id);
    let run_dir = match &opts.out {
        Some(out) => absolute(out)?,
        None => workdir.join("runs").join(&run_id),
    };

    // Everything that can fail without git comes first: a run that cannot start must not
    // have touched the repository (nor, with --force, removed the previous run).
    // The GitHub client spawns its connection tasks on the runtime it is built in.
    let _entered = runtime.enter();
    let (github, push): (Option<Arc<dyn GitHub>>, Option<Remote>) = if opts.github {
        let token = env
            .get("GITHUB_TOKEN")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Setup("--github needs a token in GITHUB_TOKEN".into()))?;
        let api = env
            .get("GITHUB_API_URL")
            .map_or("https://api.github.com", String::as_str);
        let client = OctocrabGitHub::new(token, api)
            .map_err(|e| Error::Setup(e.to_string()))?
            .with_policy(RetryPolicy::from_env(&env));
        let push = Remote {
            url: task.repo.clone_url.clone(),
            token: task
                .repo
                .clone_url
                .starts_with("https://")
                .then(|| token.clone()),
        };
        (Some(Arc::new(client)), Some(push))
    } else {
        (None, None)
    };

    let cancel = CancellationToken::new();
    // The history is a convenience: a run goes on without it.
    let history = match crate::history::Store::open(&workdir) {
        Ok(h) => Some(Arc::new(h)),
        Err(e) => {
            tracing::warn!(error = %e, "the run is not recorded in the history");
            None
        }
    };
    if let Some(store) = &history {
        let meta = crate::history::RunMeta {
            run_id: run_id.clone(),
            trigger: "local".into(),
            run_dir: run_dir.clone(),
            ..Default::default()
        };
        observers.push(Box::new(crate::history::Recorder::new(store.clone(), meta)));
    }
    let cancels = Arc::new(crate::history::Cancels::default());
    let registration = cancels.register(&run_id, cancel.clone());
    let input = RunInput {
        playbook: prepared.playbook,
        playbook_path: opts.playbook.display().to_string(),
        templates: prepared.templates,
        task,
        run_id: run_id.clone(),
        branch: branch.clone(),
        checkout: checkout.clone(),
        run_dir: run_dir.clone(),
        parent_env: env,
        github,
        push,
        options,
        cancel: cancel.clone(),
        budget: None,
        credentials: Vec::new(),
        task_key: None,
        trigger: "local",
        cache_root: Some(workdir.join("cache").join("deps")),
    };
    let mut engine = Engine::observed(input, observers).map_err(|e| Error::Setup(e.to_string()))?;
    source
        .add_worktree(&branch, &checkout, &run_id, opts.force, &worktrees)
        .map_err(|e| Error::Setup(e.to_string()))?;
    if let Err(e) = runtime.block_on(engine.start()) {
        source.remove_run(&branch, &worktrees);
        return Err(Error::Setup(e.to_string()));
    }
    let signalled = Arc::new(AtomicI32::new(0));
    let got = signalled.clone();
    let report = runtime.block_on(async move {
        tokio::spawn(stop_on_signals(cancel, got));
        if let Some(h) = history {
            tokio::spawn(crate::history::watch_requests(h, cancels));
        }
        engine.run().await
    });
    drop(registration);
    Ok(Done::Ran {
        report: Box::new(report),
        repo: source.root.clone(),
        run_dir,
        signal: signalled.load(Ordering::SeqCst),
    })
}

/// SIGINT (Ctrl-C) or SIGTERM (a service manager stopping us) cancels the run: the current
/// step's processes are stopped, the rest are marked cancelled and the report is written.
/// The signal's number is kept for the exit code.
async fn stop_on_signals(cancel: CancellationToken, got: Arc<AtomicI32>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    let number = tokio::select! {
        _ = term.recv() => {
            tracing::warn!("terminated: stopping the current step");
            nix::sys::signal::Signal::SIGTERM
        }
        _ = int.recv() => {
            tracing::warn!("interrupted: stopping the current step");
            nix::sys::signal::Signal::SIGINT
        }
    };
    got.store(number as i32, Ordering::SeqCst);
    cancel.cancel();
}
