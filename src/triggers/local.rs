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
use crate::engine::report::{RunReport, RunStatus, format_ms};
use crate::error::{Error, Outcome};
use crate::process::env as child_env;
use crate::source::SourceFile;
use crate::task::Task;

/// The options of `codingworker run`.
#[derive(Debug, Clone, clap::Args)]
pub struct LocalRun {
    /// The playbook.
    pub playbook: PathBuf,
    /// The issue: a task message or a GitHub `issues` webhook payload (JSON).
    #[arg(long)]
    pub issue: PathBuf,
    /// The git repository to work on (default: the current directory). Its working tree is
    /// never touched; the run branch is created in it.
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Print the plan (rendered templates, argv, every attempt) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write run.json, summary.md and logs (default: WORKDIR/runs/RUN_ID).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worktrees and runs go here (default: $CODINGWORKER_WORKDIR or ~/.codingworker).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Restart the run branch from HEAD if it exists (removes that branch's old worktree).
    #[arg(long)]
    pub force: bool,
    /// Push and talk to GitHub with $GITHUB_TOKEN ($GITHUB_API_URL for another API). Without
    /// it, pr_open and comment print what they would send.
    #[arg(long)]
    pub github: bool,
}

/// Loads and compiles a playbook file; its warnings go to stderr, its errors become exit
/// code 2 with the diagnostics.
pub(crate) fn prepare_playbook(path: &Path) -> Result<Prepared, Error> {
    let prepared = prepare(SourceFile::read(path)?)?;
    eprint!("{}", prepared.warnings);
    Ok(prepared)
}

/// Runs (or plans) one issue; `observers` hear of the run as it goes (a spinner).
pub(crate) fn run(
    opts: &LocalRun,
    mut observers: Vec<Box<dyn Observer>>,
    runtime: &tokio::runtime::Runtime,
) -> Result<Outcome, Error> {
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
        print!("{}", plan.text);
        if plan.problems > 0 {
            eprintln!(
                "error: the plan shows {} problem(s) as <…>: the run would stop or fail there",
                plan.problems
            );
            return Ok(Outcome::Failed);
        }
        return Ok(Outcome::Success);
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
    print_result(&report, &source.root, &run_dir);
    Ok(match (report.status, signalled.load(Ordering::SeqCst)) {
        (RunStatus::Success, _) => Outcome::Success,
        (RunStatus::Cancelled, n) if n > 0 => Outcome::Stopped(n),
        _ => Outcome::Failed,
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

fn print_result(report: &RunReport, repo: &Path, run_dir: &Path) {
    println!(
        "run {} {} in {}",
        report.id,
        report.status.as_str(),
        format_ms(report.duration_ms)
    );
    println!("  branch:   {} (in {})", report.branch, repo.display());
    println!("  worktree: {}", report.workdir);
    println!("  report:   {}", run_dir.join("run.json").display());
    println!("  summary:  {}", run_dir.join("summary.md").display());
    if report.status != RunStatus::Success
        && let Some(failed) = report.steps.iter().rev().find(|s| s.status.is_failed())
    {
        let attempt = failed
            .attempt
            .as_ref()
            .map(|a| format!(" (attempt {})", a.number))
            .unwrap_or_default();
        let why = failed.message.as_deref().unwrap_or("failed");
        println!("  failed:   step `{}`{attempt}: {why}", failed.id);
        if let Some(log) = &failed.log {
            println!("  its log:  {}", run_dir.join(log).display());
        }
    }
    if let Some(pr) = &report.pr {
        println!(
            "  pull request: {} ({})",
            pr.url,
            if pr.created { "opened" } else { "updated" }
        );
    }
}
