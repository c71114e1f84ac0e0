//! `codingworker project [DIR]`: how a repository installs and tests itself, as a run would
//! set it up, and why.

use std::fmt::Write as _;
use std::path::Path;

use super::Format;
use crate::error::{Error, Outcome};
use crate::project::{Project, Tools};
use crate::text::printable;

pub(crate) fn project(dir: &Path, format: Format) -> Result<Outcome, Error> {
    if !dir.is_dir() {
        return Err(Error::Setup(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let tools = Tools::from_path(std::env::var("PATH").ok().as_deref());
    let found = crate::project::detect(dir, &tools);
    match format {
        Format::Json => super::print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&found).expect("a project serializes")
        )),
        Format::Human => super::print_stdout(&describe(&found)),
    }
    Ok(if found.test.is_some() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// The project as a person reads it: what was chosen, each command with its reason, what
/// this machine lacks, what else was seen and what was ignored.
pub(crate) fn describe(p: &Project) -> String {
    let mut out = String::new();
    let Some(eco) = p.ecosystem else {
        out.push_str("no project found: none of Cargo.toml, go.mod, go.work, package.json, pyproject.toml, setup.py, setup.cfg, requirements.txt, tox.ini, noxfile.py, test_*.py, CMakeLists.txt or a Makefile, at the top or one folder down\n");
        out.push_str("set the commands in the playbook (`vars`, or a shell step of your own)\n");
        notes(&mut out, p);
        return out;
    };
    let chosen = p
        .found
        .iter()
        .find(|f| f.root == p.root && Some(f.ecosystem) == p.ecosystem);
    let _ = writeln!(
        out,
        "project: {} ({}) in {}",
        eco.name(),
        p.manager.as_deref().unwrap_or("?"),
        printable(&p.root)
    );
    if let Some(f) = chosen {
        let _ = writeln!(out, "  found by: {}", printable(&f.evidence.join(", ")));
        if !f.members.is_empty() {
            let _ = writeln!(out, "  members: {}", printable(&f.members.join(", ")));
        }
    }
    out.push_str("setup (project.setup):\n");
    if p.setup.is_empty() {
        out.push_str("  (nothing to set up)\n");
    }
    for c in &p.setup {
        let _ = writeln!(
            out,
            "  $ {}\n      {}",
            printable(&c.run),
            printable(&c.why)
        );
    }
    out.push_str("test (project.test):\n");
    match &p.test {
        Some(c) => {
            let _ = writeln!(
                out,
                "  $ {}\n      {}",
                printable(&c.run),
                printable(&c.why)
            );
        }
        None => out.push_str("  (none found: set one in the playbook)\n"),
    }
    let _ = writeln!(out, "needs: {}", p.needs.join(", "));
    if !p.missing.is_empty() {
        let _ = writeln!(
            out,
            "missing on this machine's PATH: {}",
            p.missing.join(", ")
        );
    }
    let others: Vec<String> = p
        .found
        .iter()
        .filter(|f| !(f.root == p.root && Some(f.ecosystem) == p.ecosystem))
        .map(|f| {
            format!(
                "{} in {} ({})",
                f.ecosystem.name(),
                f.root,
                f.evidence.join(", ")
            )
        })
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "also found: {}", printable(&others.join("; ")));
    }
    notes(&mut out, p);
    out
}

fn notes(out: &mut String, p: &Project) {
    for n in &p.notes {
        let _ = writeln!(out, "note: {}", printable(n));
    }
}
