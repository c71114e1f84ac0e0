//! A task: one issue to work on. Read from the task message v1 (what the GitHub workflow
//! sends to SQS) or from a raw GitHub `issues` webhook payload; both become a [`Task`].
//!
//! Issue text is hostile data. Nothing here interprets it: it is carried byte for byte.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::playbook::types::Version1;

/// Task message v1, the body of an SQS message (`schemas/task.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "codingworker task message v1",
    description = "One GitHub issue for codingworker to work on; the body of an SQS message."
)]
pub struct Task {
    /// The integer 1.
    pub version: Version1,
    /// Unique per delivery, e.g. `<run_id>-<run_attempt>` of the sending workflow.
    #[schemars(length(min = 1))]
    pub id: String,
    pub repo: Repo,
    pub issue: Issue,
    /// Login of whoever triggered the task (labelled the issue).
    pub sender: String,
    /// What triggered it, e.g. `issues.labeled`.
    pub event: String,
}

/// The repository of the issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repo {
    /// `owner/name`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"))]
    pub full_name: String,
    /// Where to clone it from (https, file:// or a local path).
    pub clone_url: String,
    /// The branch pull requests go to.
    pub default_branch: String,
}

impl Repo {
    pub fn owner(&self) -> &str {
        self.full_name.split_once('/').map_or("", |(o, _)| o)
    }
    pub fn name(&self) -> &str {
        self.full_name
            .split_once('/')
            .map_or(self.full_name.as_str(), |(_, n)| n)
    }
}

/// The issue itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    /// GitHub sends `null` for an issue without a body; it reads as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub body: String,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Login of the issue's author.
    pub author: String,
    /// The issue's page.
    pub url: String,
}

/// Why an issue file or message is not a task.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}:{line}:{column}: invalid JSON: {message}")]
    Json {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{origin}: {message}")]
    Shape { origin: String, message: String },
}

