//! The SQS worker against a real SQS protocol server (moto), real git (a bare remote on
//! disk, the worker's own mirror and worktrees) and the fake GitHub API.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::fake_github::FakeGitHub;
use crate::support::worker_setup::*;
use crate::support::{Ran, Sandbox, alive, cw, git};

const SOLVE: &str = r#"version: 1
name: solve
steps:
  - id: work
    shell: printf '%s\n' "$CW_ISSUE_TITLE" > solved.txt
  - id: pr
    pr_open:
      title: "Fix: {{ issue.title }}"
      body: "Closes #{{ issue.number }}"
  - id: tell
    if: always()
    comment:
      body: "Status: {{ steps.pr.url }}"
"#;

#[test]
fn a_task_becomes_a_pushed_branch_and_one_pull_request() {
    let s = Setup::new(3, Knobs::default(), SOLVE);
    // Sent the way a user tries a setup: `enqueue` with a raw webhook payload, which goes
    // out as a task message v1.
    let hook = json!({
        "action": "labeled",
        "issue": {"number": 7, "title": "Write solved.txt", "body": null, "labels": [{"name": "auto-code"}],
                  "user": {"login": "alice"}, "html_url": "https://github.com/acme/demo/issues/7",
                  "updated_at": "2026-11-21T00:00:00Z"},
        "repository": {"full_name": "acme/demo", "clone_url": s.remote.to_str().unwrap(), "default_branch": "main"},
        "sender": {"login": "alice"}
    });
    let file = s.sb.write("hook.json", &hook.to_string());
    let sent: Ran = cw()
        .args(["enqueue", "--queue-url", &s.queue.url, "--issue"])
        .arg(&file)
        .envs(s.worker(true).get_envs().filter_map(|(k, v)| Some((k, v?))))
        .output()
        .unwrap()
        .into();
    assert_eq!(sent.code, 0, "{sent:?}");

    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let prs = s.github.prs();
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert_eq!(prs[0].head, "auto-code/issue-7");
    assert_eq!(prs[0].base, "main");
    assert_eq!(prs[0].title, "Fix: Write solved.txt");
    assert_eq!(
        git(&s.remote, &["show", "auto-code/issue-7:solved.txt"]),
        "Write solved.txt\n"
    );
    assert_eq!(s.github.comments().len(), 1);
    assert_eq!(s.queue.depth(), (0, 0), "the message is deleted");
    assert!(s.queue.dead_letters().is_empty());
    assert_eq!(
        s.worktrees_left(),
        0,
        "the worktree is removed after the task"
    );
    let mirror = s.sb.workdir().join("repos/acme/demo.git");
    assert!(
        mirror.join("HEAD").exists(),
        "the mirror stays as the cache"
    );
    assert_eq!(
        git(&mirror, &["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        1,
        "only the bare mirror itself"
    );
    let states = s.task_states();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["phase"], "done");
    assert_eq!(states[0]["reported"], prs_url(&s));
    for line in [
        "received",
        "routed",
        "step started",
        "run ended",
        "message deleted",
    ] {
        assert!(
            ran.stderr.contains(line),
            "no `{line}` in the log:\n{}",
            ran.stderr
        );
    }
}

fn prs_url(s: &Setup) -> String {
    format!(
        "https://github.com/acme/demo/pull/{}",
        s.github.prs()[0].number
    )
}

#[test]
fn the_same_task_delivered_twice_gives_one_pull_request_and_one_comment() {
    let s = Setup::new(3, Knobs::default(), SOLVE);
    s.queue.send(&s.task("run-1"));
    s.queue.send(&s.task("run-1"));
    let ran: Ran = s
        .worker(true)
        .args(["--log-format", "json"])
        .output()
        .unwrap()
        .into();
    // One JSON line per state change, each with the task, repository and issue.
    let lines: Vec<Value> = ran
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for event in [
        "received",
        "routed",
        "run started",
        "pull request",
        "message deleted",
    ] {
        let line = lines
            .iter()
            .find(|l| l["message"] == event)
            .unwrap_or_else(|| panic!("no `{event}` line:\n{}", ran.stderr));
        assert_eq!(line["span"]["repo"], "acme/demo", "{line}");
        assert_eq!(line["span"]["issue"], 7, "{line}");
        assert_eq!(line["span"]["task"], "run-1", "{line}");
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["message"] == "message deleted")
            .count(),
        2
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(s.github.prs().len(), 1);
    assert_eq!(s.github.comments().len(), 1, "{:?}", s.github.comments());
    assert_eq!(s.runs().len(), 1, "the second delivery does not run again");
    assert!(
        ran.stderr.contains("already done by an earlier delivery"),
        "{}",
        ran.stderr
    );
    assert_eq!(s.queue.depth(), (0, 0));
}

#[test]
fn a_worker_killed_mid_run_resumes_without_duplicates() {
    let marks = tempfile::tempdir().unwrap();
    let mark = marks.path().join("slept");
    let pidfile = marks.path().join("pid");
    let playbook = format!(
        r#"version: 1
name: slow
vars:
  mark: "{}"
  pidfile: "{}"
steps:
  - id: work
    shell: printf 'done\n' > solved.txt
  - id: pr
    pr_open:
      title: Fix
      body: "Closes #7"
  - id: tell
    comment:
      body: "Opened {{{{ steps.pr.url }}}}"
  - id: slow
    shell: |
      if [ ! -e {{{{ vars.mark }}}} ]; then
        touch {{{{ vars.mark }}}}; echo $$ > {{{{ vars.pidfile }}}}; exec sleep 30
      fi
"#,
        mark.display(),
        pidfile.display()
    );
    let s = Setup::new(
        3,
        Knobs {
            visibility: "3s",
            ..Knobs::default()
        },
        &playbook,
    );
    s.queue.send(&s.task("run-1"));
    s.kill_during_step(&pidfile);
    assert_eq!(s.github.prs().len(), 1, "the first delivery opened the PR");
    assert_eq!(s.github.comments().len(), 1);

    // The heartbeat stopped with the worker: the message comes back.
    s.wait_visible(Duration::from_secs(20));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stderr.contains("resuming"), "{}", ran.stderr);
    assert_eq!(s.github.prs().len(), 1, "no second PR");
    assert_eq!(s.github.comments().len(), 1, "no second comment");
    assert!(
        s.github.requests().iter().any(|r| r.starts_with("PATCH ")),
        "the open PR was updated: {:?}",
        s.github.requests()
    );
    let states = s.task_states();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["phase"], "done");
    let runs = states[0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["status"], Value::Null, "the first run never ended");
    assert_eq!(runs[0]["receive_count"], 1);
    assert_eq!(runs[1]["status"], "success");
    assert!(runs[1]["receive_count"].as_u64().unwrap() >= 2);
    assert_eq!(s.queue.depth(), (0, 0));
    assert_eq!(
        s.worktrees_left(),
        0,
        "the killed run's worktree is cleaned up too"
    );
    // The history says what happened to each run: the restarted worker settled the killed
    // run's row, and the second run's PR is recorded.
    let history: crate::support::Ran = crate::support::cw()
        .args(["runs", "--format", "json", "--config"])
        .arg(&s.config)
        .env("HOME", s.sb.home())
        .output()
        .unwrap()
        .into();
    let rows: Vec<Value> = serde_json::from_str(&history.stdout).unwrap();
    let statuses: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["success", "interrupted"], "{}", history.stdout);
    assert!(rows[0]["pr_url"].as_str().is_some());
    assert_eq!(rows[0]["trigger"], "worker");
    assert!(rows[0]["message_id"].as_str().is_some());
}

