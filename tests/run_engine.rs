//! The engine through `codingworker run`: conditions, timeouts, retries, outputs, the
//! environment of children, the report, and the user's checkout left alone.

use std::time::{Duration, Instant};

use crate::support::{Sandbox, alive, env_map, git, redactions};

#[test]
fn conditions_follow_success_failure_and_continue_on_error() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        r#"
version: 1
name: conditions
steps:
  - { id: tolerated, shell: "exit 4", continue_on_error: true }
  - { id: after-tolerated, shell: "true" }
  - { id: breaks, shell: "exit 5" }
  - { id: default-if, shell: "true" }
  - { id: on-failure, if: failure(), shell: "true" }
  - { id: on-always, if: always(), shell: "true" }
  - { id: on-expr, if: 'steps.tolerated.failed and steps.breaks.exit_code == 5 and steps["default-if"].status == "skipped"', shell: "true" }
  - { id: never, if: false, shell: "true" }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(
        s.statuses(),
        [
            "tolerated=failure",
            "after-tolerated=success",
            "breaks=failure",
            "default-if=skipped",
            "on-failure=success",
            "on-always=success",
            "on-expr=success",
            "never=skipped",
        ]
    );
    let report = s.report();
    assert_eq!(report["status"], "failure");
    assert_eq!(report["steps"][2]["exit_code"], 5);
    assert_eq!(report["steps"][2]["message"], "exit code 5");
    assert_eq!(
        report["steps"][3]["message"],
        "skipped: an earlier step failed"
    );
}

#[test]
fn a_step_timeout_kills_the_process_group_and_is_reported_apart() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let started = Instant::now();
    let ran = s.run(
        r#"
version: 1
name: timeouts
steps:
  - id: slow
    timeout: 1s
    shell: sleep 300 & echo $! > "$HOME/child.pid"; trap '' TERM; wait
  - { id: next, shell: "true" }
  - { id: cleanup, if: always(), shell: "true" }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 1);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        s.statuses(),
        ["slow=timed_out", "next=skipped", "cleanup=success"]
    );
    assert_eq!(s.report()["steps"][0]["message"], "timed out after 1s");
    assert_eq!(s.report()["steps"][0]["exit_code"], serde_json::Value::Null);
    let pid: i32 = std::fs::read_to_string(s.home().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(pid), "the step's background child survived");
}

#[test]
fn the_run_timeout_stops_work_but_still_reports() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let started = Instant::now();
    let ran = s.run(
        r#"
version: 1
name: run-timeout
timeout: 2s
steps:
  - { id: work, shell: "echo partial > partial.txt; sleep 60" }
  - { id: more, if: always(), shell: "true" }
  - id: pr
    if: always()
    pr_open: { draft: "{{ not steps.work.ok }}" }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 1);
    assert!(started.elapsed() < Duration::from_secs(20));
    let report = s.report();
    assert_eq!(report["status"], "timed_out");
    assert_eq!(
        s.statuses(),
        ["work=timed_out", "more=skipped", "pr=success"]
    );
    assert_eq!(
        report["steps"][0]["message"],
        "timed out: the run's time budget (2s) ran out"
    );
    // The work done so far is committed and the draft pull request is what would be sent.
    assert!(ran.stdout.contains("draft:     true"), "{}", ran.stdout);
    assert!(git(&s.repo(), &["show", "--stat", "auto-code/issue-7"]).contains("partial.txt"));
}

