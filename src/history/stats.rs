//! Per-model metrics: the numbers a user reorders the fallback chain by.
//!
//! Every executed `aider` step is an attempt of its model. Inside a retry, the attempt is
//! the run of steps with the same attempt number around it: it solved the task when none of
//! them failed (the tests after aider passed), it timed out when one of them timed out, and
//! its time is theirs together. Outside a retry, the aider step solved the task when the
//! whole run succeeded.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Filter, HistoryError, RunRow, StepRow, Store};

/// One model's record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStats {
    pub model: String,
    pub attempts: u64,
    pub solved: u64,
    /// `solved / attempts`, 0 to 1.
    pub solve_rate: f64,
    /// Mean time of an attempt (aider and the steps that check its work).
    pub mean_attempt_ms: u64,
    pub timeouts: u64,
}

/// The per-model metrics of the finished runs `filter` selects, most attempts first.
pub fn model_stats(store: &Store, filter: &Filter) -> Result<Vec<ModelStats>, HistoryError> {
    let mut totals: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
    let mut steps = store.steps_by_run(filter)?;
    for run in store.list(filter)? {
        if run.is_running() {
            continue;
        }
        let steps = steps.remove(&run.id).unwrap_or_default();
        for a in attempts(&run, &steps) {
            let t = totals.entry(a.model).or_default();
            t.0 += 1;
            t.1 += u64::from(a.solved);
            t.2 += a.ms;
            t.3 += u64::from(a.timed_out);
        }
    }
    let mut out: Vec<ModelStats> = totals
        .into_iter()
        .map(|(model, (attempts, solved, ms, timeouts))| ModelStats {
            model,
            attempts,
            solved,
            solve_rate: solved as f64 / attempts as f64,
            mean_attempt_ms: ms / attempts,
            timeouts,
        })
        .collect();
    out.sort_by(|a, b| b.attempts.cmp(&a.attempts).then(a.model.cmp(&b.model)));
    Ok(out)
}

struct Attempt {
    model: String,
    solved: bool,
    timed_out: bool,
    ms: u64,
}

fn failed(status: &str) -> bool {
    matches!(status, "failure" | "timed_out")
}

/// The attempts of one run.
fn attempts(run: &RunRow, steps: &[StepRow]) -> Vec<Attempt> {
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if step.kind != "aider" || matches!(step.status.as_str(), "skipped" | "cancelled") {
            continue;
        }
        let Some(model) = step.model.clone() else {
            continue;
        };
        match step.attempt {
            Some(n) => {
                let same = |s: &&StepRow| s.attempt == Some(n) && s.kind != "retry";
                let start = steps[..i].iter().rev().take_while(same).count();
                let group: Vec<&StepRow> = steps[i - start..].iter().take_while(same).collect();
                out.push(Attempt {
                    model,
                    solved: group
                        .iter()
                        .all(|s| !failed(&s.status) && s.status != "cancelled"),
                    timed_out: group.iter().any(|s| s.status == "timed_out"),
                    ms: group.iter().map(|s| s.duration_ms).sum(),
                });
            }
            None => out.push(Attempt {
                model,
                solved: step.status == "success" && run.status == "success",
                timed_out: step.status == "timed_out",
                ms: step.duration_ms,
            }),
        }
    }
    out
}
