//! The committed schemas match the types, and everything we ship validates.

use std::path::Path;

use codingworker::cli::schema::{SchemaKind, generate_text};
use codingworker::playbook::load_file;
use codingworker::task::Task;

use crate::support::root;

#[test]
fn committed_schemas_match_the_types() {
    let mut stale = Vec::new();
    for kind in SchemaKind::ALL {
        let path = root().join("schemas").join(kind.file_name());
        let fresh = generate_text(kind);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != fresh {
            if std::env::var_os("UPDATE_SCHEMAS").is_some() {
                std::fs::write(&path, &fresh).unwrap();
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ drifted from the types: {stale:?}\nregenerate with `UPDATE_SCHEMAS=1 cargo test committed_schemas` and commit them"
    );
}

fn files(dir: &str, ext: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root().join(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_shipped_playbook_is_valid_without_warnings() {
    let mut playbooks = files("playbooks", "yml");
    playbooks.extend(
        files("examples", "yml")
            .into_iter()
            .filter(|p| !p.starts_with(root().join("examples/worker")))
            .filter(|p| !p.starts_with(root().join("examples/eval")))
            .filter(|p| !p.components().any(|c| c.as_os_str() == ".github")),
    );
    assert!(playbooks.len() >= 4, "{playbooks:?}");
    for path in playbooks {
        let loaded = load_file(&path).unwrap();
        assert!(
            loaded.diagnostics.is_empty(),
            "{}: {:#?}",
            path.display(),
            loaded.diagnostics
        );
        let first = loaded.source.text.lines().next().unwrap_or("");
        assert!(
            first.starts_with("# yaml-language-server: $schema=")
                && first.ends_with("schemas/playbook.schema.json"),
            "{} must start with the yaml-language-server schema line",
            path.display()
        );
        // The line points at the committed schema.
        let rel = first.rsplit('=').next().unwrap();
        assert!(
            path.parent().unwrap().join(rel).exists(),
            "{}: {rel} does not exist",
            path.display()
        );
    }
}

#[test]
fn every_example_issue_is_a_task_and_the_task_schema_agrees() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/task.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for path in files("examples/issues", "json") {
        let task = Task::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let as_json = serde_json::to_value(&task).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&as_json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn the_run_schema_accepts_a_real_report() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/run.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let sandbox = crate::support::Sandbox::new();
    let task = sandbox.task("t", "b");
    let ran = sandbox.run_file(Path::new("examples/playbooks/hello.yml"), &task, &[], &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let report = sandbox.report();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn the_schema_command_prints_the_committed_schema() {
    for (arg, kind) in [
        ("playbook", SchemaKind::Playbook),
        ("task", SchemaKind::Task),
        ("worker", SchemaKind::Worker),
        ("run", SchemaKind::Run),
    ] {
        let out = crate::support::cw().args(["schema", arg]).output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), generate_text(kind));
    }
}

#[test]
fn the_example_worker_config_is_valid_without_warnings() {
    let path = root().join("examples/worker/worker.yml");
    let source = codingworker::source::SourceFile::read(&path).unwrap();
    let loaded = codingworker::config::worker::load_source(source, path.parent().unwrap());
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert!(loaded.config.is_some());
}
