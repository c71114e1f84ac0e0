//! Bad input never panics: the validator is fed every prefix of every fixture and shipped
//! playbook, and copies with bytes replaced by characters that matter to YAML and templates.

use codingworker::playbook::load_source;
use codingworker::source::SourceFile;

use crate::support::root;

fn corpus() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in [
        "tests/fixtures/invalid",
        "tests/fixtures/valid",
        "playbooks",
        "examples/playbooks",
    ] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "yml") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn validation_never_panics_on_truncated_or_corrupted_playbooks() {
    let specials = [
        "{", "}", "{{", "%}", "\"", "'", ":", "-", "|", "\n", "\t", "é", "[", "]", "#", "&a", "*a",
        "!!str",
    ];
    let mut checked = 0;
    for (name, text) in corpus() {
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|i| text.is_char_boundary(*i))
            .collect();
        for &cut in boundaries.iter().step_by(3) {
            let _ = load_source(SourceFile::new(&name, &text[..cut]));
            checked += 1;
        }
        for (k, &at) in boundaries.iter().step_by(11).enumerate() {
            let special = specials[k % specials.len()];
            let mut mutated = text[..at].to_owned();
            mutated.push_str(special);
            let skip = text[at..].chars().next().map_or(0, char::len_utf8);
            mutated.push_str(&text[at + skip..]);
            let loaded = load_source(SourceFile::new(&name, mutated));
            // Whatever the input, every error points inside the file.
            let lines = loaded.source.text.split('\n').count();
            for d in &loaded.diagnostics {
                if let Some(span) = d.span {
                    assert!(span.line >= 1 && span.line <= lines + 1, "{name}: {d:?}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 5000, "only {checked} inputs");
}
