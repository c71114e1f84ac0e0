//! The run history: the store under concurrent writers, restarts and rebuilds; `runs` on
//! the command line (list, show, logs, stats, prune); cancelling a running step from the
//! CLI, for a local run and for a worker's task.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use codingworker::engine::report::{RunReport, StepReport};
use codingworker::history::{Filter, RunMeta, Store};
use serde_json::{Value, json};

use crate::support::worker_setup::{Knobs, Setup, pid_playbook, wait_exit, wait_for_file};
use crate::support::{KillOnDrop, Ran, Sandbox, alive, cw, redactions};

/// `codingworker runs ARGS --workdir WORKDIR`.
fn runs(workdir: &Path, args: &[&str]) -> Ran {
    cw().arg("runs")
        .args(args)
        .arg("--workdir")
        .arg(workdir)
        .output()
        .unwrap()
        .into()
}

fn step(id: &str, kind: &str, status: &str, ms: u64, attempt: Option<(u32, &str)>) -> Value {
    let mut s =
        json!({"id": id, "kind": kind, "status": status, "exit_code": null, "duration_ms": ms});
    if let Some((n, model)) = attempt {
        s["attempt"] = json!({"number": n, "model": model});
    }
    if kind == "aider" {
        s["model"] = json!(attempt.map_or("ollama_chat/qwen2.5-coder:7b", |a| a.1));
    }
    s
}

/// Writes `workdir/runs/ID/run.json` as a run of `started_at` would have left it.
fn write_run(workdir: &Path, id: &str, started_at: &str, status: &str, steps: Vec<Value>) {
    let dir = workdir.join("runs").join(id);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let report = json!({
        "version": 1, "id": id, "playbook": ".codingworker.yml", "playbook_name": "fix",
        "task_id": format!("task-{id}"), "repo": "acme/demo", "issue": 7,
        "issue_title": "<b>Fix</b> the parser", "trigger": "worker",
        "status": status, "branch": "auto-code/issue-7", "workdir": "/nowhere",
        "started_at": started_at, "finished_at": started_at, "duration_ms": 90000,
        "steps": steps, "pr": null
    });
    std::fs::write(dir.join("run.json"), report.to_string()).unwrap();
}

const QWEN: &str = "ollama_chat/qwen2.5-coder:7b";
const LLAMA: &str = "ollama_chat/codellama:7b";

/// Three runs: two recent ones with a retry over two models, one 60 days old.
fn three_runs(workdir: &Path) {
    let recent = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 60);
    write_run(
        workdir,
        "20261101T100000Z-7-aaaa",
        &recent.to_string(),
        "success",
        vec![
            step("fix", "retry", "success", 99000, None),
            step("code", "aider", "success", 60000, Some((1, QWEN))),
            step("test", "shell", "failure", 5000, Some((1, QWEN))),
            step("code", "aider", "success", 30000, Some((2, LLAMA))),
            step("test", "shell", "success", 4000, Some((2, LLAMA))),
            step("pr", "pr_open", "success", 1000, None),
        ],
    );
    write_run(
        workdir,
        "20261101T110000Z-7-bbbb",
        &(recent + jiff::SignedDuration::from_mins(5)).to_string(),
        "failure",
        vec![
            step("fix", "retry", "failure", 99000, None),
            step("code", "aider", "timed_out", 600000, Some((1, QWEN))),
            step("test", "shell", "skipped", 0, Some((1, QWEN))),
            step("code", "aider", "success", 20000, Some((2, LLAMA))),
            step("test", "shell", "failure", 3000, Some((2, LLAMA))),
        ],
    );
    write_run(
        workdir,
        "20260901T100000Z-7-cccc",
        &old.to_string(),
        "success",
        vec![step("code", "aider", "success", 40000, None)],
    );
}