#[test]
fn retry_resets_between_attempts_and_stops_when_until_holds() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        r#"
version: 1
name: retry
steps:
  - { id: before, shell: "echo kept > before.txt" }
  - id: solve
    retry:
      attempts: [{model: first}, {model: second}, {model: third}]
      until: steps.check.ok
      steps:
        - id: work
          shell: echo {{ attempt.model }} > work.txt && echo {{ attempt.number }} > untracked.txt && git add work.txt && git commit -qm "attempt {{ attempt.number }}"
        - id: check
          shell: test "$(cat work.txt)" = second && test ! -e stale.txt && echo stale > stale.txt
  - { id: after, shell: "cat before.txt work.txt untracked.txt" }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        s.statuses(),
        [
            "before=success",
            "solve=success",
            "work@1=success",
            "check@1=failure",
            "work@2=success",
            "check@2=success",
            "after=success"
        ]
    );
    let report = s.report();
    assert_eq!(report["steps"][1]["message"], "attempt 2 of 3 succeeded");
    assert_eq!(
        report["steps"][2]["attempt"],
        serde_json::json!({"number": 1, "model": "first"})
    );
    // Attempt 1's commit is gone from the branch; the pre-retry file survived the reset.
    let log = git(&s.worktree(), &["log", "--format=%s"]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "attempt 2",
            "codingworker: state before retry `solve`",
            "initial"
        ]
    );
    let after = std::fs::read_to_string(s.out().join("logs/07-after.log")).unwrap();
    assert!(after.ends_with("kept\nsecond\n2\n"), "{after}");
}

#[test]
fn a_retry_whose_attempts_all_fail_fails_the_run_once_and_opens_a_draft() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        r#"
version: 1
name: all-fail
steps:
  - id: solve
    retry:
      attempts: [{model: a}, {model: b}]
      steps:
        - { id: try, shell: "echo {{ attempt.model }}; exit 1" }
        - { id: unreached, shell: "true" }
  - id: pr
    if: always()
    pr_open: { draft: "{{ not steps.solve.ok }}", title: "Draft: {{ issue.title }}" }
  - id: tell
    if: failure()
    comment: { body: "failed: {{ steps.solve.status }} after {{ steps.try.output | trim }}" }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(
        s.statuses(),
        [
            "solve=failure",
            "try@1=failure",
            "unreached@1=skipped",
            "try@2=failure",
            "unreached@2=skipped",
            "pr=success",
            "tell=success"
        ]
    );
    assert_eq!(
        s.report()["steps"][0]["message"],
        "none of 2 attempts succeeded"
    );
    assert!(ran.stdout.contains("draft:     true"));
    assert!(
        ran.stdout.contains("failed: failure after b"),
        "{}",
        ran.stdout
    );
}

#[test]
fn outputs_are_exposed_to_later_steps() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        r#"
version: 1
name: outputs
steps:
  - { id: speak, shell: "echo out1; echo err1 >&2; echo out2; exit 3", continue_on_error: true }
  - id: read
    shell: >-
      printf '%s|%s|%s|%s|%s|%s|%s' {{ steps.speak.stdout }} {{ steps.speak.stderr }} {{ steps.speak.exit_code }}
      {{ steps.speak.status }} {{ steps.speak.ok }} {{ steps.speak.failed }} {{ steps.speak.changed }} > seen.txt
  - { id: touch, shell: "echo x > new.txt" }
  - { id: changed, shell: "test {{ steps.touch.changed }} = true && test {{ steps.read.changed }} = true" }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let seen = std::fs::read_to_string(s.worktree().join("seen.txt")).unwrap();
    assert_eq!(seen, "out1\nout2\n|err1\n|3|failure|false|true|false");
}

#[test]
fn output_is_bounded_in_memory_and_complete_in_the_log() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        r#"
version: 1
name: big-output
steps:
  - { id: loud, shell: "yes 0123456789abcdef | head -c 3000000" }
  - { id: show, pr_open: { body: "{{ steps.loud.output }}" } }
  - { id: too-long, shell: "echo {{ steps.loud.output }}", continue_on_error: true }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let kept = ran.stdout.len();
    assert!(
        kept > 200 * 1024 && kept < 600 * 1024,
        "printed {kept} bytes"
    );
    assert!(
        ran.stdout
            .contains("earlier bytes not kept; see the log file")
    );
    let msg = s.report()["steps"][2]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.starts_with("the rendered command is "), "{msg}");
    let log = std::fs::metadata(s.out().join("logs/01-loud.log"))
        .unwrap()
        .len();
    assert!(log >= 3_000_000, "log has {log} bytes");
}

