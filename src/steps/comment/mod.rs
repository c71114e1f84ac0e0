//! The `comment` step: comment on the issue.
//!
//! `spec` is what a playbook holds (the language: nothing of the engine); `run` runs it.

pub mod run;
pub mod spec;

pub use run::*;
pub use spec::*;
