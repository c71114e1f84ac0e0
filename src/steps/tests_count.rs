//! Test counts from a test runner's own summary lines (`steps.<id>.tests`): pytest and
//! unittest, cargo, go test, jest, vitest, mocha, node's test runner, ctest. Output that
//! shows none of them has no counts (the step's exit code is all there is). Where the runner
//! names its failing tests (pytest, unittest, cargo, go, node's TAP, jest, vitest), the names
//! are kept too: a step with a `baseline` compares them with the tests that failed before
//! any change.

use std::collections::BTreeMap;

use minijinja::Value;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// At most this many failing tests are named, each in at most this many characters.
const MAX_NAMES: usize = 500;
const MAX_NAME: usize = 300;

/// How many tests ran, passed, failed and were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCounts {
    pub ran: u64,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// The failing tests the runner named (at most 500).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl TestCounts {
    pub fn to_value(&self) -> Value {
        Value::from(BTreeMap::from([
            ("ran", Value::from(self.ran)),
            ("passed", Value::from(self.passed)),
            ("failed", Value::from(self.failed)),
            ("skipped", Value::from(self.skipped)),
            ("failures", Value::from(self.failures.clone())),
        ]))
    }

    /// `steps.<id>.tests` read back (a baseline's counts, from the template context).
    pub fn from_value(v: &Value) -> Option<TestCounts> {
        let n = |k: &str| v.get_attr(k).ok().and_then(|x| u64::try_from(x).ok());
        let failures = v
            .get_attr("failures")
            .ok()
            .and_then(|list| list.try_iter().ok())
            .map(|items| {
                items
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Some(TestCounts {
            ran: n("ran")?,
            passed: n("passed")?,
            failed: n("failed")?,
            skipped: n("skipped")?,
            failures,
        })
    }

    /// Why these results are no worse than `before`'s (the same tests run before any
    /// change): every failing test is named and failed there too, and no fewer pass. `None`
    /// when that cannot be said.
    pub fn no_new_failures(&self, before: &TestCounts) -> Option<String> {
        // Every failure named, and nothing else: a stray line that looks like a name
        // (a captured log's `ERROR`) makes the comparison unsure, so it does not pass.
        let named = self.failed > 0 && self.failures.len() as u64 == self.failed;
        let old = self.failures.iter().all(|f| before.failures.contains(f));
        (named && old && self.passed >= before.passed).then(|| {
            format!(
                "{} failing test{} failed before any change too; no new failures",
                self.failed,
                if self.failed == 1 { "" } else { "s" }
            )
        })
    }

    fn add(&mut self, other: TestCounts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.ran = self.passed + self.failed;
    }
}

/// The counts in `output`, summed over every summary line found (a workspace prints one per
/// crate); `None` when no runner's summary is there.
pub fn parse(output: &str) -> Option<TestCounts> {
    parse_lines(output.lines())
}

/// [`parse`] over the lines of a step's whole log, when its output was more than the kept
/// tail (a long `go test -v`): counts from a cut-off output would miss tests.
pub fn parse_file(path: &std::path::Path) -> Option<TestCounts> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).ok()?;
    parse_lines(
        std::io::BufReader::new(file)
            .split(b'\n')
            .map_while(Result::ok)
            .map(|l| String::from_utf8_lossy(&l).into_owned()),
    )
}

fn parse_lines<S: AsRef<str>>(lines: impl Iterator<Item = S>) -> Option<TestCounts> {
    let mut total = TestCounts::default();
    let mut found = false;
    let mut names = Vec::new();
    let mut interrupted = false;
    for line in lines {
        let line = line.as_ref();
        // go: a package that did not build ran none of its tests, and says so only here.
        if line.contains("[build failed]") || line.contains("[setup failed]") {
            return None;
        }
        // pytest stopped at collection errors: no test ran, whatever the errors count.
        if line.starts_with("!!!") && line.contains("Interrupted:") {
            interrupted = true;
        }
        let line = strip_ansi(line);
        let line = line.trim();
        if let Some(name) = failure_name(line)
            && names.len() < MAX_NAMES
            && !names.contains(&name)
        {
            names.push(name);
        }
        if let Some(rest) = line.strip_prefix("FAILED (").filter(|_| found) {
            // unittest's verdict after `Ran N tests`: move failures out of the passes.
            let failed: u64 = rest
                .trim_end_matches(')')
                .split(", ")
                .filter_map(|kv| kv.split_once('='))
                .filter(|(k, _)| matches!(*k, "failures" | "errors"))
                .filter_map(|(_, v)| v.parse::<u64>().ok())
                .sum();
            let moved = failed.min(total.passed);
            total.passed -= moved;
            total.failed += failed;
            total.ran = total.passed + total.failed;
            continue;
        }
        if let Some(c) = line_counts(line) {
            total.add(c);
            found = true;
        }
    }
    total.failures = names;
    if interrupted {
        total.passed = 0;
        total.ran = 0;
    }
    found.then_some(total)
}

