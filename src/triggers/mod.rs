//! What starts a run: a local `codingworker run`, or a task from the SQS worker.

pub mod local;
pub mod worker;
