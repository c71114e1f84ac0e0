//! Cancelling a run in progress: from the status page (in the worker's process) or from
//! `codingworker runs cancel` (another process, through the history database).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Store;

/// The runs this process has in progress, and how to stop each.
#[derive(Default)]
pub struct Cancels {
    runs: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    token: CancellationToken,
    by_request: Arc<AtomicBool>,
}

/// A run registered with [`Cancels`]; dropping it unregisters the run.
pub struct Registration {
    cancels: Arc<Cancels>,
    id: String,
    by_request: Arc<AtomicBool>,
}

impl Registration {
    /// Whether someone asked for the run to stop (as opposed to the worker shutting down).
    pub fn requested(&self) -> bool {
        self.by_request.load(Ordering::SeqCst)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.cancels.lock().remove(&self.id);
    }
}

/// What a cancel request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The run was told to stop.
    Stopping,
    /// Not one of this process's runs in progress.
    NotHere,
}

impl Cancels {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a run in progress with the token that stops it.
    pub fn register(self: &Arc<Self>, id: &str, token: CancellationToken) -> Registration {
        let by_request = Arc::new(AtomicBool::new(false));
        self.lock().insert(
            id.to_owned(),
            Entry {
                token,
                by_request: by_request.clone(),
            },
        );
        Registration {
            cancels: self.clone(),
            id: id.to_owned(),
            by_request,
        }
    }

    /// Stops a run of this process.
    pub fn cancel(&self, id: &str) -> CancelOutcome {
        match self.lock().get(id) {
            Some(e) => {
                e.by_request.store(true, Ordering::SeqCst);
                e.token.cancel();
                tracing::warn!(run = %id, "cancel requested: stopping the run");
                CancelOutcome::Stopping
            }
            None => CancelOutcome::NotHere,
        }
    }

    /// The ids of the runs in progress.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

/// How often a process with runs in progress looks for cancel requests.
pub(super) const CANCEL_POLL: Duration = Duration::from_millis(500);

/// Polls the history for cancel requests of this process's runs (what `runs cancel` writes)
/// every [`CANCEL_POLL`] while it has runs in progress; an idle process does not touch the
/// database.
pub async fn watch_requests(store: Arc<Store>, cancels: Arc<Cancels>) {
    let mut tick = tokio::time::interval(CANCEL_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ids = cancels.ids();
        if ids.is_empty() {
            continue;
        }
        let store = store.clone();
        let found = tokio::task::spawn_blocking(move || store.cancel_requested(&ids)).await;
        match found {
            Ok(Ok(ids)) => {
                for id in ids {
                    cancels.cancel(&id);
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "failed to read cancel requests"),
            Err(_) => {}
        }
    }
}
