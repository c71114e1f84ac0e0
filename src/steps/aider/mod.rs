//! The `aider` step: run the aider coding agent on the checkout, headless and offline.
//!
//! aider is started by argv, never through a shell, with the prompt in `--message-file`
//! and flags measured against aider 0.86 (docs/design.md, decision 42). Its exit code says little
//! (0 for API errors and "no edit" alike), so success is judged from git: an attempt that
//! changed nothing fails when `require_changes` is on. For Ollama models the endpoint is
//! probed first so that a down server fails the step at once instead of after litellm's
//! 80 s of retries.
//!
//! `spec` is what a playbook holds (the language: nothing of the engine); `run` runs it.

pub mod run;
pub mod spec;

pub use run::*;
pub use spec::*;
