//! Selection on small repositories with known answers.

use super::*;

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn auto(window: u32) -> Options {
    Options {
        window,
        edit_format: None,
        auto: true,
        listed: Vec::new(),
        read: Vec::new(),
        max_files: DEFAULT_MAX_FILES,
        budget: None,
        map_tokens: None,
    }
}

fn paths(v: &[Chosen]) -> Vec<&str> {
    v.iter().map(|c| c.path.as_str()).collect()
}

/// A small Python package with tests, and some noise.
fn package() -> tempfile::TempDir {
    repo(&[
        (
            "src/textkit/case.py",
            "def decamelize(s):\n    out = []\n    for c in s:\n        out.append(c)\n    return ''.join(out)\n\n\ndef camelize(s):\n    return s\n",
        ),
        (
            "src/textkit/wrap.py",
            "class TextWrapper:\n    def __init__(self, width):\n        self.width = width\n\n    def wrap(self, text):\n        return [text]\n",
        ),
        (
            "src/textkit/dates.py",
            "def parse_date(s):\n    '''Parse an ISO date with its timezone offset.'''\n    return s\n",
        ),
        (
            "src/textkit/__init__.py",
            "from .case import decamelize, camelize\n",
        ),
        (
            "tests/test_case.py",
            "from textkit.case import decamelize\n\ndef test_acronyms():\n    assert decamelize('HTTPServer') == 'http_server'\n",
        ),
        (
            "tests/test_wrap.py",
            "from textkit.wrap import TextWrapper\n\ndef test_wrap_keeps_words():\n    assert TextWrapper(5).wrap('a b') == ['a', 'b']\n",
        ),
        (
            "README.md",
            "# textkit\n\nCase conversion, wrapping and dates.\n",
        ),
        ("node_modules/x/case.js", "function decamelize() {}\n"),
    ])
}

#[test]
fn a_function_named_in_the_issue_is_edited_and_its_test_read() {
    let dir = package();
    let s = select(
        dir.path(),
        "decamelize('HTTPServer') gives 'h_t_t_p_server'\n\nIt should keep acronyms together.",
        &auto(8192),
    )
    .unwrap();
    assert_eq!(paths(&s.edit), ["src/textkit/case.py"]);
    assert!(
        s.edit[0]
            .reasons
            .contains(&"defines `decamelize`, which the issue names".to_owned()),
        "{:?}",
        s.edit[0].reasons
    );
    assert_eq!(paths(&s.read), ["tests/test_case.py"]);
    assert_eq!(s.read[0].reasons, ["tests `src/textkit/case.py`"]);
    assert!(s.budget.used() <= 8192);
    assert!(s.map_tokens > 0, "auto mode gives aider a map");
}

#[test]
fn a_path_named_in_the_issue_is_edited() {
    let dir = package();
    let s = select(
        dir.path(),
        "The docstring in src/textkit/dates.py is wrong",
        &auto(8192),
    )
    .unwrap();
    assert_eq!(s.edit[0].path, "src/textkit/dates.py");
    assert_eq!(
        s.edit[0].reasons[0],
        "named in the issue: `src/textkit/dates.py`"
    );
}

#[test]
fn a_stack_trace_leads_to_the_frame_that_failed() {
    let dir = package();
    let s = select(
        dir.path(),
        "Crash:\n\nTraceback (most recent call last):\n  File \"/usr/lib/app/main.py\", line 3, in <module>\n  File \"/home/me/textkit/src/textkit/dates.py\", line 3, in parse_date\nValueError: bad offset\n",
        &auto(8192),
    )
    .unwrap();
    assert_eq!(s.edit[0].path, "src/textkit/dates.py");
}

#[test]
fn a_class_in_camel_case_is_found_where_it_is_defined() {
    let dir = package();
    let s = select(
        dir.path(),
        "TextWrapper drops the last word when the width is exact",
        &auto(8192),
    )
    .unwrap();
    assert_eq!(s.edit[0].path, "src/textkit/wrap.py");
    assert_eq!(paths(&s.read), ["tests/test_wrap.py"]);
}

#[test]
fn a_failing_test_named_alone_points_at_the_code_it_tests() {
    let dir = package();
    let s = select(
        dir.path(),
        "CI is red: `test_wrap_keeps_words` fails since yesterday",
        &auto(8192),
    )
    .unwrap();
    assert_eq!(paths(&s.edit), ["src/textkit/wrap.py"]);
    assert!(
        s.edit[0]
            .reasons
            .contains(&"tested by `tests/test_wrap.py`, which the issue points at".to_owned()),
        "{:?}",
        s.edit[0].reasons
    );
    assert_eq!(paths(&s.read), ["tests/test_wrap.py"]);
}