#[test]
fn sigterm_hands_a_running_task_back_and_exits_zero() {
    let (_marks, pidfile, playbook) = pid_playbook("exec sleep 30");
    let s = Setup::new(
        3,
        Knobs {
            visibility: "1m",
            grace: "1s",
            ..Knobs::default()
        },
        &playbook,
    );
    s.queue.send(&s.task("run-1"));
    let mut worker = s.spawn("w");
    let sleeper: i32 = wait_for_file(&pidfile, Duration::from_secs(60))
        .parse()
        .unwrap();
    signal(worker.id() as i32, nix::sys::signal::Signal::SIGTERM);
    let code = wait_exit(&mut worker, Duration::from_secs(20));
    let log = s.log("w");
    assert_eq!(code, 0, "{log}");
    assert!(!alive(sleeper), "the step's process is stopped");
    assert!(log.contains("handing their messages back"), "{log}");
    // Handed back at once, not after the 1 minute visibility timeout.
    let back = s.queue.peek(Duration::from_secs(5));
    assert_eq!(back.len(), 1, "{log}");
    assert_eq!(s.task_states()[0]["phase"], "running", "to be run again");
}

#[test]
fn sigterm_lets_a_short_task_finish_within_the_grace_period() {
    let (_marks, pidfile, playbook) = pid_playbook("sleep 2");
    let s = Setup::new(
        3,
        Knobs {
            grace: "30s",
            ..Knobs::default()
        },
        &playbook,
    );
    s.queue.send(&s.task("run-1"));
    let mut worker = s.spawn("w");
    wait_for_file(&pidfile, Duration::from_secs(60));
    signal(worker.id() as i32, nix::sys::signal::Signal::SIGTERM);
    let code = wait_exit(&mut worker, Duration::from_secs(30));
    let log = s.log("w");
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("message deleted"), "{log}");
    assert_eq!(s.queue.depth(), (0, 0));
    assert_eq!(s.runs()[0]["status"], "success");
}

