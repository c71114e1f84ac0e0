//! The `aider` step with a fake aider executable: the exact argv, the message file, the
//! environment, the Ollama probe, `require_changes`, timeouts and confinement of paths.

use std::time::{Duration, Instant};

use crate::support::{FakeOllama, Sandbox, alive, closed_port_url, env_map};

fn aider_env(s: &Sandbox) -> Vec<(String, String)> {
    vec![
        (
            "CODINGWORKER_AIDER".into(),
            s.fake_aider().display().to_string(),
        ),
        ("GITHUB_TOKEN".into(), "ghp_plantedtoken0123456789".into()),
    ]
}

fn run_with(
    s: &Sandbox,
    playbook: &str,
    task: &std::path::Path,
    extra: &[(&str, &str)],
) -> crate::support::Ran {
    let env = aider_env(s);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    s.run(playbook, task, &all)
}

#[test]
fn aider_gets_the_exact_argv_and_its_prompt_in_a_file() {
    let s = Sandbox::new();
    std::fs::write(s.repo().join("src/util.py"), "").unwrap();
    crate::support::git(&s.repo(), &["add", "-A"]);
    crate::support::git(&s.repo(), &["commit", "-qm", "util"]);
    let task = s.task("Add a greeting", "Body line 1\nBody line 2 $(not run)");
    let ran = run_with(
        &s,
        r#"
version: 1
name: argv
steps:
  - id: code
    env: { FAKE_AIDER_FILE: src/app.py }
    aider:
      model: openai/test-model
      api_base: http://127.0.0.1:9/v1
      message: "{{ issue.title }}\n\n{{ issue.body }}"
      files: ["src/*.py", "new_module.py"]
      read: [README.md]
      edit_format: whole
      args: ["--verbose"]
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let out = s.out().display().to_string();
    let argv = s.recorded("argv", 1).replace(&out, "[RUN]");
    assert_eq!(
        argv.lines().collect::<Vec<_>>(),
        [
            "--model",
            "openai/test-model",
            "--message-file",
            "[RUN]/prompts/01-code.md",
            "--yes-always",
            "--no-check-update",
            "--no-analytics",
            "--no-show-model-warnings",
            "--no-gitignore",
            "--no-show-release-notes",
            "--no-fancy-input",
            "--no-pretty",
            "--no-detect-urls",
            "--no-suggest-shell-commands",
            "--chat-history-file",
            "/dev/null",
            "--input-history-file",
            "/dev/null",
            "--model-metadata-file",
            "[RUN]/prompts/01-code.model-metadata.json",
            "--edit-format",
            "whole",
            "--map-tokens",
            "0",
            "--read",
            "README.md",
            "--verbose",
            "src/app.py",
            "src/util.py",
            "new_module.py",
        ]
    );
    assert_eq!(
        s.recorded("message", 1),
        "Add a greeting\n\nBody line 1\nBody line 2 $(not run)"
    );
    let env = env_map(&s.recorded("env", 1));
    assert_eq!(
        env.get("OPENAI_API_BASE").map(String::as_str),
        Some("http://127.0.0.1:9/v1")
    );
    assert_eq!(
        env.get("OPENAI_API_KEY").map(String::as_str),
        Some("codingworker-local")
    );
    assert_eq!(
        env.get("LITELLM_LOCAL_MODEL_COST_MAP").map(String::as_str),
        Some("True")
    );
    assert!(!env.contains_key("GITHUB_TOKEN"));
    let metadata: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.out().join("prompts/01-code.model-metadata.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(metadata["openai/test-model"]["input_cost_per_token"], 0);
    let report = s.report();
    assert_eq!(report["steps"][0]["status"], "success");
    // The edit was committed by "aider" on the run branch.
    assert!(
        crate::support::git(&s.worktree(), &["log", "-1", "--format=%s"])
            .starts_with("fake aider edit 1")
    );
}

#[test]
fn ollama_models_are_probed_and_get_a_context_window() {
    let s = Sandbox::new();
    let ollama = FakeOllama::start(&["qwen2.5-coder:7b", "llama3:latest"]);
    let task = s.task("t", "b");
    let ran = run_with(
        &s,
        r#"
version: 1
name: ollama
steps:
  - id: code
    aider: { model: ollama_chat/qwen2.5-coder:7b, message: hi, num_ctx: 16384 }
  - id: tagless
    aider: { model: ollama/llama3, message: hi }
"#,
        &task,
        &[("OLLAMA_API_BASE", &ollama.url)],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ollama.requests.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    let env = env_map(&s.recorded("env", 1));
    assert_eq!(env.get("OLLAMA_API_BASE"), Some(&ollama.url));
    let settings =
        std::fs::read_to_string(s.out().join("prompts/01-code.model-settings.yml")).unwrap();
    assert_eq!(
        settings,
        "- name: \"ollama_chat/qwen2.5-coder:7b\"\n  extra_params:\n    num_ctx: 16384\n"
    );
    let default_ctx =
        std::fs::read_to_string(s.out().join("prompts/02-tagless.model-settings.yml")).unwrap();
    assert!(default_ctx.contains("num_ctx: 8192"), "{default_ctx}");
    assert!(s.recorded("argv", 1).contains("--model-settings-file\n"));
}

#[test]
fn a_down_endpoint_or_a_missing_model_fails_fast_and_the_next_attempt_runs() {
    let s = Sandbox::new();
    let ollama = FakeOllama::start(&["qwen2.5-coder:7b"]);
    let down = closed_port_url();
    let task = s.task("t", "b");
    let started = Instant::now();
    let ran = run_with(
        &s,
        &format!(
            r#"
version: 1
name: fallback
steps:
  - id: solve
    retry:
      attempts:
        - {{ model: ollama_chat/qwen2.5-coder:7b, base: "{down}" }}
        - {{ model: ollama_chat/codellama:7b, base: "{up}" }}
        - {{ model: ollama_chat/qwen2.5-coder:7b, base: "{up}" }}
      steps:
        - id: code
          aider: {{ model: "{{{{ attempt.model }}}}", api_base: "{{{{ attempt.base }}}}", message: hi }}
"#,
            up = ollama.url
        ),
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    let report = s.report();
    let messages: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["message"].as_str().unwrap_or(""))
        .collect();
    assert!(
        messages[1].starts_with(&format!("Ollama endpoint {down} unreachable")),
        "{messages:?}"
    );
    assert_eq!(
        messages[2],
        format!(
            "model `codellama:7b` is not pulled at {} (run `ollama pull codellama:7b`); it has qwen2.5-coder:7b",
            ollama.url
        )
    );
    assert_eq!(
        s.statuses(),
        [
            "solve=success",
            "code@1=failure",
            "code@2=failure",
            "code@3=success"
        ]
    );
    // aider itself ran only for the third attempt.
    assert_eq!(s.recorded("argv", 2), "");
}

#[test]
fn an_attempt_that_changes_nothing_fails_unless_changes_are_optional() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = run_with(
        &s,
        r#"
version: 1
name: changes
env: { FAKE_AIDER_MODE: none }
steps:
  - { id: strict, continue_on_error: true, aider: { model: openai/m, message: hi } }
  - { id: relaxed, aider: { model: openai/m, message: hi, require_changes: false } }
  - { id: uncommitted, env: { FAKE_AIDER_MODE: uncommitted }, aider: { model: openai/m, message: hi } }
  - { id: empty, continue_on_error: true, env: { FAKE_AIDER_MODE: empty }, aider: { model: openai/m, message: hi, files: [new_module.py] } }
  - { id: dirty, continue_on_error: true, env: { FAKE_AIDER_MODE: dirty }, aider: { model: openai/m, message: hi } }
  - { id: seen, shell: "test {{ steps.strict.changed }} = false && test {{ steps.uncommitted.changed }} = true && test {{ steps.empty.changed }} = false" }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        s.statuses(),
        [
            "strict=failure",
            "relaxed=success",
            "uncommitted=success",
            "empty=failure",
            "dirty=failure",
            "seen=success"
        ]
    );
    assert_eq!(
        s.report()["steps"][0]["message"],
        "aider made no changes (no commit, no modified file)"
    );
}

#[test]
fn a_hanging_agent_is_killed_with_its_children() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let started = Instant::now();
    let ran = run_with(
        &s,
        r#"
version: 1
name: hang
env: { FAKE_AIDER_MODE: hang }
steps:
  - { id: code, timeout: 1s, aider: { model: openai/m, message: hi } }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 1);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(s.statuses(), ["code=timed_out"]);
    let child: i32 = s.recorded("child", 1).trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(child), "aider's child survived the timeout");
}

