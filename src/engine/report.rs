//! The run report: `run.json` for machines and `summary.md` for people.
//!
//! The report is rewritten after every step, so a crash leaves the state of the run on disk
//! (the worker reads it back on a redelivery). Everything in it has been masked.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::playbook::types::Version1;
pub use crate::steps::result::PrRef;
pub use crate::steps::status::{RunStatus, StepStatus};

/// `run.json` (`schemas/run.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "codingworker run report v1")]
pub struct RunReport {
    /// The integer 1.
    pub version: Version1,
    /// The run's id (also the name of its directory).
    pub id: String,
    /// The playbook file.
    pub playbook: String,
    /// The playbook's `name`.
    pub playbook_name: String,
    /// The task's id.
    pub task_id: String,
    /// `owner/name` of the repository.
    pub repo: String,
    /// The issue number.
    pub issue: u64,
    /// The issue's title (masked).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issue_title: String,
    /// What started the run: `local` (`codingworker run`) or `worker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    pub status: RunStatus,
    /// The run branch.
    pub branch: String,
    /// Where the steps ran (the worktree).
    pub workdir: String,
    /// RFC 3339.
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub started_at: jiff::Timestamp,
    /// RFC 3339; null while the run is in progress.
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub finished_at: Option<jiff::Timestamp>,
    pub duration_ms: u64,
    /// One entry per step execution, in the order the steps started.
    pub steps: Vec<StepReport>,
    /// The pull request opened or updated, if any.
    pub pr: Option<PrRef>,
    /// The dependency cache the run used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::project::cache::CacheUse>,
}

/// One execution of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `shell`, `aider`, `retry`, `pr_open` or `comment`.
    pub kind: String,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// Inside a retry: the attempt's number and keys (e.g. `model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<AttemptInfo>,
    /// The model an `aider` step used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Why the step failed, timed out or was skipped, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The step's log, relative to the run directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The test counts its output shows (a `shell` step running a test runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<crate::steps::tests_count::TestCounts>,
    /// What an `aider` step showed the model (files and why, the context budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Box<crate::context::Selection>>,
}

/// An attempt as the report shows it: `{"number": 2, "model": "..."}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptInfo {
    pub number: u32,
    pub keys: BTreeMap<String, serde_json::Value>,
}

impl Serialize for AttemptInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map: serde_json::Map<String, serde_json::Value> =
            self.keys.clone().into_iter().collect();
        map.insert("number".into(), self.number.into());
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for AttemptInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let number = map
            .remove("number")
            .and_then(|n| n.as_u64())
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| serde::de::Error::missing_field("number"))?;
        Ok(AttemptInfo {
            number,
            keys: map.into_iter().collect(),
        })
    }
}

impl JsonSchema for AttemptInfo {
    fn schema_name() -> Cow<'static, str> {
        "AttemptInfo".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "The attempt's 1-based number and the keys of its entry (e.g. `model`).",
            "properties": { "number": { "type": "integer", "minimum": 1 } },
            "required": ["number"]
        })
    }
}

impl RunReport {
    /// Writes `run.json` atomically (a temporary file renamed into place).
    pub fn write_json(&self, run_dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let tmp = run_dir.join(".run.json.tmp");
        std::fs::write(&tmp, text + "\n")?;
        std::fs::rename(tmp, run_dir.join("run.json"))
    }

    /// The Markdown table of the steps so far (`run.summary`).
    pub fn steps_table(&self) -> String {
        let mut out = String::from("| Step | Attempt | Status | Exit | Duration | Note |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for s in &self.steps {
            let attempt = s.attempt.as_ref().map(attempt_label).unwrap_or_default();
            let exit = s.exit_code.map(|c| c.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                md_cell(&match &s.name {
                    Some(name) => format!("{} · {name}", s.id),
                    None => s.id.clone(),
                }),
                md_cell(&attempt),
                status_cell(s.status),
                exit,
                format_ms(s.duration_ms),
                md_cell(&note(s)),
            );
        }
        out
    }

