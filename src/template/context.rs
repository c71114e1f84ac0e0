//! The template context: `issue`, `repo`, `vars`, `secrets`, `attempt`, `steps`, `run`,
//! `project`.
//!
//! Values written by the playbook's author (`vars`, attempt keys) are trusted and marked
//! safe, so `{{ vars.test_cmd }}` in a shell step runs as the command it is; so are the
//! repository's own setup and test commands (`project.setup`, `project.test`). Everything
//! else (issue text above all, but also step outputs and secrets) is data and gets quoted
//! in shell steps.

use std::collections::BTreeMap;

use minijinja::Value;

use super::FAILED_FLAG;
use crate::task::Task;

/// The parts of the context that stay the same for a whole run.
#[derive(Debug, Clone)]
pub struct ContextBase {
    pub issue: Value,
    pub repo: Value,
    pub vars: Value,
    pub secrets: Value,
    /// `project.*`: what the checkout's detection found (empty commands until then).
    pub project: Value,
}

impl ContextBase {
    pub fn new(
        task: &Task,
        vars: &BTreeMap<String, serde_json::Value>,
        secrets: &BTreeMap<String, String>,
    ) -> Self {
        let repo: BTreeMap<&str, Value> = BTreeMap::from([
            ("full_name", Value::from(task.repo.full_name.as_str())),
            ("owner", Value::from(task.repo.owner())),
            ("name", Value::from(task.repo.name())),
            ("clone_url", Value::from(task.repo.clone_url.as_str())),
            (
                "default_branch",
                Value::from(task.repo.default_branch.as_str()),
            ),
        ]);
        let vars: BTreeMap<&str, Value> =
            vars.iter().map(|(k, v)| (k.as_str(), trusted(v))).collect();
        Self {
            issue: Value::from(minijinja::value::Serde(&task.issue)),
            repo: Value::from(repo),
            vars: Value::from(vars),
            secrets: Value::from(secrets.clone()),
            project: no_project(),
        }
    }

    /// A full context for one render.
    pub fn with(&self, run: Value, steps: Value, attempt: Option<&Value>, failed: bool) -> Value {
        let mut map: BTreeMap<&str, Value> = BTreeMap::from([
            ("issue", self.issue.clone()),
            ("repo", self.repo.clone()),
            ("vars", self.vars.clone()),
            ("secrets", self.secrets.clone()),
            ("project", self.project.clone()),
            ("steps", steps),
            ("run", run),
            (FAILED_FLAG, Value::from(failed)),
        ]);
        if let Some(a) = attempt {
            map.insert("attempt", a.clone());
        }
        Value::from(map)
    }
}

/// `project.*` before detection (or when nothing was found): every command empty.
pub(crate) fn no_project() -> Value {
    Value::from(
        crate::playbook::validate::PROJECT_FIELDS
            .iter()
            .map(|f| match *f {
                "missing" => (*f, Value::from(Vec::<String>::new())),
                _ => (*f, Value::from("")),
            })
            .collect::<BTreeMap<&str, Value>>(),
    )
}

/// `run.*`.
pub(crate) fn run_value(id: &str, branch: &str, workdir: &str, summary: &str) -> Value {
    Value::from(BTreeMap::from([
        ("id", Value::from(id)),
        ("branch", Value::from(branch)),
        ("workdir", Value::from(workdir)),
        ("summary", Value::from(summary)),
    ]))
}

/// `attempt.*`: the 1-based number and the entry's keys (trusted, like vars).
pub(crate) fn attempt_value(number: u32, keys: &BTreeMap<String, serde_json::Value>) -> Value {
    let mut map: BTreeMap<&str, Value> =
        keys.iter().map(|(k, v)| (k.as_str(), trusted(v))).collect();
    map.insert("number", Value::from(number));
    Value::from(map)
}

/// A value written by the playbook's author: strings are marked safe (not shell-quoted).
pub(crate) fn trusted(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::String(s) => Value::from_safe_string(s.clone()),
        serde_json::Value::Array(items) => {
            Value::from(items.iter().map(trusted).collect::<Vec<_>>())
        }
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), trusted(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
        other => Value::from(minijinja::value::Serde(other)),
    }
}
