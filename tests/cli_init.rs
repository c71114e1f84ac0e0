//! `codingworker init`: a starter playbook per ecosystem, valid as written, explained.

use crate::support::cw;

#[test]
fn writes_a_valid_starter_for_each_toolchain() {
    for (marker, expect) in [
        (Some("Cargo.toml"), "cargo test"),
        (Some("go.mod"), "go test -v ./..."),
        (Some("package.json"), "npm install"),
        (Some("pyproject.toml"), "python3 -m pytest"),
        (Some("test_calc.py"), "python3 -m pytest"),
        (None, "no project found"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        if let Some(m) = marker {
            std::fs::write(dir.path().join(m), "").unwrap();
        }
        let out = cw()
            .args(["init", "--dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{marker:?}: {stdout}");
        assert!(stdout.contains(expect), "{marker:?}: {stdout}");
        let written = dir.path().join(".codingworker.yml");
        let v = cw().arg("validate").arg(&written).output().unwrap();
        assert!(
            v.status.success(),
            "{marker:?}: {}",
            String::from_utf8_lossy(&v.stdout)
        );
        assert!(
            String::from_utf8_lossy(&v.stdout).ends_with(": valid\n"),
            "no warnings expected"
        );
    }
}

#[test]
fn mentions_every_toolchain_it_finds_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
    std::fs::write(dir.path().join("package.json"), "{}").unwrap();
    let out = cw()
        .args(["init", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace(dir.path().to_str().unwrap(), "[DIR]");
    insta::assert_snapshot!(text);
    let again = cw()
        .args(["init", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists; pass --force"));
    let forced = cw()
        .args(["init", "--force", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(forced.status.success());
}
