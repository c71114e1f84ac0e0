//! Keeping a running task's message hidden, and its spent time saved.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::state::{self, TaskState};
use crate::adapters::sqs::Queue;
use crate::engine::observe::{Event, Observer};

/// Extends a message's visibility while its task runs. Until the run starts it extends
/// without limit (waiting for another task of the branch, fetching: both bounded
/// elsewhere); from then on, until the end of the run's time budget.
pub(super) struct Heartbeat {
    deadline: Arc<std::sync::Mutex<Option<Instant>>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    pub(super) fn start(queue: Queue, receipt: String, visibility: Duration) -> Self {
        let deadline = Arc::new(std::sync::Mutex::new(None::<Instant>));
        let until = deadline.clone();
        let every = (visibility / 3).max(Duration::from_millis(500));
        let handle = tokio::spawn(
            async move {
                let mut warned = false;
                loop {
                    tokio::time::sleep(every).await;
                    let past = until
                        .lock()
                        .expect("deadline")
                        .is_some_and(|d| Instant::now() >= d);
                    if past {
                        if !warned {
                            tracing::warn!("heartbeat stopped: the task's time is up; the message becomes visible again when its visibility timeout ends");
                            warned = true;
                        }
                        continue;
                    }
                    match queue.set_visibility(&receipt, visibility).await {
                        Ok(()) => tracing::debug!("heartbeat: visibility extended"),
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
            }
            .in_current_span(),
        );
        Self { deadline, handle }
    }

    /// Stops extending at `deadline`.
    pub(super) fn stop_at(&self, deadline: Instant) {
        *self.deadline.lock().expect("deadline") = Some(deadline);
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Saves the time a run has spent every few seconds, so that a crash (or `kill -9`) counts
/// against the task's budget too. An observer of the run: it writes on the observers'
/// thread, and never after the run ended (the worker's own final save comes after).
pub(super) struct Checkpoint {
    store: state::Store,
    st: TaskState,
    base: u64,
    started: Option<std::time::Instant>,
    last: std::time::Instant,
}

/// How often a running task's spent time is saved.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

impl Checkpoint {
    pub(super) fn new(store: state::Store, st: TaskState) -> Self {
        Self {
            store,
            base: st.spent_ms,
            st,
            started: None,
            last: std::time::Instant::now(),
        }
    }
}

impl Observer for Checkpoint {
    fn on(&mut self, event: &Event) {
        match event {
            Event::RunStarted { .. } => {
                self.started = Some(std::time::Instant::now());
                self.last = std::time::Instant::now();
            }
            Event::RunFinished { .. } => self.started = None,
            Event::StepStarted { .. } | Event::StepFinished { .. } => {}
        }
    }

    fn tick(&mut self) {
        let Some(started) = self.started else { return };
        if self.last.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        self.last = std::time::Instant::now();
        self.st.spent_ms = self.base + started.elapsed().as_millis() as u64;
        let _ = self.store.save(&mut self.st);
    }
}
