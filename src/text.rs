//! Text for a terminal: hostile strings made printable, columns aligned.

/// Text safe to print on a terminal: control characters (escape sequences above all) are
/// shown escaped, tabs kept.
pub fn printable(s: &str) -> String {
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

/// A table with columns aligned on the widest cell (in characters), two spaces apart; the
/// last column is not padded and no line ends in spaces.
pub fn table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
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
    }
}
