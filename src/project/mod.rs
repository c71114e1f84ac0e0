//! How a repository installs and tests itself: its project roots, ecosystems and package
//! managers, and the setup and test commands a run uses (`project.setup`, `project.test`).
//!
//! Detection only reads files (bounded in size and number); nothing of the repository runs
//! until a playbook step says so. The repository's own CI (`.github/workflows`) wins over
//! conventions where it says how the project tests itself. One detector serves `init`,
//! `codingworker project`, the run and its dry run, and `doctor`.

pub mod cache;
mod ci;
mod dir;
mod ecosystems;
mod model;
mod tools;

pub use model::{Command, Ecosystem, Found, Project};
pub use tools::Tools;

use std::path::Path;

/// The project in `root` (a checkout), with commands for the programs `tools` finds.
pub fn detect(root: &Path, tools: &Tools) -> Project {
    let dir = dir::Dir::new(root);
    let ci = ci::read(&dir);
    let mut found = ecosystems::at(&dir, "", tools);
    let mut notes = ci.notes.clone();
    if found.is_empty() {
        // Nothing at the top: look one level down (a repository holding a project in `app/`).
        for sub in dir.subdirs() {
            found.extend(ecosystems::at(&dir, &sub, tools));
        }
    }
    let chosen = ecosystems::choose(&found, &ci);
    let mut project = Project {
        found: found.clone(),
        ..Project::none()
    };
    if let Some(i) = chosen {
        let f = &found[i];
        project.ecosystem = Some(f.ecosystem);
        project.manager = Some(f.manager.clone());
        project.root = f.root.clone();
        project.setup = f.setup.clone();
        project.test = f.test.clone();
        project.needs = f.needs.clone();
        notes.extend(f.notes.iter().cloned());
        if let Some(from_ci) = ci.test.as_ref().filter(|t| ecosystems::fits(t, f)) {
            ecosystems::adopt_ci(&mut project, f, from_ci, tools);
            notes.retain(|n| !n.contains("by convention"));
        }
    } else if let Some(t) = &ci.test {
        notes.push(format!(
            "{} runs `{}`, but no {} project was found to set up",
            t.at,
            t.run,
            t.ecosystem.name()
        ));
    }
    project.missing = project
        .needs
        .iter()
        .filter(|n| !tools.has(n))
        .cloned()
        .collect();
    project.notes = notes;
    project
}

#[cfg(test)]
mod tests;
