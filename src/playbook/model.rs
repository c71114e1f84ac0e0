//! The playbook language v1 as Rust types: the top level, steps and their common fields.
//!
//! The kinds' own specs live beside the code that runs them, in `crate::steps::KIND::spec`;
//! `retry`, which holds steps, is part of the language itself and lives here. Everything
//! is strict (`deny_unknown_fields`); the JSON Schema in `schemas/playbook.schema.json` is
//! generated from these types.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::types::{Condition, EnvMap, EnvName, HumanDuration, StepId, Template, Version1};
use crate::steps::aider::spec::AiderSpec;
use crate::steps::comment::spec::CommentSpec;
use crate::steps::pr_open::spec::PrOpenSpec;

/// The default run branch.
pub const DEFAULT_BRANCH: &str = "auto-code/issue-{{ issue.number }}";
/// The default whole-run budget.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(3600);

/// A codingworker playbook (`.codingworker.yml`, `playbooks/*.yml`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "codingworker playbook v1",
    description = "Steps that turn a GitHub issue into a pull request. See docs/playbook.md."
)]
pub struct Playbook {
    /// Version of the playbook language: the integer 1.
    pub version: Version1,
    /// Name of the playbook, shown in logs and reports.
    pub name: String,
    /// What the playbook is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free values for templates (`vars.NAME`). They are written by the playbook's author
    /// and trusted: a var rendered into a `shell` step is not quoted (use `| shell_quote`).
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Environment of every process of the run; values are templates.
    #[serde(default)]
    pub env: EnvMap,
    /// Names of worker environment variables exposed as `secrets.NAME` and to child
    /// processes; their values are masked everywhere.
    #[serde(default)]
    pub secrets: Vec<EnvName>,
    /// The run branch (a template).
    #[serde(default = "default_branch")]
    pub branch: Template,
    /// Whole-run budget.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Files a change may not edit or delete (globs, relative to the checkout, e.g.
    /// `tests/**`): a test step with a `baseline` fails when the checkout's changes since
    /// the run started touch one. Adding files is allowed. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protect: Vec<String>,
    /// The steps, run in order.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
}

fn default_branch() -> Template {
    Template::new(DEFAULT_BRANCH)
}

fn default_timeout() -> HumanDuration {
    HumanDuration(DEFAULT_RUN_TIMEOUT)
}

/// The five kinds of step, by their key in YAML.
pub const STEP_KINDS: [&str; 5] = ["shell", "aider", "retry", "pr_open", "comment"];

/// One step: common fields and exactly one kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "StepDef", into = "StepDef")]
pub struct Step {
    pub id: StepId,
    pub name: Option<String>,
    pub condition: Option<Condition>,
    pub timeout: Option<HumanDuration>,
    pub continue_on_error: bool,
    pub env: EnvMap,
    pub workdir: Option<String>,
    /// A `shell` step that runs tests: the step that ran them before any change.
    pub baseline: Option<StepId>,
    pub kind: StepKind,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepKind {
    Shell(Template),
    Aider(AiderSpec),
    Retry(RetrySpec),
    PrOpen(PrOpenSpec),
    Comment(CommentSpec),
}

impl StepKind {
    /// The kind's key in YAML.
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Shell(_) => "shell",
            StepKind::Aider(_) => "aider",
            StepKind::Retry(_) => "retry",
            StepKind::PrOpen(_) => "pr_open",
            StepKind::Comment(_) => "comment",
        }
    }

    /// Tells the kind's templates where they sit (`at`: `/steps/N/KIND`) and adds them to
    /// `c`. `retry` is the collector's own (its nested steps are steps).
    pub fn collect_sites(&self, c: &mut crate::template::sites::Collector, at: &str) {
        match self {
            StepKind::Shell(t) => c.shell(at, t),
            StepKind::Aider(spec) => spec.collect_sites(c, at),
            StepKind::PrOpen(spec) => spec.collect_sites(c, at),
            StepKind::Comment(spec) => spec.collect_sites(c, at),
            StepKind::Retry(_) => {}
        }
    }

    /// The timeout a step of this kind gets when it sets none. `None`: only the run's
    /// budget bounds it.
    pub fn default_timeout(&self) -> Option<Duration> {
        match self {
            StepKind::Shell(_) => Some(Duration::from_secs(10 * 60)),
            StepKind::Aider(_) => Some(Duration::from_secs(30 * 60)),
            StepKind::Retry(_) => None,
            StepKind::PrOpen(_) => Some(Duration::from_secs(5 * 60)),
            StepKind::Comment(_) => Some(Duration::from_secs(60)),
        }
    }
}

impl Step {
    /// The step's own timeout, or its kind's default.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
            .map(|t| t.0)
            .or_else(|| self.kind.default_timeout())
    }

    /// Nested steps (a retry's), if any.
    pub fn children(&self) -> &[Step] {
        match &self.kind {
            StepKind::Retry(r) => &r.steps,
            _ => &[],
        }
    }
}

