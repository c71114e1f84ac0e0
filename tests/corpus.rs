//! The hostile corpus (tests/corpus): every issue of `issues/` through every playbook of
//! `playbooks/valid/` runs nothing it holds and reaches every step byte for byte; every
//! playbook of `playbooks/invalid/` is refused by `validate` with the code its first line
//! names, and by `run` before anything runs. Add a file there and every change meets it.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{Ran, Sandbox, cw, pwned, root, walk};

fn corpus(sub: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/corpus").join(sub))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "tests/corpus/{sub} is empty");
    files
}

#[test]
fn every_hostile_issue_stays_data_in_every_valid_playbook() {
    for playbook in corpus("playbooks/valid") {
        for issue in corpus("issues") {
            let what = format!("{} × {}", playbook.display(), issue.display());
            let s = Sandbox::new();
            let ran = s.run_file(&playbook, &issue, &[], &[]);
            assert_eq!(ran.code, 0, "{what}\n{}\n{}", ran.stdout, ran.stderr);
            assert_eq!(
                pwned(s.path()),
                Vec::<PathBuf>::new(),
                "{what}: issue text ran"
            );
            let task: Value =
                serde_json::from_str(&std::fs::read_to_string(&issue).unwrap()).unwrap();
            let title = task["issue"]["title"].as_str().unwrap();
            let body = task["issue"]["body"].as_str().unwrap();
            let labels = serde_json::to_string(&task["issue"]["labels"]).unwrap();
            let out = s.worktree().join("corpus-out");
            let mut checked = 0;
            for file in walk(&out) {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                let got = std::fs::read_to_string(&file).unwrap();
                let mut want = if name.starts_with("title-") {
                    title.to_owned()
                } else if name.starts_with("body-") {
                    body.to_owned()
                } else if name == "labels-json.txt" {
                    labels.clone()
                } else {
                    continue;
                };
                if name.ends_with("-nl.txt") {
                    want.push('\n');
                }
                assert_eq!(got, want, "{what}: {name}");
                checked += 1;
            }
            assert!(checked >= 15, "{what}: only {checked} outputs checked");
        }
    }
}

#[test]
fn every_hostile_playbook_is_refused_with_its_reason() {
    let issue = root().join("tests/corpus/issues/shell-metacharacters.json");
    for playbook in corpus("playbooks/invalid") {
        let text = std::fs::read_to_string(&playbook).unwrap();
        let code = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: no `# expect: CODE` line", playbook.display()));
        let ran: Ran = cw()
            .args(["validate", "--format", "json"])
            .arg(&playbook)
            .output()
            .unwrap()
            .into();
        assert_eq!(ran.code, 1, "{}: {}", playbook.display(), ran.stdout);
        let report: Value = serde_json::from_str(&ran.stdout).unwrap();
        let codes: Vec<&str> = report["files"][0]["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(&code), "{}: {codes:?}", playbook.display());

        let s = Sandbox::new();
        let ran = s.run_file(&playbook, &issue, &[], &[]);
        assert_eq!(ran.code, 2, "{}: {}", playbook.display(), ran.stderr);
        assert_eq!(pwned(s.path()), Vec::<PathBuf>::new());
    }
}
