//! Node: the package manager the project pins (`packageManager`) or its lockfile shows, its
//! frozen install, and its `test` script (or every workspace's).

use serde_json::Value;

use super::super::Tools;
use super::super::dir::Dir;
use super::super::model::{Command, Ecosystem, Found};

/// What `npm init` writes as the test script: no tests.
const NO_TESTS: &str = "no test specified";

pub(super) fn at(dir: &Dir, sub: &str, tools: &Tools) -> Option<Found> {
    if !dir.is_file(sub, "package.json") {
        return None;
    }
    let mut notes = Vec::new();
    let mut evidence = vec!["package.json".to_owned()];
    let manifest: Value = match dir.read(sub, "package.json") {
        Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_else(|e| {
            notes.push(format!(
                "package.json does not parse ({e}); its scripts are unknown"
            ));
            Value::Null
        }),
        Ok(None) => Value::Null,
        Err(why) => {
            notes.push(why);
            Value::Null
        }
    };
    let pinned = manifest
        .get("packageManager")
        .and_then(Value::as_str)
        .and_then(|p| p.split('@').next())
        .filter(|p| matches!(*p, "npm" | "pnpm" | "yarn" | "bun"))
        .map(str::to_owned);
    let lock = [
        ("pnpm-lock.yaml", "pnpm"),
        ("yarn.lock", "yarn"),
        ("bun.lock", "bun"),
        ("bun.lockb", "bun"),
        ("package-lock.json", "npm"),
        ("npm-shrinkwrap.json", "npm"),
    ]
    .into_iter()
    .find(|(f, _)| dir.is_file(sub, f));
    if let Some((file, _)) = lock {
        evidence.push(file.to_owned());
    }
    let manager = pinned
        .clone()
        .or_else(|| lock.map(|(_, m)| m.to_owned()))
        .unwrap_or_else(|| "npm".to_owned());
    if pinned.is_some() {
        evidence.push("packageManager in package.json".into());
    }
    // A lockfile that does not parse cannot be installed from exactly: the manifest then.
    let readable = match lock {
        Some((file, _)) if file.ends_with(".json") => match dir.read(sub, file) {
            Ok(Some(t)) => serde_json::from_str::<Value>(&t).is_ok(),
            _ => false,
        },
        Some((file, _)) if file == "pnpm-lock.yaml" => match dir.read(sub, file) {
            Ok(Some(t)) => crate::source::yaml::Document::parse(&t).is_ok(),
            _ => false,
        },
        _ => true,
    };
    if let (false, Some((file, _))) = (readable, lock) {
        notes.push(format!(
            "{file} does not parse: installing from package.json, without a frozen lockfile"
        ));
    }
    let locked = readable && lock.is_some_and(|(_, m)| m == manager);
    if let (Some(p), Some((file, m))) = (&pinned, lock) {
        if p != m {
            notes.push(format!("package.json pins {p} but the lockfile is {file}; using {p} without a frozen lockfile"));
        }
    }
    // Yarn 2 and later (berry) have `--immutable`; yarn 1 `--frozen-lockfile`.
    let berry = manager == "yarn"
        && (dir.is_file(sub, ".yarnrc.yml")
            || matches!(dir.read(sub, "yarn.lock"), Ok(Some(t)) if t.contains("__metadata:"))
            || manifest
                .get("packageManager")
                .and_then(Value::as_str)
                .is_some_and(|p| !p.starts_with("yarn@1")));
    let run = launcher(&manager, tools);
    let install = match (manager.as_str(), locked) {
        ("npm", true) => "npm ci".to_owned(),
        ("npm", false) => "npm install".to_owned(),
        ("pnpm", true) => format!("{run} install --frozen-lockfile"),
        ("yarn", true) if berry => format!("{run} install --immutable"),
        ("yarn", true) => format!("{run} install --frozen-lockfile"),
        ("bun", true) => format!("{run} install --frozen-lockfile"),
        (_, _) => format!("{run} install"),
    };
    let install_why = if locked {
        format!("{manager}, from its lockfile exactly")
    } else {
        format!("{manager}, without a lockfile")
    };

    let mut members: Vec<String> = Vec::new();
    if let Some(ws) = manifest.get("workspaces") {
        let patterns = ws
            .as_array()
            .or_else(|| ws.get("packages").and_then(Value::as_array));
        members.extend(super::plain_members(
            patterns.into_iter().flatten().filter_map(Value::as_str),
        ));
    }
    if let Ok(Some(text)) = dir.read(sub, "pnpm-workspace.yaml") {
        evidence.push("pnpm-workspace.yaml".into());
        if let Ok(doc) = crate::source::yaml::Document::parse(&text) {
            let packages = doc
                .value
                .get("packages")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            members.extend(super::plain_members(
                packages.iter().filter_map(Value::as_str),
            ));
        }
    }
    let script = manifest.pointer("/scripts/test").and_then(Value::as_str);
    let test = match script {
        Some(s) if !s.contains(NO_TESTS) => Some(Command::new(
            format!("{run} test"),
            "the `test` script of package.json",
        )),
        _ if !members.is_empty() => Some(Command::new(
            match manager.as_str() {
                "pnpm" => format!("{run} -r --if-present test"),
                "yarn" if berry => format!("{run} workspaces foreach -A run test"),
                "yarn" => format!("{run} workspaces run test"),
                _ => "npm test --workspaces --if-present".to_owned(),
            },
            "the `test` script of every workspace",
        )),
        _ => {
            notes.push("package.json has no test script".into());
            None
        }
    };
    let mut needs = vec!["node".to_owned()];
    needs.push(if run.contains("corepack") {
        "corepack".to_owned()
    } else {
        manager.clone()
    });
    Some(Found {
        root: ".".into(),
        ecosystem: Ecosystem::Node,
        manager,
        evidence,
        members,
        setup: vec![Command::new(install, install_why)],
        test,
        needs,
        notes,
    })
}

/// How to start a package manager: itself when on PATH; pnpm and yarn through corepack
/// (which ships with Node.js and fetches the pinned version) when only corepack is.
fn launcher(manager: &str, tools: &Tools) -> String {
    if matches!(manager, "pnpm" | "yarn") && !tools.has(manager) && tools.has("corepack") {
        format!("COREPACK_ENABLE_DOWNLOAD_PROMPT=0 corepack {manager}")
    } else {
        manager.to_owned()
    }
}

/// A command line from CI, with a leading `pnpm` or `yarn` started as [`launcher`] says.
pub(super) fn launch(line: &str, tools: &Tools) -> String {
    for manager in ["pnpm", "yarn"] {
        if let Some(rest) = line
            .strip_prefix(manager)
            .filter(|r| r.is_empty() || r.starts_with(' '))
        {
            return format!("{}{rest}", launcher(manager, tools));
        }
    }
    line.to_owned()
}
