//! Reading the history: recent runs, one run with its step executions.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use rusqlite::{OptionalExtension, Row, params_from_iter};
use serde::Serialize;

use super::{HistoryError, Store, pid_alive};
use crate::steps::status::RunStatus;

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `owner/name`.
    pub repo: Option<String>,
    /// `running`, `success`, `failure`, `timed_out`, `cancelled`, `interrupted`.
    pub status: Option<String>,
    /// Runs started at or after this time.
    pub since: Option<jiff::Timestamp>,
    /// Runs started before this time.
    pub before: Option<jiff::Timestamp>,
    pub limit: Option<usize>,
}

/// A run as the history lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: String,
    /// `local`, `worker`, or `unknown` for a run imported from its directory.
    pub trigger: String,
    pub repo: String,
    pub issue: u64,
    pub issue_title: String,
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub playbook: String,
    pub playbook_name: String,
    /// As recorded, except that a `running` run whose process is gone shows `interrupted`.
    pub status: String,
    pub branch: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: u64,
    pub pr_url: Option<String>,
    pub pr_number: Option<u64>,
    pub run_dir: PathBuf,
    pub checkout: String,
    /// The process running it (while it runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i64>,
    pub cancel_requested: bool,
}

impl RunRow {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }
}

/// One step execution.
#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    /// Its place among the run's executions, in the order they started (from 1).
    pub seq: u64,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub kind: String,
    /// A step status, or `running`.
    pub status: String,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attempt_keys: BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Relative to the run directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// A run with its step executions.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunRow,
    pub steps: Vec<StepRow>,
}

const RUN_COLUMNS: &str = "id, trigger, repo, issue, issue_title, task_id, message_id, playbook,
    playbook_name, status, branch, started_at, finished_at, duration_ms, pr_url, pr_number,
    run_dir, checkout, pid, cancel_requested_at";

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    let status: String = r.get(9)?;
    let pid: Option<i64> = r.get(18)?;
    let status = if status == RunStatus::Running.as_str() && !pid.is_some_and(pid_alive) {
        RunStatus::Interrupted.as_str().to_owned()
    } else {
        status
    };
    Ok(RunRow {
        id: r.get(0)?,
        trigger: r.get(1)?,
        repo: r.get(2)?,
        issue: r.get::<_, i64>(3)?.max(0) as u64,
        issue_title: r.get(4)?,
        task_id: r.get(5)?,
        message_id: r.get(6)?,
        playbook: r.get(7)?,
        playbook_name: r.get(8)?,
        pid: pid.filter(|_| status == "running"),
        status,
        branch: r.get(10)?,
        started_at: r.get(11)?,
        finished_at: r.get(12)?,
        duration_ms: r.get::<_, i64>(13)?.max(0) as u64,
        pr_url: r.get(14)?,
        pr_number: r.get::<_, Option<i64>>(15)?.map(|n| n.max(0) as u64),
        run_dir: PathBuf::from(r.get::<_, String>(16)?),
        checkout: r.get(17)?,
        cancel_requested: r.get::<_, Option<String>>(19)?.is_some(),
    })
}

fn step_row(r: &Row<'_>) -> rusqlite::Result<StepRow> {
    let keys: Option<String> = r.get(8)?;
    Ok(StepRow {
        seq: r.get::<_, i64>(0)?.max(0) as u64,
        id: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        status: r.get(4)?,
        exit_code: r.get(5)?,
        duration_ms: r.get::<_, i64>(6)?.max(0) as u64,
        attempt: r.get::<_, Option<i64>>(7)?.map(|n| n.max(0) as u32),
        attempt_keys: keys
            .and_then(|k| serde_json::from_str(&k).ok())
            .unwrap_or_default(),
        model: r.get(9)?,
        message: r.get(10)?,
        log: r.get(11)?,
    })
}

