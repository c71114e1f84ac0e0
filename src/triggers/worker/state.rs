//! What the worker remembers about a task across deliveries, in `WORKDIR/tasks/KEY.json`.
//!
//! SQS delivers at least once: the same message comes back after a crash, a kill or a
//! visibility timeout. The idempotency key (repository, issue, task id, playbook hash)
//! names the file; its phase says what a redelivery does:
//! - `running`: a delivery started a run and never finished it (crash, kill, shutdown):
//!   run again with what is left of the time budget, or give up when none is;
//! - `finished`: the run ended but its result has not reached the issue yet: only report;
//! - `done`: final result reached (PR opened/updated or failure reported): delete;
//! - `gave_up`: the budget ran out and the failure was reported: hand the message to the
//!   dead-letter queue.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::task::Task;

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Phase {
    Running,
    Finished,
    Done,
    GaveUp,
}

/// One run of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub run_id: String,
    pub receive_count: u32,
    pub started_at: String,
    /// `None` while it runs (or when the worker died during it).
    pub status: Option<String>,
    pub duration_ms: Option<u64>,
}

/// The state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TaskState {
    pub key: String,
    pub task_id: String,
    pub repo: String,
    pub issue: u64,
    pub playbook: String,
    pub playbook_hash: String,
    pub phase: Phase,
    pub runs: Vec<RunRecord>,
    /// Runs from this index count against the budget (a redrive from the dead-letter
    /// queue starts a fresh budget).
    #[serde(default)]
    pub budget_from: usize,
    /// Wall time spent in runs so far, crashed ones counted up to their last checkpoint.
    pub spent_ms: u64,
    /// The run's final status, once it has one.
    pub outcome: Option<String>,
    /// How the result reached the issue: a pull request or comment URL.
    pub reported: Option<String>,
    /// Why the worker reports failure itself (no PR, no comment from the playbook).
    pub failure: Option<String>,
    /// The SQS message id of the last delivery (a redriven message has a new one).
    #[serde(default)]
    pub last_message: Option<String>,
    pub updated_at: String,
}

/// The idempotency key of a task run by a playbook: a short hex digest.
pub(crate) fn key(task: &Task, playbook_hash: &str) -> String {
    let text = format!(
        "{}\n{}\n{}\n{playbook_hash}",
        task.repo.full_name.to_ascii_lowercase(),
        task.issue.number,
        task.id
    );
    let oid = git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())
        .expect("hashing bytes cannot fail");
    oid.to_string()[..16].to_owned()
}

/// A playbook's content hash.
pub(crate) fn playbook_hash(text: &str) -> String {
    git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())
        .expect("hashing bytes cannot fail")
        .to_string()
}

/// The directory of state files.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The state of `key`; `Ok(None)` for a task never seen. A file that cannot be read
    /// as state is an error (the caller decides; nothing is overwritten silently).
    pub(crate) fn load(&self, key: &str) -> Result<Option<TaskState>, String> {
        let path = self.path(key);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("{}: unreadable task state: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("failed to read {}: {e}", path.display())),
        }
    }

    /// Writes the state atomically (a crash leaves the old or the new file, never half).
    pub(crate) fn save(&self, state: &mut TaskState) -> Result<(), String> {
        state.updated_at = jiff::Timestamp::now().to_string();
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("failed to create {}: {e}", self.dir.display()))?;
        let path = self.path(&state.key);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(state).expect("state serialises");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("failed to write {}: {e}", path.display()))
    }

    /// Removes state files of tasks that ended more than `age` ago.
    pub(crate) fn prune(&self, age: std::time::Duration) -> usize {
        remove_older_than(&self.dir, age, |p| {
            ended(p) && std::fs::remove_file(p).is_ok()
        })
    }
}

/// Calls `remove` on every entry of `dir` last modified more than `age` ago; counts the
/// entries it removed.
pub(crate) fn remove_older_than(
    dir: &Path,
    age: std::time::Duration,
    remove: impl Fn(&Path) -> bool,
) -> usize {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let old = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|e| e > age);
        if old && remove(&path) {
            removed += 1;
        }
    }
    removed
}

fn ended(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<TaskState>(&t).ok())
        .is_some_and(|s| matches!(s.phase, Phase::Done | Phase::GaveUp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> Task {
        Task::from_json(
            &format!(
                r#"{{"version": 1, "id": "{id}",
                "repo": {{"full_name": "O/r", "clone_url": "/x", "default_branch": "main"}},
                "issue": {{"number": 3, "title": "t", "body": "", "author": "a", "url": "u"}},
                "sender": "s", "event": "issues.labeled"}}"#
            ),
            "t",
        )
        .unwrap()
    }

    #[test]
    fn the_key_changes_with_the_task_and_the_playbook() {
        let k = key(&task("1-1"), "abc");
        assert_eq!(k.len(), 16);
        assert_eq!(k, key(&task("1-1"), "abc"), "stable");
        assert_ne!(k, key(&task("1-2"), "abc"), "another delivery id");
        assert_ne!(k, key(&task("1-1"), "abd"), "another playbook");
    }

    #[test]
    fn state_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("tasks"));
        assert_eq!(store.load("k").unwrap(), None);
        let mut s = TaskState {
            key: "k".into(),
            task_id: "1-1".into(),
            repo: "o/r".into(),
            issue: 3,
            playbook: "p.yml".into(),
            playbook_hash: "h".into(),
            phase: Phase::Running,
            runs: vec![],
            budget_from: 0,
            spent_ms: 0,
            outcome: None,
            reported: None,
            failure: None,
            last_message: None,
            updated_at: String::new(),
        };
        store.save(&mut s).unwrap();
        assert_eq!(store.load("k").unwrap(), Some(s.clone()));
        std::fs::write(dir.path().join("tasks/bad.json"), "{").unwrap();
        assert!(
            store
                .load("bad")
                .unwrap_err()
                .contains("unreadable task state")
        );
        s.phase = Phase::Done;
        store.save(&mut s).unwrap();
        assert_eq!(store.prune(std::time::Duration::ZERO), 1);
        assert_eq!(store.load("k").unwrap(), None);
    }
}
