//! `codingworker doctor` against a healthy setup (the fake model server, the fake GitHub,
//! moto) and a broken one (no aider, Ollama down, a model not pulled, a bad token, a queue
//! that does not answer).

use serde_json::Value;

use crate::support::fake_github::FakeGitHub;
use crate::support::fake_llm::{Behaviour, FakeLlm};
use crate::support::sqs::moto;
use crate::support::worker_setup::{FAKE_AWS_KEY_ID, FAKE_AWS_SECRET, TOKEN};
use crate::support::{Ran, Sandbox, closed_port_url, cw};

const PLAYBOOK: &str = r#"version: 1
name: doctor
steps:
  - id: solve
    retry:
      attempts:
        - { model: ollama_chat/qwen2.5-coder:7b }
        - { model: ollama_chat/codellama:7b }
      steps:
        - id: code
          aider: { model: "{{ attempt.model }}", message: "{{ issue.title }}" }
"#;

/// A fake `aider` that answers `--version` like the real one.
fn fake_aider(sb: &Sandbox) -> std::path::PathBuf {
    let path = sb.write("bin/aider", "#!/bin/sh\necho 'aider 0.86.2'\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn doctor(sb: &Sandbox, queue_url: &str, api: &str, env: &[(&str, &str)]) -> (Ran, Value) {
    sb.write("playbooks/p.yml", PLAYBOOK);
    let config = sb.write(
        "worker.yml",
        &format!(
            "queue_url: {queue_url}\nworkdir: {}\nallow: {{ repos: [\"acme/*\"] }}\ndefault_playbook: playbooks/p.yml\ngithub: {{ api_url: \"{api}\" }}\n",
            sb.workdir().display()
        ),
    );
    let mut c = cw();
    c.args(["doctor", "--format", "json", "--config"])
        .arg(&config)
        .env("HOME", sb.home())
        .env("AWS_ACCESS_KEY_ID", FAKE_AWS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", FAKE_AWS_SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_SQS", &moto().endpoint)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    let ran: Ran = c.output().unwrap().into();
    let json = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {ran:?}"));
    (ran, json)
}

/// `name=status` of every check.
fn statuses(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap();
            // Endpoints have ports that change: keep the kind of check.
            let name = if name.starts_with("ollama ") {
                "ollama"
            } else {
                name
            };
            format!("{name}={}", c["status"].as_str().unwrap())
        })
        .collect()
}

fn find<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

