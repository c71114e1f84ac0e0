//! The run history: an SQLite database under the workdir (`history.db`) that every run
//! writes as it goes, and that `codingworker runs` and the status page read.
//!
//! `run.json` in each run directory stays the record of a run; the database is an index
//! over them that can be thrown away: when it is missing or corrupt, it is rebuilt from the
//! run directories (a corrupt file is kept aside, never deleted). Several processes (a
//! worker with several tasks, local runs, the CLI) use it at once: WAL journal, a busy
//! timeout, and short transactions. Everything written has been masked by the engine.

mod cancel;
mod read;
mod rebuild;
mod record;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

pub use cancel::{CancelOutcome, Cancels, Registration, watch_requests};
pub use read::{Filter, Lookup, RunDetail, RunRow, StepRow};
pub use record::Recorder;
pub use stats::{ModelStats, model_stats};

use crate::engine::report::{RunReport, StepReport};
use crate::steps::status::RunStatus;

/// The database file under the workdir.
pub const FILE: &str = "history.db";

/// Migrations, in order: `PRAGMA user_version` is how many have been applied.
const MIGRATIONS: &[&str] = &[
    // 1: runs and step executions.
    "CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        trigger TEXT NOT NULL,
        task_id TEXT NOT NULL,
        task_key TEXT,
        message_id TEXT,
        repo TEXT NOT NULL,
        issue INTEGER NOT NULL,
        issue_title TEXT NOT NULL DEFAULT '',
        playbook TEXT NOT NULL,
        playbook_name TEXT NOT NULL,
        status TEXT NOT NULL,
        branch TEXT NOT NULL,
        started_at TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        finished_at TEXT,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        pr_url TEXT,
        pr_number INTEGER,
        run_dir TEXT NOT NULL,
        checkout TEXT NOT NULL,
        pid INTEGER,
        cancel_requested_at TEXT
    );
    CREATE INDEX runs_by_start ON runs(started_ms);
    CREATE INDEX runs_by_repo ON runs(repo, started_ms);
    CREATE TABLE steps (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        name TEXT,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        started_at TEXT,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        attempt INTEGER,
        attempt_keys TEXT,
        model TEXT,
        message TEXT,
        log TEXT,
        PRIMARY KEY (run_id, seq)
    );",
];

/// A problem with the history database.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("the run history {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the run history {path} was written by a newer codingworker (schema {found}, this one knows {known}); upgrade codingworker, or move the file away to rebuild it from the run directories"
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{0}")]
    Io(String),
}

/// The run history of one workdir.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    runs_dir: PathBuf,
}

/// What the engine knows about a run beyond its report.
#[derive(Debug, Clone, Default)]
pub struct RunMeta {
    pub run_id: String,
    /// `local` or `worker`.
    pub trigger: String,
    pub task_key: Option<String>,
    pub message_id: Option<String>,
    /// The issue's title, masked.
    pub issue_title: String,
    pub run_dir: PathBuf,
}

impl Store {
    /// Opens (or creates) the history of `workdir`. A new or corrupt database is rebuilt
    /// from `workdir/runs/*/run.json`; a corrupt file is renamed, not deleted.
    pub fn open(workdir: &Path) -> Result<Self, HistoryError> {
        std::fs::create_dir_all(workdir).map_err(|e| {
            HistoryError::Io(format!("failed to create {}: {e}", workdir.display()))
        })?;
        let path = workdir.join(FILE);
        let runs_dir = workdir.join("runs");
        let existed = path.exists();
        let conn = match connect(&path) {
            Ok(c) => c,
            Err(HistoryError::Sqlite { source, .. }) if is_corrupt(&source) => {
                let aside = set_aside(&path)?;
                tracing::warn!(corrupt = %aside.display(), "the run history was corrupt; it was moved aside and is rebuilt from the run directories");
                let c = connect(&path)?;
                let store = Self::from_parts(c, path, runs_dir);
                store.rebuild();
                return Ok(store);
            }
            Err(e) => return Err(e),
        };
        let store = Self::from_parts(conn, path, runs_dir);
        if !existed {
            store.rebuild();
        }
        Ok(store)
    }

