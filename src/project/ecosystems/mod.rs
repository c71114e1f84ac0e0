//! One file per ecosystem: what marks it, how it installs, how it tests. `at` asks each of
//! them about one folder; `choose` picks the project a run sets up; `adopt_ci` replaces
//! conventions with what the repository's CI does.

mod go;
mod native;
mod node;
pub(crate) mod python;
mod rust;

use super::Tools;
use super::ci::{Ci, CiTest};
use super::dir::Dir;
use super::model::{Command, Ecosystem, Found, Project};

/// Where the run keeps what setup makes outside the checkout (a Python venv, a CMake build
/// tree); the engine sets it for every step.
pub(crate) const SETUP_DIR: &str = "$CW_SETUP_DIR";

/// Every ecosystem found in `sub` (`""` for the top), most specific first.
pub(crate) fn at(dir: &Dir, sub: &str, tools: &Tools) -> Vec<Found> {
    let mut found: Vec<Found> = [
        rust::at(dir, sub),
        go::at(dir, sub),
        node::at(dir, sub, tools),
        python::at(dir, sub, tools),
        native::cmake(dir, sub),
        native::make(dir, sub),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !sub.is_empty() {
        for f in &mut found {
            f.root = sub.to_owned();
            f.setup.insert(
                0,
                Command::new(format!("cd {sub}"), format!("the project is in {sub}/")),
            );
            if let Some(t) = &mut f.test {
                t.run = format!("cd {sub} && {}", t.run);
            }
        }
    }
    found
}

/// The project a run sets up: the one the CI tests, else the first with a test command (in
/// the order of [`at`]), else the first found. A CI that runs `make test` or `ctest` says
/// how to test, not which ecosystem to set up.
pub(crate) fn choose(found: &[Found], ci: &Ci) -> Option<usize> {
    if let Some(t) = ci.test.as_ref().filter(|t| !native(t.ecosystem)) {
        let root = t.workdir.as_deref().unwrap_or(".");
        let same = |f: &&Found| f.ecosystem == t.ecosystem;
        if let Some(i) = found
            .iter()
            .position(|f| same(&f) && (f.root == root || root.starts_with(&format!("{}/", f.root))))
            .or_else(|| found.iter().position(|f| same(&f)))
        {
            return Some(i);
        }
    }
    found
        .iter()
        .position(|f| f.test.is_some())
        .or((!found.is_empty()).then_some(0))
}

/// Whether the CI's test command fits the chosen project.
pub(crate) fn fits(ci: &CiTest, found: &Found) -> bool {
    ci.ecosystem == found.ecosystem || native(ci.ecosystem)
}

fn native(e: Ecosystem) -> bool {
    matches!(e, Ecosystem::Make | Ecosystem::Cmake)
}

/// Takes the CI's test command (and its install commands) for the chosen project. CI lines
/// run from the checkout's top (or their step's `working-directory`, in a subshell).
pub(crate) fn adopt_ci(project: &mut Project, found: &Found, ci: &CiTest, tools: &Tools) {
    let python = found.ecosystem == Ecosystem::Python;
    let command = |dir: &Option<String>, line: &str| {
        let mut run = node::launch(line, tools);
        if python && line.starts_with("uv ") {
            // uv's pip and sync use the run's venv, not one of their own.
            run = format!(
                "VIRTUAL_ENV=\"{SETUP_DIR}/venv\" UV_PROJECT_ENVIRONMENT=\"{SETUP_DIR}/venv\" {run}"
            );
        }
        match dir {
            Some(w) => format!("(cd {w} && {run})"),
            None => run,
        }
    };
    let why = format!("the repository's CI: {}", ci.at);
    project.test = Some(Command::new(command(&ci.workdir, &ci.run), why.clone()));
    let from_ci = ci
        .setup
        .iter()
        .map(|(dir, line)| Command::new(command(dir, line), why.clone()));
    let mut setup: Vec<Command> = match (python, ci.setup.is_empty()) {
        (_, true) => found.setup.clone(),
        // The environment comes first: the CI's installs go into it.
        (true, false) => [python::venv(tools), python::rehash()]
            .into_iter()
            .chain(from_ci)
            .collect(),
        (false, false) => from_ci.collect(),
    };
    if python {
        python::install_runner(&mut setup, &ci.run, &why);
    }
    // The programs the CI's lines start.
    for line in ci.setup.iter().map(|(_, l)| l).chain([&ci.run]) {
        let program = line.split_whitespace().next().unwrap_or("");
        let program = match program {
            "pnpm" | "yarn" if node::launch(program, tools).contains("corepack") => "corepack",
            p => p,
        };
        let known = [
            "poetry", "pdm", "uv", "hatch", "npm", "pnpm", "yarn", "bun", "corepack", "cargo",
            "go", "make", "cmake", "ctest",
        ];
        let installed = ["hatch", "tox", "nox"].contains(&program);
        if known.contains(&program) && !installed && !project.needs.iter().any(|n| n == program) {
            project.needs.push(program.to_owned());
        }
    }
    project.setup = setup;
}

/// The names of `patterns` that are plain (a workspace's members, as listed).
pub(crate) fn plain_members<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    patterns
        .into_iter()
        .map(crate::text::printable)
        .take(64)
        .collect()
}