    /// `summary.md`: a headline and the steps table.
    pub fn summary_markdown(&self) -> String {
        let mut out = format!(
            "# codingworker run `{}`\n\n**{}** · playbook `{}` · {}#{} · branch `{}` · {}\n\n",
            self.id,
            self.status.as_str(),
            md_inline(&self.playbook_name),
            md_inline(&self.repo),
            self.issue,
            md_inline(&self.branch),
            format_ms(self.duration_ms),
        );
        out.push_str(&self.steps_table());
        if let Some(c) = &self.cache {
            let _ = write!(
                out,
                "\nDependency cache: {} (`{}`)\n",
                if c.hit { "reused" } else { "new" },
                md_inline(&c.dir)
            );
        }
        if let Some(pr) = &self.pr {
            let _ = write!(
                out,
                "\nPull request: [#{}]({}) ({})\n",
                pr.number,
                pr.url,
                if pr.created { "opened" } else { "updated" }
            );
        }
        out
    }
}

fn attempt_label(a: &AttemptInfo) -> String {
    let mut label = a.number.to_string();
    for v in a.keys.values() {
        match v {
            serde_json::Value::String(s) => {
                let _ = write!(label, " · {s}");
            }
            serde_json::Value::Number(n) => {
                let _ = write!(label, " · {n}");
            }
            serde_json::Value::Bool(b) => {
                let _ = write!(label, " · {b}");
            }
            _ => {}
        }
    }
    label
}

fn status_cell(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Success => "✅ success",
        StepStatus::Failure => "❌ failure",
        StepStatus::TimedOut => "⏱ timed out",
        StepStatus::Skipped => "⏭ skipped",
        StepStatus::Cancelled => "🚫 cancelled",
    }
}

/// Text safe inside a Markdown table cell: one line, pipes escaped.
fn md_cell(s: &str) -> String {
    let one_line: String = s.lines().next().unwrap_or("").chars().take(120).collect();
    md_inline(&one_line).replace('|', "\\|")
}

/// Text that cannot open Markdown or HTML constructs.
fn md_inline(s: &str) -> String {
    s.replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "'")
}

/// `1.2s`, `3m 12s`, `450ms`.
pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let s = ms / 1000;
        if s < 3600 {
            format!("{}m {:02}s", s / 60, s % 60)
        } else {
            format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
        }
    }
}

/// A step's note in the table: its test counts, then why it failed or was skipped.
fn note(s: &StepReport) -> String {
    let tests = s.tests.as_ref().map(|t| {
        let mut parts = vec![format!("{} passed", t.passed)];
        if t.failed > 0 {
            parts.push(format!("{} failed", t.failed));
        }
        if t.skipped > 0 {
            parts.push(format!("{} skipped", t.skipped));
        }
        if t.ran == 0 {
            "no tests ran".to_owned()
        } else {
            format!("tests: {}", parts.join(", "))
        }
    });
    match (tests, s.message.as_deref()) {
        (Some(t), Some(m)) => format!("{t} · {m}"),
        (Some(t), None) => t,
        (None, m) => m.unwrap_or("").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(format_ms(450), "450ms");
        assert_eq!(format_ms(1234), "1.2s");
        assert_eq!(format_ms(192_000), "3m 12s");
        assert_eq!(format_ms(3_900_000), "1h 05m");
    }

    #[test]
    fn table_cells_cannot_break_the_table() {
        assert_eq!(md_cell("a|b\nsecond line"), "a\\|b");
        assert_eq!(md_cell("<script>`x`"), "&lt;script&gt;'x'");
    }

    #[test]
    fn attempt_info_reads_back_what_it_writes() {
        let a = AttemptInfo {
            number: 2,
            keys: BTreeMap::from([("model".to_string(), "m".into())]),
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v, serde_json::json!({"number": 2, "model": "m"}));
        assert_eq!(serde_json::from_value::<AttemptInfo>(v).unwrap(), a);
    }
}