#[test]
fn malformed_messages_go_to_the_dead_letter_queue_while_valid_ones_flow() {
    let s = Setup::new(2, Knobs::default(), SOLVE);
    let bad = [
        "this is not json {".to_owned(),
        json!({"version": 1, "id": "x"}).to_string(),
        json!({"hello": "world"}).to_string(),
    ];
    s.queue.send(&bad[0]);
    s.queue.send(&s.task("good-1"));
    s.queue.send(&bad[1]);
    s.queue.send(&bad[2]);
    let ran = s.once();
    assert_eq!(ran.code, 0, "the worker does not crash:\n{}", ran.stderr);
    assert_eq!(s.github.prs().len(), 1, "the valid task ran");
    // Messages released at the last receive move on the next one; let the queue settle.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut dead = s.queue.dead_letters();
    while dead.len() < bad.len() && Instant::now() < deadline {
        let _ = s.queue.peek(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(200));
        dead = s.queue.dead_letters();
    }
    let mut bodies: Vec<String> = dead.iter().map(|m| m.body.clone()).collect();
    bodies.sort();
    let mut expected = bad.to_vec();
    expected.sort();
    assert_eq!(bodies, expected, "every bad message is kept, byte for byte");
    assert!(ran.stderr.contains("malformed message"), "{}", ran.stderr);
    assert!(ran.stderr.contains("invalid JSON"), "{}", ran.stderr);
    assert!(ran.stderr.contains("missing field"), "{}", ran.stderr);
    assert!(ran.stderr.contains("malformed_total"), "{}", ran.stderr);
}

#[test]
fn github_502_and_429_are_retried_then_the_pull_request_opens() {
    let s = Setup::new(3, Knobs::default(), SOLVE);
    s.github
        .fail_next("POST /repos/acme/demo/pulls", &[502, 429]);
    s.queue.send(&s.task("run-1"));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(s.github.prs().len(), 1);
    let posts = s
        .github
        .requests()
        .iter()
        .filter(|r| *r == "POST /repos/acme/demo/pulls")
        .count();
    assert_eq!(posts, 3, "502, 429, then created");
    assert!(ran.stderr.contains("retrying"), "{}", ran.stderr);
    assert_eq!(s.queue.depth(), (0, 0));
}

#[test]
fn a_repository_not_allowed_is_refused_and_kept_in_the_dead_letter_queue() {
    let s = Setup::new(1, Knobs::default(), SOLVE);
    let evil = s.task_for("evil/repo", "e-1", s.remote.to_str().unwrap());
    s.queue.send(&evil);
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stderr.contains("refused"), "{}", ran.stderr);
    assert!(ran.stderr.contains("not in allow.repos"), "{}", ran.stderr);
    assert!(s.github.prs().is_empty());
    assert!(s.github.requests().is_empty(), "nothing is said to GitHub");
    assert!(
        !s.sb.workdir().join("repos/evil").exists(),
        "nothing is fetched"
    );
    let _ = s.queue.peek(Duration::ZERO);
    let dead = s.queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, evil);
}

#[test]
fn the_heartbeat_keeps_a_long_step_invisible() {
    let (_marks, pidfile, playbook) = pid_playbook("sleep 7");
    let s = Setup::new(
        3,
        Knobs {
            visibility: "2s",
            ..Knobs::default()
        },
        &playbook,
    );
    s.queue.send(&s.task("run-1"));
    let mut worker = s.spawn("w");
    wait_for_file(&pidfile, Duration::from_secs(60));
    // A second worker on the same workdir is refused.
    let second = s.once();
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("another worker is using"),
        "{}",
        second.stderr
    );
    // Through the step, well past twice the 2s visibility timeout, it stays hidden.
    let mut seen = Vec::new();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_secs(1));
        seen.push(s.queue.depth());
    }
    let code = wait_exit_after_idle(&s, &mut worker);
    assert!(
        seen.iter()
            .all(|(visible, in_flight)| *visible == 0 && *in_flight == 1),
        "the message became visible during the run: {seen:?}\n{}",
        s.log("w")
    );
    assert_eq!(code, 0);
    let log = s.log("w");
    assert_eq!(s.runs().len(), 1, "it ran once: {log}");
    assert_eq!(s.task_states()[0]["runs"].as_array().unwrap().len(), 1);
    assert!(log.contains("message deleted"), "{log}");
}

