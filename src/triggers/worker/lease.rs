//! The worker's shared places: named locks (one task on a run branch, one change to a
//! mirror at a time) and the mirror cache, whose least recently used mirrors are pruned
//! when no task uses them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::adapters::mirror::{self, Mirror};

/// The locks and the mirrors in use.
#[derive(Default)]
pub(crate) struct Leases {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Mirrors in use, with how many tasks use each; cache pruning leaves them alone.
    busy: Mutex<HashMap<PathBuf, usize>>,
}

/// A mirror in use by one task, until given back.
pub(crate) struct Lease(PathBuf);

impl Leases {
    /// Waits for the lock named `key`.
    pub(crate) async fn lock(&self, key: String) -> tokio::sync::OwnedMutexGuard<()> {
        let m = self
            .locks
            .lock()
            .expect("lock map")
            .entry(key)
            .or_default()
            .clone();
        m.lock_owned().await
    }

    /// Forgets locks nobody holds or waits for, so the map does not grow forever.
    pub(crate) fn forget_idle_locks(&self) {
        self.locks
            .lock()
            .expect("lock map")
            .retain(|_, m| Arc::strong_count(m) > 1);
    }

    /// Marks `mirror` in use.
    pub(crate) fn take(&self, mirror: &Mirror) -> Lease {
        *self
            .busy
            .lock()
            .expect("busy map")
            .entry(mirror.dir.clone())
            .or_default() += 1;
        Lease(mirror.dir.clone())
    }

    /// Gives a mirror back, then prunes the cache under `repos` to `keep` mirrors (off the
    /// async threads), sparing the mirrors other tasks use.
    pub(crate) async fn give_back(&self, lease: Lease, repos: &Path, keep: usize) {
        let busy: Vec<PathBuf> = {
            let mut map = self.busy.lock().expect("busy map");
            if let Some(n) = map.get_mut(&lease.0) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&lease.0);
                }
            }
            map.keys().cloned().collect()
        };
        let repos = repos.to_path_buf();
        let pruned = tokio::task::spawn_blocking(move || mirror::prune_cache(&repos, keep, &busy))
            .await
            .unwrap_or_default();
        for dir in pruned {
            tracing::info!(mirror = %dir.display(), "removed a least recently used mirror");
        }
    }
}
