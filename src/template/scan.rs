//! A light scan of template code for the validator: which filters and tests a template uses,
//! functions named without `()`, `autoescape` blocks, and comparisons of `status` with a
//! string. minijinja looks filters and tests up only at render time, so a misspelt one would
//! otherwise pass `validate` and fail mid-run.
//!
//! The scan works on a copy of the source in which everything that is not code (text outside
//! `{{ }}`/`{% %}`, comments, raw blocks, string literals) is blanked to spaces, so positions
//! stay those of the source.

use super::SiteKind;

/// The source with only its code left; same length, same byte positions.
pub(crate) fn code_of(source: &str, kind: SiteKind) -> String {
    let bytes = source.as_bytes();
    let mut out = vec![b' '; bytes.len()];
    let mut i = 0;
    let mut in_code = kind == SiteKind::Expr;
    let mut close: &[u8] = b"";
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        if !in_code {
            if bytes[i..].starts_with(b"{% raw %}") || bytes[i..].starts_with(b"{%- raw %}") {
                match source[i..].find("endraw") {
                    Some(end) => i += end,
                    None => break,
                }
                continue;
            }
            if bytes[i..].starts_with(b"{{") {
                in_code = true;
                close = b"}}";
                i += 2;
                continue;
            }
            if bytes[i..].starts_with(b"{%") {
                in_code = true;
                close = b"%}";
                i += 2;
                continue;
            }
            if bytes[i..].starts_with(b"{#") {
                match source[i..].find("#}") {
                    Some(end) => i += end + 2,
                    None => break,
                }
                continue;
            }
            i += 1;
            continue;
        }
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if b == b'"' || b == b'\'' {
            quote = Some(b);
            i += 1;
            continue;
        }
        if !close.is_empty() && bytes[i..].starts_with(close) {
            in_code = false;
            i += 2;
            continue;
        }
        out[i] = b;
        i += 1;
    }
    // Blanking only replaced whole bytes of code with ASCII spaces or kept them, so any
    // multi-byte character is either kept whole or turned into spaces.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A shell template as the shell would see it, for the validator: every `{{ }}` that writes a
/// value becomes a placeholder (see [`super::shell`]), one that writes code the author wrote
/// (`vars.x`, `attempt.x`, `project.setup`, `| safe`) becomes a plain word, and tags and comments vanish.
/// Returns the text and, per placeholder, the byte offset of its `{{` in the source.
pub(crate) fn shell_outline(source: &str) -> (String, Vec<usize>) {
    let mut out = String::new();
    let mut at = Vec::new();
    let mut i = 0;
    while i < source.len() {
        let rest = &source[i..];
        if rest.starts_with("{% raw %}") || rest.starts_with("{%- raw %}") {
            let body = rest.find("%}").map_or(rest.len(), |e| e + 2);
            let end = rest.find("endraw").unwrap_or(rest.len());
            let inner_end = rest[..end].rfind("{%").unwrap_or(end);
            out.push_str(&rest[body.min(inner_end)..inner_end]);
            i += rest[end..].find("%}").map_or(rest.len(), |e| end + e + 2);
            continue;
        }
        let close = if rest.starts_with("{{") {
            "}}"
        } else if rest.starts_with("{%") {
            "%}"
        } else if rest.starts_with("{#") {
            "#}"
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        let end = rest[2..].find(close).map_or(rest.len(), |e| e + 4);
        if close == "}}" {
            let expr = rest[2..end.saturating_sub(2).max(2)]
                .trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
            if writes_code(expr) {
                out.push('x');
            } else {
                out.push(super::shell::placeholder(at.len()));
                at.push(i);
            }
        }
        i += end;
    }
    (out, at)
}

/// Whether a `{{ }}` expression writes text the author wrote, inserted as it is.
fn writes_code(expr: &str) -> bool {
    let e = expr.trim();
    if let Some(head) = e.strip_suffix("safe")
        && head.trim_end().ends_with('|')
    {
        return true;
    }
    if matches!(e, "project.setup" | "project.test" | "project.root") {
        return true;
    }
    let path = e.strip_prefix("vars").or_else(|| e.strip_prefix("attempt"));
    path.is_some_and(|p| {
        p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '"' | '\''))
    }) && !e.starts_with("attempt.number")
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Identifiers of `code` with their byte offset.
fn idents(code: &str) -> Vec<(usize, &str)> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if is_ident(bytes[i]) && (i == 0 || !is_ident(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            if !bytes[start].is_ascii_digit() {
                out.push((start, &code[start..i]));
            }
        } else {
            i += 1;
        }
    }
    out
}

