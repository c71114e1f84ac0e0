//! `codingworker init`: write a starter `.codingworker.yml` for a repository, with the test
//! command and source globs of the toolchain it finds (cargo, go, npm, pytest).

use std::path::Path;

use crate::error::{Error, Outcome};

/// Where the committed playbook schema is published, for editors.
pub const SCHEMA_URL: &str =
    "https://raw.githubusercontent.com/OkadaSatoshi/codingworker/main/schemas/playbook.schema.json";

/// A toolchain `init` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    Cargo,
    Go,
    Npm,
    Pytest,
    Unknown,
}

impl Toolchain {
    fn name(self) -> &'static str {
        match self {
            Toolchain::Cargo => "cargo",
            Toolchain::Go => "go",
            Toolchain::Npm => "npm",
            Toolchain::Pytest => "pytest",
            Toolchain::Unknown => "unknown",
        }
    }

    fn test_cmd(self) -> &'static str {
        match self {
            Toolchain::Cargo => "cargo test",
            Toolchain::Go => "go test ./...",
            Toolchain::Npm => "npm test",
            Toolchain::Pytest => "python3 -m pytest -q",
            Toolchain::Unknown => {
                "echo 'codingworker: set vars.test_cmd in .codingworker.yml' >&2; exit 1"
            }
        }
    }

    fn files(self) -> &'static [&'static str] {
        match self {
            Toolchain::Cargo => &["src/**/*.rs", "tests/**/*.rs"],
            Toolchain::Go => &["**/*.go"],
            Toolchain::Npm => &["src/**/*.{js,ts,jsx,tsx}", "test/**/*.{js,ts}"],
            Toolchain::Pytest => &["**/*.py"],
            Toolchain::Unknown => &[],
        }
    }
}

/// The toolchains a directory shows, most specific first.
pub fn detect(dir: &Path) -> Vec<Toolchain> {
    let has = |f: &str| dir.join(f).exists();
    let mut found = Vec::new();
    if has("Cargo.toml") {
        found.push(Toolchain::Cargo);
    }
    if has("go.mod") {
        found.push(Toolchain::Go);
    }
    if has("package.json") {
        found.push(Toolchain::Npm);
    }
    let python_tests = || {
        dir.join("tests").is_dir()
            || std::fs::read_dir(dir).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.ends_with(".py")
                        && (name.starts_with("test_") || name.ends_with("_test.py"))
                })
            })
    };
    if [
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "pytest.ini",
        "tox.ini",
        "requirements.txt",
    ]
    .iter()
    .any(|f| has(f))
        || python_tests()
    {
        found.push(Toolchain::Pytest);
    }
    found
}

/// The starter playbook for a toolchain.
pub fn starter(tc: Toolchain) -> String {
    let files = if tc.files().is_empty() {
        "[]".to_owned()
    } else {
        format!(
            "[{}]",
            tc.files()
                .iter()
                .map(|f| format!("\"{f}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let test_cmd = serde_json::to_string(tc.test_cmd()).expect("a string serializes");
    format!(
        r#"# yaml-language-server: $schema={SCHEMA_URL}
# How codingworker turns issues labelled `auto-code` into pull requests in this repository.
# Reference: https://github.com/OkadaSatoshi/codingworker/blob/main/docs/playbook.md
# Check it:  codingworker validate .codingworker.yml
# Try it:    codingworker run .codingworker.yml --issue issue.json --dry-run
version: 1
name: {name}-aider
description: {description}
vars:
  test_cmd: {test_cmd}
secrets: [GEMINI_API_KEY]   # only used by the last attempt; leave unset to skip it
timeout: 1h
steps:
  - id: solve
    retry:
      attempts:
        - model: ollama_chat/qwen2.5-coder:7b
        - model: ollama_chat/codellama:7b
        - model: ollama_chat/qwen2.5-coder:3b
        - model: gemini/gemini-2.0-flash
          env: {{ GEMINI_API_KEY: "{{{{ secrets.GEMINI_API_KEY }}}}" }}
      until: steps.test.ok
      steps:
        - id: code
          aider:
            model: "{{{{ attempt.model }}}}"
            message: |
              {{{{ issue.title }}}}

              {{{{ issue.body }}}}
              {{% if attempt.number > 1 %}}
              The previous attempt failed its tests:
              {{{{ steps.test.output | tail(60) }}}}
              {{% endif %}}
            files: {files}
        - id: test
          shell: "{{{{ vars.test_cmd }}}}"
          timeout: 10m
  - id: pr
    if: always()
    pr_open:
      title: "{{{{ issue.title }}}}"
      body: |
        Closes #{{{{ issue.number }}}}

        {{{{ run.summary }}}}
      draft: "{{{{ not steps.solve.ok }}}}"
  - id: tell
    if: failure()
    comment:
      body: |
        codingworker could not solve this issue; the draft pull request has what it tried.

        {{{{ run.summary }}}}
"#,
        name = tc.name(),
        description = serde_json::to_string(&format!(
            "aider with local models (Ollama), falling back to smaller ones, until `{}` passes",
            tc.test_cmd()
        ))
        .expect("a string serializes"),
    )
}

pub fn init(dir: &Path, force: bool) -> Result<Outcome, Error> {
    if !dir.is_dir() {
        return Err(Error::Setup(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let path = dir.join(".codingworker.yml");
    if path.exists() && !force {
        return Err(Error::Setup(format!(
            "{} already exists; pass --force to replace it",
            path.display()
        )));
    }
    let found = detect(dir);
    let tc = found.first().copied().unwrap_or(Toolchain::Unknown);
    std::fs::write(&path, starter(tc))
        .map_err(Error::io(format!("failed to write {}", path.display())))?;
    match tc {
        Toolchain::Unknown => println!(
            "wrote {}: no cargo, go, npm or pytest project found; set `vars.test_cmd` and `files` yourself",
            path.display()
        ),
        _ => println!(
            "wrote {} for {} (tests: `{}`)",
            path.display(),
            tc.name(),
            tc.test_cmd()
        ),
    }
    if found.len() > 1 {
        let others: Vec<&str> = found[1..].iter().map(|t| t.name()).collect();
        println!(
            "also found: {} (edit `vars.test_cmd` to run those tests too)",
            others.join(", ")
        );
    }
    println!("next: codingworker validate {}", path.display());
    Ok(Outcome::Success)
}
