//! `codingworker init`: write a starter `.codingworker.yml` for a repository. Its setup and
//! test commands are the ones `codingworker project` finds (`project.setup`, `project.test`,
//! found again when each run starts), and aider gets the files each issue is about (`files: auto`).

use std::path::Path;

use crate::error::{Error, Outcome};
use crate::project::{Ecosystem, Project, Tools};

/// Where the committed playbook schema is published, for editors.
pub const SCHEMA_URL: &str =
    "https://raw.githubusercontent.com/OkadaSatoshi/codingworker/main/schemas/playbook.schema.json";

/// The starter playbook for a project.
pub fn starter(project: &Project) -> String {
    let name = project.ecosystem.map_or("unknown", Ecosystem::name);
    let found: Vec<String> = std::iter::once(match project.ecosystem {
        Some(e) => format!(
            "# Found now: {} ({}), {}.",
            e.name(),
            project.manager.as_deref().unwrap_or("?"),
            if project.root == "." {
                "at the top of the repository".to_owned()
            } else {
                format!("in {}/", project.root)
            }
        ),
        None => "# Found now: no project; set the setup and test steps' commands yourself.".into(),
    })
    .chain(
        project
            .setup
            .iter()
            .map(|c| format!("#   setup: {}", one_line(&c.run))),
    )
    .chain(
        project
            .test
            .iter()
            .map(|c| format!("#   test:  {}", one_line(&c.run))),
    )
    .collect();
    format!(
        r#"# yaml-language-server: $schema={SCHEMA_URL}
# How codingworker turns issues labelled `auto-code` into pull requests in this repository.
# Reference: https://github.com/OkadaSatoshi/codingworker/blob/main/docs/playbook.md
# Check it:  codingworker validate .codingworker.yml
# Try it:    codingworker run .codingworker.yml --issue issue.json --dry-run
#
# `project.setup` and `project.test` are how this repository installs and tests itself, found
# when each run starts (its CI workflow, else its manifests): `codingworker project` shows
# them and why. Write your own commands in their place to pin them.
{found}
version: 1
name: {name}-aider
description: set up and test the repository, then aider with local models (Ollama), falling back to smaller ones, until the tests pass
secrets: [GEMINI_API_KEY]   # only used by the last attempt; leave unset to skip it
timeout: 1h
steps:
  - id: setup
    shell: "{{{{ project.setup }}}}"
    timeout: 20m
  - id: baseline
    shell: |
      {{% if project.test %}}{{{{ project.test }}}}{{% else %}}echo "no test command found: set one here" >&2; exit 1{{% endif %}}
    continue_on_error: true
    timeout: 10m
  - id: runnable
    # The tests ran before any change when their runner counted some (else: when they passed).
    if: success() and not (steps.baseline.tests.ran > 0 if steps.baseline.tests else steps.baseline.ok)
    shell: echo "the tests cannot run on the untouched checkout; no model was asked" >&2; exit 1
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
            # The files the issue is about, ranked and fitted to the model's window
            # (`run --dry-run` shows which and why); or a list of paths and globs.
            files: auto
        - id: test
          shell: |
            {{% if project.test %}}{{{{ project.test }}}}{{% else %}}exit 1{{% endif %}}
          # Tests that failed before any change may still fail: no new failures is a pass.
          baseline: baseline
          timeout: 10m
  - id: pr
    if: always() and steps.solve.status != "skipped"
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
        {{% if steps.solve.status == "skipped" %}}codingworker did not try: the repository's setup or tests failed before any change.{{% else %}}codingworker could not solve this issue; the draft pull request has what it tried.{{% endif %}}

        {{{{ run.summary }}}}
"#,
        found = found.join("\n"),
    )
}

fn one_line(s: &str) -> String {
    crate::text::printable(&s.replace('\n', " "))
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
    let tools = Tools::from_path(std::env::var("PATH").ok().as_deref());
    let project = crate::project::detect(dir, &tools);
    std::fs::write(&path, starter(&project))
        .map_err(Error::io(format!("failed to write {}", path.display())))?;
    let mut out = format!("wrote {}\n", path.display());
    out.push_str(&super::project::describe(&project));
    out.push_str(&format!("next: codingworker validate {}\n", path.display()));
    super::print_stdout(&out);
    Ok(Outcome::Success)
}
