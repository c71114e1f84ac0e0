//! The `pr_open:` block of a playbook.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::playbook::types::{Flag, Template};

pub const DEFAULT_TITLE: &str = "{{ issue.title }}";
pub const DEFAULT_BODY: &str = "Closes #{{ issue.number }}\n\n{{ run.summary }}";
pub const DEFAULT_COMMIT_MESSAGE: &str = "codingworker: work on #{{ issue.number }}";

/// The `pr_open:` block. Every field has a default, so `pr_open: {}` works.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrOpenSpec {
    /// Title of the pull request. Default: the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Template>,
    /// Body. Default: `Closes #N` and the run summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Template>,
    /// Open as a draft (a boolean or a template rendering to true/false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<Flag>,
    /// Base branch. Default: the repository's default branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Template>,
    /// Labels to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Template>,
    /// Logins asked to review.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<Template>,
    /// Message of the commit made of uncommitted changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_message: Option<Template>,
}