/// The YAML shape of a step, before the one-kind rule is applied.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StepDef {
    /// Unique id (`[a-z][a-z0-9_-]*`), also among nested steps.
    id: StepId,
    /// A human name for logs and reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Run the step only when this expression holds. Default: `success()`.
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    condition: Option<Condition>,
    /// Step budget. Defaults: shell 10m, aider 30m, pr_open 5m, comment 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout: Option<HumanDuration>,
    /// A failure of this step does not fail the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    continue_on_error: bool,
    /// Environment for this step's process; values are templates.
    #[serde(default, skip_serializing_if = "EnvMap::is_empty")]
    env: EnvMap,
    /// Directory to run in, relative to the checkout (must stay inside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workdir: Option<String>,
    /// For a `shell` step that runs tests: the id of the step that ran the same tests before
    /// any change. The step fails when its runner counted no tests, or fewer tests pass than
    /// there; when its command fails, it still succeeds if its runner names every failing
    /// test and each of them failed there too: no new failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    baseline: Option<StepId>,
    /// Run a command with `sh -c` in the checkout. Every `{{ }}` output is shell-quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shell: Option<Template>,
    /// Run the aider coding agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aider: Option<AiderSpec>,
    /// Run nested steps once per attempt until a condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry: Option<RetrySpec>,
    /// Commit, push the run branch and open (or update) the pull request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pr_open: Option<PrOpenSpec>,
    /// Comment on the issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<CommentSpec>,
}

impl TryFrom<StepDef> for Step {
    type Error = String;

    fn try_from(d: StepDef) -> Result<Self, String> {
        let mut kinds = Vec::new();
        if let Some(s) = d.shell {
            kinds.push(StepKind::Shell(s));
        }
        if let Some(a) = d.aider {
            kinds.push(StepKind::Aider(a));
        }
        if let Some(r) = d.retry {
            kinds.push(StepKind::Retry(r));
        }
        if let Some(p) = d.pr_open {
            kinds.push(StepKind::PrOpen(p));
        }
        if let Some(c) = d.comment {
            kinds.push(StepKind::Comment(c));
        }
        if kinds.len() != 1 {
            return Err(one_kind_message(&d.id.0, kinds.iter().map(StepKind::name)));
        }
        Ok(Step {
            id: d.id,
            name: d.name,
            condition: d.condition,
            timeout: d.timeout,
            continue_on_error: d.continue_on_error,
            env: d.env,
            workdir: d.workdir,
            baseline: d.baseline,
            kind: kinds.remove(0),
        })
    }
}

/// The message for a step that has no kind key or several.
pub fn one_kind_message<'a>(id: &str, present: impl Iterator<Item = &'a str>) -> String {
    let present: Vec<String> = present.map(|k| format!("`{k}`")).collect();
    if present.is_empty() {
        format!(
            "step `{id}` does nothing: give it exactly one of `shell`, `aider`, `retry`, `pr_open`, `comment`"
        )
    } else {
        format!(
            "step `{id}` has {} kinds ({}): a step does exactly one thing; split it into several steps",
            present.len(),
            present.join(", ")
        )
    }
}

impl From<Step> for StepDef {
    fn from(s: Step) -> Self {
        let mut d = StepDef {
            id: s.id,
            name: s.name,
            condition: s.condition,
            timeout: s.timeout,
            continue_on_error: s.continue_on_error,
            env: s.env,
            workdir: s.workdir,
            baseline: s.baseline,
            shell: None,
            aider: None,
            retry: None,
            pr_open: None,
            comment: None,
        };
        match s.kind {
            StepKind::Shell(x) => d.shell = Some(x),
            StepKind::Aider(x) => d.aider = Some(x),
            StepKind::Retry(x) => d.retry = Some(x),
            StepKind::PrOpen(x) => d.pr_open = Some(x),
            StepKind::Comment(x) => d.comment = Some(x),
        }
        d
    }
}

impl JsonSchema for Step {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut schema = StepDef::json_schema(g);
        let one_of: Vec<serde_json::Value> = STEP_KINDS
            .iter()
            .map(|k| serde_json::json!({ "required": [k] }))
            .collect();
        schema.insert("oneOf".into(), one_of.into());
        schema.insert(
            "description".into(),
            "A step: common fields and exactly one of `shell`, `aider`, `retry`, `pr_open`, `comment`."
                .into(),
        );
        schema
    }
}

/// The pattern of an attempt key (reachable as `attempt.KEY`).
pub const ATTEMPT_KEY_PATTERN: &str = "^[a-z_][a-z0-9_]*$";

/// The `retry:` block.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// One attempt per entry, in order; the entry is `attempt.*` in templates.
    #[schemars(length(min = 1))]
    pub attempts: Vec<Attempt>,
    /// Checked after each attempt; the retry stops when it holds. Default: no nested step
    /// failed in the attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Condition>,
    /// Start every attempt from the commit before the retry (default true).
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub reset: bool,
    /// The steps of one attempt.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
}

fn yes() -> bool {
    true
}

/// One attempt entry: free keys (`model: ...`) and an optional `env`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attempt {
    /// Environment for the attempt's steps; values are templates.
    pub env: EnvMap,
    /// The other keys, as `attempt.KEY`.
    pub keys: BTreeMap<String, serde_json::Value>,
}

impl<'de> Deserialize<'de> for Attempt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let env = match map.remove("env") {
            Some(v) => EnvMap::deserialize(v).map_err(de::Error::custom)?,
            None => EnvMap::default(),
        };
        Ok(Attempt {
            env,
            keys: map.into_iter().collect(),
        })
    }
}

impl Serialize for Attempt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map: serde_json::Map<String, serde_json::Value> =
            self.keys.clone().into_iter().collect();
        if !self.env.is_empty() {
            map.insert(
                "env".into(),
                serde_json::to_value(&self.env).map_err(serde::ser::Error::custom)?,
            );
        }
        map.serialize(s)
    }
}

impl JsonSchema for Attempt {
    fn schema_name() -> Cow<'static, str> {
        "Attempt".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let env = g.subschema_for::<EnvMap>();
        json_schema!({
            "type": "object",
            "description": "One attempt: free keys read as `attempt.KEY` (e.g. `model`), and an optional `env` of templates.",
            "properties": { "env": env },
            "propertyNames": { "pattern": ATTEMPT_KEY_PATTERN },
        })
    }
}