/// Stops a worker once its task is done (the queue is empty and nothing is in flight).
fn wait_exit_after_idle(s: &Setup, worker: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.queue.depth() != (0, 0) {
        assert!(
            Instant::now() < deadline,
            "the task did not end: {}",
            s.log("w")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    signal(worker.id() as i32, nix::sys::signal::Signal::SIGTERM);
    wait_exit(worker, Duration::from_secs(20))
}

#[test]
fn on_the_last_receive_a_failure_is_reported_on_the_issue_before_the_message_goes() {
    let s = Setup::new(
        1,
        Knobs {
            max_receives: 1,
            ..Knobs::default()
        },
        SOLVE,
    );
    let missing = s.sb.path().join("no-such-remote.git");
    s.queue
        .send(&s.task_for("acme/demo", "run-1", missing.to_str().unwrap()));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let comments = s.github.comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].body.contains("gave up"), "{}", comments[0].body);
    assert!(
        comments[0].body.contains("failed to fetch"),
        "{}",
        comments[0].body
    );
    assert!(
        comments[0].body.contains("<!-- codingworker:"),
        "the comment carries its marker"
    );
    let _ = s.queue.peek(Duration::ZERO);
    assert_eq!(
        s.queue.dead_letters().len(),
        1,
        "kept in the dead-letter queue"
    );
}

#[test]
fn a_passing_problem_is_tried_again_later() {
    // The remote appears after the first try failed.
    let s = Setup::new(3, Knobs::default(), SOLVE);
    let later = s.sb.path().join("later.git");
    s.queue
        .send(&s.task_for("acme/demo", "run-1", later.to_str().unwrap()));
    let first = s.once();
    assert!(
        first.stderr.contains("will be tried again"),
        "{}",
        first.stderr
    );
    assert!(
        s.github.comments().is_empty(),
        "not the last receive: nothing reported yet"
    );
    std::fs::rename(&s.remote, &later).unwrap();
    s.wait_visible(Duration::from_secs(10));
    let second = s.once();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(s.github.prs().len(), 1, "{}", second.stderr);
    assert_eq!(s.queue.depth(), (0, 0));
}

#[test]
fn a_worker_config_with_errors_says_where() {
    let sb = Sandbox::new();
    sb.write(
        "playbooks/ok.yml",
        "version: 1\nname: ok\nsteps:\n  - id: a\n    shell: 'true'\n",
    );
    let config = sb.write(
        "worker.yml",
        "queue_url: http://127.0.0.1:1/q\nconcurency: 2\npoll_wait: 30s\nallow: { repos: [\"acme/[\"] }\nroutes:\n  - { playbook: playbooks/ok.yml }\n  - { label: x, playbook: playbooks/missing.yml }\ndefault_playbook: repo\n",
    );
    let ran: Ran = cw()
        .args(["worker", "--config"])
        .arg(&config)
        .current_dir(sb.path())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2);
    let text = ran
        .stderr
        .replace(&sb.path().display().to_string(), "[SANDBOX]");
    insta::assert_snapshot!("worker_config_errors", text);
}

#[test]
fn a_worker_without_a_token_or_queue_says_how_to_fix_it() {
    let sb = Sandbox::new();
    sb.write(
        "playbooks/ok.yml",
        "version: 1\nname: ok\nsteps:\n  - id: a\n    shell: 'true'\n",
    );
    let config = sb.write(
        "worker.yml",
        "allow: { repos: [\"acme/*\"] }\ndefault_playbook: playbooks/ok.yml\n",
    );
    let ran: Ran = cw()
        .args(["worker", "--config"])
        .arg(&config)
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("no queue URL: set `queue_url`"),
        "{}",
        ran.stderr
    );
    let ran: Ran = cw()
        .args(["worker", "--config"])
        .arg(&config)
        .env("CODINGWORKER_QUEUE_URL", "http://127.0.0.1:1/q")
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("no GitHub token in $GITHUB_TOKEN"),
        "{}",
        ran.stderr
    );
    let ran: Ran = cw()
        .args(["worker", "--config"])
        .arg(&config)
        .env("CODINGWORKER_QUEUE_URL", "http://127.0.0.1:1/q")
        .env("HOME", sb.home())
        .env("GITHUB_TOKEN", "x")
        .env("AWS_ACCESS_KEY_ID", FAKE_AWS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", FAKE_AWS_SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("cannot use the queue http://127.0.0.1:1/q"),
        "{}",
        ran.stderr
    );
    assert!(
        !sb.home().join(".codingworker").exists(),
        "nothing is created before the queue is known to work"
    );
}

