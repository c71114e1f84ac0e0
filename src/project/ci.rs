//! What the repository's own CI says about how it tests itself: the first job run on push or
//! pull_request whose `run:` lines invoke a test runner, with the install lines before it.
//!
//! A workflow is data: it is parsed, never run. What cannot be resolved here (an expression
//! such as `${{ matrix.python }}`, `sudo`, a system package manager) is left out with a note.

use serde_json::Value;

use super::dir::{Dir, plain_name};
use super::model::Ecosystem;

/// At most this many workflow files are read.
const MAX_WORKFLOWS: usize = 50;
/// A `run:` line longer than this is not a command we would adopt.
const MAX_LINE: usize = 1000;

/// The test command the CI uses, and the install commands before it in the same job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CiTest {
    pub ecosystem: Ecosystem,
    pub run: String,
    pub setup: Vec<String>,
    /// Where: `.github/workflows/ci.yml, job test`.
    pub at: String,
    /// The step's `working-directory`, when it has one.
    pub workdir: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Ci {
    pub test: Option<CiTest>,
    pub notes: Vec<String>,
}

const WORKFLOWS: &str = ".github/workflows";

pub(crate) fn read(dir: &Dir) -> Ci {
    let mut ci = Ci::default();
    let mut files: Vec<String> = dir
        .files(WORKFLOWS, MAX_WORKFLOWS)
        .into_iter()
        .filter(|f| f.ends_with(".yml") || f.ends_with(".yaml"))
        .collect();
    // Workflows named for testing first.
    files.sort_by_key(|f| !(f.contains("test") || f.starts_with("ci")));
    for file in files {
        let at = format!("{WORKFLOWS}/{file}");
        let text = match dir.read(WORKFLOWS, &file) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(why) => {
                ci.notes.push(why);
                continue;
            }
        };
        let parsed = crate::source::yaml::Document::parse(&text)
            .or_else(|e| crate::source::yaml::Document::parse(&relaxed(&text)).map_err(|_| e));
        let doc = match parsed {
            Ok(d) => d.value,
            Err(e) => {
                ci.notes
                    .push(format!("{at}:{}: {}; ignored", e.span.line, e.message));
                continue;
            }
        };
        if let Some(test) = scan_workflow(&doc, &at, &mut ci.notes) {
            ci.test = Some(test);
            break;
        }
    }
    ci
}

fn scan_workflow(doc: &Value, at: &str, notes: &mut Vec<String>) -> Option<CiTest> {
    if !runs_on_push_or_pr(doc.get("on")) {
        return None;
    }
    let jobs = doc.get("jobs")?.as_object()?;
    for (name, job) in jobs {
        let runs_on = job
            .get("runs-on")
            .map(|v| v.to_string())
            .unwrap_or_default();
        if runs_on.contains("windows") || (runs_on.contains("macos") && !runs_on.contains("ubuntu"))
        {
            continue;
        }
        let Some(steps) = job.get("steps").and_then(Value::as_array) else {
            continue;
        };
        let mut setup = Vec::new();
        for step in steps {
            let Some(run) = step.get("run").and_then(Value::as_str) else {
                continue;
            };
            let workdir = step
                .get("working-directory")
                .and_then(Value::as_str)
                .map(|w| w.trim_start_matches("./").trim_end_matches('/').to_owned());
            if workdir
                .as_deref()
                .is_some_and(|w| !plain_name(w) && w != ".")
            {
                continue;
            }
            for line in lines(run) {
                let kind = classify(&line);
                if kind == Kind::Other {
                    continue;
                }
                let line = match resolve(&line) {
                    Some(resolved) => {
                        notes.push(format!(
                            "{at}, job {name}: `{}` runs one tox environment per matrix entry; here `{resolved}`",
                            shorten(&line)
                        ));
                        resolved
                    }
                    None => line,
                };
                if let Some(why) = unresolvable(&line) {
                    notes.push(format!(
                        "{at}, job {name}: `{}` {why}; ignored",
                        shorten(&line)
                    ));
                    continue;
                }
                match kind {
                    Kind::Test(ecosystem) => {
                        return Some(CiTest {
                            ecosystem,
                            run: line,
                            setup,
                            at: format!("{at}, job {name}"),
                            workdir: workdir.filter(|w| w != "."),
                        });
                    }
                    Kind::Install => setup.push(line),
                    Kind::Other => {}
                }
            }
        }
    }
    None
}

