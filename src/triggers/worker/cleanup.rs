//! Start-up clean-up: what a killed worker left behind, and what ended long ago.

use std::time::Duration;

use super::Worker;
use super::state;
use crate::adapters::mirror::Mirror;

impl Worker {
    /// Removes what a killed worker left behind (the lock says no other worker runs):
    /// worktrees, and reports and task states older than 30 days.
    pub(crate) fn clean_leftovers(&self) {
        if let Ok(owners) = std::fs::read_dir(&self.dirs.repos) {
            for owner in owners.flatten() {
                for repo in std::fs::read_dir(owner.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    Mirror { dir: repo.path() }.remove_all_worktrees();
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.dirs.worktrees) {
            for e in entries.flatten() {
                tracing::info!(path = %e.path().display(), "removing a worktree left by an earlier worker");
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let month = Duration::from_secs(30 * 24 * 3600);
        let pruned = self.store.prune(month);
        let removed = std::cell::RefCell::new(Vec::new());
        let runs = state::remove_older_than(&self.dirs.runs, month, |p| {
            let gone = std::fs::remove_dir_all(p).is_ok();
            if gone && let Some(name) = p.file_name() {
                removed
                    .borrow_mut()
                    .push(name.to_string_lossy().into_owned());
            }
            gone
        });
        if let Some(h) = &self.history {
            for id in removed.into_inner() {
                if let Err(e) = h.delete(&id) {
                    tracing::warn!(run = %id, error = %e, "failed to remove a pruned run from the history");
                }
            }
            match h.settle_dead_runs() {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    runs = n,
                    "runs left running by a process that is gone are marked interrupted"
                ),
                Err(e) => tracing::warn!(error = %e, "failed to settle runs left running"),
            }
        }
        if pruned + runs > 0 {
            tracing::info!(
                task_states = pruned,
                run_reports = runs,
                "removed what ended more than 30 days ago"
            );
        }
    }
}
