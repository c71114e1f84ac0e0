//! The engine: runs a playbook's steps against a task and reports what happened.

pub mod executor;
pub mod observe;
pub mod plan;
pub mod prepare;
pub mod report;
mod retry;

#[cfg(test)]
mod tests;
