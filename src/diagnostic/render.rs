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
pub(crate) fn render_human(source: &SourceFile, diags: &[Diagnostic]) -> String {
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
    let printable = crate::text::printable;
    let _ = writeln!(out, "{level}: {}", printable(&d.message));
    let Some(span) = d.span else {
        let _ = writeln!(out, "  --> {}", source.name);
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  = help: {}", printable(help));
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
        let chars: Vec<char> = text.trim_end().chars().collect();
        let width = chars.len();
        let start = span.column.saturating_sub(1).min(width);
        let end = if span.end_line == span.line {
            span.end_column
                .saturating_sub(1)
                .clamp(start + 1, width.max(start + 1))
        } else {
            width.max(start + 1)
        };
        let excerpt = Excerpt::of(&chars, start, end);
        let _ = writeln!(out, "{:>gutter$} | {}", span.line, excerpt.text);
        let label = d
            .label
            .as_deref()
            .map(|l| format!(" {}", printable(l)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{pad} | {}{}{label}",
            " ".repeat(excerpt.caret_at),
            "^".repeat(excerpt.carets)
        );
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{pad} = help: {}", printable(help));
    }
}

/// The characters of an excerpt line shown at most; a longer line is cut around the span.
const EXCERPT_WIDTH: usize = 160;

/// One source line as shown under a diagnostic: control characters escaped (a file is
/// hostile: it may hold terminal escape sequences), tabs as spaces, and a line longer than
/// [`EXCERPT_WIDTH`] cut to a window around the span, marked with `…`.
struct Excerpt {
    text: String,
    /// Display columns before the first caret.
    caret_at: usize,
    carets: usize,
}

impl Excerpt {
    fn of(chars: &[char], start: usize, end: usize) -> Self {
        let from = if chars.len() <= EXCERPT_WIDTH {
            0
        } else {
            start.saturating_sub(EXCERPT_WIDTH / 4)
        };
        let to = chars.len().min(from + EXCERPT_WIDTH);
        let shown = |c: char| -> String {
            match c {
                '\t' => " ".into(),
                c if c.is_control() => c.escape_default().to_string(),
                c => c.to_string(),
            }
        };
        let mut text = String::new();
        let mut caret_at = 0;
        let mut carets = 0;
        if from > 0 {
            text.push('…');
        }
        for (i, &c) in chars.iter().enumerate().take(to).skip(from) {
            let s = shown(c);
            let w = s.chars().count();
            if i < start {
                caret_at += w;
            } else if i < end {
                carets += w;
            }
            text.push_str(&s);
        }
        if from > 0 {
            caret_at += 1;
        }
        if to < chars.len() {
            text.push('…');
        }
        Excerpt {
            text,
            caret_at,
            carets: carets.max(1),
        }
    }
}

/// The JSON form of one file's result, as `validate --format json` prints it.
pub(crate) fn render_file_json(file: &str, diags: &[Diagnostic]) -> serde_json::Value {
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
    fn long_lines_are_cut_around_the_span_and_escapes_are_shown() {
        let line = format!("x: {}\u{1b}[2Jboom{}", "a".repeat(5000), "b".repeat(5000));
        let src = SourceFile::new("p.yml", &line);
        let d = Diagnostic::error("x", "bad").at(Span {
            line: 1,
            column: 5004,
            end_line: 1,
            end_column: 5005,
        });
        let text = render_human(&src, &[d]);
        assert!(text.len() < 600, "{} bytes", text.len());
        assert!(!text.contains('\u{1b}'), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let caret = lines[4].chars().position(|c| c == '^').unwrap();
        let above: String = lines[3].chars().skip(caret).take(6).collect();
        assert_eq!(above, "\\u{1b}", "{text}");
        assert_eq!(lines[4].trim_end().matches('^').count(), 6);
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
