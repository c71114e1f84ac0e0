//! The step kinds, one file each: the spec type a playbook holds and the code that runs it.

pub mod aider;
pub mod comment;
pub mod pr_open;
pub mod retry;
pub mod shell;