fn prev_non_space(code: &str, at: usize) -> Option<u8> {
    code.as_bytes()[..at]
        .iter()
        .rev()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

fn next_non_space(code: &str, at: usize) -> Option<u8> {
    code.as_bytes()[at..]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

/// The word before `at`, skipping spaces.
fn prev_word(code: &str, at: usize) -> &str {
    let head = code[..at].trim_end();
    let start = head
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    &head[start..]
}

/// Filters applied (`x | name`, `{% filter name %}`), with their offsets.
pub(crate) fn filters(code: &str) -> Vec<(usize, &str)> {
    idents(code)
        .into_iter()
        .filter(|(at, _)| {
            prev_non_space(code, *at) == Some(b'|') || prev_word(code, *at) == "filter"
        })
        .collect()
}

/// Tests applied (`x is name`, `x is not name`), with their offsets.
pub(crate) fn tests(code: &str) -> Vec<(usize, &str)> {
    let words = idents(code);
    let mut out = Vec::new();
    for (k, (at, word)) in words.iter().enumerate() {
        let before = k.checked_sub(1).map(|j| words[j].1);
        let before2 = k.checked_sub(2).map(|j| words[j].1);
        if *word != "not"
            && (before == Some("is") || (before == Some("not") && before2 == Some("is")))
        {
            out.push((*at, *word));
        }
    }
    out
}

/// Names used as values that are functions and are not called: `if: failure`.
pub(crate) fn uncalled<'a>(code: &'a str, functions: &[&str]) -> Vec<(usize, &'a str)> {
    idents(code)
        .into_iter()
        .filter(|(at, w)| {
            functions.contains(w)
                && prev_non_space(code, *at) != Some(b'.')
                && next_non_space(code, at + w.len()) != Some(b'(')
        })
        .collect()
}

/// The tags of `{% … %}` blocks (`if`, `for`, `include`, …) with their offsets.
pub(crate) fn tags<'a>(source: &str, code: &'a str) -> Vec<(usize, &'a str)> {
    idents(code)
        .into_iter()
        .filter(|(at, _)| {
            let before = source[..*at].trim_end();
            before.ends_with("{%") || before.ends_with("{%-") || before.ends_with("{%+")
        })
        .collect()
}

/// Offsets of `{% autoescape … %}` blocks.
pub(crate) fn autoescape_blocks(source: &str, code: &str) -> Vec<usize> {
    tags(source, code)
        .into_iter()
        .filter(|(_, w)| *w == "autoescape")
        .map(|(at, _)| at)
        .collect()
}

/// The tags that load another template. Every template of a playbook is compiled into one
/// environment under its own name, so `{% include %}` could pull a text template (no shell
/// quoting) into a shell command: a playbook's templates may not load templates.
pub(crate) const LOADING_TAGS: [&str; 4] = ["include", "import", "from", "extends"];

/// String literals compared with a `status` (`steps.x.status == "sucess"`): offset and text.
pub(crate) fn status_literals<'a>(source: &'a str, code: &str) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    for (at, w) in idents(code) {
        if w != "status" {
            continue;
        }
        let rest = &code[at + w.len()..];
        let trimmed = rest.trim_start();
        if !(trimmed.starts_with("==") || trimmed.starts_with("!=")) {
            continue;
        }
        let op_at = at + w.len() + (rest.len() - trimmed.len()) + 2;
        let after = &source[op_at..];
        let lit = after.trim_start();
        let lit_at = op_at + (after.len() - lit.len());
        if let Some(q @ ('"' | '\'')) = lit.chars().next()
            && let Some(end) = lit[1..].find(q)
        {
            out.push((lit_at + 1, &lit[1..1 + end]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_text_comments_and_strings() {
        let src =
            "a {{ x | upper }} b {# c | d #} {% if y is defined %}\"{{ 'e | f' }}\"{% endif %}";
        let code = code_of(src, SiteKind::Text);
        assert_eq!(code.len(), src.len());
        assert_eq!(
            filters(&code).iter().map(|f| f.1).collect::<Vec<_>>(),
            ["upper"]
        );
        assert_eq!(
            tests(&code).iter().map(|f| f.1).collect::<Vec<_>>(),
            ["defined"]
        );
        assert_eq!(&src[filters(&code)[0].0..][..5], "upper");
    }

    #[test]
    fn finds_filters_tests_and_uncalled_functions() {
        let code = code_of(
            "steps.a.ok and failure or x is not none and y | d('z') | tail(3)",
            SiteKind::Expr,
        );
        assert_eq!(
            filters(&code).iter().map(|f| f.1).collect::<Vec<_>>(),
            ["d", "tail"]
        );
        assert_eq!(
            tests(&code).iter().map(|f| f.1).collect::<Vec<_>>(),
            ["none"]
        );
        assert_eq!(
            uncalled(&code, &["success", "failure", "always"])
                .iter()
                .map(|f| f.1)
                .collect::<Vec<_>>(),
            ["failure"]
        );
        assert!(
            uncalled(
                &code_of("failure() or steps.failure.ok", SiteKind::Expr),
                &["failure"]
            )
            .is_empty()
        );
        let code = code_of("{% filter upper %}x{% endfilter %}", SiteKind::Text);
        assert_eq!(
            filters(&code).iter().map(|f| f.1).collect::<Vec<_>>(),
            ["upper"]
        );
    }

    #[test]
    fn outlines_a_shell_template() {
        let src = "{{ vars.cmd }} {% if x %}-v{% endif %} \"{{ issue.title }}\" {# c #}{{ x | safe }} '{{ steps.a.output }}'";
        let (text, at) = shell_outline(src);
        let p = super::super::shell::placeholder;
        assert_eq!(text, format!("x -v \"{}\" x '{}'", p(0), p(1)));
        assert_eq!(
            at,
            [src.find("{{ issue").unwrap(), src.find("{{ steps").unwrap()]
        );
    }

    #[test]
    fn finds_autoescape_blocks_and_status_literals() {
        let src = "{% autoescape false %}{{ x }}{% endautoescape %}";
        assert_eq!(autoescape_blocks(src, &code_of(src, SiteKind::Shell)), [3]);
        let src = "steps.a.status == 'sucess' or steps.b.status != \"failure\"";
        let lits: Vec<_> = status_literals(src, &code_of(src, SiteKind::Expr))
            .into_iter()
            .map(|l| l.1)
            .collect();
        assert_eq!(lits, ["sucess", "failure"]);
    }
}
