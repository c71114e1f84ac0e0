//! Configuration outside playbooks: the worker's `worker.yml`, and where a machine keeps
//! its worktrees, runs and history (the workdir).

pub mod worker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The workdir: `--workdir`, `CODINGWORKER_WORKDIR`, or `~/.codingworker`.
pub fn workdir(given: Option<&Path>, env: &BTreeMap<String, String>) -> Result<PathBuf, Error> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = env.get("CODINGWORKER_WORKDIR") {
        return Ok(PathBuf::from(p));
    }
    match env.get("HOME") {
        Some(home) => Ok(Path::new(home).join(".codingworker")),
        None => Err(Error::Setup(
            "no workdir: set HOME, CODINGWORKER_WORKDIR or --workdir".into(),
        )),
    }
}