/// The test a line names as failing: pytest's `FAILED a.py::t - why` and `ERROR a.py::t`,
/// unittest's `FAIL: t (m.C.t)`, cargo's `test t ... FAILED`, go's `--- FAIL: TestT`, TAP's
/// `not ok 3 - t`, jest's `✕ t`, vitest's `× t`.
fn failure_name(line: &str) -> Option<String> {
    let name = if let Some(rest) = line
        .strip_prefix("FAILED ")
        .or_else(|| line.strip_prefix("ERROR "))
    {
        // Not unittest's verdict, `FAILED (failures=1)`.
        rest.split(" - ").next().filter(|n| !n.starts_with('('))?
    } else if let Some(rest) = line
        .strip_prefix("FAIL: ")
        .or_else(|| line.strip_prefix("ERROR: "))
    {
        // unittest names a test and its class: `test_x (m.C.test_x)`; tox's and pip's
        // `ERROR: …` lines are not tests.
        let (test, class) = rest.split_once(" (")?;
        if test.contains(char::is_whitespace) || !class.ends_with(')') {
            return None;
        }
        rest
    } else if let Some(rest) = line
        .strip_prefix("test ")
        .and_then(|r| r.strip_suffix(" ... FAILED"))
    {
        rest
    } else if let Some(rest) = line.strip_prefix("--- FAIL: ") {
        rest.split(" (").next()?
    } else if let Some(rest) = line.strip_prefix("not ok ") {
        rest.split_once(" - ")?.1.split(" # ").next()?
    } else if let Some(rest) = line.strip_prefix("✕ ").or_else(|| line.strip_prefix("× ")) {
        rest.rsplit_once(" (").map_or(rest, |(n, _)| n)
    } else {
        return None;
    };
    let name = name.trim();
    (!name.is_empty()).then(|| name.chars().take(MAX_NAME).collect())
}

/// The number before `word` in `text` (`3 passed` → 3).
fn count_before(text: &str, words: &[&str]) -> u64 {
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '|' | '(' | ')'))
        .filter(|t| !t.is_empty())
        .collect();
    tokens
        .windows(2)
        .filter(|w| words.contains(&w[1]))
        .filter_map(|w| w[0].parse::<u64>().ok())
        .sum()
}

/// The counts of `text`, when it holds at least one number before one of the words (a
/// line such as `echo "Tests passed"` counts nothing).
fn counted(text: &str, passed: &[&str], failed: &[&str], skipped: &[&str]) -> Option<TestCounts> {
    let all: Vec<&str> = passed
        .iter()
        .chain(failed)
        .chain(skipped)
        .copied()
        .collect();
    let has_number = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '|' | '(' | ')'))
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| all.contains(&w[1]) && w[0].parse::<u64>().is_ok());
    has_number.then(|| TestCounts {
        passed: count_before(text, passed),
        failed: count_before(text, failed),
        skipped: count_before(text, skipped),
        ..TestCounts::default()
    })
}

