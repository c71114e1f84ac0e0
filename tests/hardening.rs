//! The holes an attack pass found, each driven through the binary as a user would meet it:
//! issue text inside the author's quotes, processes that outlive their step, runaway
//! templates, deep YAML, dangling symlinks, secrets across output pieces, escape sequences
//! on a terminal, issue text in aider's options, taint through step outputs, labels with
//! commas, repository names that are paths. (The quoting forms themselves are in the
//! corpus: tests/corpus.)

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::worker_setup::wait_for_file;
use crate::support::{Ran, Sandbox, alive, cw, git, pwned};

const HOSTILE_TITLE: &str = "fix $(touch PWNED-1) `touch PWNED-2` '; touch PWNED-3; #";

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {report}"))
}

#[test]
fn quotes_that_only_the_rendered_command_shows_are_caught_at_run_time() {
    // `validate` cannot know what `vars.q` holds; the rendered command shows the value
    // inside single quotes, and the step fails before anything runs.
    let s = Sandbox::new();
    let task = s.task(HOSTILE_TITLE, "b");
    let pb = r#"
version: 1
name: late-quotes
vars: { q: "'" }
steps:
  - id: echo
    shell: "echo {{ vars.q }}{{ issue.title }}{{ vars.q }} > said.txt"
"#;
    let checked: Ran = cw()
        .arg("validate")
        .arg(s.write("pb.yml", pb))
        .output()
        .unwrap()
        .into();
    assert_eq!(checked.code, 0, "{}", checked.stdout);
    let ran = s.run(pb, &task, &[]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let report = s.report();
    let echo = step(&report, "echo");
    assert_eq!(echo["status"], "failure");
    assert!(
        echo["message"]
            .as_str()
            .unwrap()
            .contains("a value inside single quotes"),
        "{echo}"
    );
    assert!(!s.worktree().join("said.txt").exists());
    assert_eq!(pwned(s.path()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn the_authors_double_quotes_and_heredocs_carry_issue_text_as_data() {
    // The five natural forms of the attack pass, written as an author would.
    let s = Sandbox::new();
    let task = s.task(
        HOSTILE_TITLE,
        "body\n$(touch PWNED-4)\nEOF\n`touch PWNED-5`",
    );
    let ran = s.run(
        r#"
version: 1
name: natural
steps:
  - id: commit
    shell: git commit -q --allow-empty -m "{{ issue.title }}" && git log -1 --format=%s > subject.txt
  - id: assign
    shell: X="{{ issue.title }}"; printf '%s' "$X" > assigned.txt
  - id: heredoc
    shell: |
      cat > body.txt <<EOF
      {{ issue.body }}
      EOF
  - id: python-argument
    shell: python3 -c 'import sys; open("py.txt", "w").write(sys.argv[1])' "{{ issue.title }}"
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let wt = s.worktree();
    let read = |f: &str| std::fs::read_to_string(wt.join(f)).unwrap();
    assert_eq!(read("subject.txt"), format!("{HOSTILE_TITLE}\n"));
    assert_eq!(read("assigned.txt"), HOSTILE_TITLE);
    assert_eq!(
        read("body.txt"),
        "body\n$(touch PWNED-4)\nEOF\n`touch PWNED-5`\n"
    );
    assert_eq!(read("py.txt"), HOSTILE_TITLE);
    assert_eq!(pwned(s.path()), Vec::<std::path::PathBuf>::new());
}

/// Reads a pid a step wrote, waiting for it.
fn read_pid(path: &Path) -> i32 {
    wait_for_file(path, Duration::from_secs(20))
        .parse()
        .unwrap()
}

fn gone_soon(pid: i32) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn nothing_a_step_starts_outlives_the_step() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let dir = s.path().display().to_string();
    // A spy in its own session and a double-forked daemon: both would have read the
    // environment of the git processes that `pr_open` starts later.
    let ran = s.run(
        &format!(
            r#"
version: 1
name: escape
steps:
  - id: leave
    shell: |
      setsid sh -c 'echo $$ > {dir}/spy.pid; while :; do date +%s%N >> {dir}/spy.log; sleep 0.05; done' &
      (sh -c 'echo $$ > {dir}/daemon.pid; exec sleep 300' &) &
      sleep 0.5
  - id: check
    shell: |
      before=$(wc -l < {dir}/spy.log); sleep 0.5; after=$(wc -l < {dir}/spy.log)
      test "$before" = "$after" && echo stopped > {dir}/check.txt
"#
        ),
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    for f in ["spy.pid", "daemon.pid"] {
        let pid = read_pid(&s.path().join(f));
        assert!(gone_soon(pid), "{f}: process {pid} outlived its step");
    }
    assert_eq!(
        std::fs::read_to_string(s.path().join("check.txt")).unwrap(),
        "stopped\n",
        "the spy was still writing during the next step"
    );
}

#[test]
fn killing_codingworker_with_sigkill_takes_its_steps_with_it() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let dir = s.path().display().to_string();
    let pb = s.write(
        "pb.yml",
        &format!(
            r#"
version: 1
name: long
steps:
  - id: wait
    shell: |
      setsid sh -c 'echo $$ > {dir}/escaped.pid; exec sleep 300' &
      echo $$ > {dir}/step.pid
      sleep 300
"#
        ),
    );
    let mut child = cw()
        .arg("run")
        .arg(&pb)
        .arg("--issue")
        .arg(&task)
        .arg("--repo")
        .arg(s.repo())
        .arg("--out")
        .arg(s.out())
        .env("HOME", s.home())
        .env("CODINGWORKER_WORKDIR", s.workdir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let step = read_pid(&s.path().join("step.pid"));
    let escaped = read_pid(&s.path().join("escaped.pid"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    assert!(gone_soon(step), "the step's shell outlived codingworker");
    assert!(
        gone_soon(escaped),
        "a process in its own session outlived codingworker"
    );
}

#[test]
fn a_runaway_template_ends_its_step_within_the_bounds() {
    let s = Sandbox::new();
    let body = "0123456789".repeat(10_000); // 100 KB
    let task = s.task("t", &body);
    let started = Instant::now();
    let ran = s.run(
        r#"
version: 1
name: runaway
timeout: 8s
steps:
  - id: loops
    timeout: 5s
    continue_on_error: true
    shell: "echo {% for c in issue.body %}{% for d in issue.body %}{{ c }}{% endfor %}{% endfor %}"
  - id: quiet-loops
    timeout: 5s
    continue_on_error: true
    env:
      X: "{% for c in issue.body %}{% for d in issue.body %}{% endfor %}{% endfor %}"
    shell: "true"
  - id: after
    shell: echo still here
"#,
        &task,
        &[],
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let report = s.report();
    let loops = step(&report, "loops")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        loops.contains("the template did too much work") || loops.contains("is over"),
        "{loops}"
    );
    let quiet = step(&report, "quiet-loops")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(quiet.contains("the template did too much work"), "{quiet}");
    assert_eq!(step(&report, "after")["status"], "success");
}

#[test]
fn deep_yaml_is_an_error_with_its_line_not_a_crash() {
    let s = Sandbox::new();
    let mut deep = String::from("version: 1\nname: deep\nvars:\n  x:\n");
    for i in 0..5000 {
        deep.push_str(&" ".repeat(2 * i + 4));
        deep.push_str("a:\n");
    }
    deep.push_str("steps:\n  - { id: a, shell: echo }\n");
    let pb = s.write("deep.yml", &deep);
    let ran: Ran = cw().arg("validate").arg(&pb).output().unwrap().into();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains("error: the YAML nests deeper than 64 levels"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("deep.yml:67:"), "{}", ran.stdout);
    let flow = s.write("flow.yml", &format!("{}1\n", "- ".repeat(5000)));
    let ran: Ran = cw().arg("validate").arg(&flow).output().unwrap().into();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let ran = s.run_file(&pb, &s.task("t", "b"), &[], &[]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("nests deeper"), "{}", ran.stderr);
}

#[test]
fn a_dangling_symlink_out_of_the_checkout_never_reaches_aider() {
    let s = Sandbox::new();
    let outside = s.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let target = outside.join("created-by-aider.py");
    std::os::unix::fs::symlink(&target, s.repo().join("src/evil.py")).unwrap();
    git(&s.repo(), &["add", "-A"]);
    git(&s.repo(), &["commit", "-qm", "a link"]);
    let aider = s.fake_aider();
    for files in [r#"["src/evil.py"]"#, r#"["src/*.py"]"#] {
        let ran = s.run_file(
            &s.write(
                "pb.yml",
                &format!(
                    "version: 1\nname: link\nenv: {{ FAKE_AIDER_FILE: src/evil.py }}\nsteps:\n  - id: code\n    aider: {{ model: openai/m, message: hi, files: {files} }}\n"
                ),
            ),
            &s.task("t", "b"),
            &["--force"],
            &[("CODINGWORKER_AIDER", aider.to_str().unwrap())],
        );
        assert_eq!(ran.code, 1, "{files}: {}", ran.stderr);
        let report = s.report();
        let message = step(&report, "code")["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            message.contains("`files` entry `src/evil.py` leads outside the checkout (symlink)"),
            "{files}: {message}"
        );
        assert!(
            !target.exists(),
            "{files}: aider wrote outside the checkout"
        );
        assert_eq!(s.recorded("argv", 1), "", "{files}: aider ran");
    }
}

#[test]
fn a_secret_across_a_64k_piece_is_masked_in_the_log_and_the_text_stays_whole() {
    let s = Sandbox::new();
    let secret = "hunter2-very-secret-value-0123456789";
    let ran = s.run(
        r#"
version: 1
name: mask
secrets: [MY_SECRET]
steps:
  - id: long-line
    shell: python3 -c 'import sys; sys.stdout.write("a" * (65536 - 7) + sys.argv[1] + "\u00e9" * 40000 + "end")' "$MY_SECRET"
"#,
        &s.task("t", "b"),
        &[("MY_SECRET", secret)],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let report = s.report();
    let log_rel = step(&report, "long-line")["log"]
        .as_str()
        .unwrap()
        .to_owned();
    let logged = std::fs::read_to_string(s.out().join(log_rel)).unwrap();
    assert!(!logged.contains(secret), "the secret is in the log");
    assert!(
        logged.contains("a***é"),
        "the mask is not where the secret was"
    );
    assert_eq!(logged.matches('é').count(), 40000);
    assert!(!logged.contains('\u{fffd}'), "a character was split");
    let id = report["id"].as_str().unwrap();
    let shown: Ran = cw()
        .args(["runs", "logs", id, "--workdir"])
        .arg(s.workdir())
        .env("HOME", s.home())
        .output()
        .unwrap()
        .into();
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(!shown.stdout.contains(secret) && shown.stdout.contains("a***é"));
}

/// Runs a shell command line under a pseudo-terminal (`script`), returning what it printed.
fn on_a_terminal(command: &str, s: &Sandbox) -> String {
    let out = std::process::Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .env("HOME", s.home())
        .env("CODINGWORKER_WORKDIR", s.workdir())
        .env("TERM", "dumb")
        .output()
        .expect("script (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn escape_sequences_from_an_issue_reach_a_terminal_escaped() {
    let s = Sandbox::new();
    let body = "clear \u{1b}[2J title \u{1b}]0;pwned\u{7} overwrite\rX";
    let task = s.task("t", body);
    let pb = s.write(
        "pb.yml",
        "version: 1\nname: tty\nsteps:\n  - id: show\n    shell: cat \"$CW_ISSUE_BODY_FILE\"\n  - id: tell\n    comment: { body: \"{{ issue.body }}\" }\n",
    );
    let bin = crate::support::BIN;
    let printed = on_a_terminal(
        &format!(
            "{bin} run {} --issue {} --repo {} --out {} 2>/dev/null",
            pb.display(),
            task.display(),
            s.repo().display(),
            s.out().display()
        ),
        &s,
    );
    assert!(
        printed.contains("It would comment on acme/demo#7"),
        "{printed}"
    );
    assert!(!printed.contains('\u{1b}'), "{printed:?}");
    assert!(printed.contains("\\u{1b}[2J"), "{printed:?}");
    let id = s.report()["id"].as_str().unwrap().to_owned();
    let logs = on_a_terminal(
        &format!(
            "{bin} runs logs {id} --step show --workdir {}",
            s.workdir().display()
        ),
        &s,
    );
    assert!(logs.contains("clear \\u{1b}[2J"), "{logs:?}");
    assert!(
        !logs.contains('\u{1b}') && !logs.contains('\u{7}'),
        "{logs:?}"
    );
    // Piped, the log is what the step printed, byte for byte.
    let piped: Ran = cw()
        .args(["runs", "logs", &id, "--step", "show", "--workdir"])
        .arg(s.workdir())
        .output()
        .unwrap()
        .into();
    assert!(piped.stdout.contains(body), "{:?}", piped.stdout);
}

#[test]
fn issue_text_in_agent_options_is_refused_and_safe_on_step_output_warned() {
    let s = Sandbox::new();
    let pb = s.write(
        "pb.yml",
        r#"
version: 1
name: options
steps:
  - id: echo
    shell: echo "$CW_ISSUE_TITLE"
  - id: code
    aider:
      model: openai/m
      api_base: "{{ steps.echo.stdout }}"
      message: fix it
  - id: again
    shell: "{{ steps.echo.stdout | safe }}"
"#,
    );
    let ran: Ran = cw()
        .args(["validate", "--format", "json"])
        .arg(&pb)
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let report: Value = serde_json::from_str(&ran.stdout).unwrap();
    let found: Vec<(String, String)> = report["files"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["severity"].as_str().unwrap().to_owned(),
                d["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        found.contains(&("error".into(), "issue-data-in-options".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("warning".into(), "unsafe-issue-data".into())),
        "{found:?}"
    );
}

#[test]
fn labels_with_commas_and_repository_names_that_are_paths() {
    let s = Sandbox::new();
    let mut task: Value =
        serde_json::from_str(&std::fs::read_to_string(s.task("t", "b")).unwrap()).unwrap();
    task["issue"]["labels"] = serde_json::json!(["auto-code", "a,b", "needs review"]);
    let file = s.write("labels.json", &task.to_string());
    let ran = s.run(
        "version: 1\nname: labels\nsteps:\n  - id: l\n    shell: printf '%s|' \"$CW_ISSUE_LABELS\" \"$CW_ISSUE_LABELS_JSON\" > labels.txt\n",
        &file,
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        std::fs::read_to_string(s.worktree().join("labels.txt")).unwrap(),
        "auto-code\na,b\nneeds review|[\"auto-code\",\"a,b\",\"needs review\"]|"
    );

    for name in ["acme/..", "../demo", "acme/."] {
        task["repo"]["full_name"] = Value::from(name);
        let file = s.write("bad.json", &task.to_string());
        let ran = s.run(
            "version: 1\nname: x\nsteps:\n  - { id: a, shell: echo }\n",
            &file,
            &[],
        );
        assert_eq!(ran.code, 2, "{name}: {}", ran.stderr);
        assert!(
            ran.stderr.contains("`repo.full_name` must be `owner/name`"),
            "{name}: {}",
            ran.stderr
        );
    }
}