impl Task {
    /// Reads a task from a file holding either form.
    pub fn from_file(path: &Path) -> Result<Task, TaskError> {
        let text = std::fs::read_to_string(path).map_err(|source| TaskError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Task::from_json(&text, &path.display().to_string())
    }

    /// Parses either form; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Task, TaskError> {
        let value: Value = serde_json::from_str(text).map_err(|e| TaskError::Json {
            origin: origin.to_owned(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
        let shape = |message: String| TaskError::Shape {
            origin: origin.to_owned(),
            message,
        };
        let Value::Object(obj) = &value else {
            return Err(shape(format!(
                "expected a JSON object (a task message or a GitHub issues webhook payload), found {}",
                json_type(&value)
            )));
        };
        if obj.contains_key("version") {
            let task: Task = serde_path_to_error::deserialize(value)
                .map_err(|e| shape(describe_path_error("task message", &e)))?;
            task.check().map_err(shape)?;
            Ok(task)
        } else if obj.contains_key("issue") && obj.contains_key("repository") {
            let hook: webhook::Payload = serde_path_to_error::deserialize(value)
                .map_err(|e| shape(describe_path_error("GitHub issues webhook payload", &e)))?;
            let task = hook.into_task();
            task.check().map_err(shape)?;
            Ok(task)
        } else {
            Err(shape(
                "not a task message (no `version` key) nor a GitHub issues webhook payload (no `issue` and `repository` keys)".into(),
            ))
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("`id` must not be empty".into());
        }
        // GitHub's names: letters, digits, `-`, `_` and `.`, never `.` or `..` alone (those
        // would be paths: a mirror or run directory is named after the repository).
        let ok_part = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match self.repo.full_name.split_once('/') {
            Some((o, n)) if ok_part(o) && ok_part(n) => Ok(()),
            _ => Err(format!(
                "`repo.full_name` must be `owner/name`, found {:?}",
                self.repo.full_name
            )),
        }
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn describe_path_error(what: &str, e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    let inner = strip_position(&e.inner().to_string());
    if path == "." {
        format!("invalid {what}: {inner}")
    } else {
        format!("invalid {what} at `{path}`: {inner}")
    }
}

/// serde_json appends " at line L column C", meaningless for an already parsed value.
fn strip_position(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The parts of GitHub's `issues` webhook payload that make a task.
mod webhook {
    use serde::Deserialize;

    use super::{Issue, Repo, Task, Version1};

    #[derive(Deserialize)]
    pub(super) struct Payload {
        pub action: String,
        pub issue: HookIssue,
        pub repository: HookRepo,
        pub sender: Login,
    }

    #[derive(Deserialize)]
    pub(super) struct HookIssue {
        pub number: u64,
        pub title: String,
        pub body: Option<String>,
        #[serde(default)]
        pub labels: Vec<Label>,
        pub user: Login,
        pub html_url: String,
        #[serde(default)]
        pub updated_at: Option<String>,
    }

    #[derive(Deserialize)]
    pub(super) struct HookRepo {
        pub full_name: String,
        pub clone_url: String,
        pub default_branch: String,
    }

    #[derive(Deserialize)]
    pub(super) struct Label {
        pub name: String,
    }

    #[derive(Deserialize)]
    pub(super) struct Login {
        pub login: String,
    }

    impl Payload {
        pub(super) fn into_task(self) -> Task {
            // A webhook payload carries no delivery id (that is a header); derive a stable one.
            let id = format!(
                "webhook-{}-{}-{}-{}",
                self.repository.full_name.replace('/', "-"),
                self.issue.number,
                self.action,
                self.issue.updated_at.as_deref().unwrap_or("0")
            );
            Task {
                version: Version1,
                id,
                repo: Repo {
                    full_name: self.repository.full_name,
                    clone_url: self.repository.clone_url,
                    default_branch: self.repository.default_branch,
                },
                issue: Issue {
                    number: self.issue.number,
                    title: self.issue.title,
                    body: self.issue.body.unwrap_or_default(),
                    labels: self.issue.labels.into_iter().map(|l| l.name).collect(),
                    author: self.issue.user.login,
                    url: self.issue.html_url,
                },
                sender: self.sender.login,
                event: format!("issues.{}", self.action),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: &str = r#"{"version": 1, "id": "7-1",
      "repo": {"full_name": "o/r", "clone_url": "https://github.com/o/r.git", "default_branch": "main"},
      "issue": {"number": 12, "title": "t", "body": "b", "labels": ["auto-code"], "author": "a",
                "url": "https://github.com/o/r/issues/12"},
      "sender": "s", "event": "issues.labeled"}"#;

    #[test]
    fn reads_a_task_message() {
        let t = Task::from_json(TASK, "t.json").unwrap();
        assert_eq!(t.issue.number, 12);
        assert_eq!(t.repo.owner(), "o");
        assert_eq!(t.repo.name(), "r");
    }

    #[test]
    fn a_null_body_reads_as_empty() {
        let t =
            Task::from_json(&TASK.replace("\"body\": \"b\"", "\"body\": null"), "t.json").unwrap();
        assert_eq!(t.issue.body, "");
    }

    #[test]
    fn normalises_a_webhook_payload() {
        let hook = r#"{"action": "labeled",
          "issue": {"number": 3, "title": "T", "body": null, "labels": [{"name": "auto-code"}],
                    "user": {"login": "alice"}, "html_url": "https://github.com/o/r/issues/3",
                    "updated_at": "2026-01-01T00:00:00Z", "state": "open"},
          "repository": {"full_name": "o/r", "clone_url": "https://github.com/o/r.git",
                         "default_branch": "main", "private": false},
          "sender": {"login": "bob", "id": 1}}"#;
        let t = Task::from_json(hook, "h.json").unwrap();
        assert_eq!(t.issue.body, "");
        assert_eq!(t.issue.labels, ["auto-code"]);
        assert_eq!(t.issue.author, "alice");
        assert_eq!(t.sender, "bob");
        assert_eq!(t.event, "issues.labeled");
        assert_eq!(t.id, "webhook-o-r-3-labeled-2026-01-01T00:00:00Z");
    }

    #[test]
    fn says_where_and_why_a_file_is_not_a_task() {
        let e = Task::from_json("{\n  \"version\": 1,\n", "x.json").unwrap_err();
        assert!(e.to_string().starts_with("x.json:3:"), "{e}");
        let e = Task::from_json(&TASK.replace("12,", "\"12\","), "x.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.json: invalid task message at `issue.number`: invalid type: string \"12\", expected u64"
        );
        let e = Task::from_json(&TASK.replace("\"sender\"", "\"senderx\""), "x.json").unwrap_err();
        assert!(e.to_string().contains("unknown field `senderx`"), "{e}");
        let e = Task::from_json("[]", "x.json").unwrap_err();
        assert!(e.to_string().contains("found an array"), "{e}");
        let e = Task::from_json("{\"a\": 1}", "x.json").unwrap_err();
        assert!(e.to_string().contains("not a task message"), "{e}");
        for bad in ["o r", "../r", "o/..", "./r", "o/r/x", "o/"] {
            let e =
                Task::from_json(&TASK.replace("o/r\"", &format!("{bad}\"")), "x.json").unwrap_err();
            assert!(e.to_string().contains("owner/name"), "{bad}: {e}");
        }
        assert!(Task::from_json(&TASK.replace("o/r\"", "o-1/.github\""), "x.json").is_ok());
    }
}
