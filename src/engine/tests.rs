//! The engine's scheduling, without the binary: `if`, `continue_on_error`, timeouts, the
//! run's budget and `retry`, with real `sh` processes in a real git checkout.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::executor::{Engine, EngineOptions, RunInput};
use super::report::{RunReport, RunStatus};
use crate::source::SourceFile;
use crate::steps::status::StepStatus;
use crate::task::Task;

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .status()
        .expect("git runs")
        .success();
    assert!(ok, "git {args:?}");
}

/// Runs `playbook` (YAML) on a fresh one-commit repository; returns the report and the
/// checkout.
async fn run(playbook: &str) -> (RunReport, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let checkout = dir.path().join("checkout");
    std::fs::create_dir(&checkout).unwrap();
    git(&checkout, &["init", "-q", "-b", "main"]);
    std::fs::write(checkout.join("README.md"), "hello\n").unwrap();
    git(&checkout, &["add", "."]);
    git(&checkout, &["commit", "-q", "-m", "init"]);
    let prepared = super::prepare::prepare(SourceFile::new("test.yml", playbook.to_owned()))
        .expect("the playbook loads");
    let task = Task::from_json(
        include_str!("../../examples/issues/fizzbuzz.task.json"),
        "task",
    )
    .expect("the example task parses");
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k == "PATH" || k == "HOME")
        .collect();
    let input = RunInput {
        playbook: prepared.playbook,
        playbook_path: "test.yml".into(),
        templates: prepared.templates,
        task,
        run_id: "test-run".into(),
        branch: "cw/test".into(),
        checkout: checkout.clone(),
        run_dir: dir.path().join("run"),
        parent_env: env.clone(),
        github: None,
        push: None,
        options: EngineOptions {
            kill_grace: Duration::from_millis(200),
            ..EngineOptions::from_env(&env)
        },
        cancel: CancellationToken::new(),
        budget: None,
        credentials: Vec::new(),
        task_key: None,
        trigger: "local",
        cache_root: None,
    };
    let mut engine = Engine::new(input).expect("the run prepares");
    std::fs::create_dir_all(dir.path().join("run")).unwrap();
    engine.start().await.expect("the run starts");
    (engine.run().await, dir)
}

/// `(id, status)` of every step row, in report order.
fn rows(r: &RunReport) -> Vec<(String, StepStatus)> {
    r.steps.iter().map(|s| (s.id.clone(), s.status)).collect()
}

fn row(id: &str, status: StepStatus) -> (String, StepStatus) {
    (id.to_owned(), status)
}