/// A workflow with the one looseness GitHub's parser accepts and a strict YAML 1.2 parser
/// does not: a flow collection's closing bracket on a line of its own, indented less than its
/// contents (`name: [` … `]` at the key's column). Such a line gets its contents' indentation.
fn relaxed(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut previous = 0;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if matches!(trimmed.trim_end(), "]" | "}" | "]," | "},") && indent < previous {
            out.push_str(&" ".repeat(previous));
            out.push_str(trimmed);
        } else {
            out.push_str(line);
            if !trimmed.is_empty() {
                previous = indent;
            }
        }
        out.push('\n');
    }
    out
}

/// `tox -e ${{ matrix.env }}`, the usual way a CI runs one tox environment per matrix entry,
/// is `tox -e py` here: the environment of the interpreter that runs tox.
fn resolve(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let tox = words.first().is_some_and(|w| *w == "tox")
        || words.starts_with(&["python", "-m", "tox"])
        || words.starts_with(&["python3", "-m", "tox"]);
    if !tox {
        return None;
    }
    let rest = line.split_once("-e ")?.1.trim_start();
    let expr_end = rest.strip_prefix("${{")?.find("}}")? + 5;
    let after = &rest[expr_end..];
    if after.contains("${{") || !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    Some(format!(
        "{}-e py{after}",
        &line[..line.len() - rest.len() - 3]
    ))
}

/// Whether `on:` includes push or pull_request (a word, a list or a map).
fn runs_on_push_or_pr(on: Option<&Value>) -> bool {
    let wanted = |s: &str| matches!(s, "push" | "pull_request");
    match on {
        Some(Value::String(s)) => wanted(s),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(wanted),
        Some(Value::Object(map)) => map.keys().any(|k| wanted(k)),
        _ => false,
    }
}

/// The commands of a `run:` block: one per line, `\` continuations joined, comments and
/// blank lines dropped.
fn lines(run: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for raw in run.lines() {
        let line = raw.trim();
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let done = std::mem::take(&mut current);
        let done = done.trim();
        if !done.is_empty() && !done.starts_with('#') {
            out.push(done.to_owned());
        }
    }
    out
}

fn unresolvable(line: &str) -> Option<&'static str> {
    if line.len() > MAX_LINE {
        Some("is too long")
    } else if line.contains("${{") {
        Some("uses a GitHub expression")
    } else if line
        .split_whitespace()
        .any(|w| matches!(w, "sudo" | "apt" | "apt-get" | "brew" | "choco"))
    {
        Some("installs system packages")
    } else {
        None
    }
}

/// A line as a note shows it: printable, at most 80 characters.
fn shorten(line: &str) -> String {
    let mut s: String = crate::text::printable(line).chars().take(80).collect();
    if line.chars().count() > 80 {
        s.push('…');
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Test(Ecosystem),
    Install,
    Other,
}

/// What a CI line does: run tests (of which ecosystem), install dependencies, or neither.
fn classify(line: &str) -> Kind {
    let mut install = false;
    for part in line.split("&&").flat_map(|p| p.split(';')) {
        let words: Vec<&str> = part
            .split_whitespace()
            .skip_while(|w| is_assignment(w))
            .collect();
        if let Some(e) = test_words(&words) {
            return Kind::Test(e);
        }
        install |= install_words(&words);
    }
    if install { Kind::Install } else { Kind::Other }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The words after the program, flags dropped.
fn args<'a>(words: &[&'a str]) -> Vec<&'a str> {
    words
        .iter()
        .skip(1)
        .copied()
        .filter(|w| !w.starts_with('-'))
        .collect()
}

fn test_words(words: &[&str]) -> Option<Ecosystem> {
    let program = *words.first()?;
    let rest = args(words);
    let first = rest.first().copied().unwrap_or("");
    let python_module = |m: &str| matches!(m, "pytest" | "tox" | "nox" | "unittest");
    match program {
        "pytest" | "py.test" | "tox" | "nox" => Some(Ecosystem::Python),
        "python" | "python3" => {
            let i = words.iter().position(|w| *w == "-m")?;
            words
                .get(i + 1)
                .filter(|m| python_module(m))
                .map(|_| Ecosystem::Python)
        }
        "hatch" => matches!(first, "test" | "run").then_some(Ecosystem::Python),
        "uv" | "poetry" | "pdm" => (first == "run"
            && rest
                .iter()
                .any(|w| python_module(w) || w.starts_with("pytest")))
        .then_some(Ecosystem::Python),
        "coverage" => (first == "run" && rest.contains(&"pytest")).then_some(Ecosystem::Python),
        "npm" | "pnpm" | "yarn" | "bun" => {
            let test = matches!(first, "test" | "t")
                || (first == "run" && rest.get(1).is_some_and(|s| s.starts_with("test")));
            test.then_some(Ecosystem::Node)
        }
        "npx" => rest
            .first()
            .filter(|t| matches!(**t, "jest" | "vitest" | "mocha"))
            .map(|_| Ecosystem::Node),
        "cargo" => matches!(first, "test" | "nextest").then_some(Ecosystem::Rust),
        "go" => (first == "test").then_some(Ecosystem::Go),
        "make" => matches!(first, "test" | "check").then_some(Ecosystem::Make),
        "ctest" => Some(Ecosystem::Cmake),
        _ => None,
    }
}

