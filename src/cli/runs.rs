//! `codingworker runs`: the run history on the command line (list, show, logs, cancel,
//! prune, stats).

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Format;
use crate::engine::report::format_ms;
use crate::error::{Error, Outcome};
use crate::history::{Filter, Lookup, RunDetail, RunRow, Store, model_stats};
use crate::process::env as child_env;
use crate::steps::status::RunStatus;
use crate::text::{printable, table};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
    #[command(flatten)]
    pub list: ListArgs,
    #[command(flatten)]
    pub place: Place,
}

/// Where the history is: the workdir of `--workdir`, of `--config` (a worker's), of
/// `CODINGWORKER_WORKDIR`, or `~/.codingworker`.
#[derive(Debug, Clone, clap::Args)]
pub struct Place {
    /// The workdir whose history to read.
    #[arg(long, global = true)]
    pub workdir: Option<PathBuf>,
    /// A worker's configuration file: read the history of its workdir.
    #[arg(long, global = true, conflicts_with = "workdir")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Only runs of this repository (`owner/name`).
    #[arg(long)]
    pub repo: Option<String>,
    /// Only runs with this status: running, success, failure, timed_out, cancelled,
    /// interrupted.
    #[arg(long)]
    pub status: Option<String>,
    /// Only runs started since: a duration back from now (`7d`, `12h`) or a time
    /// (`2026-11-01`, RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// How many runs at most.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, clap::Subcommand)]
pub enum RunsCommand {
    /// Recent runs, newest first (the default).
    List(ListArgs),
    /// One run: its steps, attempts, models, durations and outcome.
    Show {
        /// The run's id, or the start of it.
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// A run's step logs (masked), in the order the steps ran.
    Logs {
        id: String,
        /// Only this step: its id, or the name of its log (`03-test-a2`).
        #[arg(long)]
        step: Option<String>,
        /// Keep printing what the run writes until it ends.
        #[arg(long, short)]
        follow: bool,
    },
    /// Stop a running run: its processes are terminated and it ends as cancelled (a
    /// worker's task is reported on its issue).
    Cancel {
        id: String,
        /// How long to wait for the run to stop.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        wait: Duration,
    },
    /// Delete the reports and worktrees of runs started before a time.
    Prune {
        /// Age of the runs to delete (`30d`).
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Duration,
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Per-model metrics: attempts, solve rate, mean time per attempt, timeouts.
    Stats {
        #[arg(long)]
        repo: Option<String>,
        /// Only runs started since (as for the list).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

/// The workdir the history belongs to.
pub fn workdir_of(place: &Place) -> Result<PathBuf, Error> {
    let env = child_env::current();
    if let Some(config) = &place.config {
        let settings = crate::config::worker::load(config, &env)?;
        return Ok(settings.workdir);
    }
    crate::config::workdir(place.workdir.as_deref(), &env)
}

pub fn runs(args: &RunsArgs) -> Result<Outcome, Error> {
    let workdir = workdir_of(&args.place)?;
    let store = Store::open(&workdir).map_err(|e| Error::Setup(e.to_string()))?;
    match &args.command {
        None => list(&store, &args.list),
        Some(RunsCommand::List(l)) => list(&store, l),
        Some(RunsCommand::Show { id, format }) => show(&store, id, *format),
        Some(RunsCommand::Logs { id, step, follow }) => logs(&store, id, step.as_deref(), *follow),
        Some(RunsCommand::Cancel { id, wait }) => cancel(&store, id, *wait),
        Some(RunsCommand::Prune {
            older_than,
            dry_run,
        }) => prune(&store, &workdir, *older_than, *dry_run),
        Some(RunsCommand::Stats {
            repo,
            since,
            format,
        }) => stats(&store, repo.clone(), since.as_deref(), *format),
    }
}

/// `7d` back from now, or a date or time.
pub fn parse_since(s: &str) -> Result<jiff::Timestamp, Error> {
    let bad = || {
        Error::Setup(format!(
            "--since {s:?} is neither a duration (7d, 12h) nor a time (2026-11-01, 2026-11-01T10:00:00Z)"
        ))
    };
    if let Ok(d) = humantime::parse_duration(s) {
        let d = jiff::SignedDuration::try_from(d).map_err(|_| bad())?;
        return jiff::Timestamp::now().checked_sub(d).map_err(|_| bad());
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = s.parse().map_err(|_| bad())?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

fn list(store: &Store, l: &ListArgs) -> Result<Outcome, Error> {
    if let Some(s) = &l.status
        && RunStatus::parse(s).is_none()
    {
        let all: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        return Err(Error::Setup(format!(
            "--status {s:?} is not a run status; use one of {}",
            all.join(", ")
        )));
    }
    let filter = Filter {
        repo: l.repo.clone(),
        status: l.status.clone(),
        since: l.since.as_deref().map(parse_since).transpose()?,
        before: None,
        limit: Some(l.limit),
    };
    let runs = store.list(&filter).map_err(setup)?;
    match l.format {
        Format::Json => println!("{}", json(&runs)),
        Format::Human => print!("{}", list_text(&runs)),
    }
    Ok(Outcome::Success)
}

fn setup(e: crate::history::HistoryError) -> Error {
    Error::Setup(e.to_string())
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("serialises")
}

/// Runs as a table, newest first.
pub fn list_text(runs: &[RunRow]) -> String {
    if runs.is_empty() {
        return "no runs\n".into();
    }
    let rows: Vec<[String; 7]> = runs
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.status.clone(),
                format!("{}#{}", printable(&r.repo), r.issue),
                short_time(&r.started_at),
                if r.is_running() {
                    "-".into()
                } else {
                    format_ms(r.duration_ms)
                },
                r.pr_number.map_or("-".into(), |n| format!("#{n}")),
                clip(&printable(&r.issue_title), 50),
            ]
        })
        .collect();
    table(
        &["RUN", "STATUS", "ISSUE", "STARTED", "TIME", "PR", "TITLE"],
        &rows,
    )
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// `2026-11-21 10:15:03Z` from RFC 3339.
fn short_time(t: &str) -> String {
    t.parse::<jiff::Timestamp>()
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|_| t.to_owned())
}

/// Finds a run or says why not (on stderr).
fn lookup(store: &Store, id: &str) -> Result<Option<RunRow>, Error> {
    match store.find(id).map_err(setup)? {
        Lookup::Found(r) => Ok(Some(*r)),
        Lookup::Missing => {
            eprintln!(
                "error: no run {} in the history ({})",
                printable(id),
                store.path().display()
            );
            Ok(None)
        }
        Lookup::Ambiguous(ids) => {
            eprintln!(
                "error: several runs start with {}: {}; give more of the id",
                printable(id),
                ids.join(", ")
            );
            Ok(None)
        }
    }
}

fn show(store: &Store, id: &str, format: Format) -> Result<Outcome, Error> {
    let Some(run) = lookup(store, id)? else {
        return Ok(Outcome::Failed);
    };
    let detail = store.detail(run).map_err(setup)?;
    // The dependency cache is in the run's report, not the history.
    let cache = std::fs::read_to_string(detail.run.run_dir.join("run.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<crate::engine::report::RunReport>(&t).ok())
        .and_then(|r| r.cache);
    match format {
        Format::Json => println!("{}", json(&detail)),
        Format::Human => print!("{}", show_text(&detail, cache.as_ref())),
    }
    Ok(Outcome::Success)
}

/// One run for a person: what, where, how it ended, then every step execution.
pub fn show_text(d: &RunDetail, cache: Option<&crate::project::cache::CacheUse>) -> String {
    let r = &d.run;
    let mut out = String::new();
    let took = if r.is_running() {
        "running".to_owned()
    } else {
        format!("{} in {}", r.status, format_ms(r.duration_ms))
    };
    let _ = writeln!(out, "run {}: {took}", r.id);
    let _ = writeln!(
        out,
        "  issue:    {}#{} {}",
        printable(&r.repo),
        r.issue,
        printable(&r.issue_title)
    );
    let _ = writeln!(
        out,
        "  playbook: {} ({})",
        printable(&r.playbook_name),
        printable(&r.playbook)
    );
    let _ = writeln!(out, "  trigger:  {}", r.trigger);
    let _ = writeln!(out, "  branch:   {}", printable(&r.branch));
    let _ = writeln!(out, "  started:  {}", short_time(&r.started_at));
    if let Some(f) = &r.finished_at {
        let _ = writeln!(out, "  finished: {}", short_time(f));
    }
    if let Some(url) = &r.pr_url {
        let _ = writeln!(out, "  pull request: {url}");
    }
    if r.status != "success"
        && let Some(failed) = d
            .steps
            .iter()
            .rev()
            .find(|s| matches!(s.status.as_str(), "failure" | "timed_out"))
    {
        let _ = writeln!(
            out,
            "  failed:   step `{}`{}: {}",
            failed.id,
            failed
                .attempt
                .map(|n| format!(" (attempt {n})"))
                .unwrap_or_default(),
            printable(failed.message.as_deref().unwrap_or("failed"))
        );
    }
    let _ = writeln!(out, "  run dir:  {}", r.run_dir.display());
    if let Some(c) = cache {
        let _ = writeln!(
            out,
            "  cache:    {} ({})",
            if c.hit { "reused" } else { "new" },
            printable(&c.dir)
        );
    }
    out.push('\n');
    let rows: Vec<[String; 7]> = d
        .steps
        .iter()
        .map(|s| {
            [
                s.seq.to_string(),
                s.id.clone(),
                s.kind.clone(),
                s.attempt.map_or("-".into(), |n| n.to_string()),
                s.model
                    .clone()
                    .or_else(|| {
                        s.attempt_keys
                            .get("model")
                            .and_then(|m| m.as_str())
                            .map(String::from)
                    })
                    .map_or("-".into(), |m| printable(&m)),
                s.status.clone(),
                if s.status == "running" {
                    "-".into()
                } else {
                    format_ms(s.duration_ms)
                },
            ]
        })
        .collect();
    out.push_str(&table(
        &["#", "STEP", "KIND", "ATTEMPT", "MODEL", "STATUS", "TIME"],
        &rows,
    ));
    for s in d.steps.iter().filter(|s| s.message.is_some()) {
        if s.status == "success" {
            continue;
        }
        let _ = writeln!(
            out,
            "  {} {}: {}",
            s.seq,
            s.id,
            clip(&printable(s.message.as_deref().unwrap_or("")), 200)
        );
    }
    out
}

fn logs(store: &Store, id: &str, step: Option<&str>, follow: bool) -> Result<Outcome, Error> {
    let Some(run) = lookup(store, id)? else {
        return Ok(Outcome::Failed);
    };
    let mut offsets: std::collections::BTreeMap<String, u64> = Default::default();
    let mut last_header: Option<String> = None;
    let stdout = std::io::stdout();
    let mut printed_any = false;
    loop {
        let steps = store.steps(&run.id).map_err(setup)?;
        let running = store.find(&run.id).map_err(setup)?.is_found_running();
        let chosen: Vec<_> = steps
            .iter()
            .filter(|s| s.log.is_some())
            .filter(|s| {
                step.is_none_or(|want| {
                    s.id == want
                        || s.log
                            .as_deref()
                            .and_then(|l| Path::new(l).file_stem())
                            .is_some_and(|stem| stem == want)
                })
            })
            .collect();
        if let Some(want) = step
            && !follow
            && chosen.is_empty()
        {
            let mut known: Vec<&str> = Vec::new();
            for s in &steps {
                if !known.contains(&s.id.as_str()) {
                    known.push(&s.id);
                }
            }
            eprintln!(
                "error: run {} has no log of a step {} (its steps: {})",
                run.id,
                printable(want),
                known.join(", ")
            );
            return Ok(Outcome::Failed);
        }
        let mut out = stdout.lock();
        for s in &chosen {
            let rel = s.log.as_deref().expect("filtered");
            let path = run.run_dir.join(rel);
            let at = offsets.entry(rel.to_owned()).or_insert(0);
            let Some(text) = crate::history::read_appended(&path, at) else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            if chosen.len() > 1 && last_header.as_deref() != Some(rel) {
                let _ = writeln!(out, "==> {rel} <==");
                last_header = Some(rel.to_owned());
            }
            let _ = out.write_all(crate::text::for_stdout(&text).as_bytes());
            printed_any = true;
        }
        let _ = out.flush();
        drop(out);
        if !follow || !running {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    if !printed_any && !follow {
        eprintln!("run {} has no logs yet", run.id);
    }
    Ok(Outcome::Success)
}

fn cancel(store: &Store, id: &str, wait: Duration) -> Result<Outcome, Error> {
    let Some(run) = lookup(store, id)? else {
        return Ok(Outcome::Failed);
    };
    if run.status == RunStatus::Interrupted.as_str() {
        store.mark_interrupted(&run.id).map_err(setup)?;
        eprintln!(
            "error: run {} is not running: the process that ran it is gone (it was interrupted)",
            run.id
        );
        return Ok(Outcome::Failed);
    }
    if !run.is_running() {
        eprintln!(
            "error: run {} is not running: it ended ({}) at {}; nothing to cancel",
            run.id,
            run.status,
            run.finished_at.as_deref().map_or("-".into(), short_time)
        );
        return Ok(Outcome::Failed);
    }
    store.request_cancel(&run.id).map_err(setup)?;
    eprintln!(
        "cancel requested for run {} (process {})",
        run.id,
        run.pid.unwrap_or_default()
    );
    let until = std::time::Instant::now() + wait;
    while let Lookup::Found(now) = store.find(&run.id).map_err(setup)? {
        if !now.is_running() {
            println!("run {} {}", now.id, now.status);
            return Ok(if now.status == "cancelled" {
                Outcome::Success
            } else {
                Outcome::Failed
            });
        }
        if std::time::Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "error: run {} has not stopped within {}; the request stands and its process acts on it when it can",
        run.id,
        humantime::format_duration(wait)
    );
    Ok(Outcome::Failed)
}

fn prune(store: &Store, workdir: &Path, older: Duration, dry_run: bool) -> Result<Outcome, Error> {
    store.rebuild();
    let age = jiff::SignedDuration::try_from(older)
        .map_err(|_| Error::Setup("--older-than is too large".into()))?;
    let cutoff = jiff::Timestamp::now()
        .checked_sub(age)
        .map_err(|_| Error::Setup("--older-than is too large".into()))?;
    let runs = store
        .list(&Filter {
            before: Some(cutoff),
            ..Filter::default()
        })
        .map_err(setup)?;
    let runs_dir = workdir.join("runs");
    let worktrees = workdir.join("worktrees");
    let mut deleted = 0;
    for run in runs.iter().filter(|r| !r.is_running()) {
        let mut what = Vec::new();
        if run.run_dir.starts_with(&runs_dir) && run.run_dir.exists() {
            what.push(run.run_dir.clone());
        }
        let checkout = PathBuf::from(&run.checkout);
        if checkout.starts_with(&worktrees) && checkout.exists() {
            what.push(checkout);
        }
        let verb = if dry_run { "would delete" } else { "deleted" };
        if !dry_run {
            for p in &what {
                if let Err(e) = std::fs::remove_dir_all(p) {
                    eprintln!("warning: failed to delete {}: {e}", p.display());
                }
            }
            store.delete(&run.id).map_err(setup)?;
        }
        deleted += 1;
        let files = what
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{verb} run {} ({}){}",
            run.id,
            run.status,
            if files.is_empty() {
                String::new()
            } else {
                format!(": {files}")
            }
        );
    }
    println!(
        "{} {deleted} run(s) started before {}",
        if dry_run { "would prune" } else { "pruned" },
        short_time(&cutoff.to_string())
    );
    Ok(Outcome::Success)
}

fn stats(
    store: &Store,
    repo: Option<String>,
    since: Option<&str>,
    format: Format,
) -> Result<Outcome, Error> {
    let filter = Filter {
        repo,
        since: since.map(parse_since).transpose()?,
        ..Filter::default()
    };
    let stats = model_stats(store, &filter).map_err(setup)?;
    match format {
        Format::Json => println!("{}", json(&stats)),
        Format::Human => print!("{}", stats_text(&stats)),
    }
    Ok(Outcome::Success)
}

/// The per-model table.
pub fn stats_text(stats: &[crate::history::ModelStats]) -> String {
    if stats.is_empty() {
        return "no aider attempts in the history yet\n".into();
    }
    let rows: Vec<[String; 6]> = stats
        .iter()
        .map(|m| {
            [
                printable(&m.model),
                m.attempts.to_string(),
                m.solved.to_string(),
                format!("{:.0}%", m.solve_rate * 100.0),
                format_ms(m.mean_attempt_ms),
                m.timeouts.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "MODEL",
            "ATTEMPTS",
            "SOLVED",
            "SOLVE RATE",
            "MEAN ATTEMPT",
            "TIMEOUTS",
        ],
        &rows,
    )
}
