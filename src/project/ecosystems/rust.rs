//! Rust: a crate or a cargo workspace (a virtual one too); `cargo fetch`, `cargo test`.

use super::super::dir::Dir;
use super::super::model::{Command, Ecosystem, Found};

pub(super) fn at(dir: &Dir, sub: &str) -> Option<Found> {
    if !dir.is_file(sub, "Cargo.toml") {
        return None;
    }
    let mut notes = Vec::new();
    let manifest = match dir.read(sub, "Cargo.toml") {
        Ok(Some(text)) => text
            .parse::<toml::Table>()
            .map_err(|e| {
                notes.push(format!(
                    "Cargo.toml does not parse ({}); cargo will say more",
                    e.message()
                ));
            })
            .ok(),
        Ok(None) => None,
        Err(why) => {
            notes.push(why);
            None
        }
    };
    let workspace = manifest
        .as_ref()
        .and_then(|m| m.get("workspace"))
        .and_then(|w| w.as_table());
    let package = manifest.as_ref().is_some_and(|m| m.contains_key("package"));
    let members = workspace
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .map(|m| super::plain_members(m.iter().filter_map(|v| v.as_str())))
        .unwrap_or_default();
    let mut evidence = vec!["Cargo.toml".to_owned()];
    if dir.is_file(sub, "Cargo.lock") {
        evidence.push("Cargo.lock".into());
    }
    let (test, why) = match (workspace.is_some(), package) {
        (true, false) => (
            "cargo test --workspace",
            "a virtual cargo workspace: every member",
        ),
        (true, true) => ("cargo test --workspace", "a cargo workspace: every member"),
        _ => ("cargo test", "a cargo package"),
    };
    Some(Found {
        root: ".".into(),
        ecosystem: Ecosystem::Rust,
        manager: "cargo".into(),
        evidence,
        members,
        setup: vec![Command::new(
            "cargo fetch",
            "download the dependencies before the tests' time limit starts",
        )],
        test: Some(Command::new(test, why)),
        needs: vec!["cargo".into()],
        notes,
    })
}