#[tokio::test]
async fn a_failure_skips_what_follows_unless_a_condition_says_otherwise() {
    let (r, _dir) = run(r#"
version: 1
name: t
steps:
  - { id: a, shell: "true" }
  - { id: b, shell: "exit 3" }
  - { id: c, shell: "true" }
  - { id: d, if: failure(), shell: "true" }
  - { id: e, if: always(), shell: "true" }
  - { id: f, if: "steps.b.exit_code == 3", shell: "true" }
  - { id: g, if: false, shell: "true" }
"#)
    .await;
    use StepStatus::*;
    assert_eq!(r.status, RunStatus::Failure);
    assert_eq!(
        rows(&r),
        [
            row("a", Success),
            row("b", Failure),
            row("c", Skipped),
            row("d", Success),
            row("e", Success),
            row("f", Success),
            row("g", Skipped),
        ]
    );
    assert_eq!(r.steps[1].exit_code, Some(3));
    assert_eq!(
        r.steps[2].message.as_deref(),
        Some("skipped: an earlier step failed")
    );
}

#[tokio::test]
async fn continue_on_error_keeps_the_run_going() {
    let (r, _dir) = run(r#"
version: 1
name: t
steps:
  - { id: a, shell: "exit 1", continue_on_error: true }
  - { id: b, shell: "true" }
"#)
    .await;
    assert_eq!(r.status, RunStatus::Success);
    assert_eq!(
        rows(&r),
        [row("a", StepStatus::Failure), row("b", StepStatus::Success)]
    );
}

#[tokio::test]
async fn a_step_timeout_stops_the_step_and_the_run_budget_leaves_only_reporting_steps() {
    let (r, _dir) = run(r#"
version: 1
name: t
timeout: 2s
steps:
  - { id: slow, shell: "sleep 30", timeout: 300ms, continue_on_error: true }
  - { id: eats-budget, shell: "sleep 30" }
  - { id: after, if: always(), shell: "true" }
  - { id: tell, if: always(), comment: { body: "done" } }
"#)
    .await;
    use StepStatus::*;
    assert_eq!(r.status, RunStatus::TimedOut);
    assert_eq!(
        rows(&r),
        [
            row("slow", TimedOut),
            row("eats-budget", TimedOut),
            row("after", Skipped),
            row("tell", Success),
        ]
    );
    assert!(
        r.steps[1]
            .message
            .as_deref()
            .unwrap()
            .contains("the run's time budget (2s)")
    );
    assert!(
        r.steps[2]
            .message
            .as_deref()
            .unwrap()
            .contains("time budget (2s) is spent")
    );
    // Stopped at its timeout, not at the sleep's end.
    assert!(r.steps[0].duration_ms < 5_000, "{}", r.steps[0].duration_ms);
}

#[tokio::test]
async fn retry_runs_attempts_until_one_succeeds_each_from_the_same_commit() {
    let (r, dir) = run(r#"
version: 1
name: t
steps:
  - id: solve
    retry:
      attempts:
        - { model: small }
        - { model: large }
      steps:
        - { id: work, shell: "echo {{ attempt.model }} > from-{{ attempt.number }}.txt" }
        - { id: check, shell: "test {{ attempt.number }} -ge 2 && test ! -e from-1.txt" }
  - { id: done, shell: "ls from-2.txt" }
"#)
    .await;
    use StepStatus::*;
    assert_eq!(r.status, RunStatus::Success, "{:#?}", r.steps);
    assert_eq!(
        rows(&r),
        [
            row("solve", Success),
            row("work", Success),
            row("check", Failure),
            row("work", Success),
            row("check", Success),
            row("done", Success),
        ]
    );
    let numbers: Vec<Option<u32>> = r
        .steps
        .iter()
        .map(|s| s.attempt.as_ref().map(|a| a.number))
        .collect();
    assert_eq!(numbers, [None, Some(1), Some(1), Some(2), Some(2), None]);
    assert_eq!(
        r.steps[0].message.as_deref(),
        Some("attempt 2 of 2 succeeded")
    );
    let checkout = dir.path().join("checkout");
    assert!(
        !checkout.join("from-1.txt").exists(),
        "attempt 2 starts from the retry's commit"
    );
}

#[tokio::test]
async fn a_retry_whose_attempts_all_fail_fails_the_run() {
    let (r, _dir) = run(r#"
version: 1
name: t
steps:
  - id: solve
    retry:
      attempts: [{ model: a }, { model: b }]
      steps:
        - { id: check, shell: "false" }
  - { id: after, shell: "true" }
"#)
    .await;
    assert_eq!(r.status, RunStatus::Failure);
    assert_eq!(
        r.steps[0].message.as_deref(),
        Some("none of 2 attempts succeeded")
    );
    assert_eq!(r.steps.last().unwrap().status, StepStatus::Skipped);
}

/// Git work runs on the blocking pool: a slow scan of the checkout (tens of thousands of
/// untracked files) leaves a one-thread runtime free to run a heartbeat on time.
#[test]
fn a_slow_checkout_scan_does_not_hold_up_the_async_thread() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q"]);
        for d in 0..60 {
            let sub = root.join(format!("d{d}"));
            std::fs::create_dir(&sub).unwrap();
            for f in 0..500 {
                std::fs::write(sub.join(format!("f{f}")), "x").unwrap();
            }
        }
        let ws = Arc::new(crate::adapters::git::Workspace::new(root));
        // How long one scan takes here, measured on this thread.
        let t = std::time::Instant::now();
        let _ = ws.snapshot();
        let scan = t.elapsed();
        let beats = tokio::spawn(async {
            let mut worst = Duration::ZERO;
            let mut last = std::time::Instant::now();
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                worst = worst.max(last.elapsed());
                last = std::time::Instant::now();
            }
            worst
        });
        let scans = {
            let ws = ws.clone();
            tokio::spawn(async move {
                for _ in 0..3 {
                    ws.off_thread(|w| w.snapshot().ok()).await;
                }
            })
        };
        let worst = beats.await.unwrap();
        scans.await.unwrap();
        assert!(
            worst < scan / 2 && worst < Duration::from_millis(100),
            "a 5 ms heartbeat waited {worst:?} while a scan takes {scan:?}"
        );
    });
}
