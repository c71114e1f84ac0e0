//! `pr_open` and `comment` against GitHub (a local fake of its REST API) with `--github`:
//! the branch is pushed to a real bare remote, one pull request is opened and then updated,
//! failures are reported without leaking the token.

use crate::support::fake_github::FakeGitHub;
use crate::support::{Sandbox, git};

const TOKEN: &str = "ghp_faketoken0123456789abcdef";

const PLAYBOOK: &str = r#"
version: 1
name: github
steps:
  - { id: work, shell: "echo 'fizz' > fizz.py" }
  - { id: check, shell: "exit {{ 0 if issue.title == 'pass' else 1 }}", continue_on_error: true }
  - id: pr
    if: always()
    pr_open:
      title: "Fix: {{ issue.title }}"
      draft: "{{ steps.check.failed }}"
      labels: [codingworker]
      reviewers: ["{{ issue.author }}"]
  - id: tell
    if: steps.check.failed
    comment: { body: "check failed: see {{ steps.pr.url }}" }
"#;

fn run(
    s: &Sandbox,
    gh: &FakeGitHub,
    task: &std::path::Path,
    extra: &[&str],
) -> crate::support::Ran {
    let pb = s.write("playbook.yml", PLAYBOOK);
    let mut args = vec!["--github"];
    args.extend_from_slice(extra);
    s.run_file(
        &pb,
        task,
        &args,
        &[("GITHUB_TOKEN", TOKEN), ("GITHUB_API_URL", &gh.url)],
    )
}