#[test]
fn nothing_matching_leaves_the_map_to_find_files() {
    let dir = package();
    let s = select(dir.path(), "Please make it faster.", &auto(8192)).unwrap();
    assert!(s.edit.is_empty(), "{:?}", s.edit);
    assert_eq!(s.map_tokens, 2048);
    assert!(s.notes.iter().any(|n| n.contains("repository map")));
}

#[test]
fn a_file_too_large_for_whole_edits_switches_to_diff_and_then_to_an_excerpt() {
    let body: String = (0..700)
        .map(|i| format!("    value_{i} = compute({i}, 'label {i}')\n"))
        .collect();
    let text = format!("def target():\n{body}");
    let dir = repo(&[("big.py", &text)]);
    let t = tokens::count(&text) + tokens::per_file("big.py");
    // Fits once, not twice: diff.
    let window = (t as f32 * 1.6 + 5000.0) as u32;
    let s = select(dir.path(), "`target` is slow", &auto(window)).unwrap();
    assert_eq!(paths(&s.edit), ["big.py"]);
    assert_eq!(s.edit_format, "diff");
    assert!(s.pass_edit_format);
    assert!(
        s.notes[0].starts_with("the edit format is `diff`"),
        "{:?}",
        s.notes
    );
    assert!(s.budget.used() <= window, "{}", s.budget.line());
    // Does not fit at all: an excerpt, read-only.
    let s = select(dir.path(), "`target` is slow", &auto(4096)).unwrap();
    assert!(s.edit.is_empty());
    assert_eq!(s.excerpts.len(), 1);
    assert!(s.excerpts[0].text.contains("def target():"));
    assert!(s.budget.used() <= 4096, "{}", s.budget.line());
    // The playbook's own edit format is kept: no switch.
    let mut opts = auto(window);
    opts.edit_format = Some("whole".into());
    let s = select(dir.path(), "`target` is slow", &opts).unwrap();
    assert_eq!(s.edit_format, "whole");
    assert!(s.edit.is_empty());
}

#[test]
fn the_prompt_never_exceeds_the_window() {
    let dir = package();
    let body = "The parser fails on this input:\n".to_owned()
        + &"decamelize camelize TextWrapper parse_date x\n".repeat(20_000);
    for window in [2048, 4096, 8192, 32768] {
        let s = select(dir.path(), &body, &auto(window)).unwrap();
        assert!(s.budget.used() <= window, "{window}: {}", s.budget.line());
        assert!(tokens::count(&s.message) <= s.budget.message);
        assert!(s.message.starts_with("The parser fails on this input:\n"));
        assert!(
            s.notes[0].starts_with("the message was cut"),
            "{:?}",
            s.notes
        );
    }
    let err = select(
        dir.path(),
        "x",
        &Options {
            edit_format: Some("diff".into()),
            ..auto(1024)
        },
    )
    .unwrap_err();
    assert!(err.contains("cannot hold aider's prompts"), "{err}");
}

#[test]
fn listed_files_are_all_handed_when_they_fit_and_the_best_when_not() {
    let dir = package();
    let mut opts = auto(8192);
    opts.auto = false;
    opts.listed = vec![
        "src/textkit/wrap.py".into(),
        "src/textkit/case.py".into(),
        "new.py".into(),
    ];
    let s = select(dir.path(), "decamelize breaks", &opts).unwrap();
    assert_eq!(
        paths(&s.edit),
        ["src/textkit/wrap.py", "src/textkit/case.py", "new.py"]
    );
    assert_eq!(s.map_tokens, 0, "no map unless auto or asked");
    opts.budget = Some(80);
    let s = select(dir.path(), "decamelize breaks", &opts).unwrap();
    assert_eq!(paths(&s.edit), ["src/textkit/case.py", "new.py"]);
    assert!(
        s.notes
            .iter()
            .any(|n| n.starts_with("`src/textkit/wrap.py` is listed but does not fit")),
        "{:?}",
        s.notes
    );
}

