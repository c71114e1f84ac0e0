//! What every trigger does before a run: load and compile the playbook, name the run
//! branch, make a run id. A local run and the worker share it, so both refuse the same
//! playbooks and name branches the same way.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use crate::diagnostic::render_human;
use crate::playbook::{Playbook, load_source};
use crate::source::SourceFile;
use crate::task::Task;
use crate::template::context::{ContextBase, run_value};
use crate::template::{SiteKind, Templates, sites};

/// A playbook ready to run: validated and compiled.
pub struct Prepared {
    pub playbook: Arc<Playbook>,
    pub templates: Arc<Templates>,
    /// Its warnings, rendered for a person (empty: none); the caller shows or logs them.
    pub warnings: String,
}

/// Why a playbook cannot run.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The playbook has errors; `rendered` shows them with their places.
    #[error("{path} is not a valid playbook:\n\n{rendered}")]
    Invalid { path: String, rendered: String },
    /// A validated playbook does not compile: a defect of ours.
    #[error("internal error: a validated playbook does not compile ({0} errors)")]
    Internal(usize),
}

/// Loads, checks and compiles a playbook already read.
pub fn prepare(source: SourceFile) -> Result<Prepared, PrepareError> {
    let loaded = load_source(source);
    let (errors, warnings): (Vec<_>, Vec<_>) = loaded
        .diagnostics
        .iter()
        .cloned()
        .partition(|d| d.is_error());
    let warnings = if warnings.is_empty() {
        String::new()
    } else {
        render_human(&loaded.source, &warnings)
    };
    let Some(playbook) = loaded.playbook else {
        return Err(PrepareError::Invalid {
            path: loaded.source.name.clone(),
            rendered: render_human(&loaded.source, &errors),
        });
    };
    let templates = Templates::compile(&sites::collect(&playbook))
        .map_err(|e| PrepareError::Internal(e.len()))?;
    Ok(Prepared {
        playbook: Arc::new(playbook),
        templates: Arc::new(templates),
        warnings,
    })
}

/// Renders the run branch's name.
pub fn branch_name(
    p: &Prepared,
    task: &Task,
    env: &BTreeMap<String, String>,
) -> Result<String, String> {
    let secrets: BTreeMap<String, String> = p
        .playbook
        .secrets
        .iter()
        .filter_map(|s| env.get(&s.0).map(|v| (s.0.clone(), v.clone())))
        .collect();
    let base = ContextBase::new(task, &p.playbook.vars, &secrets);
    let ctx = base.with(
        run_value("", "", "", ""),
        minijinja::Value::from(()),
        None,
        false,
    );
    let pointer = p.playbook.branch.pointer().unwrap_or("/branch");
    let branch = p
        .templates
        .render(SiteKind::Text, pointer, &ctx)
        .map_err(|e| format!("the playbook's `branch` cannot be rendered: {e}"))?;
    let branch = branch.trim().to_owned();
    if branch.is_empty() || !git2::Branch::name_is_valid(&branch).unwrap_or(false) {
        return Err(format!(
            "the playbook's `branch` rendered to {branch:?}, which is not a valid branch name"
        ));
    }
    if branch == task.repo.default_branch {
        return Err(format!(
            "the playbook's `branch` rendered to `{branch}`, the repository's default branch; a run works on a branch of its own"
        ));
    }
    Ok(branch)
}

/// A run id: sortable by time, unique enough to name directories.
pub fn new_run_id(issue: u64) -> String {
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    let random = std::hash::RandomState::new().build_hasher().finish();
    format!("{stamp}-{issue}-{:04x}", random & 0xffff)
}