#[test]
fn pushes_the_branch_opens_one_pull_request_and_updates_it_on_a_rerun() {
    let s = Sandbox::new();
    let remote = s.bare_remote();
    let gh = FakeGitHub::start(TOKEN);
    let task = s.task_from("fail", "b", remote.to_str().unwrap());

    let first = run(&s, &gh, &task, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let branch_sha = git(&remote, &["rev-parse", "auto-code/issue-7"]);
    assert_eq!(branch_sha, git(&s.worktree(), &["rev-parse", "HEAD"]));
    let prs = gh.prs();
    assert_eq!(prs.len(), 1);
    let pr = &prs[0];
    assert_eq!(
        (pr.head.as_str(), pr.base.as_str(), pr.title.as_str()),
        ("auto-code/issue-7", "main", "Fix: fail")
    );
    assert!(pr.draft);
    assert_eq!(pr.labels, ["codingworker"]);
    assert_eq!(pr.reviewers, ["alice"]);
    assert_eq!(gh.comments().len(), 1);
    assert_eq!(
        gh.comments()[0].body,
        "check failed: see https://github.com/acme/demo/pull/1"
    );
    let report = s.report();
    assert_eq!(
        report["pr"],
        serde_json::json!({"number": 1, "url": "https://github.com/acme/demo/pull/1", "created": true})
    );
    assert!(
        first
            .stdout
            .contains("pull request: https://github.com/acme/demo/pull/1 (opened)"),
        "{}",
        first.stdout
    );

    // The same issue again: the branch is restarted and force-pushed, the pull request updated.
    let task = s.task_from("pass", "b", remote.to_str().unwrap());
    let second = run(&s, &gh, &task, &["--force"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(gh.prs().len(), 1, "a second pull request was opened");
    assert_eq!(gh.prs()[0].title, "Fix: pass");
    assert_eq!(s.report()["pr"]["created"], false);
    assert_eq!(
        git(&remote, &["rev-parse", "auto-code/issue-7"]),
        git(&s.worktree(), &["rev-parse", "HEAD"])
    );
    assert_eq!(gh.comments().len(), 1, "no comment when the check passes");
    assert!(
        gh.requests()
            .iter()
            .any(|r| r == "PATCH /repos/acme/demo/pulls/1")
    );
}

#[test]
fn a_duplicate_pull_request_is_updated_not_doubled() {
    let s = Sandbox::new();
    let remote = s.bare_remote();
    let gh = FakeGitHub::start(TOKEN);
    // Another delivery opened it between our lookup and our create: GitHub answers 422.
    gh.state
        .lock()
        .unwrap()
        .prs
        .push(crate::support::fake_github::Pr {
            number: 41,
            repo: "acme/demo".into(),
            head: "auto-code/issue-7".into(),
            base: "main".into(),
            title: "old".into(),
            body: String::new(),
            draft: false,
            open: true,
            labels: vec![],
            reviewers: vec![],
        });
    gh.state.lock().unwrap().hide_next_lists = 1;
    let task = s.task_from("pass", "b", remote.to_str().unwrap());
    let ran = run(&s, &gh, &task, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(gh.prs().len(), 1);
    assert_eq!(gh.prs()[0].title, "Fix: pass");
    assert_eq!(s.report()["pr"]["number"], 41);
    let requests = gh.requests();
    let pulls: Vec<&str> = requests
        .iter()
        .map(String::as_str)
        .filter(|r| r.contains("/pulls"))
        .collect();
    assert_eq!(
        pulls,
        [
            "GET /repos/acme/demo/pulls",
            "POST /repos/acme/demo/pulls",
            "GET /repos/acme/demo/pulls",
            "PATCH /repos/acme/demo/pulls/41",
            "POST /repos/acme/demo/pulls/41/requested_reviewers",
        ]
    );
}

#[test]
fn github_errors_fail_the_step_and_never_show_the_token() {
    let s = Sandbox::new();
    let remote = s.bare_remote();
    let gh = FakeGitHub::start(TOKEN);
    // A passing 502 is retried; 500s in a row are not retried forever (4 retries).
    gh.fail_next("POST /repos/acme/demo/pulls", &[502]);
    let task = s.task_from("pass", "b", remote.to_str().unwrap());
    let ran = run(&s, &gh, &task, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(gh.prs().len(), 1);

    let s = Sandbox::new();
    let remote = s.bare_remote();
    let gh = FakeGitHub::start(TOKEN);
    gh.fail_next("POST /repos/acme/demo/pulls", &[500, 500, 500, 500, 500]);
    let task = s.task_from("pass", "b", remote.to_str().unwrap());
    let pb = s.write("playbook.yml", PLAYBOOK);
    let ran = s.run_file(
        &pb,
        &task,
        &["--github"],
        &[
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_API_URL", &gh.url),
            ("CODINGWORKER_GITHUB_BACKOFF", "10ms"),
        ],
    );
    assert_eq!(ran.code, 1);
    let report = s.report();
    assert_eq!(report["steps"][2]["status"], "failure");
    assert_eq!(
        report["steps"][2]["message"],
        "failed to open the pull request: GitHub answered 500: injected 500"
    );
    let everything = format!("{}{}{}", ran.stdout, ran.stderr, s.all_output_text());
    assert!(!everything.contains(TOKEN));

    // A proxy's HTML error page is not passed on: its status says it.
    let s = Sandbox::new();
    let remote = s.bare_remote();
    let gh = FakeGitHub::start(TOKEN);
    gh.fail_next_html("POST /repos/acme/demo/pulls", 403);
    let task = s.task_from("pass", "b", remote.to_str().unwrap());
    let ran = run(&s, &gh, &task, &[]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(
        s.report()["steps"][2]["message"],
        "failed to open the pull request: GitHub answered 403: Forbidden"
    );
    assert!(!s.all_output_text().contains("<html>"));

    // A wrong token is a 401, reported as such.
    let s = Sandbox::new();
    let remote = s.bare_remote();
    let task = s.task_from("pass", "b", remote.to_str().unwrap());
    let pb = s.write("playbook.yml", PLAYBOOK);
    let ran = s.run_file(
        &pb,
        &task,
        &["--github"],
        &[
            ("GITHUB_TOKEN", "ghp_wrongtoken000000"),
            ("GITHUB_API_URL", &gh.url),
        ],
    );
    assert_eq!(ran.code, 1);
    assert!(
        s.report()["steps"][2]["message"]
            .as_str()
            .unwrap()
            .contains("GitHub answered 401: Bad credentials")
    );
}

#[test]
fn github_needs_a_token() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let pb = s.write("playbook.yml", PLAYBOOK);
    let ran = s.run_file(&pb, &task, &["--github"], &[]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("--github needs a token in GITHUB_TOKEN"),
        "{}",
        ran.stderr
    );
}

#[test]
fn pushing_runs_no_hook_a_step_planted() {
    let s = Sandbox::new();
    let remote = s.bare_remote();
    let gh = FakeGitHub::start(TOKEN);
    let marker = s.path().join("hook-ran");
    let task = s.task_from("pass", "b", remote.to_str().unwrap());
    let pb = s.write(
        "playbook.yml",
        &format!(
            "version: 1\nname: hooks\nsteps:\n  - id: plant\n    shell: |\n      hooks=\"$(git rev-parse --git-common-dir)/hooks\"\n      printf '#!/bin/sh\\nenv > {m}\\n' > \"$hooks/pre-push\" && chmod +x \"$hooks/pre-push\"\n      echo work > work.txt\n  - {{ id: pr, pr_open: {{}} }}\n",
            m = marker.display()
        ),
    );
    let ran = s.run_file(
        &pb,
        &task,
        &["--github"],
        &[("GITHUB_TOKEN", TOKEN), ("GITHUB_API_URL", &gh.url)],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        !marker.exists(),
        "git ran a hook planted by a step while pushing with the token"
    );
    assert_eq!(gh.prs().len(), 1);
}

#[test]
fn a_slow_github_is_bounded_by_the_step_timeout() {
    let s = Sandbox::new();
    let remote = s.bare_remote();
    let gh = FakeGitHub::start(TOKEN);
    gh.state.lock().unwrap().delay = std::time::Duration::from_secs(30);
    let task = s.task_from("pass", "b", remote.to_str().unwrap());
    let pb = s.write(
        "playbook.yml",
        "version: 1\nname: slow\nsteps:\n  - { id: work, shell: 'echo work > work.txt' }\n  - { id: pr, timeout: 1s, pr_open: {} }\n",
    );
    let started = std::time::Instant::now();
    let ran = s.run_file(
        &pb,
        &task,
        &["--github"],
        &[("GITHUB_TOKEN", TOKEN), ("GITHUB_API_URL", &gh.url)],
    );
    assert_eq!(ran.code, 1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.statuses(), ["work=success", "pr=timed_out"]);
}

#[test]
fn a_run_without_changes_opens_no_pull_request() {
    // GitHub refuses a pull request without commits; the step says why instead.
    let s = Sandbox::new();
    let remote = s.bare_remote();
    let gh = FakeGitHub::start(TOKEN);
    let task = s.task_from("nothing to do", "b", remote.to_str().unwrap());
    let pb = s.write(
        "playbook.yml",
        "version: 1\nname: idle\nsteps:\n  - id: look\n    shell: 'true'\n  - id: pr\n    pr_open: { title: t }\n",
    );
    let ran = s.run_file(
        &pb,
        &task,
        &["--github"],
        &[("GITHUB_TOKEN", TOKEN), ("GITHUB_API_URL", &gh.url)],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(s.statuses(), ["look=success", "pr=skipped"]);
    assert!(
        s.report()["steps"][1]["message"]
            .as_str()
            .unwrap()
            .contains("the run made no changes")
    );
    assert!(
        gh.requests().is_empty(),
        "nothing sent: {:?}",
        gh.requests()
    );
    assert!(
        !git(&remote, &["branch"]).contains("auto-code"),
        "nothing pushed"
    );
}