#[test]
fn hostile_issue_text_stays_inside_the_checkout() {
    let outside = repo(&[("secret.py", "def decamelize():\n    TOKEN = 'x'\n")]);
    let dir = package();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("src/link")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.py"),
        dir.path().join("src/s.py"),
    )
    .unwrap();
    let text = format!(
        "see ../../etc/passwd and /proc/self/environ and {}/secret.py and src/link/secret.py and src/s.py: `decamelize`",
        outside.path().display()
    );
    let s = select(dir.path(), &text, &auto(8192)).unwrap();
    for c in s.edit.iter().chain(&s.read) {
        assert!(
            !c.path.contains("secret")
                && !c.path.contains("passwd")
                && !c.path.contains("environ")
                && c.path != "src/s.py",
            "{}",
            c.path
        );
    }
    assert_eq!(s.edit[0].path, "src/textkit/case.py");
}

#[test]
fn the_same_checkout_and_issue_give_the_same_choice() {
    let dir = package();
    let a = select(dir.path(), "wrap and decamelize and dates", &auto(8192)).unwrap();
    let b = select(dir.path(), "wrap and decamelize and dates", &auto(8192)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn listed_files_are_pinned_beside_the_ranked_ones() {
    let dir = package();
    let mut opts = auto(8192);
    opts.listed = vec!["README.md".into(), "docs/new.md".into()];
    opts.max_files = 1;
    let s = select(dir.path(), "`decamelize` breaks on acronyms", &opts).unwrap();
    assert_eq!(
        paths(&s.edit),
        ["README.md", "docs/new.md", "src/textkit/case.py"]
    );
    assert_eq!(s.edit[0].reasons[0], "listed in the playbook (`README.md`)");
}

#[test]
fn a_test_the_issue_names_may_be_edited() {
    let dir = package();
    let s = select(
        dir.path(),
        "Add a test for acronyms to tests/test_case.py",
        &auto(8192),
    )
    .unwrap();
    assert!(
        paths(&s.edit).contains(&"tests/test_case.py"),
        "{:?}",
        s.edit
    );
    assert!(
        paths(&s.edit).contains(&"src/textkit/case.py"),
        "{:?}",
        s.edit
    );
}

#[test]
fn a_quoted_error_message_leads_to_the_file_that_prints_it() {
    let dir = repo(&[
        (
            "src/app/config.py",
            "def load(path):\n    if not path:\n        raise ValueError(f\"Could not read the settings file {path!r}: it is empty\")\n",
        ),
        (
            "src/app/main.py",
            "from .config import load\n\ndef main():\n    load('x')\n",
        ),
        ("src/app/other.py", "def settings():\n    return {}\n"),
    ]);
    let s = select(
        dir.path(),
        "Starting fails:\n\n```\nValueError: Could not read the settings file 'prod.toml': it is empty\n```\n",
        &auto(8192),
    )
    .unwrap();
    assert_eq!(s.edit[0].path, "src/app/config.py");
    assert!(
        s.edit[0]
            .reasons
            .iter()
            .any(|r| r == "holds `Could not read the settings file`, which the issue quotes"),
        "{:?}",
        s.edit[0].reasons
    );
}

#[test]
fn a_file_named_after_the_function_is_found() {
    let dir = repo(&[
        (
            "functions/inc.js",
            "const SemVer = require('../classes/semver')\nconst inc = (version, release) => new SemVer(version).inc(release)\nmodule.exports = inc\n",
        ),
        (
            "functions/diff.js",
            "const diff = (a, b) => null\nmodule.exports = diff\n",
        ),
        ("bin/cli.js", "let inc = null\nconst main = () => inc\n"),
    ]);
    let s = select(
        dir.path(),
        "inc() accepts an invalid identifier",
        &auto(8192),
    )
    .unwrap();
    assert_eq!(s.edit[0].path, "functions/inc.js");
}

#[test]
fn a_retry_widens_to_the_traceback_but_never_edits_the_failing_test() {
    let dir = package();
    let message = "# TextWrapper drops a word\n\nA previous attempt failed the tests. The end of their output:\n\
        FAILED tests/test_wrap.py::test_wrap_keeps_words - AssertionError\n\
        tests/test_wrap.py:4: in test_wrap_keeps_words\n\
        src/textkit/wrap.py:6: in wrap\n";
    let s = select(dir.path(), message, &auto(8192)).unwrap();
    assert_eq!(paths(&s.edit), ["src/textkit/wrap.py"]);
    assert_eq!(paths(&s.read), ["tests/test_wrap.py"]);
    assert!(
        s.edit[0]
            .reasons
            .iter()
            .any(|r| r == "named in the output the issue shows: `src/textkit/wrap.py`"),
        "{:?}",
        s.edit[0].reasons
    );
}
