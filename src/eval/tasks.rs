//! Sample tasks: `examples/eval/<name>/` with `task.json`, `eval.yml`, `repo/`, `checks/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::source::yaml::Document;
use crate::task::Task;

/// One sample task.
#[derive(Debug, Clone)]
pub(crate) struct EvalTask {
    pub name: String,
    pub dir: PathBuf,
    pub issue: Task,
    /// Files given to the agent (instead of the playbook's globs), if any.
    pub files: Vec<String>,
    /// The hidden check, a shell command.
    pub check: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalFile {
    #[serde(default)]
    files: Vec<String>,
    check: String,
}

/// The sample tasks shipped in the binary (`examples/eval/`), so that `eval` works from any
/// directory.
const BUILTIN: &[(&str, &str)] = &[
    (
        "csv-sort/task.json",
        include_str!("../../examples/eval/csv-sort/task.json"),
    ),
    (
        "csv-sort/eval.yml",
        include_str!("../../examples/eval/csv-sort/eval.yml"),
    ),
    (
        "csv-sort/repo/csv_tools.py",
        include_str!("../../examples/eval/csv-sort/repo/csv_tools.py"),
    ),
    (
        "csv-sort/checks/test_sort_rows.py",
        include_str!("../../examples/eval/csv-sort/checks/test_sort_rows.py"),
    ),
    (
        "fizzbuzz/task.json",
        include_str!("../../examples/eval/fizzbuzz/task.json"),
    ),
    (
        "fizzbuzz/eval.yml",
        include_str!("../../examples/eval/fizzbuzz/eval.yml"),
    ),
    (
        "fizzbuzz/repo/README.md",
        include_str!("../../examples/eval/fizzbuzz/repo/README.md"),
    ),
    (
        "fizzbuzz/checks/test_fizzbuzz.py",
        include_str!("../../examples/eval/fizzbuzz/checks/test_fizzbuzz.py"),
    ),
    (
        "off-by-one/task.json",
        include_str!("../../examples/eval/off-by-one/task.json"),
    ),
    (
        "off-by-one/eval.yml",
        include_str!("../../examples/eval/off-by-one/eval.yml"),
    ),
    (
        "off-by-one/repo/pages.py",
        include_str!("../../examples/eval/off-by-one/repo/pages.py"),
    ),
    (
        "off-by-one/checks/test_pages.py",
        include_str!("../../examples/eval/off-by-one/checks/test_pages.py"),
    ),
];

/// Writes the built-in sample tasks under `dir` and returns it.
pub(crate) fn write_builtin(dir: &Path) -> Result<PathBuf, String> {
    let _ = std::fs::remove_dir_all(dir);
    for (path, text) in BUILTIN {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("failed to create {}: {e}", parent.display()))?;
        }
        std::fs::write(&p, text).map_err(|e| format!("failed to write {}: {e}", p.display()))?;
    }
    Ok(dir.to_path_buf())
}

/// Every task directory under `dir`, by name.
pub(crate) fn load_tasks(dir: &Path) -> Result<Vec<EvalTask>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("failed to read {}: {e}", dir.display()))?;
    let mut tasks = Vec::new();
    for entry in entries.flatten() {
        // Absolute: the check runs inside the throwaway repository.
        let path = std::path::absolute(entry.path()).unwrap_or_else(|_| entry.path());
        if !path.join("eval.yml").exists() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path.join("eval.yml"))
            .map_err(|e| format!("{}/eval.yml: {e}", path.display()))?;
        let doc = Document::parse(&text)
            .map_err(|e| format!("{}/eval.yml:{}: {}", path.display(), e.span.line, e.message))?;
        let spec: EvalFile = serde_json::from_value(doc.value)
            .map_err(|e| format!("{}/eval.yml: {e}", path.display()))?;
        let issue = Task::from_file(&path.join("task.json")).map_err(|e| e.to_string())?;
        if !path.join("repo").is_dir() {
            return Err(format!("{}: no repo/ directory", path.display()));
        }
        tasks.push(EvalTask {
            name,
            dir: path,
            issue,
            files: spec.files,
            check: spec.check,
        });
    }
    if tasks.is_empty() {
        return Err(format!(
            "no tasks in {} (a task is a directory with eval.yml)",
            dir.display()
        ));
    }
    tasks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tasks)
}

/// A new git repository at `to` with the files of `from`, committed.
pub(crate) fn fresh_repo(from: &Path, to: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(to);
    copy_dir(from, to).map_err(|e| format!("failed to copy {}: {e}", from.display()))?;
    git2::Repository::init(to).map_err(|e| e.message().to_owned())?;
    crate::adapters::git::Workspace::new(to)
        .commit_all("sample task")
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Runs the task's hidden check in `repo`: whether it passed.
pub(crate) async fn check(
    task: &EvalTask,
    repo: &Path,
    parent: &BTreeMap<String, String>,
) -> Result<bool, String> {
    let mut env = crate::process::env::passthrough(parent);
    env.insert(
        "CW_EVAL_CHECKS".into(),
        task.dir.join("checks").display().to_string(),
    );
    env.insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
    let mut cmd = tokio::process::Command::new("sh");
    cmd.args(["-c", &task.check])
        .current_dir(repo)
        .env_clear()
        .envs(&env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(120), cmd.status()).await {
        Ok(Ok(s)) => Ok(s.success()),
        Ok(Err(e)) => Err(format!("the check could not run: {e}")),
        Err(_) => Err("the check took over 2 minutes".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_tasks_are_the_examples() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = load_tasks(&write_builtin(&dir.path().join("t")).unwrap()).unwrap();
        let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["csv-sort", "fizzbuzz", "off-by-one"]);
        // Every file of examples/eval/ is built in (README aside).
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/eval");
        let mut on_disk = 0;
        for task in ["csv-sort", "fizzbuzz", "off-by-one"] {
            for sub in ["", "repo", "checks"] {
                on_disk += std::fs::read_dir(root.join(task).join(sub))
                    .unwrap()
                    .flatten()
                    .filter(|e| e.path().is_file())
                    .count();
            }
        }
        assert_eq!(
            on_disk,
            BUILTIN.len(),
            "a file of examples/eval is missing from BUILTIN"
        );
    }
}
