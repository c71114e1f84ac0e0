//! The GitHub side: the reusable workflow's jq program turns an `issues` webhook event into
//! a task message that codingworker accepts, with issue text carried as data.

use std::path::{Path, PathBuf};
use std::process::Command;

use codingworker::task::Task;
use serde_json::json;

use crate::support::{Ran, Sandbox, cw, root};

/// The program of the dispatch workflow's `build` step: the heredoc after `<<'JQ'`.
fn jq_program() -> String {
    let workflow =
        std::fs::read_to_string(root().join(".github/workflows/codingworker-dispatch.yml"))
            .unwrap();
    let mut lines = workflow
        .lines()
        .skip_while(|l| !l.trim_end().ends_with("<<'JQ'"));
    assert!(lines.next().is_some(), "no <<'JQ' heredoc in the workflow");
    let program: Vec<&str> = lines.take_while(|l| l.trim() != "JQ").collect();
    assert!(!program.is_empty());
    program.join("\n")
}

/// Runs the program over an event file, as the workflow does.
fn build(event: &Path, id: &str) -> Ran {
    let sb = Sandbox::new();
    let program = sb.write("task.jq", &jq_program());
    Command::new("jq")
        .args(["-c", "--arg", "id", id, "-f"])
        .arg(&program)
        .arg(event)
        .output()
        .expect("jq runs (the Debian package jq; .ci/run installs it)")
        .into()
}

#[test]
fn the_workflow_builds_the_task_message_codingworker_reads() {
    let event = root().join("examples/issues/fizzbuzz.webhook.json");
    let out = build(&event, "7012345678-1");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let built = Task::from_json(&out.stdout, "built").unwrap();
    let expected = Task::from_file(&root().join("examples/issues/fizzbuzz.task.json")).unwrap();
    assert_eq!(built, expected);
}

#[test]
fn hostile_issue_text_stays_data_through_the_workflow() {
    let sb = Sandbox::new();
    let title = "$(touch /tmp/pwned) `id` {{ secrets.GITHUB_TOKEN }} '; rm -rf / #";
    let event = json!({
        "action": "labeled",
        "label": {"name": "auto-code"},
        "issue": {"number": 5, "title": title, "body": null,
                  "labels": [{"name": "bug"}], "user": {"login": "mallory"},
                  "html_url": "https://github.com/acme/app/issues/5", "state": "open"},
        "repository": {"full_name": "acme/app", "clone_url": "https://github.com/acme/app.git",
                       "default_branch": "main"},
        "sender": {"login": "alice"}
    });
    let file = sb.write("event.json", &event.to_string());
    let out = build(&file, "1-2");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let task = Task::from_json(&out.stdout, "built").unwrap();
    assert_eq!(task.issue.title, title);
    assert_eq!(task.issue.body, "");
    assert_eq!(
        task.issue.labels,
        ["bug", "auto-code"],
        "the label just added is included"
    );
    assert_eq!(task.id, "1-2");
    // The binary takes it as it is.
    let task_file = sb.write("task.json", &out.stdout);
    let ran: Ran = cw()
        .args([
            "run",
            "examples/playbooks/hello.yml",
            "--dry-run",
            "--issue",
        ])
        .arg(&task_file)
        .arg("--repo")
        .arg(sb.repo())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(!PathBuf::from("/tmp/pwned").exists());
}

#[test]
fn an_event_that_is_not_an_issue_event_is_refused_by_name() {
    let sb = Sandbox::new();
    let file = sb.write(
        "event.json",
        &json!({"action": "labeled", "sender": {"login": "a"}}).to_string(),
    );
    let out = build(&file, "1-1");
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("not an issues event payload: missing"),
        "{}",
        out.stderr
    );
}