fn install_words(words: &[&str]) -> bool {
    let Some(&program) = words.first() else {
        return false;
    };
    let rest = args(words);
    let first = rest.first().copied().unwrap_or("");
    match program {
        "pip" | "pip3" => first == "install",
        "python" | "python3" => words.windows(3).any(|w| w == ["-m", "pip", "install"]),
        "uv" => first == "sync" || (first == "pip" && rest.get(1) == Some(&"install")),
        "poetry" | "pdm" => first == "install",
        "npm" => first == "ci" || (first == "install" && rest.len() == 1),
        "pnpm" | "yarn" | "bun" => first == "install" || (program == "yarn" && rest.is_empty()),
        "go" => first == "mod" && rest.get(1) == Some(&"download"),
        "cargo" => first == "fetch",
        "./configure" | "./autogen.sh" => true,
        "make" => rest.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_lines() {
        for (line, want) in [
            ("pytest", Kind::Test(Ecosystem::Python)),
            ("python -m pytest -q tests", Kind::Test(Ecosystem::Python)),
            ("COVERAGE=1 tox -e py", Kind::Test(Ecosystem::Python)),
            ("hatch test", Kind::Test(Ecosystem::Python)),
            ("uv run pytest", Kind::Test(Ecosystem::Python)),
            ("pnpm -r test", Kind::Test(Ecosystem::Node)),
            ("npm run test:unit", Kind::Test(Ecosystem::Node)),
            ("yarn test", Kind::Test(Ecosystem::Node)),
            (
                "cargo test --workspace --all-features",
                Kind::Test(Ecosystem::Rust),
            ),
            ("go test -race ./...", Kind::Test(Ecosystem::Go)),
            ("make check", Kind::Test(Ecosystem::Make)),
            ("cd build && ctest", Kind::Test(Ecosystem::Cmake)),
            ("python -m pip install -e .[test]", Kind::Install),
            ("pip install tox", Kind::Install),
            ("npm ci", Kind::Install),
            ("npm install left-pad", Kind::Other),
            ("pnpm install --frozen-lockfile", Kind::Install),
            ("go mod download", Kind::Install),
            ("npm run lint", Kind::Other),
            ("cargo clippy", Kind::Other),
            ("echo pytest", Kind::Other),
            ("make", Kind::Install),
            ("make docs", Kind::Other),
        ] {
            assert_eq!(classify(line), want, "{line}");
        }
    }

    #[test]
    fn a_matrix_tox_env_is_the_machine_s_python() {
        assert_eq!(
            resolve("tox -e ${{ matrix.tox_env }}").as_deref(),
            Some("tox -e py")
        );
        assert_eq!(
            resolve("python -m tox -e ${{ matrix.env }} -- -q").as_deref(),
            Some("python -m tox -e py -- -q")
        );
        assert_eq!(resolve("tox -e ${{ matrix.tox_env }}-coverage"), None);
        assert_eq!(resolve("pytest -k ${{ matrix.k }}"), None);
    }

    #[test]
    fn a_closing_bracket_at_the_key_s_column_parses() {
        let text = "jobs:\n  t:\n    strategy:\n      matrix:\n        name: [\n          \"a\",\n        ]\n    steps: []\n";
        assert!(
            crate::source::yaml::Document::parse(text).is_err(),
            "saphyr got lenient: drop relaxed()"
        );
        let doc = crate::source::yaml::Document::parse(&relaxed(text)).unwrap();
        assert_eq!(doc.value["jobs"]["t"]["strategy"]["matrix"]["name"][0], "a");
    }

    #[test]
    fn joins_continuations_and_drops_comments() {
        assert_eq!(
            lines("# set up\npip install \\\n  -e .\n\npytest -q\n"),
            vec!["pip install -e .", "pytest -q"]
        );
    }

    #[test]
    fn push_or_pull_request_in_every_shape() {
        use serde_json::json;
        assert!(runs_on_push_or_pr(Some(&json!("push"))));
        assert!(runs_on_push_or_pr(Some(&json!([
            "release",
            "pull_request"
        ]))));
        assert!(runs_on_push_or_pr(Some(
            &json!({"push": {"branches": ["main"]}})
        )));
        assert!(!runs_on_push_or_pr(Some(&json!({"release": null}))));
        assert!(!runs_on_push_or_pr(Some(&json!(true))));
        assert!(!runs_on_push_or_pr(None));
    }
}
