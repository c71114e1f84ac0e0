//! Python: a virtual environment per run (outside the checkout, in `$CW_SETUP_DIR/venv`,
//! whose `bin` leads every step's PATH), the project installed into it in editable mode with
//! its test extras and requirement files, and pytest.

use super::super::Tools;
use super::super::dir::Dir;
use super::super::model::{Command, Ecosystem, Found};
use super::SETUP_DIR;

const MARKERS: &[&str] = &[
    "pyproject.toml",
    "setup.py",
    "tox.ini",
    "noxfile.py",
    "pytest.ini",
    "Pipfile",
    "requirements.txt",
];

/// Requirement files that hold what the tests need; the development ones (often the tests'
/// and much more: linters, docs, release tools) only when there are none of these.
pub(crate) const TEST_REQUIREMENTS: &[&str] = &[
    "requirements-test.txt",
    "requirements_test.txt",
    "requirements-tests.txt",
    "test-requirements.txt",
    "requirements/test.txt",
    "requirements/tests.txt",
    "requirements/testing.txt",
];
pub(crate) const DEV_REQUIREMENTS: &[&str] = &[
    "requirements-dev.txt",
    "requirements_dev.txt",
    "dev-requirements.txt",
    "requirements/dev.txt",
];

/// Extras and dependency groups that hold what the tests need, in the order they are tried.
const TEST_EXTRAS: &[&str] = &["test", "tests", "testing", "dev"];

/// The venv's interpreter. Installs name it rather than `python3`: the shell that made the
/// venv may have remembered the machine's `python3` already.
const PYTHON: &str = "\"$CW_SETUP_DIR/venv/bin/python\"";

/// The run's virtual environment.
pub(super) fn venv(tools: &Tools) -> Command {
    if tools.has("uv") {
        Command::new(
            format!("uv venv -q --seed \"{SETUP_DIR}/venv\""),
            "a virtual environment for this run (uv is on PATH)",
        )
    } else {
        Command::new(
            format!("python3 -m venv \"{SETUP_DIR}/venv\""),
            "a virtual environment for this run",
        )
    }
}

pub(super) fn at(dir: &Dir, sub: &str, tools: &Tools) -> Option<Found> {
    let mut evidence: Vec<String> = MARKERS
        .iter()
        .filter(|m| dir.is_file(sub, m))
        .map(|m| (*m).to_owned())
        .collect();
    let mut notes = Vec::new();
    let setup_cfg = match dir.read(sub, "setup.cfg") {
        Ok(Some(t)) => t.contains("[metadata]") || t.contains("[options]"),
        Ok(None) => false,
        Err(why) => {
            notes.push(why);
            false
        }
    };
    if setup_cfg {
        evidence.push("setup.cfg".into());
    }
    let tests = test_files(dir, sub);
    if let Some(t) = &tests {
        evidence.push(t.clone());
    }
    if evidence.is_empty() {
        return None;
    }

    let pyproject = match dir.read(sub, "pyproject.toml") {
        Ok(Some(text)) => match text.parse::<toml::Table>() {
            Ok(t) => Some(t),
            Err(e) => {
                notes.push(format!(
                    "pyproject.toml does not parse ({}); installing it as it is",
                    e.message()
                ));
                None
            }
        },
        Ok(None) => None,
        Err(why) => {
            notes.push(why);
            None
        }
    };
    let table = |path: &[&str]| -> Option<&toml::Table> {
        let mut t = pyproject.as_ref()?;
        for key in path {
            t = t.get(*key)?.as_table()?;
        }
        Some(t)
    };
    let installable = dir.is_file(sub, "setup.py")
        || setup_cfg
        || table(&["project"]).is_some()
        || table(&["build-system"]).is_some()
        || table(&["tool", "poetry"]).is_some();
    let pick = |t: Option<&toml::Table>| -> Vec<String> {
        let Some(t) = t else { return Vec::new() };
        let test: Vec<String> = TEST_EXTRAS[..3]
            .iter()
            .filter(|e| t.contains_key(**e))
            .map(|e| (*e).to_owned())
            .collect();
        if test.is_empty() && t.contains_key("dev") {
            vec!["dev".to_owned()]
        } else {
            test
        }
    };
    let mut extras = pick(table(&["project", "optional-dependencies"]));
    if extras.is_empty() && setup_cfg {
        extras = setup_cfg_extras(dir, sub);
    }
    let groups = pick(table(&["dependency-groups"]));

    let poetry = table(&["tool", "poetry"]).is_some() || dir.is_file(sub, "poetry.lock");
    let manager = if poetry {
        "poetry"
    } else if dir.is_file(sub, "uv.lock") {
        "uv"
    } else if dir.is_file(sub, "pdm.lock") || table(&["tool", "pdm"]).is_some() {
        "pdm"
    } else if table(&["tool", "hatch"]).is_some() || dir.is_file(sub, "hatch.toml") {
        "hatch"
    } else {
        "pip"
    };

    let mut setup = vec![venv(tools)];
    let mut needs = vec![if tools.has("uv") { "uv" } else { "python3" }.to_owned()];
    if poetry && tools.has("poetry") {
        setup.push(Command::new(
            format!("VIRTUAL_ENV=\"{SETUP_DIR}/venv\" poetry install --no-interaction"),
            "a poetry project (pyproject.toml [tool.poetry])",
        ));
        setup.push(install(tools, &["pytest".into()], "the test runner"));
        needs.push("poetry".into());
    } else {
        if poetry {
            notes.push("a poetry project, and poetry is not on PATH: installed with pip, without poetry's dependency groups".into());
        }
        let mut args = Vec::new();
        let mut why = Vec::new();
        if installable {
            if extras.is_empty() {
                args.push("-e .".to_owned());
                why.push("the project, editable".to_owned());
            } else {
                args.push(format!("-e '.[{}]'", extras.join(",")));
                why.push(format!(
                    "the project, editable, with its extras {}",
                    extras.join(", ")
                ));
            }
        }
        let mut files: Vec<&str> = TEST_REQUIREMENTS
            .iter()
            .copied()
            .filter(|f| dir.is_file(sub, f))
            .collect();
        if files.is_empty() {
            files.extend(
                DEV_REQUIREMENTS
                    .iter()
                    .copied()
                    .filter(|f| dir.is_file(sub, f)),
            );
        }
        if !installable && dir.is_file(sub, "requirements.txt") {
            files.insert(0, "requirements.txt");
        }
        for file in files {
            args.push(format!("-r {file}"));
            why.push(file.to_owned());
        }
        if !groups.is_empty() {
            for g in &groups {
                args.push(format!("--group {g}"));
            }
            why.push(format!("dependency groups {}", groups.join(", ")));
            if !tools.has("uv") {
                // Dependency groups need pip 25.1; a new venv's pip is older.
                setup.push(Command::new(
                    format!("{PYTHON} -m pip install -q --upgrade pip"),
                    "dependency groups need pip 25.1 or later",
                ));
            }
        }
        args.push("pytest".to_owned());
        why.push("pytest".to_owned());
        setup.push(install(tools, &args, &why.join("; ")));
    }
    for (file, tool) in [("tox.ini", "tox"), ("noxfile.py", "nox")] {
        if dir.is_file(sub, file) {
            notes.push(format!("{file}: by convention the tests run with pytest in the run's environment; a CI job that runs {tool}, or your playbook, can run {tool} instead"));
        }
    }
    Some(Found {
        root: ".".into(),
        ecosystem: Ecosystem::Python,
        manager: manager.into(),
        evidence,
        members: Vec::new(),
        setup,
        test: Some(Command::new(
            "python3 -m pytest",
            "pytest runs pytest and unittest tests",
        )),
        needs,
        notes,
    })
}