#[test]
fn a_missing_or_corrupt_history_is_rebuilt_from_the_run_directories() {
    let s = Sandbox::new();
    let w = s.workdir();
    three_runs(&w);
    let listed = runs(&w, &["--format", "json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let rows: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "20261101T110000Z-7-bbbb",
            "20261101T100000Z-7-aaaa",
            "20260901T100000Z-7-cccc"
        ],
        "newest first"
    );
    assert_eq!(rows[0]["issue_title"], "<b>Fix</b> the parser");

    // A corrupt file is set aside (kept), and the history rebuilt.
    std::fs::write(
        w.join("history.db"),
        b"this is not a database, it is garbage ".repeat(200),
    )
    .unwrap();
    let _ = std::fs::remove_file(w.join("history.db-wal"));
    let _ = std::fs::remove_file(w.join("history.db-shm"));
    let listed = runs(&w, &["--format", "json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&listed.stdout)
            .unwrap()
            .len(),
        3
    );
    assert!(listed.stderr.contains("corrupt"), "{}", listed.stderr);
    let aside: Vec<_> = std::fs::read_dir(&w)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("history.db.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "the corrupt file is kept aside");

    // A run directory whose report does not parse is skipped, not fatal.
    std::fs::remove_file(w.join("history.db")).unwrap();
    write_run(&w, "20261102T000000Z-8-dddd", "x", "success", vec![]);
    std::fs::write(
        w.join("runs/20261102T000000Z-8-dddd/run.json"),
        "{ not json",
    )
    .unwrap();
    let listed = runs(&w, &[]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.lines().count(), 4, "{}", listed.stdout);
    assert!(
        listed.stderr.contains("does not parse"),
        "{}",
        listed.stderr
    );
}

#[test]
fn stats_give_each_models_solve_rate_time_and_timeouts() {
    let s = Sandbox::new();
    let w = s.workdir();
    three_runs(&w);
    let all = runs(&w, &["stats"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    let recent = runs(&w, &["stats", "--since", "30d", "--format", "json"]);
    let stats: Vec<Value> = serde_json::from_str(&recent.stdout).unwrap();
    assert_eq!(stats[0]["model"], LLAMA);
    assert_eq!(stats[0]["attempts"], 2);
    assert_eq!(stats[0]["solved"], 1);
    assert_eq!(stats[0]["mean_attempt_ms"], (34000 + 23000) / 2);
    assert_eq!(stats[1]["model"], QWEN);
    assert_eq!(stats[1]["solved"], 0);
    assert_eq!(stats[1]["timeouts"], 1);
    insta::assert_snapshot!(
        "runs_stats",
        format!(
            "$ runs stats\n{}\n$ runs stats --since 30d --format json\n{}",
            all.stdout, recent.stdout
        )
    );
}

#[test]
fn list_filters_and_bad_filters() {
    let s = Sandbox::new();
    let w = s.workdir();
    three_runs(&w);
    let count = |args: &[&str]| {
        let r = runs(&w, &[args, &["--format", "json"]].concat());
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str::<Vec<Value>>(&r.stdout).unwrap().len()
    };
    assert_eq!(count(&["--status", "failure"]), 1);
    assert_eq!(count(&["--repo", "acme/other"]), 0);
    assert_eq!(count(&["--since", "30d"]), 2);
    assert_eq!(count(&["--since", "2026-01-01"]), 3);
    assert_eq!(count(&["--limit", "1"]), 1);
    let bad = runs(&w, &["--since", "last tuesday"]);
    assert_eq!(bad.code, 2);
    let bad_status = runs(&w, &["--status", "done"]);
    assert_eq!(bad_status.code, 2);
    insta::assert_snapshot!(
        "runs_bad_filters",
        format!("{}{}", bad.stderr, bad_status.stderr)
    );
}

#[test]
fn prune_deletes_old_reports_and_keeps_recent_ones() {
    let s = Sandbox::new();
    let w = s.workdir();
    three_runs(&w);
    let old = w.join("runs/20260901T100000Z-7-cccc");
    let dry = runs(&w, &["prune", "--older-than", "30d", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("would delete run 20260901T100000Z-7-cccc"),
        "{}",
        dry.stdout
    );
    assert!(old.exists(), "a dry run deletes nothing");
    let pruned = runs(&w, &["prune", "--older-than", "30d"]);
    assert_eq!(pruned.code, 0, "{}", pruned.stderr);
    assert!(!old.exists());
    assert!(w.join("runs/20261101T100000Z-7-aaaa").exists());
    let left = runs(&w, &["--format", "json"]);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&left.stdout)
            .unwrap()
            .len(),
        2
    );
}

/// A report as the engine has it at the start of a run.
fn report(id: &str, steps: usize) -> RunReport {
    let mut r: RunReport = serde_json::from_value(json!({
        "version": 1, "id": id, "playbook": "p.yml", "playbook_name": "p", "task_id": "t",
        "repo": "acme/demo", "issue": 1, "status": "running", "branch": "b", "workdir": "/w",
        "started_at": jiff::Timestamp::now().to_string(), "finished_at": null, "duration_ms": 0,
        "steps": [], "pr": null
    }))
    .unwrap();
    for i in 0..steps {
        let s: StepReport =
            serde_json::from_value(step(&format!("s{i}"), "shell", "success", 1, None)).unwrap();
        r.steps.push(s);
    }
    r
}

#[test]
fn concurrent_writers_lose_nothing_and_the_history_survives_a_restart() {
    let s = Sandbox::new();
    let w = s.workdir();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                // Each writer has its own connection, as separate processes do.
                let store = Store::open(&w).unwrap();
                for n in 0..25 {
                    let mut r = report(&format!("run-{t}-{n}"), 0);
                    store.run_started(&r, &RunMeta::default()).unwrap();
                    for (seq, st) in report("x", 4).steps.iter().enumerate() {
                        store.step_started(&r.id, seq + 1, st, "now").unwrap();
                        store.step_finished(&r.id, seq + 1, st).unwrap();
                    }
                    r.status = serde_json::from_value(json!("success")).unwrap();
                    store.run_updated(&r).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // A new process opens it: everything is there.
    let store = Store::open(&w).unwrap();
    let all = store.list(&Filter::default()).unwrap();
    assert_eq!(all.len(), 200);
    assert!(all.iter().all(|r| r.status == "success"));
    for r in &all {
        assert_eq!(store.steps(&r.id).unwrap().len(), 4, "{}", r.id);
    }
}

#[test]
fn a_history_from_a_newer_codingworker_is_refused_with_the_way_out() {
    let s = Sandbox::new();
    let w = s.workdir();
    drop(Store::open(&w).unwrap());
    let conn = rusqlite::Connection::open(w.join("history.db")).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let ran = runs(&w, &[]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("newer codingworker (schema 99"),
        "{}",
        ran.stderr
    );
}

/// Spawns `codingworker run` of `playbook` in the sandbox (the run dir under the workdir).
fn spawn_run(s: &Sandbox, playbook: &str, title: &str) -> Child {
    let pb = s.write("playbook.yml", playbook);
    let task = s.task(title, "body");
    cw().arg("run")
        .arg(pb)
        .arg("--issue")
        .arg(task)
        .arg("--repo")
        .arg(s.repo())
        .env("HOME", s.home())
        .env("CODINGWORKER_WORKDIR", s.workdir())
        .env("CODINGWORKER_KILL_GRACE", "1s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A local run whose one step sleeps: the pid file's directory (removed when dropped), the
/// `codingworker run` process, the step's pid and the run's id.
fn sleeping_run(s: &Sandbox) -> (tempfile::TempDir, Child, i32, String) {
    let (marks, pidfile, playbook) = pid_playbook("sleep 60");
    let run = spawn_run(s, &playbook, "Sleep");
    let sleeper: i32 = wait_for_file(&pidfile, Duration::from_secs(30))
        .parse()
        .unwrap();
    let id = running_id(&s.workdir());
    (marks, run, sleeper, id)
}

fn running_id(w: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = runs(w, &["--status", "running", "--format", "json"]);
        if let Ok(rows) = serde_json::from_str::<Vec<Value>>(&r.stdout)
            && let Some(row) = rows.first()
        {
            return row["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no running run: {}", r.stderr);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn runs_lists_shows_and_logs_a_local_run() {
    let s = Sandbox::new();
    let ran = s.run(
        r#"
version: 1
name: history
steps:
  - id: hello
    shell: echo hello; echo to-stderr >&2
  - id: fix
    retry:
      attempts:
        - { model: first }
        - { model: second }
      steps:
        - id: check
          shell: echo trying {{ attempt.model }}; test {{ attempt.model }} = second
"#,
        &s.task("Fix <script>alert(1)</script> \u{1b}[31mred", "b"),
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let w = s.workdir();
    let list = runs(&w, &[]);
    let id = serde_json::from_str::<Vec<Value>>(&runs(&w, &["--format", "json"]).stdout).unwrap()
        [0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let show = runs(&w, &["show", &id[..20]]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let logs = runs(&w, &["logs", &id]);
    let one = runs(&w, &["logs", &id, "--step", "check"]);
    let none = runs(&w, &["logs", &id, "--step", "nope"]);
    assert_eq!(none.code, 1);
    let missing = runs(&w, &["show", "20990101"]);
    assert_eq!(missing.code, 1);
    let sandbox = s.path().display().to_string();
    // Column widths follow the run's duration, which the snapshot redacts: compare the
    // table with its columns two spaces apart.
    let list = Ran {
        stdout: list
            .stdout
            .lines()
            .map(|l| {
                l.split("  ")
                    .filter(|c| !c.is_empty())
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("  ")
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
        ..list
    };
    redactions(&[(&sandbox, "[SANDBOX]")]).bind(|| {
        insta::assert_snapshot!(
            "runs_local",
            format!(
                "$ runs\n{}\n$ runs show ID\n{}\n$ runs logs ID\n{}\n$ runs logs ID --step check\n{}\n$ runs logs ID --step nope\n{}\n$ runs show 20990101\n{}",
                list.stdout, show.stdout, logs.stdout, one.stdout, none.stderr, missing.stderr
            )
        );
    });
}

#[test]
fn cancel_stops_a_running_local_step_and_says_so_for_finished_and_unknown_runs() {
    let s = Sandbox::new();
    let (_marks, mut run, sleeper, id) = sleeping_run(&s);
    let w = s.workdir();

    let follow = cw()
        .args(["runs", "logs", &id, "--follow", "--workdir"])
        .arg(&w)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let cancelled = runs(&w, &["cancel", &id]);
    assert_eq!(cancelled.code, 0, "{}", cancelled.stderr);
    assert_eq!(cancelled.stdout, format!("run {id} cancelled\n"));
    assert!(!alive(sleeper), "the step's process group is terminated");
    let code = wait_exit(&mut run, Duration::from_secs(20));
    assert_eq!(code, 1, "a cancelled run is not a success");
    let shown: Value =
        serde_json::from_str(&runs(&w, &["show", &id, "--format", "json"]).stdout).unwrap();
    assert_eq!(shown["status"], "cancelled");
    assert_eq!(shown["steps"][0]["status"], "cancelled");
    // --follow ends with the run, having printed the step's log.
    let followed = follow.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&followed.stdout).contains("sleep 60"),
        "{}",
        String::from_utf8_lossy(&followed.stdout)
    );

    let again = runs(&w, &["cancel", &id]);
    assert_eq!(again.code, 1);
    let unknown = runs(&w, &["cancel", "no-such-run"]);
    assert_eq!(unknown.code, 1);
    let sandbox = s.path().display().to_string();
    redactions(&[(&sandbox, "[SANDBOX]")]).bind(|| {
        insta::assert_snapshot!(
            "runs_cancel_refused",
            format!("{}{}", again.stderr, unknown.stderr)
        );
    });
}

#[test]
fn a_run_whose_process_died_shows_as_interrupted_and_cannot_be_cancelled() {
    let s = Sandbox::new();
    let (_marks, mut run, sleeper, id) = sleeping_run(&s);
    let w = s.workdir();
    run.kill().unwrap();
    run.wait().unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(-sleeper),
        nix::sys::signal::Signal::SIGKILL,
    );
    let listed = runs(&w, &["--status", "interrupted", "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&listed.stdout).unwrap()[0]["id"],
        id.as_str()
    );
    let cancel = runs(&w, &["cancel", &id]);
    assert_eq!(cancel.code, 1);
    assert!(cancel.stderr.contains("interrupted"), "{}", cancel.stderr);
}

#[test]
fn cancelling_a_workers_task_reports_once_on_the_issue_and_deletes_the_message() {
    let (_marks, pidfile, playbook) = pid_playbook("exec sleep 60");
    let s = Setup::new(3, Knobs::default(), &playbook);
    s.queue.send(&s.task("run-1"));
    let mut worker = KillOnDrop(s.spawn("w"));
    let sleeper: i32 = wait_for_file(&pidfile, Duration::from_secs(60))
        .parse()
        .unwrap();
    let id = running_id(&s.sb.workdir());
    let ran: Ran = cw()
        .args(["runs", "cancel", &id, "--config"])
        .arg(&s.config)
        .env("HOME", s.sb.home())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{}\n{}", ran.stderr, s.log("w"));
    assert!(!alive(sleeper));
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.github.comments().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let comments = s.github.comments();
    assert_eq!(comments.len(), 1, "{}", s.log("w"));
    assert!(
        comments[0].body.contains("cancelled on request"),
        "{}",
        comments[0].body
    );
    // The message is gone: a cancel is a final result, not a crash to retry.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.queue.depth() != (0, 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.queue.depth(), (0, 0), "{}", s.log("w"));
    assert!(s.queue.dead_letters().is_empty());
    assert_eq!(s.task_states()[0]["phase"], "done");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(wait_exit(&mut worker.0, Duration::from_secs(20)), 0);
}
