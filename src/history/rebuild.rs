//! Reading run directories back: what a rebuilt history is made of.

use std::path::{Path, PathBuf};

use crate::engine::report::RunReport;

/// Every `DIR/*/run.json` that parses, with its directory. A report that does not parse is
/// skipped with a warning (its directory is left as it is).
pub(super) fn scan(runs_dir: &Path) -> Vec<(PathBuf, RunReport)> {
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let file = dir.join("run.json");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        match serde_json::from_str::<RunReport>(&text) {
            Ok(report) => out.push((dir, report)),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "a run report does not parse; not imported into the history")
            }
        }
    }
    out.sort_by_key(|r| r.1.started_at);
    out
}
