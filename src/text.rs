//! Text for a terminal: hostile strings made printable, columns aligned.

/// Text safe to print on a terminal: control characters (escape sequences above all) are
/// shown escaped, tabs kept.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Multi-line text safe to print on a terminal: like [`printable`], but line breaks and tabs
/// are kept. A carriage return (which would let a line overwrite what came before it) and
/// every escape sequence are shown escaped.
pub(crate) fn printable_lines(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Text for standard output: made printable ([`printable_lines`]) when that is a terminal,
/// as it is when it goes to a file or a pipe (where it may be read back byte for byte).
pub(crate) fn for_stdout(s: &str) -> std::borrow::Cow<'_, str> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        printable_lines(s)
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// A table with columns aligned on the widest cell (in characters), two spaces apart; the
/// last column is not padded and no line ends in spaces.
pub(crate) fn table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut width = head.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; N]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            l.push_str(cell);
            if i + 1 < N {
                l.push_str(&" ".repeat(width[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(*head);
    for row in rows {
        line(std::array::from_fn(|i| row[i].as_str()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_by_characters() {
        let t = table(
            &["A", "BB", "C"],
            &[
                ["é1".into(), "x".into(), "".into()],
                ["2".into(), "yyy".into(), "z".into()],
            ],
        );
        assert_eq!(t, "A   BB   C\né1  x\n2   yyy  z\n");
        assert_eq!(printable("a\u{1b}[31m\tb"), "a\\u{1b}[31m\tb");
        assert_eq!(
            printable_lines("a\u{1b}]0;t\u{7}\r\n\tb\u{9b}2J"),
            "a\\u{1b}]0;t\\u{7}\\r\n\tb\\u{9b}2J"
        );
    }
}
