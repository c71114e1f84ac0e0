//! Choosing a task's playbook among the candidates its routes give.

use super::Worker;
use super::route;
use super::state::{self, Phase, TaskState};
use crate::adapters::mirror::Mirror;
use crate::config::worker::{PlaybookRef, REPO_PLAYBOOK_FILE};
use crate::engine::prepare::{PrepareError, Prepared, prepare};
use crate::source::SourceFile;
use crate::task::Task;

/// A playbook chosen for a task, with the text it was read from.
pub(super) struct Chosen {
    pub name: String,
    pub hash: String,
    pub prepared: Prepared,
}

/// Why no playbook could be chosen.
pub(super) enum NoPlaybook {
    /// Only repository routes matched, and the repository has no playbook.
    Unroutable,
    /// The repository's own playbook does not load: its author has something to fix.
    RepoInvalid(String),
    /// One of the worker's playbooks cannot be used: the operator has (details logged).
    Worker(String),
}

impl Worker {
    pub(super) fn choose(
        &self,
        task: &Task,
        candidates: &[route::Candidate],
        mirror: &Mirror,
        tip: git2::Oid,
    ) -> Result<Chosen, NoPlaybook> {
        for c in candidates {
            let (name, text, own) = match &c.playbook {
                PlaybookRef::Repo => match mirror.read_file(tip, REPO_PLAYBOOK_FILE) {
                    Ok(Some(text)) => (
                        format!(
                            "{}:{REPO_PLAYBOOK_FILE}@{}",
                            task.repo.full_name, task.repo.default_branch
                        ),
                        text,
                        true,
                    ),
                    Ok(None) => {
                        tracing::info!(route = %c.why, "the repository has no {REPO_PLAYBOOK_FILE}; next route");
                        continue;
                    }
                    Err(e) => {
                        return Err(NoPlaybook::Worker(format!(
                            "failed to read {REPO_PLAYBOOK_FILE} from the mirror: {e}"
                        )));
                    }
                },
                PlaybookRef::File(path) => match std::fs::read_to_string(path) {
                    Ok(text) => (path.display().to_string(), text, false),
                    Err(e) => {
                        return Err(NoPlaybook::Worker(format!(
                            "the playbook {} cannot be read: {e}",
                            path.display()
                        )));
                    }
                },
            };
            let hash = state::playbook_hash(&text);
            return match prepare(SourceFile::new(name.clone(), text)) {
                Ok(prepared) => {
                    if !prepared.warnings.is_empty() {
                        tracing::warn!(playbook = %name, warnings = %prepared.warnings, "the playbook has warnings");
                    }
                    Ok(Chosen {
                        name,
                        hash,
                        prepared,
                    })
                }
                Err(PrepareError::Invalid { path, rendered }) if own => {
                    Err(NoPlaybook::RepoInvalid(format!(
                        "{path} is not a valid playbook:\n\n```\n{}\n```",
                        rendered.trim_end()
                    )))
                }
                Err(e) => Err(NoPlaybook::Worker(e.to_string())),
            };
        }
        Err(NoPlaybook::Unroutable)
    }
}

/// The state of a task seen for the first time.
pub(super) fn new_state(key: &str, task: &Task, chosen: &Chosen) -> TaskState {
    TaskState {
        key: key.to_owned(),
        task_id: task.id.clone(),
        repo: task.repo.full_name.clone(),
        issue: task.issue.number,
        playbook: chosen.name.clone(),
        playbook_hash: chosen.hash.clone(),
        phase: Phase::Running,
        runs: Vec::new(),
        budget_from: 0,
        spent_ms: 0,
        outcome: None,
        reported: None,
        failure: None,
        last_message: None,
        updated_at: String::new(),
    }
}
