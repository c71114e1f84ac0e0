//! codingworker: a declarative playbook runner that turns GitHub issues into pull requests
//! with a local coding agent.
//!
//! The flow: a task (`task`) names an issue; a playbook (`playbook`) says what to do;
//! the engine (`engine`) runs its steps (`steps`) as processes (`process`) in a git
//! worktree (`adapters::git`) and reports to GitHub (`adapters::github`). `triggers` start
//! runs (locally or from SQS) and `cli` is the command line.

pub mod adapters;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod eval;
pub mod history;
pub mod mask;
pub mod playbook;
pub mod process;
pub mod schema;
pub mod source;
pub mod status;
pub mod steps;
pub mod task;
pub mod template;
pub mod text;
pub mod triggers;
