//! The `comment:` block of a playbook.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::playbook::types::Template;
use crate::template::sites::Collector;

/// The `comment:` block.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentSpec {
    /// The comment's Markdown body (a template).
    pub body: Template,
}

impl CommentSpec {
    /// Its templates, told their place under `at` (`/steps/N/comment`).
    pub fn collect_sites(&self, c: &mut Collector, at: &str) {
        c.template(&format!("{at}/body"), &self.body);
    }
}