#[test]
fn children_get_a_scrubbed_environment() {
    let s = Sandbox::new();
    let task = s.task("Title", "Body");
    let ran = s.run(
        r#"
version: 1
name: env
env: { FROM_PLAYBOOK: "{{ issue.number }}" }
secrets: [MY_API_SECRET]
steps:
  - id: dump
    env: { FROM_STEP: step }
    shell: env -0 > "$HOME/env.txt"
"#,
        &task,
        &[
            ("GITHUB_TOKEN", "ghp_plantedtoken0123456789"),
            ("AWS_ACCESS_KEY_ID", "AKIAPLANTED00000000"),
            ("AWS_SECRET_ACCESS_KEY", "planted/secret/access/key"),
            ("AWS_SESSION_TOKEN", "planted-session-token"),
            ("AWS_PROFILE", "planted-profile"),
            ("UNRELATED_VAR", "should-not-pass"),
            ("MY_API_SECRET", "listed-secret-value"),
            ("LC_ALL", "C.UTF-8"),
            ("TMPDIR", "/tmp"),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let env = env_map(&std::fs::read_to_string(s.home().join("env.txt")).unwrap());
    for gone in [
        "GITHUB_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "UNRELATED_VAR",
        "CODINGWORKER_WORKDIR",
    ] {
        assert!(
            !env.contains_key(gone),
            "{gone} leaked into the child: {env:?}"
        );
    }
    for (k, v) in [
        ("FROM_PLAYBOOK", "7"),
        ("FROM_STEP", "step"),
        ("MY_API_SECRET", "listed-secret-value"),
        ("CW_ISSUE_NUMBER", "7"),
        ("CW_ISSUE_TITLE", "Title"),
        ("CW_ISSUE_BODY", "Body"),
        ("CW_ISSUE_LABELS", "auto-code\nbug"),
        ("CW_ISSUE_LABELS_JSON", r#"["auto-code","bug"]"#),
        ("CW_REPO", "acme/demo"),
        ("CW_BRANCH", "auto-code/issue-7"),
        ("LC_ALL", "C.UTF-8"),
        ("TMPDIR", "/tmp"),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert!(env.contains_key("PATH") && env.contains_key("HOME"));
}

#[test]
fn secrets_are_masked_in_logs_reports_and_what_is_sent() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        r#"
version: 1
name: masking
secrets: [MY_API_SECRET]
steps:
  - { id: leak, shell: 'echo "the secret is $MY_API_SECRET"; echo {{ secrets.MY_API_SECRET }} >&2; exit 1' }
  - id: pr
    if: always()
    pr_open: { body: "{{ steps.leak.output }} {{ secrets.MY_API_SECRET }}" }
  - id: tell
    if: always()
    comment: { body: "{{ steps.leak.stderr }}" }
"#,
        &task,
        &[("MY_API_SECRET", "listed-secret-value"), ("GITHUB_TOKEN", "ghp_plantedtoken0123456789")],
    );
    assert_eq!(ran.code, 1);
    let everything = format!("{}{}{}", ran.stdout, ran.stderr, s.all_output_text());
    assert!(
        !everything.contains("listed-secret-value"),
        "a secret leaked"
    );
    assert!(
        !everything.contains("ghp_plantedtoken0123456789"),
        "the token leaked"
    );
    let log = std::fs::read_to_string(s.out().join("logs/01-leak.log")).unwrap();
    assert!(log.contains("the secret is ***"), "{log}");
    assert!(ran.stdout.contains("the secret is ***"), "{}", ran.stdout);
}

#[test]
fn the_users_checkout_is_never_touched() {
    let s = Sandbox::new();
    let repo = s.repo();
    std::fs::write(repo.join("dirty.txt"), "uncommitted work\n").unwrap();
    std::fs::write(repo.join("README.md"), "# locally modified\n").unwrap();
    let status_before = git(
        &repo,
        &["status", "--porcelain=v1", "--untracked-files=all"],
    );
    let head_before = git(&repo, &["rev-parse", "HEAD"]);
    let index_before = std::fs::read(repo.join(".git/index")).unwrap();
    let task = s.task("t", "b");
    let ran = s.run(
        r#"
version: 1
name: checkout
steps:
  - { id: edit, shell: "echo changed > README.md && rm src/app.py && echo new > new.txt" }
  - { id: pr, pr_open: {} }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        git(
            &repo,
            &["status", "--porcelain=v1", "--untracked-files=all"]
        ),
        status_before
    );
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head_before);
    assert_eq!(
        std::fs::read(repo.join(".git/index")).unwrap(),
        index_before
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("README.md")).unwrap(),
        "# locally modified\n"
    );
    assert!(repo.join("src/app.py").exists());
    // The branch with the run's commit is left in the repository; the worktree is kept.
    let files = git(
        &repo,
        &["show", "--name-status", "--format=%s", "auto-code/issue-7"],
    );
    assert!(files.starts_with("codingworker: work on #7\n"), "{files}");
    assert!(
        files.contains("D\tsrc/app.py")
            && files.contains("A\tnew.txt")
            && files.contains("M\tREADME.md"),
        "{files}"
    );
    assert!(
        ran.stdout
            .contains(&format!("worktree: {}", s.worktree().display()))
    );
    assert!(s.worktree().starts_with(s.workdir()));
}