/// The test extras a setup.cfg declares (`[options.extras_require]`).
fn setup_cfg_extras(dir: &Dir, sub: &str) -> Vec<String> {
    let Ok(Some(text)) = dir.read(sub, "setup.cfg") else {
        return Vec::new();
    };
    let mut section = false;
    let mut keys = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            section = line.trim() == "[options.extras_require]";
        } else if section && !line.starts_with([' ', '\t']) {
            if let Some((key, _)) = line.split_once('=') {
                keys.push(key.trim().to_owned());
            }
        }
    }
    let test: Vec<String> = TEST_EXTRAS[..3]
        .iter()
        .filter(|e| keys.iter().any(|k| k == *e))
        .map(|e| (*e).to_owned())
        .collect();
    if test.is_empty() && keys.iter().any(|k| k == "dev") {
        vec!["dev".into()]
    } else {
        test
    }
}

/// `pip install ARGS` into the run's environment (uv's pip when uv is on PATH).
fn install(tools: &Tools, args: &[String], why: &str) -> Command {
    let args = args.join(" ");
    if tools.has("uv") {
        Command::new(format!("uv pip install -q --python {PYTHON} {args}"), why)
    } else {
        Command::new(format!("{PYTHON} -m pip install -q {args}"), why)
    }
}

/// Test files at the root or in `tests/` or `test/` (`test_*.py`, `*_test.py`).
fn test_files(dir: &Dir, sub: &str) -> Option<String> {
    let is_test =
        |f: &str| f.ends_with(".py") && (f.starts_with("test_") || f.ends_with("_test.py"));
    for folder in ["", "tests", "test"] {
        let at = super::super::dir::join(sub, folder);
        if dir.files(&at, 4096).iter().any(|f| is_test(f)) {
            return Some(if folder.is_empty() {
                "test_*.py".into()
            } else {
                format!("{folder}/test_*.py")
            });
        }
    }
    None
}

/// Before a CI's install lines: the shell forgets where it found `python3` and `pip`, so that
/// they are the venv's from here on.
pub(super) fn rehash() -> Command {
    Command::new("hash -r", "the venv's programs lead PATH from here on")
}

/// When the CI tests with tox, nox or hatch and installs none of them, install it.
pub(super) fn install_runner(setup: &mut Vec<Command>, test: &str, why: &str) {
    let words: Vec<&str> = test.split_whitespace().collect();
    let tool = match words.as_slice() {
        ["python" | "python3", "-m", m, ..] => *m,
        [first, ..] => *first,
        [] => return,
    };
    if matches!(tool, "tox" | "nox" | "hatch") && !setup.iter().any(|c| c.run.contains(tool)) {
        setup.push(Command::new(
            format!("{PYTHON} -m pip install -q {tool}"),
            why,
        ));
    }
}