#[test]
fn paths_that_leave_the_checkout_are_refused_at_run_time() {
    let s = Sandbox::new();
    let outside = s.write("outside/secret.py", "TOKEN = 1\n");
    // Symlinks committed in the repository, so they are in the run's worktree too.
    std::os::unix::fs::symlink(outside.parent().unwrap(), s.repo().join("escape")).unwrap();
    std::os::unix::fs::symlink(&outside, s.repo().join("link.py")).unwrap();
    crate::support::git(&s.repo(), &["add", "-A"]);
    crate::support::git(&s.repo(), &["commit", "-qm", "symlinks"]);
    let task = s.task("t", "b");
    let ran = run_with(
        &s,
        r#"
version: 1
name: confine
vars: { up: "../outside/secret.py" }
steps:
  - { id: templated, continue_on_error: true, aider: { model: openai/m, message: hi, files: ["{{ vars.up }}"] } }
  - { id: dir-link, continue_on_error: true, aider: { model: openai/m, message: hi, files: ["escape/secret.py"] } }
  - { id: file-link, continue_on_error: true, aider: { model: openai/m, message: hi, files: ["*.py"] } }
"#,
        &task,
        &[],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let report = s.report();
    let messages: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["message"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        messages,
        [
            "`files` entry `../outside/secret.py` leaves the checkout (`..`)",
            "`files` entry `escape/secret.py` leads outside the checkout (symlink)",
            "`files` entry `link.py` leads outside the checkout (symlink)",
        ]
    );
    assert_eq!(s.recorded("argv", 1), "", "aider must not have run");
}

#[test]
fn a_missing_aider_binary_is_a_clear_failure() {
    let s = Sandbox::new();
    let task = s.task("t", "b");
    let ran = s.run(
        "version: 1\nname: x\nsteps:\n  - { id: code, aider: { model: openai/m, message: hi } }\n",
        &task,
        &[("CODINGWORKER_AIDER", "/nonexistent/aider")],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(
        s.report()["steps"][0]["message"],
        "failed to start `/nonexistent/aider`: No such file or directory (os error 2)"
    );
}
