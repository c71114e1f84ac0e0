//! `codingworker run`: run one issue locally (see `crate::triggers::local`).

use std::path::{Path, PathBuf};

use crate::engine::report::{RunReport, RunStatus, format_ms};
use crate::error::{Error, Outcome};
use crate::triggers::local::{self, Done, LocalRun};

/// The options of `codingworker run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
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

impl From<&RunArgs> for LocalRun {
    fn from(a: &RunArgs) -> Self {
        Self {
            playbook: a.playbook.clone(),
            issue: a.issue.clone(),
            repo: a.repo.clone(),
            dry_run: a.dry_run,
            out: a.out.clone(),
            workdir: a.workdir.clone(),
            force: a.force,
            github: a.github,
        }
    }
}

pub(super) fn run_local(args: &RunArgs) -> Result<Outcome, Error> {
    let runtime = super::runtime::build(super::runtime::Threads::One)?;
    match local::run_issue(&args.into(), super::progress::observers(), &runtime)? {
        Done::Planned(plan) => {
            print!("{}", plan.text);
            if plan.problems > 0 {
                eprintln!(
                    "error: the plan shows {} problem(s) as <…>: the run would stop or fail there",
                    plan.problems
                );
                return Ok(Outcome::Failed);
            }
            Ok(Outcome::Success)
        }
        Done::Ran {
            report,
            repo,
            run_dir,
            signal,
        } => {
            print_result(&report, &repo, &run_dir);
            Ok(match (report.status, signal) {
                (RunStatus::Success, _) => Outcome::Success,
                (RunStatus::Cancelled, n) if n > 0 => Outcome::Stopped(n),
                _ => Outcome::Failed,
            })
        }
    }
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
