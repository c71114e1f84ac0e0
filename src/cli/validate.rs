//! `codingworker validate FILE…`: check playbooks and report every problem.

use std::path::PathBuf;

use super::Format;
use crate::diagnostic::{render_file_json, render_human};
use crate::error::{Error, Outcome};
use crate::playbook::load_file;

/// Validates each file; exit 0 all valid, 1 any invalid, 2 any unreadable.
pub(super) fn validate(files: &[PathBuf], format: Format) -> Result<Outcome, Error> {
    let mut invalid = false;
    let mut unreadable = Vec::new();
    let mut json_files = Vec::new();
    for path in files {
        let loaded = match load_file(path) {
            Ok(l) => l,
            Err(e) => {
                match format {
                    Format::Human => eprintln!("error: {e}"),
                    Format::Json => json_files.push(serde_json::json!({
                        "file": path.display().to_string(),
                        "valid": false,
                        "unreadable": e.to_string(),
                        "diagnostics": [],
                    })),
                }
                unreadable.push(e);
                continue;
            }
        };
        invalid |= loaded.has_errors();
        match format {
            Format::Human => {
                print!("{}", render_human(&loaded.source, &loaded.diagnostics));
                let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
                let warnings = loaded.diagnostics.len() - errors;
                println!("{}", verdict(&loaded.source.name, errors, warnings));
            }
            Format::Json => {
                json_files.push(render_file_json(&loaded.source.name, &loaded.diagnostics))
            }
        }
    }
    if format == Format::Json {
        let doc =
            serde_json::json!({ "valid": !invalid && unreadable.is_empty(), "files": json_files });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON serializes")
        );
    }
    if let Some(e) = unreadable.into_iter().next() {
        // Already shown above; exit 2 without printing it twice.
        return Err(Error::Reported(Box::new(Error::Read(e))));
    }
    Ok(if invalid {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

fn verdict(name: &str, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("{n} {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    match (errors, warnings) {
        (0, 0) => format!("{name}: valid"),
        (0, w) => format!("{name}: valid, {}", plural(w, "warning")),
        (e, 0) => format!("{name}: invalid, {}", plural(e, "error")),
        (e, w) => format!(
            "{name}: invalid, {}, {}",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}
