//! Hostile issue text: shell metacharacters, quotes, `$( )`, backticks, template syntax,
//! control characters and very long bodies reach files, env vars, the prompt and the pull
//! request byte for byte, and execute nothing.

use crate::support::Sandbox;

fn hostile(s: &Sandbox) -> (String, String, Vec<std::path::PathBuf>) {
    let markers: Vec<_> = (1..=6)
        .map(|i| s.path().join(format!("PWNED-{i}")))
        .collect();
    let m = |i: usize| markers[i].display().to_string();
    let title = format!(
        "Fix it'; touch {}; echo \"$(touch {})\" `touch {}` {{{{ 7 * 7 }}}} {{% if true %}}T{{% endif %}} \\ $HOME",
        m(0),
        m(1),
        m(2)
    );
    let body = format!(
        "Line one with 'single' and \"double\" quotes\n$(touch {})\n`touch {}`\n; touch {} #\n{{{{ secrets.GEMINI_API_KEY }}}} {{{{ run.id }}}} {{% for x in range(3) %}}{{{{ x }}}}{{% endfor %}}\n\ttab, CR\r, unicode é ✓, a backslash \\ and a trailing newline\n",
        m(3),
        m(4),
        m(5)
    );
    (title, body, markers)
}

const PLAYBOOK: &str = r#"
version: 1
name: hostile
steps:
  - { id: title-arg, shell: "printf '%s' {{ issue.title }} > title.txt" }
  - { id: body-arg, shell: "printf '%s' {{ issue.body }} > body.txt" }
  - { id: labels, shell: "printf '[%s]\\n' {{ issue.labels }} > labels.txt" }
  - { id: title-env, shell: "printf '%s' \"$CW_ISSUE_TITLE\" > title-env.txt" }
  - { id: body-env, shell: "printf '%s' \"$CW_ISSUE_BODY\" > body-env.txt" }
  - { id: body-file, shell: "cat \"$CW_ISSUE_BODY_FILE\" > body-file.txt" }
  - id: code
    aider: { model: openai/m, message: "{{ issue.title }}\n---\n{{ issue.body }}" }
  - id: pr
    pr_open: { title: "{{ issue.title }}", body: "{{ issue.body }}" }
  - id: tell
    comment: { body: "{{ issue.body }}" }
"#;

/// The title and body of the pull request a run without credentials prints.
fn printed_pr(stdout: &str) -> (String, String) {
    use codingworker::steps::pr_open::{BODY_END, BODY_START};
    let title = stdout
        .split("\n  title:     ")
        .nth(1)
        .expect("a title")
        .split('\n')
        .next()
        .unwrap()
        .to_owned();
    let start = stdout.find(BODY_START).expect("a body") + BODY_START.len() + 1;
    let end = start
        + stdout[start..]
            .find(&format!("\n{BODY_END}"))
            .expect("its end");
    (title, stdout[start..end].to_owned())
}

#[test]
fn hostile_text_is_data_everywhere_and_runs_nothing() {
    let s = Sandbox::new();
    let (title, body, markers) = hostile(&s);
    let mut labels_task: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.task(&title, &body)).unwrap()).unwrap();
    labels_task["issue"]["labels"] = serde_json::json!(["auto-code", "$(touch x)", "a b", "it's"]);
    let task = s.write("task.json", &labels_task.to_string());
    let aider = s.fake_aider();
    let ran = s.run(
        PLAYBOOK,
        &task,
        &[
            ("CODINGWORKER_AIDER", aider.to_str().unwrap()),
            ("GEMINI_API_KEY", "gemini-secret-value"),
        ],
    );
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    for m in &markers {
        assert!(
            !m.exists(),
            "{} was created: issue text ran as code",
            m.display()
        );
    }
    let wt = s.worktree();
    let read = |f: &str| std::fs::read_to_string(wt.join(f)).unwrap();
    assert_eq!(read("title.txt"), title);
    assert_eq!(read("body.txt"), body);
    assert_eq!(read("title-env.txt"), title);
    assert_eq!(read("body-env.txt"), body);
    assert_eq!(read("body-file.txt"), body);
    assert_eq!(
        read("labels.txt"),
        "[auto-code]\n[$(touch x)]\n[a b]\n[it's]\n"
    );
    assert_eq!(s.recorded("message", 1), format!("{title}\n---\n{body}"));
    let (pr_title, pr_body) = printed_pr(&ran.stdout);
    assert_eq!(pr_title, title);
    assert_eq!(pr_body, body.trim_end_matches('\n'));
    assert!(
        ran.stdout
            .contains(&format!("It would comment on acme/demo#7:\n{body}"))
    );
    assert!(!ran.stdout.contains("gemini-secret-value"));
}

#[test]
fn hostile_text_in_a_dry_run_is_shown_not_run() {
    let s = Sandbox::new();
    let (title, body, markers) = hostile(&s);
    let task = s.task(&title, &body);
    let pb = s.write("playbook.yml", PLAYBOOK);
    let ran: crate::support::Ran = crate::support::cw()
        .args([
            "run",
            pb.to_str().unwrap(),
            "--issue",
            task.to_str().unwrap(),
            "--repo",
            s.repo().to_str().unwrap(),
            "--dry-run",
        ])
        .env("HOME", s.home())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(markers.iter().all(|m| !m.exists()));
    // Control characters are escaped on the terminal; the text is otherwise whole.
    assert!(ran.stdout.contains("CR\\r, unicode é ✓"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("{{ secrets.GEMINI_API_KEY }} {{ run.id }}")
    );
}

#[test]
fn very_long_and_nul_bodies_reach_the_agent_whole() {
    let s = Sandbox::new();
    let long: String = "0123456789 abcdefghij $(x) {{ y }}\n".repeat(6000); // ~210 KB
    let task = s.task("long", &long);
    let aider = s.fake_aider();
    let ran = s.run(
        r#"
version: 1
name: long
steps:
  - { id: file, shell: "cat \"$CW_ISSUE_BODY_FILE\" > body-file.txt && test -z \"${CW_ISSUE_BODY+set}\"" }
  - { id: code, aider: { model: openai/m, message: "{{ issue.body }}", num_ctx: 1000000 } }
  - { id: inline, continue_on_error: true, shell: "echo {{ issue.body }}" }
"#,
        &task,
        &[("CODINGWORKER_AIDER", aider.to_str().unwrap())],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        std::fs::read_to_string(s.worktree().join("body-file.txt")).unwrap(),
        long
    );
    assert_eq!(s.recorded("message", 1), long);
    assert_eq!(
        s.statuses(),
        ["file=success", "code=success", "inline=failure"]
    );

    let s = Sandbox::new();
    let nul = "before\u{0}after";
    let task = s.task("nul", nul);
    let ran = s.run(
        "version: 1\nname: nul\nsteps:\n  - { id: file, shell: 'cat \"$CW_ISSUE_BODY_FILE\" > body.bin && test -z \"${CW_ISSUE_BODY+set}\"' }\n",
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        std::fs::read(s.worktree().join("body.bin")).unwrap(),
        nul.as_bytes()
    );
}
