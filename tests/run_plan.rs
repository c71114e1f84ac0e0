//! `run --dry-run`: the plan of the shipped playbooks, and a dry run changes nothing.

use crate::support::{Ran, Sandbox, cw, git};

fn dry_run(playbook: &str, issue: &str, repo: &str) -> Ran {
    cw().args([
        "run",
        playbook,
        "--issue",
        issue,
        "--repo",
        repo,
        "--dry-run",
    ])
    .env("HOME", "/nonexistent-home")
    .output()
    .unwrap()
    .into()
}

#[test]
fn plans_of_the_shipped_playbooks() {
    for playbook in [
        "playbooks/default.yml",
        "playbooks/python.yml",
        "playbooks/rust.yml",
        "examples/playbooks/hello.yml",
    ] {
        let ran = dry_run(
            playbook,
            "examples/issues/fizzbuzz.task.json",
            "examples/sample-repo",
        );
        assert_eq!(ran.code, 0, "{playbook}: {}", ran.stderr);
        let name = playbook
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".yml");
        insta::assert_snapshot!(format!("plan_{name}"), ran.stdout);
    }
}

#[test]
fn a_webhook_payload_plans_like_a_task_message() {
    let task = dry_run(
        "playbooks/python.yml",
        "examples/issues/fizzbuzz.task.json",
        "examples/sample-repo",
    );
    let hook = dry_run(
        "playbooks/python.yml",
        "examples/issues/fizzbuzz.webhook.json",
        "examples/sample-repo",
    );
    assert_eq!(task.code, 0);
    assert_eq!(hook.code, 0, "{}", hook.stderr);
    let without_id = |s: &str| {
        s.lines()
            .filter(|l| !l.trim_start().starts_with("task:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_id(&task.stdout), without_id(&hook.stdout));
}

#[test]
fn a_dry_run_changes_nothing_and_needs_no_git() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let refs_before = git(&s.repo(), &["for-each-ref"]);
    let ran: Ran = cw()
        .args([
            "run",
            "playbooks/default.yml",
            "--issue",
            task.to_str().unwrap(),
            "--repo",
            s.repo().to_str().unwrap(),
            "--dry-run",
        ])
        .env("HOME", s.home())
        .env("CODINGWORKER_WORKDIR", s.workdir())
        .output()
        .unwrap()
        .into();
    // The sandbox's repository holds no project: the plan says so (a problem, exit 1),
    // as the run would stop before any model.
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("project: <none found"),
        "{}",
        ran.stdout
    );
    assert_eq!(git(&s.repo(), &["for-each-ref"]), refs_before);
    assert!(!s.workdir().exists(), "a dry run created the workdir");
    assert_eq!(git(&s.repo(), &["worktree", "list"]).lines().count(), 1);

    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("main.py"), "").unwrap();
    std::fs::write(
        plain.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n",
    )
    .unwrap();
    let ran = dry_run(
        "playbooks/python.yml",
        task.to_str().unwrap(),
        plain.path().to_str().unwrap(),
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains("files: auto, 2 files of the checkout ranked"),
        "{}",
        ran.stdout
    );
}

#[test]
fn the_default_playbook_finds_the_sample_repos_tests() {
    // The sample repository (a test file, no manifest) is a pytest project, set up in a venv.
    let out = cw()
        .args(["project", "examples/sample-repo", "--format", "json"])
        .current_dir(crate::support::root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["ecosystem"], "python");
    assert_eq!(p["test"]["run"], "python3 -m pytest");
    assert_eq!(p["found"].as_array().unwrap().len(), 1, "{p:#}");
}

/// Every playbook of `tests/plans/` through `run --dry-run`: the plan as a person reads it,
/// and its exit code (1 when it shows problems).
#[test]
fn plans_of_the_plan_corpus() {
    insta::glob!("plans/*.yml", |path| {
        let ran = cw()
            .args(["run"])
            .arg(path)
            .args([
                "--issue",
                "examples/issues/fizzbuzz.task.json",
                "--repo",
                "examples/sample-repo",
                "--dry-run",
            ])
            .env("HOME", "/nonexistent-home")
            .env("API_KEY", "sk-plan-secret-value")
            .output()
            .unwrap();
        let ran: Ran = ran.into();
        let shown = ran
            .stdout
            .replace(&path.display().to_string(), "<playbook>");
        insta::assert_snapshot!(format!(
            "exit {}\n{}\n--- stderr\n{}",
            ran.code, shown, ran.stderr
        ));
    });
}
