//! `worker.yml`: where the queue is, what may be worked on, and which playbook a task gets.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::playbook::types::HumanDuration;

/// The worker's configuration (`schemas/worker.schema.json`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "codingworker worker config")]
pub struct WorkerConfig {
    /// The SQS queue URL. `CODINGWORKER_QUEUE_URL` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<String>,
    /// Tasks run at once.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 64))]
    pub concurrency: u32,
    /// Visibility timeout of a received message; a heartbeat extends it while a task runs.
    #[serde(default = "fifteen_minutes")]
    pub visibility_timeout: HumanDuration,
    /// Must match the queue's redrive policy; the last receive reports failure on the issue.
    #[serde(default = "three")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_receives: u32,
    /// Workspaces, repository cache and run reports. `~` is the home directory.
    #[serde(default = "default_workdir")]
    pub workdir: String,
    /// Who and what may send work; anything else is refused.
    pub allow: Allow,
    /// Routes to playbooks, first match wins.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// The playbook of a task no route matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_playbook: Option<String>,
    /// GitHub access.
    #[serde(default)]
    pub github: GithubConfig,
}

/// Allow-lists; globs like `owner/*`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// Repositories (`owner/name` globs) tasks may come from.
    #[serde(default)]
    pub repos: Vec<String>,
    /// Senders (logins) who may trigger tasks; empty allows anyone with the label.
    #[serde(default)]
    pub senders: Vec<String>,
}

/// One route: the conditions that must all match and the playbook it gives.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `owner/name` glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// A label the issue must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A playbook file, or `repo` for the repository's own `.codingworker.yml`.
    pub playbook: String,
}

/// GitHub access.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// The environment variable holding the token.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// The REST API's base URL.
    #[serde(default = "default_api_url")]
    pub api_url: String,
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self {
            token_env: default_token_env(),
            api_url: default_api_url(),
        }
    }
}

fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn fifteen_minutes() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(15 * 60))
}
fn default_workdir() -> String {
    "~/.codingworker".into()
}
fn default_token_env() -> String {
    "GITHUB_TOKEN".into()
}
fn default_api_url() -> String {
    "https://api.github.com".into()
}
