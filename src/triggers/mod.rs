//! What starts a run: a local `codingworker run`, or a task from the SQS worker.

pub(crate) mod local;
pub(crate) mod worker;
