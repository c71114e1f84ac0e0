//! The `pr_open` step: commit what is uncommitted, push the run branch and open the pull
//! request, or update the one already open for that branch (never a second one).
//!
//! `spec` is what a playbook holds (the language: nothing of the engine); `run` runs it.

pub mod run;
pub mod spec;

pub use run::*;
pub use spec::*;