fn line_counts(line: &str) -> Option<TestCounts> {
    // cargo: `test result: ok. 5 passed; 0 failed; 1 ignored; ...`
    if let Some(rest) = line.strip_prefix("test result:") {
        return counted(rest, &["passed"], &["failed"], &["ignored"]);
    }
    // pytest: `==== 1 failed, 4 passed, 2 skipped in 0.12s ====` (also `no tests ran`).
    if line.starts_with('=')
        && line.ends_with('=')
        && (line.contains(" in ") || line.contains("no tests ran"))
    {
        let inner = line.trim_matches('=');
        if inner.contains("no tests ran") {
            return Some(TestCounts::default());
        }
        if let Some(c) = counted(
            inner,
            &["passed", "xpassed"],
            &["failed", "error", "errors"],
            &["skipped", "xfailed", "deselected"],
        ) {
            return Some(c);
        }
    }
    // jest: `Tests:       1 failed, 5 passed, 6 total`; vitest: `Tests  1 failed | 4 passed (5)`.
    if let Some(rest) = line
        .strip_prefix("Tests:")
        .or_else(|| line.strip_prefix("Tests "))
    {
        if let Some(c) = counted(rest, &["passed"], &["failed"], &["skipped", "todo"]) {
            return Some(c);
        }
    }
    // mocha: `5 passing (12ms)`, `1 failing`, `2 pending`.
    if let Some(n) = line.strip_suffix(" failing").or_else(|| {
        line.split(" passing")
            .next()
            .filter(|_| line.contains(" passing"))
    }) {
        if let Ok(n) = n.trim().parse::<u64>() {
            return Some(if line.ends_with(" failing") {
                TestCounts {
                    failed: n,
                    ..TestCounts::default()
                }
            } else {
                TestCounts {
                    passed: n,
                    ..TestCounts::default()
                }
            });
        }
    }
    // node --test (TAP): `# pass 5`, `# fail 0`; `ℹ pass 5` in its spec reporter.
    for prefix in ["# ", "ℹ "] {
        if let Some(rest) = line.strip_prefix(prefix) {
            let mut parts = rest.split_whitespace();
            if let (Some(word), Some(n), None) = (parts.next(), parts.next(), parts.next()) {
                if let Ok(n) = n.parse::<u64>() {
                    match word {
                        "pass" => {
                            return Some(TestCounts {
                                passed: n,
                                ..TestCounts::default()
                            });
                        }
                        "fail" => {
                            return Some(TestCounts {
                                failed: n,
                                ..TestCounts::default()
                            });
                        }
                        "skipped" => {
                            return Some(TestCounts {
                                skipped: n,
                                ..TestCounts::default()
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    // go test -v: `--- PASS: TestX (0.00s)`, `--- FAIL: ...`, `--- SKIP: ...`; a build
    // failure reports `FAIL\tpkg [build failed]` and counts nothing.
    for (prefix, pick) in [("--- PASS:", 0), ("--- FAIL:", 1), ("--- SKIP:", 2)] {
        if line.starts_with(prefix) {
            let mut c = TestCounts::default();
            match pick {
                0 => c.passed = 1,
                1 => c.failed = 1,
                _ => c.skipped = 1,
            }
            return Some(c);
        }
    }
    // ctest: `100% tests passed, 0 tests failed out of 5`.
    if line.contains("tests passed,") && line.contains("out of") {
        let total: u64 = line.rsplit(' ').next()?.parse().ok()?;
        let failed = line
            .split("tests passed,")
            .nth(1)
            .map_or(0, |r| count_before(r, &["tests"]))
            .min(total);
        return Some(TestCounts {
            passed: total.saturating_sub(failed),
            failed,
            ..TestCounts::default()
        });
    }
    // unittest: `Ran 5 tests in 0.001s`, then `OK` or `FAILED (failures=1, errors=1)`.
    if let Some(rest) = line.strip_prefix("Ran ") {
        let mut words = rest.split_whitespace();
        if let (Some(n), Some("test" | "tests"), Some("in")) =
            (words.next(), words.next(), words.next())
            && let Ok(n) = n.parse::<u64>()
        {
            return Some(TestCounts {
                passed: n,
                ..TestCounts::default()
            });
        }
    }
    None
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{TestCounts, parse, parse_file};

    fn c(passed: u64, failed: u64, skipped: u64) -> Option<TestCounts> {
        Some(TestCounts {
            ran: passed + failed,
            passed,
            failed,
            skipped,
            failures: Vec::new(),
        })
    }

    fn names(output: &str) -> Vec<String> {
        parse(output).map(|c| c.failures).unwrap_or_default()
    }

    #[test]
    fn a_whole_log_counts_what_a_cut_tail_would_miss() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("03-test.log");
        let mut text = String::from("$ go test -v ./...\n--- FAIL: TestEarly (0.00s)\n");
        for i in 0..5000 {
            text.push_str(&format!("--- PASS: Test{i} (0.00s)\n"));
        }
        std::fs::write(&log, text).unwrap();
        let c = parse_file(&log).unwrap();
        assert_eq!((c.passed, c.failed), (5000, 1));
        assert_eq!(c.failures, ["TestEarly"]);
    }

    #[test]
    fn failing_tests_by_name() {
        assert_eq!(
            names(
                "FAILED test_six.py::test_move_items[dbm_ndbm] - AttributeError: x\nERROR tests/test_io.py - ImportError\n= 1 failed, 1 error, 3 passed in 1s ="
            ),
            ["test_six.py::test_move_items[dbm_ndbm]", "tests/test_io.py"]
        );
        assert_eq!(
            names(
                "test a::b ... ok\ntest a::c ... FAILED\n\ntest result: FAILED. 1 passed; 1 failed;"
            ),
            ["a::c"]
        );
        assert_eq!(names("--- FAIL: TestParse (0.00s)\nFAIL"), ["TestParse"]);
        assert!(
            names("ERROR: InvocationError for command x (exited with code 2)\nRan 1 test in 0s")
                .is_empty()
        );
        assert_eq!(
            names("not ok 2 - adds # time=1ms\n# pass 1\n# fail 1"),
            ["adds"]
        );
        assert_eq!(
            names("FAIL: test_x (m.C.test_x)\nRan 2 tests in 0s\nFAILED (failures=1)"),
            ["test_x (m.C.test_x)"]
        );
    }

    #[test]
    fn no_new_failures_needs_every_failure_named_and_old_and_no_fewer_passes() {
        let before = parse("FAILED t.py::a - x\n= 1 failed, 9 passed in 1s =").unwrap();
        let same = parse("FAILED t.py::a - x\n= 1 failed, 10 passed in 1s =").unwrap();
        assert!(same.no_new_failures(&before).is_some());
        let new = parse("FAILED t.py::b - x\n= 1 failed, 9 passed in 1s =").unwrap();
        assert!(new.no_new_failures(&before).is_none());
        let fewer = parse("FAILED t.py::a - x\n= 1 failed, 3 passed in 1s =").unwrap();
        assert!(fewer.no_new_failures(&before).is_none(), "tests deleted");
        let unnamed = parse("= 1 failed, 9 passed in 1s =").unwrap();
        assert!(unnamed.no_new_failures(&before).is_none());
        assert_eq!(TestCounts::from_value(&same.to_value()), Some(same));
    }

    #[test]
    fn every_runner_s_summary() {
        for (output, want) in [
            (
                "..F\n==== 1 failed, 4 passed, 2 skipped in 0.12s ====\n",
                c(4, 1, 2),
            ),
            (
                "\u{1b}[32m===== 3 passed in 0.01s =====\u{1b}[0m",
                c(3, 0, 0),
            ),
            ("==== no tests ran in 0.01s ====", c(0, 0, 0)),
            ("==== 2 errors in 0.30s ====", c(0, 2, 0)),
            (
                "test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured\n\ntest result: FAILED. 2 passed; 1 failed; 0 ignored;",
                c(7, 1, 1),
            ),
            ("Tests:       1 failed, 5 passed, 6 total", c(5, 1, 0)),
            (
                " Test Files  2 passed (2)\n      Tests  1 failed | 4 passed (5)",
                c(4, 1, 0),
            ),
            ("  5 passing (12ms)\n  1 failing\n", c(5, 1, 0)),
            ("# tests 3\n# pass 2\n# fail 1\n", c(2, 1, 0)),
            (
                "=== RUN   TestA\n--- PASS: TestA (0.00s)\n--- FAIL: TestB (0.00s)\nFAIL\n",
                c(1, 1, 0),
            ),
            ("80% tests passed, 1 tests failed out of 5", c(4, 1, 0)),
            ("Ran 5 tests in 0.001s\n\nOK\n", c(5, 0, 0)),
            (
                "Ran 5 tests in 0.001s\n\nFAILED (failures=1, errors=1)\n",
                c(3, 2, 0),
            ),
            ("make: *** [test] Error 1", None),
            ("sh: 1: vitest: not found", None),
            ("Tests passed", None),
            ("==== tests passed in 3s ====", None),
            ("Ran the linters in 2s", None),
            (
                "ERROR tests/t.py - Warning\n!!!!! Interrupted: 1 error during collection !!!!!\n===== 1 error in 3.23s =====",
                Some(TestCounts {
                    ran: 0,
                    passed: 0,
                    failed: 1,
                    skipped: 0,
                    failures: Vec::new(),
                }),
            ),
            (
                "ok  \tx/a\t0.1s\nFAIL\tx/b [build failed]\n--- FAIL: TestA (0.00s)",
                None,
            ),
        ] {
            let got = parse(output).map(|mut c| {
                c.failures.clear();
                c
            });
            assert_eq!(got, want, "{output}");
        }
    }
}