#[test]
fn route_explains_which_playbook_a_task_gets() {
    let sb = Sandbox::new();
    let ok = "version: 1\nname: ok\nsteps:\n  - id: a\n    shell: 'true'\n";
    for p in ["go", "gemini", "default"] {
        sb.write(&format!("playbooks/{p}.yml"), ok);
    }
    let config = sb.write(
        "worker.yml",
        "allow: { repos: [\"acme/*\", \"OkadaSatoshi/*\"], senders: [alice, bob] }\nroutes:\n  - { repo: \"OkadaSatoshi/go-*\", playbook: playbooks/go.yml }\n  - { label: \"model:gemini\", playbook: playbooks/gemini.yml }\n  - { playbook: repo }\ndefault_playbook: playbooks/default.yml\n",
    );
    let task = |repo: &str, labels: &[&str], sender: &str| {
        sb.write(
            "t.json",
            &json!({"version": 1, "id": "t-1",
                "repo": {"full_name": repo, "clone_url": format!("https://github.com/{repo}.git"), "default_branch": "main"},
                "issue": {"number": 4, "title": "T", "body": "", "labels": labels, "author": "a", "url": "u"},
                "sender": sender, "event": "issues.labeled"})
            .to_string(),
        )
    };
    let mut out = String::new();
    for (repo, labels, sender) in [
        ("OkadaSatoshi/go-tool", vec!["auto-code"], "alice"),
        ("acme/app", vec!["auto-code", "model:gemini"], "bob"),
        ("acme/app", vec!["auto-code"], "alice"),
        ("evil/app", vec!["auto-code"], "alice"),
        ("acme/app", vec!["auto-code"], "mallory"),
    ] {
        let t = task(repo, &labels, sender);
        let ran: Ran = cw()
            .args(["route", "--config"])
            .arg(&config)
            .arg("--issue")
            .arg(&t)
            .output()
            .unwrap()
            .into();
        out.push_str(&format!(
            "$ route ({repo}, {labels:?}, {sender}) -> exit {}\n{}{}\n",
            ran.code, ran.stdout, ran.stderr
        ));
    }
    let out = out.replace(&sb.path().display().to_string(), "[SANDBOX]");
    insta::assert_snapshot!("route_explanations", out);
}

#[test]
fn a_repo_route_uses_the_repositorys_own_playbook_and_reports_an_invalid_one() {
    let s = Setup::new(
        3,
        Knobs {
            routes: "  - { label: use-repo, playbook: repo }\n",
            ..Knobs::default()
        },
        SOLVE,
    );
    let remote = s.remote.to_str().unwrap().to_owned();
    // Without a .codingworker.yml the route does not apply: the default playbook runs.
    s.queue
        .send(&s.issue("acme/demo", 7, "a-1", &remote, &["auto-code", "use-repo"]));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("has no .codingworker.yml; next route"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        git(&s.remote, &["show", "auto-code/issue-7:solved.txt"]),
        "Write solved.txt\n"
    );

    s.push_to_remote(&[(
        ".codingworker.yml",
        "version: 1\nname: own\nbranch: \"own/{{ issue.number }}\"\nsteps:\n  - id: mine\n    shell: echo mine > mine.txt\n  - id: pr\n    pr_open:\n      title: Own\n",
    )]);
    s.queue
        .send(&s.issue("acme/demo", 8, "a-2", &remote, &["auto-code", "use-repo"]));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(git(&s.remote, &["show", "own/8:mine.txt"]), "mine\n");
    assert!(
        ran.stderr
            .contains("playbook=acme/demo:.codingworker.yml@main"),
        "{}",
        ran.stderr
    );

    // An invalid one is the repository author's to fix: said on the issue, with where.
    s.push_to_remote(&[(
        ".codingworker.yml",
        "version: 1\nname: own\nsteps:\n  - id: mine\n    shel: echo mine\n",
    )]);
    s.queue
        .send(&s.issue("acme/demo", 9, "a-3", &remote, &["auto-code", "use-repo"]));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let comment = s
        .github
        .comments()
        .into_iter()
        .find(|c| c.issue == 9)
        .expect("a comment on issue 9");
    assert!(
        comment.body.contains("is not a valid playbook"),
        "{}",
        comment.body
    );
    assert!(
        comment.body.contains(".codingworker.yml@main:5:5"),
        "{}",
        comment.body
    );
    assert!(
        comment.body.contains("did you mean `shell`?"),
        "{}",
        comment.body
    );
    assert_eq!(s.queue.depth(), (0, 0), "reported: a final result");
}

