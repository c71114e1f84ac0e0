//! The `aider:` block of a playbook.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::playbook::types::Template;
use crate::template::sites::Collector;

/// Ollama's context window when a step sets none (Ollama's own 2k default truncates).
pub const DEFAULT_NUM_CTX: u32 = 8192;

/// The `aider:` block.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AiderSpec {
    /// The model in litellm's form: `ollama_chat/qwen2.5-coder:7b`, `openai/NAME`,
    /// `gemini/gemini-2.0-flash`.
    pub model: Template,
    /// The prompt, written to a file and given with `--message-file`.
    pub message: Template,
    /// Files aider may edit: paths or globs relative to the checkout (never outside it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<Template>,
    /// Files aider reads but does not edit (`--read`), same rules as `files`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<Template>,
    /// aider's edit format (`whole`, `diff`, `udiff`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_format: Option<Template>,
    /// The model server: sets `OLLAMA_API_BASE` for `ollama*/` models, `OPENAI_API_BASE`
    /// for `openai/` models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<Template>,
    /// Extra arguments for aider, each one argv entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Template>,
    /// An attempt that changed nothing (no commit, no modified file) fails. Default true.
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub require_changes: bool,
    /// Context window for Ollama models (tokens). Default 8192.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 512))]
    pub num_ctx: Option<u32>,
}

fn yes() -> bool {
    true
}

impl AiderSpec {
    /// Its templates, told their place under `at` (`/steps/N/aider`).
    pub fn collect_sites(&self, c: &mut Collector, at: &str) {
        c.template(&format!("{at}/model"), &self.model);
        c.template(&format!("{at}/message"), &self.message);
        c.templates(&format!("{at}/files"), &self.files);
        c.templates(&format!("{at}/read"), &self.read);
        if let Some(t) = &self.edit_format {
            c.template(&format!("{at}/edit_format"), t);
        }
        if let Some(t) = &self.api_base {
            c.template(&format!("{at}/api_base"), t);
        }
        c.templates(&format!("{at}/args"), &self.args);
    }
}
