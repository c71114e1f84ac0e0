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
    /// Each install line with the folder it runs in (none: the checkout's top).
    pub setup: Vec<(Option<String>, String)>,
    /// Where: `.github/workflows/ci.yml, job test`.
    pub at: String,
    /// The folder the test runs in (its step's `working-directory`, the job's or the
    /// workflow's default, or a `cd` before it), when not the top.
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
    files.sort_by_key(|f| rank(f));
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

/// The order workflows are read in: testing ones first, releasing ones last.
fn rank(file: &str) -> u8 {
    let f = file.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| f.contains(w));
    if has(&["test", "ci."]) || f.starts_with("ci") {
        0
    } else if has(&[
        "publish", "release", "deploy", "docs", "pages", "label", "stale",
    ]) {
        3
    } else if has(&[
        "check", "valid", "build", "main", "python", "rust", "node", "go",
    ]) {
        1
    } else {
        2
    }
}

fn scan_workflow(doc: &Value, at: &str, notes: &mut Vec<String>) -> Option<CiTest> {
    if !runs_on_push_or_pr(doc.get("on")) {
        return None;
    }
    let jobs = doc.get("jobs")?.as_object()?;
    // Test jobs first, lint and release jobs last (a map's order is not the file's).
    let mut jobs: Vec<(&String, &Value)> = jobs.iter().collect();
    jobs.sort_by_key(|(name, _)| rank(name));
    let default_dir = |v: &Value| {
        v.pointer("/defaults/run/working-directory")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let workflow_dir = default_dir(doc);
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
        let job_dir = default_dir(job).or_else(|| workflow_dir.clone());
        let mut setup = Vec::new();
        for step in steps {
            let Some(run) = step.get("run").and_then(Value::as_str) else {
                continue;
            };
            let declared = step
                .get("working-directory")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| job_dir.clone());
            let Some(mut workdir) = folder(declared.as_deref()) else {
                notes.push(format!(
                    "{at}, job {name}: a `working-directory` that is not a plain folder; its step is ignored"
                ));
                continue;
            };
            let step_name = step
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            for line in lines(run) {
                // `cd app` on a line of its own: the lines after it run there.
                if let Some(dir) = line.strip_prefix("cd ").map(str::trim) {
                    match folder(Some(dir)) {
                        Some(d) => workdir = join_dirs(workdir.as_deref(), d.as_deref()),
                        None => break,
                    }
                    continue;
                }
                let kind = by_name(classify(&line), &step_name, &line);
                if kind == Kind::Other {
                    continue;
                }
                let line = match resolve(&line) {
                    Some(resolved) => {
                        notes.push(format!(
                            "{at}, job {name}: `{}` runs tox environments by Python version; here `{resolved}`, the machine's",
                            shorten(&line)
                        ));
                        resolved
                    }
                    None => line,
                };
                let why = unresolvable(&line).or_else(|| {
                    matches!(kind, Kind::Test(_))
                        .then(|| masked(&line))
                        .flatten()
                });
                if let Some(why) = why {
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
                            workdir,
                        });
                    }
                    Kind::Install => setup.push((workdir.clone(), line)),
                    Kind::Other => {}
                }
            }
        }
    }
    None
}

/// A `working-directory` or `cd` target as a folder of the checkout: `Some(None)` for its
/// top, `None` when it is not a plain relative folder (an expression, `..`, an absolute path).
fn folder(dir: Option<&str>) -> Option<Option<String>> {
    let Some(dir) = dir else { return Some(None) };
    let d = dir.trim().trim_start_matches("./").trim_end_matches('/');
    if d.is_empty() || d == "." {
        Some(None)
    } else if plain_name(d) {
        Some(Some(d.to_owned()))
    } else {
        None
    }
}

fn join_dirs(base: Option<&str>, sub: Option<&str>) -> Option<String> {
    match (base, sub) {
        (Some(b), Some(s)) => Some(format!("{b}/{s}")),
        (b, s) => s.or(b).map(str::to_owned),
    }
}