#[test]
fn a_repository_playbook_nested_too_deep_is_reported_and_the_worker_goes_on() {
    let s = Setup::new(
        3,
        Knobs {
            routes: "  - { label: use-repo, playbook: repo }\n",
            ..Knobs::default()
        },
        SOLVE,
    );
    let remote = s.remote.to_str().unwrap().to_owned();
    // Nested 1000 deep: enough to overflow a worker thread's stack if anything recursed.
    let mut deep = String::from("version: 1\nname: own\nvars:\n  x:\n");
    for i in 0..1000 {
        deep.push_str(&" ".repeat(2 * i + 4));
        deep.push_str("a:\n");
    }
    deep.push_str("steps:\n  - { id: a, shell: echo }\n");
    s.push_to_remote(&[(".codingworker.yml", &deep)]);
    s.queue
        .send(&s.issue("acme/demo", 9, "d-1", &remote, &["auto-code", "use-repo"]));
    s.queue
        .send(&s.issue("acme/demo", 10, "d-2", &remote, &["auto-code"]));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let comment = s
        .github
        .comments()
        .into_iter()
        .find(|c| c.issue == 9)
        .expect("a comment on issue 9");
    assert!(
        comment.body.contains("is not a valid playbook")
            && comment.body.contains("nests deeper than 64 levels"),
        "{}",
        comment.body
    );
    assert_eq!(
        git(&s.remote, &["show", "auto-code/issue-10:solved.txt"]),
        "Write solved.txt\n"
    );
    assert_eq!(s.queue.depth(), (0, 0));
}

#[test]
fn the_workers_token_reaches_no_process_log_report_or_pull_request() {
    // The token lives in a variable whose name does not look like a credential.
    let pat = "ghp_customVariableToken98765";
    let playbook = r#"version: 1
name: nosy
secrets: [CW_PAT]
steps:
  - id: nosy
    shell: env | sort > env.txt; cat env.txt; echo "token is ${CW_PAT:-absent}"
  - id: pr
    pr_open:
      title: Nosy
      body: "{{ steps.nosy.output }}"
  - id: tell
    comment:
      body: "{{ steps.nosy.output }}"
"#;
    let mut s = Setup::new(3, Knobs::default(), playbook);
    let config = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("github: {", "github: { token_env: CW_PAT,");
    std::fs::write(&s.config, config).unwrap();
    s.github = FakeGitHub::start(pat);
    let config = std::fs::read_to_string(&s.config).unwrap();
    let api = config
        .split("api_url: \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    std::fs::write(&s.config, config.replace(&api, &s.github.url)).unwrap();
    s.queue.send(&s.task("run-1"));
    let ran: Ran = s.worker(true).env("CW_PAT", pat).output().unwrap().into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(s.github.prs().len(), 1, "the token works for GitHub");
    let env_seen = git(&s.remote, &["show", "auto-code/issue-7:env.txt"]);
    assert!(
        !env_seen.contains("CW_PAT"),
        "the step saw the token's variable:\n{env_seen}"
    );
    let pr = &s.github.prs()[0];
    assert!(pr.body.contains("token is absent"), "{}", pr.body);
    let mut everything = format!("{}{}{}", ran.stdout, ran.stderr, pr.body);
    for c in s.github.comments() {
        everything.push_str(&c.body);
    }
    for f in crate::support::walk(&s.sb.workdir()) {
        if let Ok(t) = std::fs::read_to_string(&f) {
            everything.push_str(&t);
        }
    }
    assert!(!everything.contains(pat), "the token leaked");
    assert!(
        ran.stderr.contains("never reach processes"),
        "{}",
        ran.stderr
    );
}

#[test]
fn tasks_of_different_issues_run_at_once_up_to_concurrency() {
    let s = Setup::new(
        3,
        Knobs::default(),
        "version: 1\nname: nap\nsteps:\n  - id: nap\n    shell: sleep 2\n",
    );
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, format!("concurrency: 2\n{config}")).unwrap();
    let remote = s.remote.to_str().unwrap().to_owned();
    s.queue
        .send(&s.issue("acme/demo", 7, "c-7", &remote, &["auto-code"]));
    s.queue
        .send(&s.issue("acme/demo", 8, "c-8", &remote, &["auto-code"]));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let runs = s.runs();
    assert_eq!(runs.len(), 2, "{}", ran.stderr);
    let time = |v: &Value| v.as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    assert!(
        time(&runs[1]["started_at"]) < time(&runs[0]["finished_at"]),
        "the two runs overlap: {runs:?}"
    );
    assert_eq!(s.queue.depth(), (0, 0));
    assert_eq!(s.worktrees_left(), 0);
}

