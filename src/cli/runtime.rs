//! The one place async runtimes are built: every command that needs one gets it here.

use crate::error::Error;

/// How many threads a command's runtime has.
#[derive(Debug, Clone, Copy)]
pub(super) enum Threads {
    /// One thread: a local run, a dry run, doctor, enqueue.
    One,
    /// Two worker threads: the worker (tasks, heartbeats, the status page) and eval.
    Two,
}

/// Builds a runtime with its I/O and time drivers.
pub(super) fn build(threads: Threads) -> Result<tokio::runtime::Runtime, Error> {
    let mut builder = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::Two => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
    };
    builder
        .enable_all()
        .build()
        .map_err(Error::io("failed to start the async runtime"))
}
