//! codingworker: a declarative playbook runner that turns GitHub issues into pull requests
//! with a local coding agent.
//!
//! The flow: a task (`task`) names an issue; a playbook (`playbook`) says what to do;
//! the engine (`engine`) runs its steps (`steps`) as processes (`process`) in a git
//! worktree (`adapters::git`) and reports to GitHub (`adapters::github`). `triggers` start
//! runs (locally or from SQS) and `cli` is the command line.

pub(crate) mod adapters;
pub mod cli;
pub mod config;
pub mod context;
pub(crate) mod diagnostic;
pub(crate) mod doctor;
pub mod engine;
pub(crate) mod error;
pub(crate) mod eval;
pub mod history;
pub(crate) mod mask;
pub(crate) mod paths;
pub mod playbook;
pub mod process;
pub mod project;
pub(crate) mod schema;
pub mod source;
pub(crate) mod status;
pub mod steps;
pub mod task;
pub(crate) mod template;
pub(crate) mod text;
pub(crate) mod triggers;
