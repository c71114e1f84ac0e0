//! POSIX shell quoting: how a value becomes one word of an `sh -c` command.

/// Whether `s` is made only of characters no shell treats specially, outside quotes, inside
/// double quotes or in a here-document.
pub(super) fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'-' | b'.' | b'/' | b',' | b':' | b'@' | b'%' | b'+' | b'='
                )
        })
}

/// Quotes `s` so that `sh` reads it back as exactly one word with the same bytes.
/// Words made only of characters no shell treats specially stay as they are.
pub(crate) fn shell_quote(s: &str) -> String {
    if is_plain(s) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_a_shell_would_interpret() {
        for (input, want) in [
            ("pytest", "pytest"),
            ("src/a.py", "src/a.py"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", r"'it'\''s'"),
            ("$(rm -rf /)", "'$(rm -rf /)'"),
            ("`id`", "'`id`'"),
            ("a;b|c&d>e<f", "'a;b|c&d>e<f'"),
            ("\n", "'\n'"),
            ("*", "'*'"),
            ("~", "'~'"),
        ] {
            assert_eq!(shell_quote(input), want, "{input:?}");
        }
    }

    #[test]
    fn round_trips_through_a_real_shell() {
        let hostile = "x'y\"z $(echo pwned) `echo pwned` ; echo pwned \\ \n\t* ~ {{ a }} {% b %} é";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' {}", shell_quote(hostile)))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), hostile);
    }
}