#[test]
fn a_clone_url_off_the_github_host_is_refused() {
    let s = Setup::new(1, Knobs::default(), SOLVE);
    // The token goes where clone_url points: only to the task's own repository on GitHub.
    let elsewhere = s.task_for("acme/demo", "x-1", "https://evil.example/acme/demo.git");
    let other_repo = s.task_for(
        "acme/demo",
        "x-2",
        &format!(
            "{}/acme/other.git",
            s.github.url.replace("http://", "https://")
        ),
    );
    s.queue.send(&elsewhere);
    s.queue.send(&other_repo);
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.stderr.matches("is not https://").count(),
        2,
        "{}",
        ran.stderr
    );
    assert!(s.github.requests().is_empty());
    assert!(
        !s.sb.workdir().join("repos/acme").exists(),
        "nothing is fetched"
    );

    // Local paths need allow.local_remotes.
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, config.replace(", local_remotes: true", "")).unwrap();
    let route: Ran = cw()
        .args(["route", "--config"])
        .arg(&s.config)
        .arg("--issue")
        .arg(s.sb.write("t.json", &s.task("l-1")))
        .output()
        .unwrap()
        .into();
    assert_eq!(route.code, 1);
    assert!(
        route
            .stdout
            .contains("local paths need allow.local_remotes"),
        "{}",
        route.stdout
    );
}

#[test]
fn a_task_delivered_more_often_than_max_receives_gives_up_once() {
    let (_marks, pidfile, playbook) = pid_playbook("exec sleep 30");
    // The worker allows one receive; the queue's redrive policy three.
    let s = Setup::new(
        3,
        Knobs {
            visibility: "2s",
            max_receives: 1,
            ..Knobs::default()
        },
        &playbook,
    );
    s.queue.send(&s.task("run-1"));
    s.kill_during_step(&pidfile);
    s.wait_visible(Duration::from_secs(20));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("giving up on the task"),
        "{}",
        ran.stderr
    );
    let comments = s.github.comments();
    assert_eq!(
        comments.len(),
        1,
        "one report, whatever the deliveries: {comments:?}"
    );
    assert!(
        comments[0].body.contains("delivered 2 times"),
        "{}",
        comments[0].body
    );
    assert!(
        comments[0].body.contains("1 runs were interrupted"),
        "{}",
        comments[0].body
    );
    assert_eq!(s.task_states()[0]["phase"], "gave_up");
    // Released each time, never deleted: it ends in the dead-letter queue.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.queue.dead_letters().is_empty() {
        assert!(Instant::now() < deadline, "not in the dead-letter queue");
        let _ = s.queue.peek(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.runs().len(), 1, "never run again");
}

#[test]
fn the_try_worker_script_of_the_readme_works() {
    let out = Command::new(crate::support::root().join("scripts/try-worker"))
        .env("CODINGWORKER_BIN", crate::support::BIN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("message deleted"), "{stderr}");
    assert!(
        stdout.contains("It would push branch `auto-code/issue-12`"),
        "{stdout}"
    );
    if let Some(dir) = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Everything is in "))
        .and_then(|l| l.split(':').next())
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_failed_run_whose_report_failed_is_only_reported_on_redelivery() {
    let s = Setup::new(
        3,
        Knobs::default(),
        "version: 1\nname: fails\nsteps:\n  - id: broken\n    shell: echo broken; exit 3\n",
    );
    // GitHub refuses the worker's comment for a while (5 tries: the first and 4 retries).
    s.github.fail_next(
        "POST /repos/acme/demo/issues/7/comments",
        &[500, 500, 500, 500, 500],
    );
    s.queue.send(&s.task("run-1"));
    let first: Ran = s
        .worker(true)
        .env("CODINGWORKER_GITHUB_BACKOFF", "10ms")
        .output()
        .unwrap()
        .into();
    assert!(
        first.stderr.contains("failed to report the failure"),
        "{}",
        first.stderr
    );
    assert_eq!(s.task_states()[0]["phase"], "finished");
    assert!(s.github.comments().is_empty());

    s.wait_visible(Duration::from_secs(10));
    let second = s.once();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        s.runs().len(),
        1,
        "the run is not repeated, only its report"
    );
    let comments = s.github.comments();
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.contains("The run failed"),
        "{}",
        comments[0].body
    );
    assert!(
        comments[0].body.contains("| broken |"),
        "the summary: {}",
        comments[0].body
    );
    assert_eq!(s.task_states()[0]["phase"], "done");
    assert_eq!(s.queue.depth(), (0, 0));
}

