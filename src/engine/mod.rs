//! The engine: runs a playbook's steps against a task and reports what happened.

pub mod executor;
pub mod kind;
pub mod observe;
pub mod plan;
pub mod prepare;
pub mod report;
pub mod state;
pub mod status;

#[cfg(test)]
mod tests;