    fn from_parts(conn: Connection, path: PathBuf, runs_dir: PathBuf) -> Self {
        Self {
            conn: Mutex::new(conn),
            path,
            runs_dir,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Imports every run directory the database does not know (rows it has are kept).
    /// Returns how many runs were imported.
    pub fn rebuild(&self) -> usize {
        let reports = rebuild::scan(&self.runs_dir);
        let mut imported = 0;
        for (dir, report) in reports {
            let meta = RunMeta {
                trigger: report.trigger.clone().unwrap_or_else(|| "unknown".into()),
                issue_title: report.issue_title.clone(),
                run_dir: dir,
                ..RunMeta::default()
            };
            match self.import(&report, &meta) {
                Ok(true) => imported += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(run = %report.id, error = %e, "failed to import a run into the history")
                }
            }
        }
        if imported > 0 {
            tracing::info!(
                imported,
                "runs imported into the history from their directories"
            );
        }
        imported
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, HistoryError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|source| HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// A run that starts (or its row rewritten with the report's current state).
    pub fn run_started(&self, report: &RunReport, meta: &RunMeta) -> Result<(), HistoryError> {
        self.with(|c| upsert_run(c, report, meta, Some(std::process::id())))
    }

    /// A step execution begins (`seq` orders executions as they started).
    pub fn step_started(
        &self,
        run: &str,
        seq: usize,
        step: &StepReport,
        started_at: &str,
    ) -> Result<(), HistoryError> {
        self.with(|c| upsert_step(c, run, seq, step, Some(started_at), "running"))
    }

    /// A step execution ended.
    pub fn step_finished(
        &self,
        run: &str,
        seq: usize,
        step: &StepReport,
    ) -> Result<(), HistoryError> {
        self.with(|c| upsert_step(c, run, seq, step, None, step.status.as_str()))
    }

    /// A step execution ended, and the run as it stands after it: one transaction.
    pub fn step_boundary(
        &self,
        seq: usize,
        step: &StepReport,
        report: &RunReport,
    ) -> Result<(), HistoryError> {
        self.with(|c| {
            let tx = c.transaction()?;
            upsert_step(&tx, &report.id, seq, step, None, step.status.as_str())?;
            update_run(&tx, report)?;
            tx.commit()
        })
    }

    /// The run's status, duration and pull request as the report has them now.
    pub fn run_updated(&self, report: &RunReport) -> Result<(), HistoryError> {
        self.with(|c| update_run(c, report))
    }

    /// Imports a finished or interrupted run from its report, unless the run is known.
    fn import(&self, report: &RunReport, meta: &RunMeta) -> Result<bool, HistoryError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let known = tx
                .query_row("SELECT 1 FROM runs WHERE id = ?1", [&report.id], |_| Ok(()))
                .optional()?;
            if known.is_some() {
                return Ok(false);
            }
            upsert_run(&tx, report, meta, None)?;
            for (i, step) in report.steps.iter().enumerate() {
                upsert_step(&tx, &report.id, i + 1, step, None, step.status.as_str())?;
            }
            tx.commit().map(|()| true)
        })
    }

    /// Asks for a run to be cancelled: whichever process runs it sees the request.
    pub fn request_cancel(&self, id: &str) -> Result<(), HistoryError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET cancel_requested_at = ?2 WHERE id = ?1 AND cancel_requested_at IS NULL",
                params![id, jiff::Timestamp::now().to_string()],
            )
            .map(|_| ())
        })
    }

    /// Of `ids`, the runs someone asked to cancel.
    pub fn cancel_requested(&self, ids: &[String]) -> Result<Vec<String>, HistoryError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id FROM runs WHERE cancel_requested_at IS NOT NULL AND status = 'running'",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for id in rows {
                let id = id?;
                if ids.contains(&id) {
                    out.push(id);
                }
            }
            Ok(out)
        })
    }

    /// Marks a run whose process is gone as interrupted.
    pub fn mark_interrupted(&self, id: &str) -> Result<(), HistoryError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET status = ?2 WHERE id = ?1 AND status = ?3",
                [
                    id,
                    RunStatus::Interrupted.as_str(),
                    RunStatus::Running.as_str(),
                ],
            )
            .map(|_| ())
        })
    }

    /// Marks the runs left `running` by processes that are gone as `interrupted`; returns
    /// how many.
    pub fn settle_dead_runs(&self) -> Result<usize, HistoryError> {
        let running: Vec<(String, Option<i64>)> = self.with(|c| {
            let mut stmt = c.prepare("SELECT id, pid FROM runs WHERE status = ?1")?;
            let rows = stmt.query_map([RunStatus::Running.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect()
        })?;
        let mut settled = 0;
        for (id, pid) in running {
            if !pid.is_some_and(pid_alive) {
                self.mark_interrupted(&id)?;
                settled += 1;
            }
        }
        Ok(settled)
    }

    /// Forgets a run (its files are the caller's business).
    pub fn delete(&self, id: &str) -> Result<(), HistoryError> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM steps WHERE run_id = ?1", [id])?;
            tx.execute("DELETE FROM runs WHERE id = ?1", [id])?;
            tx.commit()
        })
    }
}

