//! The layers point one way: the playbook language (its types, templates, diagnostics,
//! schemas, and each step kind's `spec`) is compiled without the runner, and nothing below
//! the command line reaches up into it.

use std::path::{Path, PathBuf};

use crate::support::{root, walk};

/// `crate::MODULE…` paths a file names (in `use` lines and inline), comments left out.
fn crate_paths(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let tail = &rest[i + "crate::".len()..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            out.push(tail[..end].trim_end_matches(':').to_owned());
            rest = &tail[end..];
        }
    }
    out
}

fn rust_files(rel: &str) -> Vec<PathBuf> {
    let p = root().join(rel);
    if p.is_file() {
        return vec![p];
    }
    walk(&p)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        .collect()
}

#[test]
fn the_playbook_language_imports_nothing_of_the_runner() {
    let mut language: Vec<PathBuf> = [
        "src/playbook",
        "src/template",
        "src/source",
        "src/diagnostic",
        "src/schema",
        "src/task.rs",
        "src/text.rs",
        "src/mask.rs",
        "src/paths.rs",
    ]
    .iter()
    .flat_map(|p| rust_files(p))
    .collect();
    language.extend(
        rust_files("src/steps")
            .into_iter()
            .filter(|f| f.file_name().is_some_and(|n| n == "spec.rs")),
    );
    assert!(language.len() > 20, "{language:?}");
    let below = [
        "playbook",
        "template",
        "source",
        "diagnostic",
        "schema",
        "task",
        "text",
        "mask",
        "paths",
    ];
    let mut wrong = Vec::new();
    for file in &language {
        for path in crate_paths(file) {
            let top = path.split("::").next().unwrap_or("");
            let ok =
                below.contains(&top) || (top == "steps" && path.split("::").nth(2) == Some("spec"));
            if !ok {
                wrong.push(format!(
                    "{}: crate::{path}",
                    file.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the language reaches into the runner:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn nothing_below_the_command_line_imports_it() {
    let mut wrong = Vec::new();
    for file in rust_files("src") {
        let rel = file.strip_prefix(root()).unwrap().to_path_buf();
        if rel.starts_with("src/cli") || rel == Path::new("src/main.rs") {
            continue;
        }
        for path in crate_paths(&file) {
            if path.starts_with("cli") {
                wrong.push(format!("{}: crate::{path}", rel.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The engine, the step kinds, processes and adapters serve the apps (triggers, the
/// worker's status page, eval, doctor, the history) and never reach up into them.
#[test]
fn the_engine_and_below_import_no_app() {
    let apps = [
        "cli", "triggers", "status", "eval", "doctor", "history", "config",
    ];
    let mut wrong = Vec::new();
    for dir in ["src/engine", "src/steps", "src/process", "src/adapters"] {
        for file in rust_files(dir) {
            for path in crate_paths(&file) {
                let top = path.split("::").next().unwrap_or("");
                if apps.contains(&top) {
                    wrong.push(format!(
                        "{}: crate::{path}",
                        file.strip_prefix(root()).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the engine reaches up into an app:\n{}",
        wrong.join("\n")
    );
}

/// The modules import each other in one direction only: `scripts/import-cycles` finds
/// no cycle (the language counts as one module; each step kind and each file of the step
/// interface as one).
#[test]
fn the_import_graph_has_no_cycle() {
    let out = std::process::Command::new("python3")
        .arg(root().join("scripts/import-cycles"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
