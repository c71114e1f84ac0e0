//! C and C++: a Makefile with a `test` or `check` target, or CMake with CTest (built in
//! `$CW_SETUP_DIR/cmake`, outside the checkout).

use super::super::dir::Dir;
use super::super::model::{Command, Ecosystem, Found};
use super::SETUP_DIR;

pub(super) fn make(dir: &Dir, sub: &str) -> Option<Found> {
    let file = ["GNUmakefile", "makefile", "Makefile"]
        .into_iter()
        .find(|f| dir.is_file(sub, f))?;
    let mut notes = Vec::new();
    let text = match dir.read(sub, file) {
        Ok(t) => t.unwrap_or_default(),
        Err(why) => {
            notes.push(why);
            String::new()
        }
    };
    let target = ["test", "check"].into_iter().find(|t| has_target(&text, t));
    if target.is_none() {
        notes.push(format!("{file} has no `test` or `check` target"));
    }
    Some(Found {
        root: ".".into(),
        ecosystem: Ecosystem::Make,
        manager: "make".into(),
        evidence: vec![file.to_owned()],
        members: Vec::new(),
        setup: Vec::new(),
        test: target
            .map(|t| Command::new(format!("make {t}"), format!("the `{t}` target of {file}"))),
        needs: vec!["make".into()],
        notes,
    })
}

/// Whether a makefile defines `target` (a rule line `target:` or `a target b:`).
fn has_target(text: &str, target: &str) -> bool {
    text.lines().any(|line| {
        !line.starts_with('\t')
            && line.split_once(':').is_some_and(|(names, rest)| {
                !rest.starts_with('=') && names.split_whitespace().any(|n| n == target)
            })
    })
}

pub(super) fn cmake(dir: &Dir, sub: &str) -> Option<Found> {
    if !dir.is_file(sub, "CMakeLists.txt") {
        return None;
    }
    let tests = matches!(dir.read(sub, "CMakeLists.txt"), Ok(Some(t)) if t.contains("enable_testing") || t.contains("add_test") || t.contains("CTest"));
    let build = format!("\"{SETUP_DIR}/cmake\"");
    Some(Found {
        root: ".".into(),
        ecosystem: Ecosystem::Cmake,
        manager: "cmake".into(),
        evidence: vec!["CMakeLists.txt".into()],
        members: Vec::new(),
        setup: vec![
            Command::new(
                format!("cmake -S . -B {build}"),
                "configure outside the checkout",
            ),
            Command::new(format!("cmake --build {build} --parallel"), "build"),
        ],
        test: tests.then(|| {
            Command::new(
                format!("ctest --test-dir {build} --output-on-failure"),
                "CTest (CMakeLists.txt enables testing)",
            )
        }),
        needs: vec!["cmake".into(), "ctest".into()],
        notes: if tests {
            Vec::new()
        } else {
            vec!["CMakeLists.txt enables no tests".into()]
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_rule_targets_not_variables() {
        assert!(super::has_target("all: lib\ntest: all\n\t./run\n", "test"));
        assert!(super::has_target(".PHONY: x\ncheck test: build\n", "test"));
        assert!(!super::has_target("test := 1\n\ttest: x\n", "test"));
        assert!(!super::has_target("testing: x\n", "test"));
    }
}