#[test]
fn an_existing_run_branch_needs_force() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let pb = "version: 1\nname: twice\nsteps:\n  - { id: a, shell: \"echo run >> runs.txt && git add -A && git commit -qm run\" }\n";
    assert_eq!(s.run(pb, &task, &[]).code, 0);
    let again = s.run(pb, &task, &[]);
    assert_eq!(again.code, 2);
    assert!(
        again
            .stderr
            .contains("branch `auto-code/issue-7` already exists"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("--force"));
    let playbook = s.path().join("playbook.yml");
    let forced = s.run_file(&playbook, &task, &["--force"], &[]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    // Restarted from HEAD: one run commit, not two; the old worktree is gone.
    assert_eq!(
        git(
            &s.repo(),
            &["rev-list", "--count", "main..auto-code/issue-7"]
        )
        .trim(),
        "1"
    );
    assert_eq!(
        std::fs::read_dir(s.workdir().join("worktrees"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn the_summary_reads_well() {
    let s = Sandbox::new();
    let task = s.task("Add notes", "Please");
    let ran = s.run_file(
        std::path::Path::new("examples/playbooks/hello.yml"),
        &task,
        &[],
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let summary = std::fs::read_to_string(s.out().join("summary.md")).unwrap();
    redactions(&[]).bind(|| insta::assert_snapshot!(summary));
    let stdout = ran.stdout.replace(s.path().to_str().unwrap(), "[SANDBOX]");
    redactions(&[]).bind(|| insta::assert_snapshot!("hello_stdout", stdout));
}

#[test]
fn interrupting_a_run_cancels_the_running_step() {
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        interrupt_with(signal);
    }
}

fn interrupt_with(signal: nix::sys::signal::Signal) {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let pb = s.write(
        "playbook.yml",
        "version: 1\nname: cancel\nsteps:\n  - { id: long, shell: 'echo $$ > \"$HOME/sh.pid\"; sleep 300' }\n  - { id: later, if: always(), shell: 'true' }\n",
    );
    let mut c = crate::support::cw();
    c.arg("run")
        .arg(&pb)
        .arg("--issue")
        .arg(&task)
        .arg("--repo")
        .arg(s.repo())
        .arg("--out")
        .arg(s.out())
        .env("HOME", s.home())
        .env("CODINGWORKER_WORKDIR", s.workdir())
        .env("CODINGWORKER_KILL_GRACE", "1s")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    let pid_file = s.home().join("sh.pid");
    let started = Instant::now();
    while !pid_file.exists() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    // 128 + the signal's number, as a shell reports a command a signal stopped.
    assert_eq!(
        out.status.code(),
        Some(128 + signal as i32),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.report()["status"], "cancelled");
    assert_eq!(s.statuses(), ["long=cancelled", "later=cancelled"]);
    let sh: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(sh));
}

#[test]
fn bad_inputs_exit_2_with_a_clear_message() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let good = s.write(
        "good.yml",
        "version: 1\nname: ok\nsteps:\n  - { id: a, shell: 'true' }\n",
    );
    let cases: Vec<(Vec<std::path::PathBuf>, &str)> = vec![
        (vec![good.clone(), s.path().join("missing.json")], "failed to read"),
        (vec![good.clone(), s.write("bad.json", "{\n  \"version\": 1,\n  oops\n}")], "bad.json:3:3: invalid JSON"),
        (vec![good.clone(), s.write("shape.json", "{\"version\": 1, \"id\": \"x\"}")], "invalid task message: missing field `repo`"),
        (vec![s.write("invalid.yml", "version: 1\nname: x\nsteps:\n  - { id: a, shel: 'true' }\n"), task.clone()], "is not a valid playbook"),
        (vec![s.write("branch.yml", "version: 1\nname: x\nbranch: 'fix/{{ issue.title }}'\nsteps:\n  - { id: a, shell: 'true' }\n"), s.task("has spaces", "b")], "rendered to \"fix/has spaces\", which is not a valid branch name"),
    ];
    for (files, expect) in cases {
        let ran = s.run_file(&files[0], &files[1], &[], &[]);
        assert_eq!(ran.code, 2, "{expect}: {}", ran.stderr);
        assert!(
            ran.stderr.contains(expect),
            "expected {expect:?} in:\n{}",
            ran.stderr
        );
    }
    // Not a git repository: the dry run works, the real run says why it cannot.
    let plain = s.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let ran: crate::support::Ran = crate::support::cw()
        .args([
            "run",
            good.to_str().unwrap(),
            "--issue",
            task.to_str().unwrap(),
            "--repo",
            plain.to_str().unwrap(),
        ])
        .env("HOME", s.home())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("is not inside a git repository"),
        "{}",
        ran.stderr
    );
}

#[test]
fn relative_out_and_workdir_paths_work_from_the_worktree() {
    let s = Sandbox::new();
    s.task("t", "the body");
    s.write("playbook.yml", "version: 1\nname: rel\nsteps:\n  - { id: body, shell: 'cat \"$CW_ISSUE_BODY_FILE\" > body.txt' }\n");
    let ran: crate::support::Ran = crate::support::cw()
        .current_dir(s.path())
        .args([
            "run",
            "playbook.yml",
            "--issue",
            "task.json",
            "--repo",
            "repo",
            "--out",
            "rel-out",
            "--workdir",
            "rel-work",
        ])
        .env("HOME", s.home())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path().join("rel-out/run.json")).unwrap())
            .unwrap();
    let workdir = std::path::PathBuf::from(report["workdir"].as_str().unwrap());
    assert!(
        workdir.is_absolute() && workdir.starts_with(s.path().join("rel-work")),
        "{workdir:?}"
    );
    assert_eq!(
        std::fs::read_to_string(workdir.join("body.txt")).unwrap(),
        "the body"
    );
}