impl Store {
    /// Runs, newest first.
    pub fn list(&self, filter: &Filter) -> Result<Vec<RunRow>, HistoryError> {
        let (clause, args) = runs_where(filter);
        // Status is filtered after reading: `interrupted` is worked out from the process.
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE {clause} ORDER BY started_ms DESC, id DESC"
        );
        let rows = self.with(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), run_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Ok(rows
            .into_iter()
            .filter(|r| filter.status.as_ref().is_none_or(|s| &r.status == s))
            .take(filter.limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// The run with this id, or the only one whose id starts with it.
    pub fn find(&self, id: &str) -> Result<Lookup, HistoryError> {
        let exact = self.with(|c| {
            c.query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                run_row,
            )
            .optional()
        })?;
        if let Some(run) = exact {
            return Ok(Lookup::Found(Box::new(run)));
        }
        let mut matches = self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE substr(id, 1, ?2) = ?1 ORDER BY started_ms DESC LIMIT 6"
            ))?;
            let rows = stmt.query_map(rusqlite::params![id, id.chars().count() as i64], run_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Ok(match matches.len() {
            0 => Lookup::Missing,
            1 => Lookup::Found(Box::new(matches.remove(0))),
            _ => Lookup::Ambiguous(matches.into_iter().map(|r| r.id).collect()),
        })
    }

    /// A run's step executions, in the order they started.
    pub fn steps(&self, run: &str) -> Result<Vec<StepRow>, HistoryError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, id, name, kind, status, exit_code, duration_ms, attempt, attempt_keys,
                    model, message, log FROM steps WHERE run_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([run], step_row)?;
            rows.collect()
        })
    }

    /// The step executions of every run the filter's repository and times select (its
    /// status and limit aside), by run, in one query.
    pub fn steps_by_run(
        &self,
        filter: &Filter,
    ) -> Result<HashMap<String, Vec<StepRow>>, HistoryError> {
        let (clause, args) = runs_where(filter);
        let sql = format!(
            "SELECT s.seq, s.id, s.name, s.kind, s.status, s.exit_code, s.duration_ms, s.attempt,
                s.attempt_keys, s.model, s.message, s.log, s.run_id
             FROM steps s JOIN runs ON runs.id = s.run_id WHERE {clause} ORDER BY s.run_id, s.seq"
        );
        self.with(|c| {
            let mut stmt = c.prepare(&sql)?;
            let mut rows = stmt.query(params_from_iter(args))?;
            let mut out: HashMap<String, Vec<StepRow>> = HashMap::new();
            while let Some(r) = rows.next()? {
                out.entry(r.get(12)?).or_default().push(step_row(r)?);
            }
            Ok(out)
        })
    }

    /// The runs the filter selects, each with its steps.
    pub fn details(&self, filter: &Filter) -> Result<Vec<RunDetail>, HistoryError> {
        self.list(filter)?
            .into_iter()
            .map(|r| self.detail(r))
            .collect()
    }

    /// A run and its steps.
    pub fn detail(&self, run: RunRow) -> Result<RunDetail, HistoryError> {
        let steps = self.steps(&run.id)?;
        Ok(RunDetail { run, steps })
    }
}

/// The `WHERE` clause over `runs` of a filter's repository and times, with its arguments.
fn runs_where(filter: &Filter) -> (String, Vec<rusqlite::types::Value>) {
    let mut clause = String::from("1 = 1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(repo) = &filter.repo {
        clause.push_str(" AND runs.repo = ?");
        args.push(repo.clone().into());
    }
    if let Some(since) = filter.since {
        clause.push_str(" AND runs.started_ms >= ?");
        args.push(since.as_millisecond().into());
    }
    if let Some(before) = filter.before {
        clause.push_str(" AND runs.started_ms < ?");
        args.push(before.as_millisecond().into());
    }
    (clause, args)
}

/// What looking a run up by id (or the start of one) found.
#[derive(Debug)]
pub enum Lookup {
    Found(Box<RunRow>),
    Missing,
    /// Several runs start with it (up to six of their ids).
    Ambiguous(Vec<String>),
}

impl Lookup {
    /// Whether it found one run, in progress.
    pub fn is_found_running(&self) -> bool {
        matches!(self, Lookup::Found(r) if r.is_running())
    }
}
