//! The `comment:` block of a playbook.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::playbook::types::Template;

/// The `comment:` block.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentSpec {
    /// The comment's Markdown body (a template).
    pub body: Template,
}