/// A test line whose exit code the shell would not pass on (`pytest | tee log`,
/// `pytest || true`, `pytest &`).
fn masked(line: &str) -> Option<&'static str> {
    (line.contains('|') || line.trim_end().ends_with('&'))
        .then_some("would not pass its exit code on (a pipe, `||` or `&`)")
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
    let Some(at) = line.find(" -e ") else {
        // `tox` alone runs every environment of the envlist, one per Python version.
        let has_env = words
            .iter()
            .any(|w| w.starts_with("-e") || w.starts_with("--env"));
        let expressions = line.contains("${{");
        return (!has_env && !expressions).then(|| format!("{line} -e py"));
    };
    let rest = line[at + 4..].trim_start();
    let expr_end = rest.strip_prefix("${{")?.find("}}")? + 5;
    let after = &rest[expr_end..];
    if after.contains("${{") || !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    Some(format!("{} -e py{after}", &line[..at]))
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
        // `tox --notest` only creates the environments.
        if words.contains(&"--notest") {
            install = true;
            continue;
        }
        if let Some(e) = test_words(&words) {
            return Kind::Test(e);
        }
        install |= install_words(&words);
    }
    if install { Kind::Install } else { Kind::Other }
}

/// What a step's name adds: a `make` target in a step named for tests is the test (`make
/// coverage` under "Run tests"), one named for installing is setup; a test runner in a step
/// named for linting or static checks is not the test suite.
fn by_name(kind: Kind, step: &str, line: &str) -> Kind {
    let named = |words: &[&str]| words.iter().any(|w| step.contains(w));
    let make = line.split_whitespace().next() == Some("make");
    match kind {
        Kind::Test(_) if named(&["lint", "static", "style", "format", "type"]) => Kind::Other,
        Kind::Other if make && named(&["test"]) => Kind::Test(Ecosystem::Make),
        Kind::Other if make && named(&["install", "dependencies", "requirements", "setup"]) => {
            Kind::Install
        }
        other => other,
    }
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
        "pytest" | "py.test" => Some(Ecosystem::Python),
        "tox" | "nox" => (!not_tests(words)).then_some(Ecosystem::Python),
        "python" | "python3" => {
            let i = words.iter().position(|w| *w == "-m")?;
            words
                .get(i + 1)
                .filter(|m| python_module(m))
                .map(|_| Ecosystem::Python)
        }
        "hatch" => (first == "test"
            || (first == "run"
                && rest
                    .get(1)
                    .is_some_and(|s| s.contains("test") || s.contains("cov"))))
        .then_some(Ecosystem::Python),
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

/// A tox or nox run of environments or sessions that are not the tests (`tox -e lint`,
/// `nox -s docs`).
fn not_tests(words: &[&str]) -> bool {
    const OTHER: [&str; 13] = [
        "lint",
        "doc",
        "type",
        "mypy",
        "style",
        "fmt",
        "format",
        "pre-commit",
        "build",
        "release",
        "pkg",
        "publish",
        "flake8",
    ];
    words
        .windows(2)
        .filter(|w| matches!(w[0], "-e" | "-s" | "--session" | "-m"))
        .any(|w| OTHER.iter().any(|o| w[1].contains(o)))
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
            ("tox -p -e py,build --notest", Kind::Install),
            ("tox -e lint", Kind::Other),
            ("nox -s docs", Kind::Other),
            ("hatch run lint:all", Kind::Other),
            ("hatch run test:cov", Kind::Test(Ecosystem::Python)),
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
        assert_eq!(
            resolve("python -m tox").as_deref(),
            Some("python -m tox -e py")
        );
        assert_eq!(resolve("tox -e lint"), None);
        assert_eq!(resolve("tox -p -e py,build"), None);
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
    fn a_step_s_name_tells_make_targets_and_lint_runs_apart() {
        assert_eq!(
            by_name(classify("make coverage"), "run tests", "make coverage"),
            Kind::Test(Ecosystem::Make)
        );
        assert_eq!(
            by_name(
                classify("make requirements"),
                "install dependencies",
                "make requirements"
            ),
            Kind::Install
        );
        assert_eq!(
            by_name(classify("make check"), "static checks", "make check"),
            Kind::Other
        );
        assert_eq!(
            by_name(classify("make docs"), "build docs", "make docs"),
            Kind::Other
        );
    }

    #[test]
    fn testing_workflows_are_read_first_and_releasing_ones_last() {
        let mut files = vec!["publish.yml", "validate.yml", "aaa.yml", "tests.yml"];
        files.sort_by_key(|f| rank(f));
        assert_eq!(
            files,
            ["tests.yml", "validate.yml", "aaa.yml", "publish.yml"]
        );
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
