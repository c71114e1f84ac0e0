//! The `aider:` block of a playbook.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::playbook::types::{Count, Template};
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
    /// Files aider may edit: `auto` (the files the issue is about, ranked and fitted to the
    /// context window), or paths and globs relative to the checkout (never outside it); an
    /// `auto` entry in a list adds the ranked files to the listed ones.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    #[schemars(with = "OneOrMany")]
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
    /// The model's context window in tokens: Ollama runs the model with it, and the files,
    /// the message and the reply are fitted into it. Default 8192 for local models (Ollama
    /// and `openai/`), 131072 for others.
    /// A template (`"{{ attempt.num_ctx }}"`) lets each attempt's model set its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<Count>,
    /// How the files are chosen and fitted (see `files: auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextSpec>,
}

/// The `context:` block of an aider step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// Files to edit at most, with `files: auto`. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub max_files: Option<u32>,
    /// Tokens for files (to edit and read-only) and the repository map together, at most.
    /// Default: what the window leaves after aider's prompts, the message, the reply and a
    /// 10% margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub budget: Option<u32>,
    /// aider's repository map (`--map-tokens`). Default: with `files: auto`, what is left
    /// (up to 1024, or 2048 when no file matched); otherwise 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub map_tokens: Option<u32>,
}

/// `files`: one string or a list.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum OneOrMany {
    One(Template),
    Many(Vec<Template>),
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Template>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<Template>),
    }
    Ok(match Either::deserialize(d)? {
        Either::One(s) => vec![Template::new(s)],
        Either::Many(v) => v,
    })
}

/// The `files` entry that asks for the files to be chosen.
pub const AUTO: &str = "auto";

/// Whether a `files` entry is the `auto` keyword.
pub fn is_auto(t: &Template) -> bool {
    t.as_str().trim() == AUTO
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
        if let Some(Count::Template(t)) = &self.num_ctx {
            c.template(&format!("{at}/num_ctx"), t);
        }
    }
}
