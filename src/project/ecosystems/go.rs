//! Go: a module (`go.mod`) or a workspace (`go.work`); `go mod download`, `go test`.

use super::super::dir::{Dir, plain_name};
use super::super::model::{Command, Ecosystem, Found};

pub(super) fn at(dir: &Dir, sub: &str) -> Option<Found> {
    let module = dir.is_file(sub, "go.mod");
    let work = dir.is_file(sub, "go.work");
    if !module && !work {
        return None;
    }
    let mut notes = Vec::new();
    let mut members = Vec::new();
    if work {
        match dir.read(sub, "go.work") {
            Ok(Some(text)) => members = uses(&text),
            Ok(None) => {}
            Err(why) => notes.push(why),
        }
    }
    let mut evidence: Vec<String> = Vec::new();
    if module {
        evidence.push("go.mod".into());
    }
    if work {
        evidence.push("go.work".into());
    }
    let (test, why) = if work && !members.is_empty() {
        // In workspace mode one `go test` takes the packages of every module it uses.
        let patterns: Vec<String> = members
            .iter()
            .filter(|m| plain_name(m))
            .map(|m| {
                if m == "." {
                    "./...".to_owned()
                } else {
                    format!("./{m}/...")
                }
            })
            .collect();
        (
            format!("go test -v {}", patterns.join(" ")),
            "every module go.work uses",
        )
    } else {
        (
            "go test -v ./...".to_owned(),
            "every package of the module (-v: each test's result is printed, so they can be counted)",
        )
    };
    Some(Found {
        root: ".".into(),
        ecosystem: Ecosystem::Go,
        manager: "go".into(),
        evidence,
        members,
        setup: vec![Command::new(
            "go mod download",
            "download the modules before the tests' time limit starts",
        )],
        test: Some(Command::new(test, why)),
        needs: vec!["go".into()],
        notes,
    })
}

/// The folders a go.work `use`s (`use ./a` and `use ( ./a ./b )`).
fn uses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block = false;
    for line in text
        .lines()
        .map(|l| l.split("//").next().unwrap_or("").trim())
    {
        let dir = if block {
            if line == ")" {
                block = false;
                continue;
            }
            line
        } else if let Some(rest) = line.strip_prefix("use") {
            let rest = rest.trim();
            if rest == "(" {
                block = true;
                continue;
            }
            rest
        } else {
            continue;
        };
        let dir = dir
            .trim_matches('"')
            .trim_start_matches("./")
            .trim_end_matches('/');
        if !dir.is_empty() {
            out.push(if dir == "." || dir.is_empty() {
                ".".into()
            } else {
                dir.to_owned()
            });
        }
    }
    out.truncate(64);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_use_lines_and_blocks() {
        assert_eq!(
            super::uses("go 1.22\nuse ./tools\nuse (\n  ./api // the API\n  .\n)\n"),
            vec!["tools", "api", "."]
        );
    }
}
