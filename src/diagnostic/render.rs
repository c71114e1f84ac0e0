//! Rendering diagnostics for people (an excerpt with a caret) and for machines (JSON).

use std::fmt::Write;

use serde_json::json;

use super::{Diagnostic, Severity};
use crate::source::SourceFile;

/// Renders diagnostics of one file the way `just` and `rustc` do:
///
/// ```text
/// error: unknown field `comand`
///   --> playbook.yml:5:5
///    |
///  5 |     comand: echo hi
///    |     ^^^^^^ did you mean `command`?
/// ```
pub fn render_human(source: &SourceFile, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        render_one(&mut out, source, d);
        out.push('\n');
    }
    out
}

fn render_one(out: &mut String, source: &SourceFile, d: &Diagnostic) {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{level}: {}", d.message);
    let Some(span) = d.span else {
        let _ = writeln!(out, "  --> {}", source.name);
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        return;
    };
    let gutter = span.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        source.name, span.line, span.column
    );
    let _ = writeln!(out, "{pad} |");
    if let Some(text) = source.line(span.line) {
        let shown: String = text.replace('\t', " ");
        let width = shown.chars().count();
        let start = span.column.saturating_sub(1).min(width);
        let end = if span.end_line == span.line {
            span.end_column
                .saturating_sub(1)
                .clamp(start + 1, width.max(start + 1))
        } else {
            width.max(start + 1)
        };
        let _ = writeln!(out, "{:>gutter$} | {}", span.line, shown.trim_end());
        let carets = "^".repeat(end - start);
        let label = d
            .label
            .as_deref()
            .map(|l| format!(" {l}"))
            .unwrap_or_default();
        let _ = writeln!(out, "{pad} | {}{carets}{label}", " ".repeat(start));
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{pad} = help: {help}");
    }
}

/// The JSON form of one file's result, as `validate --format json` prints it.
pub fn render_file_json(file: &str, diags: &[Diagnostic]) -> serde_json::Value {
    json!({
        "file": file,
        "valid": !diags.iter().any(Diagnostic::is_error),
        "errors": diags.iter().filter(|d| d.is_error()).count(),
        "warnings": diags.iter().filter(|d| !d.is_error()).count(),
        "diagnostics": diags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;

    #[test]
    fn points_at_the_span_with_carets_label_and_help() {
        let src = SourceFile::new("p.yml", "steps:\n  - id: a\n    comand: echo\n");
        let d = Diagnostic::error("unknown-field", "unknown field `comand`")
            .at(Span {
                line: 3,
                column: 5,
                end_line: 3,
                end_column: 11,
            })
            .label("did you mean `command`?")
            .help("a step has exactly one kind");
        let text = render_human(&src, &[d]);
        assert_eq!(
            text,
            "error: unknown field `comand`\n --> p.yml:3:5\n  |\n3 |     comand: echo\n  |     ^^^^^^ did you mean `command`?\n  |\n  = help: a step has exactly one kind\n\n"
        );
    }

    #[test]
    fn multi_line_spans_underline_to_the_end_of_the_first_line() {
        let src = SourceFile::new("p.yml", "a: |\n  one\n  two\n");
        let d = Diagnostic::warning("x", "w").at(Span {
            line: 2,
            column: 3,
            end_line: 4,
            end_column: 1,
        });
        assert!(render_human(&src, &[d]).contains("2 |   one\n  |   ^^^\n"));
    }
}
