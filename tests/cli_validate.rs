//! `codingworker validate`: every kind of mistake, reported with position, all at once.

use crate::support::{cw, redactions, root};

fn validate(args: &[&str]) -> crate::support::Ran {
    cw().arg("validate").args(args).output().unwrap().into()
}

#[test]
fn invalid_playbooks_are_reported_with_positions() {
    insta::glob!("fixtures/invalid/*.yml", |path| {
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let ran = validate(&[&rel]);
        assert_eq!(
            ran.code, 1,
            "{rel} must be invalid (exit 1):\n{}{}",
            ran.stdout, ran.stderr
        );
        assert!(
            ran.stdout.contains(&format!("--> {rel}:")) || rel.ends_with("empty.yml"),
            "{rel}: no position:\n{}",
            ran.stdout
        );
        insta::assert_snapshot!(ran.stdout);
    });
}

#[test]
fn valid_playbooks_pass_and_show_their_warnings() {
    insta::glob!("fixtures/valid/*.yml", |path| {
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let ran = validate(&[&rel]);
        assert_eq!(ran.code, 0, "{rel}:\n{}{}", ran.stdout, ran.stderr);
        insta::assert_snapshot!(ran.stdout);
    });
}

#[test]
fn json_format_lists_every_diagnostic() {
    let ran = validate(&[
        "--format",
        "json",
        "tests/fixtures/invalid/many-errors.yml",
        "playbooks/python.yml",
    ]);
    assert_eq!(ran.code, 1);
    let v: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["files"][1]["valid"], true);
    insta::assert_json_snapshot!(v);
}

#[test]
fn unreadable_files_exit_2_after_checking_the_others() {
    let ran = validate(&[
        "tests/fixtures/invalid/bad-id.yml",
        "no/such/file.yml",
        "playbooks/python.yml",
    ]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("error: failed to read no/such/file.yml"),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.contains("bad-id.yml: invalid"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("playbooks/python.yml: valid"),
        "{}",
        ran.stdout
    );

    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("binary.yml");
    std::fs::write(&binary, b"version: 1\nname: \xff\xfe\n").unwrap();
    let ran = validate(&[binary.to_str().unwrap()]);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("not UTF-8"), "{}", ran.stderr);
}

#[test]
fn valid_files_exit_0() {
    let ran = validate(&[
        "playbooks/default.yml",
        "playbooks/python.yml",
        "playbooks/rust.yml",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    let _ = redactions(&[]);
}