#[test]
fn a_healthy_setup_passes_every_check() {
    let sb = Sandbox::new();
    let llm = FakeLlm::start(&[
        ("qwen2.5-coder:7b", Behaviour::Nothing),
        ("codellama:7b", Behaviour::Nothing),
    ]);
    let gh = FakeGitHub::start(TOKEN);
    let queue = moto().queue(3);
    let aider = fake_aider(&sb);
    let (ran, report) = doctor(
        &sb,
        &queue.url,
        &gh.url,
        &[
            ("CODINGWORKER_AIDER", aider.to_str().unwrap()),
            ("OLLAMA_API_BASE", &llm.url),
            ("GITHUB_TOKEN", TOKEN),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    assert_eq!(report["ok"], true);
    let st = statuses(&report);
    for expected in [
        "git=ok",
        "aider=ok",
        "worker config=ok",
        "ollama=ok",
        "model ollama_chat/codellama:7b=ok",
        "model ollama_chat/qwen2.5-coder:7b=ok",
        "github=ok",
        "queue=ok",
        "redrive=ok",
        "permissions=ok",
    ] {
        assert!(
            st.contains(&expected.to_owned()),
            "{expected} missing: {st:?}"
        );
    }
    assert!(
        find(&report, "model ollama_chat/qwen2.5-coder:7b")["detail"]
            .as_str()
            .unwrap()
            .contains("context window 32768 tokens (the step uses 8192)")
    );
    assert!(
        find(&report, "github")["detail"]
            .as_str()
            .unwrap()
            .contains("scopes: repo, workflow")
    );
    assert!(
        find(&report, "aider")["detail"]
            .as_str()
            .unwrap()
            .starts_with("aider 0.86.2")
    );
}

#[test]
fn a_broken_setup_says_what_blocks_and_how_to_fix_each() {
    let sb = Sandbox::new();
    let gh = FakeGitHub::start(TOKEN);
    let down = closed_port_url();
    let (ran, report) = doctor(
        &sb,
        &format!("{down}/123456789012/nowhere"),
        &gh.url,
        &[
            ("CODINGWORKER_AIDER", "/nonexistent/aider"),
            ("OLLAMA_API_BASE", &down),
            ("GITHUB_TOKEN", "ghp_wrongTokenForDoctor000"),
        ],
    );
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    assert_eq!(report["ok"], false);
    for name in ["aider", "ollama", "github", "queue"] {
        let c = find(&report, name);
        assert_eq!(c["status"], "fail", "{c}");
        assert!(c["fix"].as_str().is_some_and(|f| !f.is_empty()), "{c}");
    }
    assert!(
        find(&report, "github")["detail"]
            .as_str()
            .unwrap()
            .contains("401")
    );
    assert_eq!(
        find(&report, "model ollama_chat/qwen2.5-coder:7b")["status"],
        "skip",
        "no model check against a server that is down"
    );

    // Ollama up, but a model not pulled.
    let llm = FakeLlm::start(&[("qwen2.5-coder:7b", Behaviour::Nothing)]);
    let (_, report) = doctor(
        &sb,
        &format!("{down}/q"),
        &gh.url,
        &[("OLLAMA_API_BASE", &llm.url)],
    );
    let missing = find(&report, "model ollama_chat/codellama:7b");
    assert_eq!(missing["status"], "fail");
    assert_eq!(missing["fix"], "ollama pull codellama:7b");
    assert_eq!(
        find(&report, "model ollama_chat/qwen2.5-coder:7b")["status"],
        "ok"
    );
    assert!(
        find(&report, "github")["detail"]
            .as_str()
            .unwrap()
            .contains("no token in $GITHUB_TOKEN")
    );
}

#[test]
fn the_human_report_reads_as_a_checklist() {
    let sb = Sandbox::new();
    let ran: Ran = cw()
        .arg("doctor")
        .env("HOME", sb.home())
        .env("CODINGWORKER_AIDER", "/nonexistent/aider")
        .env("OLLAMA_API_BASE", closed_port_url())
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 1);
    let lines: Vec<String> = ran
        .stdout
        .lines()
        .map(|l| {
            // What depends on the machine: versions, sizes, ports, the column width, and
            // whether this machine has room.
            if l.contains(" disk ") || l.contains(" memory ") {
                return l.split_whitespace().nth(1).unwrap_or("").to_owned() + ": (this machine)";
            }
            let l = regex_lite_replace(&l.replace(sb.path().to_str().unwrap(), "[SANDBOX]"));
            l.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect();
    insta::assert_snapshot!("doctor_human_without_config", lines.join("\n"));
}

/// Masks the parts of a line that differ between machines.
fn regex_lite_replace(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|n| n.is_ascii_digit() || *n == '.')
            {
                chars.next();
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn repo_checks_name_the_toolchains_a_repository_needs_and_how_to_get_them() {
    let sb = Sandbox::new();
    let go = sb.write("go-repo/go.mod", "module example.com/x\n");
    let c_repo = sb.write("c-repo/Makefile", "test:\n\t./run-tests\n");
    let empty = sb.write("docs-repo/README.md", "# docs\n");
    let bin = sb.path().join("only-make");
    std::fs::create_dir_all(&bin).unwrap();
    let make = ["/usr/bin/make", "/bin/make"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap();
    std::os::unix::fs::symlink(make, bin.join("make")).unwrap();
    let ran: Ran = cw()
        .args(["doctor", "--format", "json", "--repo"])
        .arg(go.parent().unwrap())
        .arg("--repo")
        .arg(c_repo.parent().unwrap())
        .arg("--repo")
        .arg(empty.parent().unwrap())
        .env("HOME", sb.home())
        // A PATH with make and no Go.
        .env("PATH", &bin)
        .output()
        .unwrap()
        .into();
    let report: Value = serde_json::from_str(&ran.stdout).unwrap();
    let go = find(&report, "repo ");
    assert_eq!(go["status"], "fail", "{go}");
    assert_eq!(go["detail"], "go (go) needs go, which this PATH lacks");
    assert_eq!(
        go["fix"],
        "go: install Go (https://go.dev/dl, or `brew install go`)"
    );
    let checks = report["checks"].as_array().unwrap();
    let repo = |i: usize| {
        &checks
            .iter()
            .filter(|c| c["name"].as_str().unwrap().starts_with("repo "))
            .nth(i)
            .unwrap()["status"]
    };
    assert_eq!(repo(1), "ok", "{report:#}");
    assert_eq!(repo(2), "warn", "{report:#}");
    assert_eq!(ran.code, 1, "a missing toolchain blocks");
}