#[test]
fn force_replaces_only_run_branches_and_never_the_default_branch() {
    let s = Sandbox::new();
    git(&s.repo(), &["branch", "auto-code/issue-7"]);
    let task = s.task("t", "b");
    let pb = s.write(
        "playbook.yml",
        "version: 1\nname: x\nsteps:\n  - { id: a, shell: 'true' }\n",
    );
    let ran = s.run_file(&pb, &task, &["--force"], &[]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("was not created by codingworker; refusing to replace it"),
        "{}",
        ran.stderr
    );

    let main = s.write(
        "main.yml",
        "version: 1\nname: x\nbranch: main\nsteps:\n  - { id: a, shell: 'true' }\n",
    );
    let ran = s.run_file(&main, &task, &["--force"], &[]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("the repository's default branch"),
        "{}",
        ran.stderr
    );
    assert_eq!(git(&s.repo(), &["rev-list", "--count", "main"]).trim(), "1");
}

#[test]
fn an_attempt_whose_steps_were_all_skipped_does_not_succeed() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        r#"
version: 1
name: skipped
steps:
  - { id: first, shell: "exit 1" }
  - id: solve
    if: always()
    retry:
      attempts: [{}, {}]
      steps:
        - { id: test, shell: "true" }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(
        s.statuses(),
        [
            "first=failure",
            "solve=failure",
            "test@1=skipped",
            "test@2=skipped"
        ]
    );
}