#[test]
fn mirrors_are_reused_by_later_tasks_and_the_least_recently_used_go() {
    let s = Setup::new(3, Knobs::default(), SOLVE);
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        format!(
            "max_cached_repos: 1\n{}",
            config.replace("acme/*", "acme/*\", \"other/*")
        ),
    )
    .unwrap();
    let remote = s.remote.to_str().unwrap().to_owned();
    s.queue
        .send(&s.issue("acme/demo", 7, "m-1", &remote, &["auto-code"]));
    assert_eq!(s.once().code, 0);
    let mirror = s.sb.workdir().join("repos/acme/demo.git");
    // A mark in the mirror survives only if later tasks fetch into it rather than clone.
    std::fs::write(mirror.join("mark"), "").unwrap();
    s.push_to_remote(&[("more.txt", "more\n")]);
    s.queue
        .send(&s.issue("acme/demo", 8, "m-2", &remote, &["auto-code"]));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(mirror.join("mark").exists(), "the mirror was made again");
    assert_eq!(
        git(&s.remote, &["show", "auto-code/issue-8:more.txt"]),
        "more\n",
        "the second task started from the fetched default branch"
    );
    // Another repository: with room for one mirror, the older one goes.
    s.queue
        .send(&s.issue("other/thing", 9, "m-3", &remote, &["auto-code"]));
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(s.sb.workdir().join("repos/other/thing.git").exists());
    assert!(
        !mirror.exists(),
        "the least recently used mirror is removed"
    );
    assert!(
        ran.stderr.contains("removed a least recently used mirror"),
        "{}",
        ran.stderr
    );
}

/// A redelivered task looks for its own comment before posting: through every page GitHub
/// gives (100 comments each, a `Link` header to the next), so that a marker on page 2 is
/// found and nothing is posted twice.
#[test]
fn a_comment_already_on_a_later_page_is_found_not_posted_again() {
    let s = Setup::new(3, Knobs::default(), SOLVE);
    // The task's key: repository, issue, task id and the playbook's hash, as the worker
    // names its state file.
    let hash = |text: &str| {
        let mut c = std::process::Command::new("git")
            .args(["hash-object", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        String::from_utf8(c.wait_with_output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned()
    };
    let key = hash(&format!("acme/demo\n7\nrun-1\n{}", hash(SOLVE)))[..16].to_owned();
    seed_comments(&s, 150, |i| {
        (i == 130).then(|| format!("Status: earlier\n\n<!-- codingworker:{key}:tell -->"))
    });
    s.queue.send(&s.task("run-1"));
    let ran: Ran = s.worker(true).output().unwrap().into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(s.github.prs().len(), 1);
    assert_eq!(
        s.github.comments().len(),
        150,
        "the comment on page 2 was not found: {}",
        ran.stderr
    );
    let report = s.runs()[0].clone();
    let tell = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["id"] == "tell")
        .unwrap()
        .clone();
    assert_eq!(tell["status"], "success", "{tell}");
    let pages = comment_pages_read(&s);
    assert_eq!(pages, 2, "{:?}", s.github.requests());
}

/// A page link to another host is not followed: the token would go there. The search for
/// the task's comment stops at the first page (and the comment is posted).
#[test]
fn a_page_of_comments_on_another_host_is_not_followed() {
    let s = Setup::new(3, Knobs::default(), SOLVE);
    s.github.link_pages_to("http://127.0.0.1:9");
    seed_comments(&s, 150, |_| None);
    s.queue.send(&s.task("run-1"));
    let ran: Ran = s.worker(true).output().unwrap().into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(s.github.comments().len(), 151, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("on another host; not followed"),
        "{}",
        ran.stderr
    );
    let pages = comment_pages_read(&s);
    assert_eq!(pages, 1, "{:?}", s.github.requests());
}

/// Puts `n` comments on issue 7 before the task runs: unrelated ones, except where `body`
/// says otherwise.
fn seed_comments(s: &Setup, n: usize, body: impl Fn(usize) -> Option<String>) {
    let mut st = s.github.state.lock().unwrap();
    for i in 0..n {
        st.comments.push(crate::support::fake_github::Comment {
            repo: "acme/demo".into(),
            issue: 7,
            body: body(i).unwrap_or_else(|| format!("an unrelated comment {i}")),
        });
    }
}

/// How many pages of issue 7's comments the worker read.
fn comment_pages_read(s: &Setup) -> usize {
    s.github
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /repos/acme/demo/issues/7/comments"))
        .count()
}