/// Updates a run's status, times and pull request from its report.
fn update_run(c: &Connection, report: &RunReport) -> rusqlite::Result<()> {
    c.prepare_cached(
        "UPDATE runs SET status = ?2, finished_at = ?3, duration_ms = ?4,
                    pr_url = coalesce(?5, pr_url), pr_number = coalesce(?6, pr_number)
                 WHERE id = ?1",
    )?
    .execute(params![
        report.id,
        report.status.as_str(),
        report.finished_at.map(|t| t.to_string()),
        int(report.duration_ms),
        report.pr.as_ref().map(|p| p.url.clone()),
        report.pr.as_ref().map(|p| int(p.number)),
    ])
    .map(|_| ())
}

/// Writes a run's row: inserted, or its status, process and times updated.
fn upsert_run(
    c: &Connection,
    report: &RunReport,
    meta: &RunMeta,
    pid: Option<u32>,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO runs (id, trigger, task_id, task_key, message_id, repo, issue, issue_title,
            playbook, playbook_name, status, branch, started_at, started_ms, finished_at,
            duration_ms, pr_url, pr_number, run_dir, checkout, pid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, pid = excluded.pid,
            finished_at = excluded.finished_at, duration_ms = excluded.duration_ms",
    )?
    .execute(params![
        report.id,
        meta.trigger,
        report.task_id,
        meta.task_key,
        meta.message_id,
        report.repo,
        int(report.issue),
        meta.issue_title,
        report.playbook,
        report.playbook_name,
        report.status.as_str(),
        report.branch,
        report.started_at.to_string(),
        report.started_at.as_millisecond(),
        report.finished_at.map(|t| t.to_string()),
        int(report.duration_ms),
        report.pr.as_ref().map(|p| p.url.clone()),
        report.pr.as_ref().map(|p| int(p.number)),
        meta.run_dir.display().to_string(),
        report.workdir,
        pid,
    ])
    .map(|_| ())
}

/// Writes a step execution's row: inserted, or its outcome updated.
fn upsert_step(
    c: &Connection,
    run: &str,
    seq: usize,
    step: &StepReport,
    started_at: Option<&str>,
    status: &str,
) -> rusqlite::Result<()> {
    let keys = step
        .attempt
        .as_ref()
        .map(|a| serde_json::to_string(&a.keys).unwrap_or_else(|_| "{}".into()));
    c.prepare_cached(
        "INSERT INTO steps (run_id, seq, id, name, kind, status, exit_code, started_at,
            duration_ms, attempt, attempt_keys, model, message, log)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT(run_id, seq) DO UPDATE SET status = excluded.status,
            exit_code = excluded.exit_code, duration_ms = excluded.duration_ms,
            model = coalesce(excluded.model, steps.model), message = excluded.message,
            log = excluded.log, attempt_keys = excluded.attempt_keys",
    )?
    .execute(params![
        run,
        int(seq as u64),
        step.id,
        step.name,
        step.kind,
        status,
        step.exit_code,
        started_at,
        int(step.duration_ms),
        step.attempt.as_ref().map(|a| a.number),
        keys,
        step.model,
        step.message,
        step.log,
    ])
    .map(|_| ())
}

/// Opens the database and brings its schema up to date.
fn connect(path: &Path) -> Result<Connection, HistoryError> {
    let err = |source| HistoryError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
    // WAL lets readers (the CLI, the status page) read while a run writes.
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .map_err(err)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL")
        .map_err(err)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), HistoryError> {
    let err = |source| HistoryError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let known = MIGRATIONS.len() as i64;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    if version == known {
        return Ok(());
    }
    if version > known {
        return Err(HistoryError::Newer {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    // Another process may be migrating too: take the write lock, then look again.
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.execute_batch(sql).map_err(err)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(err)?;
    }
    tx.commit().map_err(err)
}

fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Renames a corrupt database (and its journal files) to `history.db.corrupt-<time>`.
fn set_aside(path: &Path) -> Result<PathBuf, HistoryError> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let aside = path.with_file_name(format!("{FILE}.corrupt-{stamp}"));
    std::fs::rename(path, &aside).map_err(|e| {
        HistoryError::Io(format!(
            "the run history {} is corrupt and could not be moved aside: {e}",
            path.display()
        ))
    })?;
    for ext in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{ext}", path.display()));
        if side.exists() {
            let _ = std::fs::rename(&side, format!("{}{ext}", aside.display()));
        }
    }
    Ok(aside)
}

/// A count as SQLite stores it.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What was appended to a log since `at` (which moves on), at most 256 KiB at a time; a
/// character cut in half at the end is left for the next read.
pub fn read_appended(path: &Path, at: &mut u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(*at)).ok()?;
    let mut buf = Vec::new();
    f.take(256 * 1024).read_to_end(&mut buf).ok()?;
    if let Err(e) = std::str::from_utf8(&buf)
        && e.error_len().is_none()
    {
        buf.truncate(e.valid_up_to());
    }
    *at += buf.len() as u64;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Whether a process with this id exists (an owner of a running run).
pub fn pid_alive(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}