#[test]
fn a_run_that_cannot_start_leaves_nothing_behind() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        "version: 1\nname: x\nsecrets: [MISSING_KEY]\nenv: { KEY: '{{ secrets.MISSING_KEY }}' }\nsteps:\n  - { id: a, shell: 'true' }\n",
        &task,
        &[],
    );
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("secret `MISSING_KEY` is not set in the worker's environment"),
        "{}",
        ran.stderr
    );
    assert_eq!(git(&s.repo(), &["branch", "--list", "auto-code/*"]), "");
    assert_eq!(git(&s.repo(), &["worktree", "list"]).lines().count(), 1);
    assert!(
        !s.out().exists(),
        "a run that never started left its run directory"
    );

    // With --force, a run that cannot start must not have removed the previous run either.
    let good = s.write(
        "good.yml",
        "version: 1\nname: ok\nsteps:\n  - { id: a, shell: 'echo work > w.txt' }\n  - { id: pr, pr_open: {} }\n",
    );
    assert_eq!(s.run_file(&good, &task, &[], &[]).code, 0);
    let kept = git(&s.repo(), &["rev-parse", "auto-code/issue-7"]);
    let bad = s.path().join("playbook.yml");
    assert_eq!(s.run_file(&bad, &task, &["--force"], &[]).code, 2);
    assert_eq!(
        s.run_file(&good, &task, &["--force", "--github"], &[]).code,
        2
    );
    assert_eq!(git(&s.repo(), &["rev-parse", "auto-code/issue-7"]), kept);
    assert_eq!(git(&s.repo(), &["worktree", "list"]).lines().count(), 2);
}

#[test]
fn a_dry_run_with_a_template_that_cannot_render_exits_1() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let pb = s.write("playbook.yml", "version: 1\nname: x\nsecrets: [MISSING_KEY]\nsteps:\n  - { id: a, shell: 'echo {{ secrets.MISSING_KEY }}' }\n");
    let ran = s.run_file(&pb, &task, &["--dry-run"], &[]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stdout
            .contains("<template error in `shell`: secret `MISSING_KEY` is not set"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr.contains("the plan shows 1 problem(s) as <…>"),
        "{}",
        ran.stderr
    );
}

#[test]
fn json_logs_are_one_object_per_line_with_step_fields() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let pb = s.write(
        "playbook.yml",
        "version: 1\nname: logs\nsteps:\n  - { id: a, shell: 'true' }\n",
    );
    let ran = s.run_file(&pb, &task, &["--log-format", "json"], &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let events: Vec<serde_json::Value> = ran
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let finished = events
        .iter()
        .find(|e| e["message"] == "step finished")
        .expect("a step finished event");
    assert_eq!(finished["step"], "a");
    assert_eq!(finished["status"], "success");
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "run finished" && e["status"] == "success")
    );
}

#[test]
fn an_attempt_that_cannot_start_is_reported_as_skipped() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        r#"
version: 1
name: skipped-attempt
secrets: [NOT_SET_KEY]
steps:
  - id: solve
    retry:
      attempts:
        - { model: local }
        - { model: cloud, env: { KEY: "{{ secrets.NOT_SET_KEY }}" } }
      steps:
        - { id: try, shell: "exit 1" }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(
        s.statuses(),
        ["solve=failure", "try@1=failure", "try@2=skipped"]
    );
    let report = s.report();
    assert_eq!(
        report["steps"][2]["message"],
        "attempt skipped: its env cannot be rendered: template error in env `KEY`: secret `NOT_SET_KEY` is not set in the worker's environment"
    );
    assert!(
        ran.stdout
            .contains("failed:   step `try` (attempt 1): exit code 1"),
        "{}",
        ran.stdout
    );
}
