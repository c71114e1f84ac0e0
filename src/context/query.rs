//! What an issue points at, read from its text: the paths it names, the identifiers it
//! names (in backticks and code blocks, CamelCase and snake_case words, calls, stack-trace
//! frames) and its words. The text is hostile: it is read in bounded pieces, and nothing in
//! it is ever opened; paths are only compared with the checkout's own file list.

use std::collections::HashMap;

/// At most this much of the text is read: its head and its tail (a stack trace at the end
/// of a long body stays in).
pub const MAX_TEXT: usize = 128 * 1024;
/// At most this many identifiers, paths and words are kept, the strongest first.
pub const MAX_IDENTS: usize = 200;
pub const MAX_PATHS: usize = 100;
pub const MAX_TERMS: usize = 300;

/// An identifier the issue names, and how plainly.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    /// 3: in code or a stack frame; 2: shaped like code (CamelCase, snake_case, a call).
    pub strength: u8,
}

/// The signals of an issue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Paths and file names as written (`.` and `..` dropped, `:line` stripped).
    pub paths: Vec<String>,
    /// Those of `paths` named only in output (a traceback, a test runner's lines, a code
    /// block), not in the issue's own words.
    pub in_output: Vec<String>,
    /// Identifiers, strongest first.
    pub idents: Vec<Ident>,
    /// Lowercase words (identifiers split into their parts too) and their weight.
    pub terms: Vec<(String, f32)>,
    /// Each term as the issue first wrote it (`values` for the stem `valu`), for reasons.
    pub shown: Vec<String>,
    /// Messages the issue quotes (an error it pasted, a string in backticks): text a
    /// file that prints it holds verbatim.
    pub phrases: Vec<String>,
}

/// At most this many quoted phrases are kept, each at most this long.
pub const MAX_PHRASES: usize = 30;
const MAX_PHRASE_LEN: usize = 160;
/// A phrase shorter than this matches too much to mean anything.
const MIN_PHRASE_LEN: usize = 12;

/// File extensions that make a word a path (`parser.py`), not an attribute (`os.path`).
const PATH_EXT: [&str; 40] = [
    "py", "pyi", "rs", "go", "js", "jsx", "mjs", "cjs", "ts", "tsx", "c", "h", "cc", "cpp", "hpp",
    "java", "kt", "rb", "php", "cs", "swift", "lua", "sh", "md", "rst", "txt", "toml", "yaml",
    "yml", "json", "cfg", "ini", "vue", "svelte", "scala", "ex", "exs", "zig", "sql", "css",
];

/// Words too common in code or prose to point anywhere.
const STOP: [&str; 129] = [
    "the",
    "and",
    "for",
    "that",
    "this",
    "with",
    "from",
    "not",
    "are",
    "but",
    "was",
    "were",
    "have",
    "has",
    "had",
    "when",
    "what",
    "which",
    "will",
    "would",
    "should",
    "could",
    "can",
    "there",
    "their",
    "then",
    "than",
    "them",
    "they",
    "into",
    "only",
    "also",
    "any",
    "all",
    "some",
    "does",
    "doesn",
    "did",
    "didn",
    "isn",
    "its",
    "use",
    "used",
    "using",
    "like",
    "just",
    "get",
    "set",
    "new",
    "one",
    "two",
    "way",
    "out",
    "see",
    "how",
    "why",
    "our",
    "you",
    "your",
    "def",
    "class",
    "function",
    "return",
    "import",
    "const",
    "let",
    "var",
    "self",
    "none",
    "true",
    "false",
    "null",
    "undefined",
    "pub",
    "impl",
    "struct",
    "enum",
    "fn",
    "func",
    "package",
    "public",
    "private",
    "static",
    "void",
    "int",
    "str",
    "string",
    "bool",
    "else",
    "elif",
    "while",
    "try",
    "except",
    "catch",
    "throw",
    "raise",
    "async",
    "await",
    "yield",
    "pass",
    "break",
    "continue",
    "lambda",
    "export",
    "default",
    "type",
    "interface",
    "mut",
    "issue",
    "bug",
    "fix",
    "error",
    "please",
    "expected",
    "actual",
    "repository",
    "change",
    "code",
    "file",
    "files",
    "test",
    "tests",
    "github",
    "steps",
    "after",
    "before",
    "need",
    "needs",
    "make",
];

/// Names every program uses: the languages' own functions and types.
const BUILTINS: [&str; 48] = [
    "print",
    "float",
    "int",
    "len",
    "dict",
    "list",
    "tuple",
    "range",
    "open",
    "isinstance",
    "object",
    "super",
    "bytes",
    "repr",
    "format",
    "sorted",
    "enumerate",
    "zip",
    "map",
    "filter",
    "console",
    "log",
    "require",
    "JSON",
    "Math",
    "Object",
    "Array",
    "String",
    "Number",
    "Promise",
    "Boolean",
    "Date",
    "println",
    "vec",
    "Some",
    "None",
    "Ok",
    "Err",
    "unwrap",
    "expect",
    "clone",
    "Vec",
    "Option",
    "Result",
    "Box",
    "main",
    "args",
    "kwargs",
];

/// The signals of `text`.
pub fn parse(text: &str) -> Query {
    let text = bounded(text);
    let mut q = Query::default();
    let mut idents: HashMap<String, (u8, usize)> = HashMap::new();
    let mut terms: HashMap<String, (f32, usize)> = HashMap::new();
    let mut surface: HashMap<String, String> = HashMap::new();
    let mut order = 0usize;
    let mut ident_order = 0usize;
    let mut note_ident = |name: &str, strength: u8| {
        if name.len() < 3 || name.len() > 80 || is_stop(name) || BUILTINS.contains(&name) {
            return;
        }
        // An exception's class is the symptom the user saw, rarely where the fix goes.
        let strength = if ["Error", "Exception", "Warning"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            1
        } else {
            strength
        };
        ident_order += 1;
        let e = idents
            .entry(name.to_owned())
            .or_insert((strength, ident_order));
        e.0 = e.0.max(strength);
    };
    let mut in_fence = false;
    let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
    for line in text.lines() {
        // A Markdown heading outside code: the issue's title, as the playbooks write it.
        let title = !in_fence && line.starts_with("# ");
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        // Stack frames: Python's `line N, in NAME` (not `<module>`), JavaScript's `at NAME (`.
        if let Some(i) = line.find(", in ")
            && line[..i].contains("line ")
            && !line[i + 5..].trim_start().starts_with('<')
        {
            for w in words(&line[i + 5..]).take(1) {
                note_ident(w, 3);
            }
        }
        if let Some(rest) = line.trim_start().strip_prefix("at ")
            && rest.contains('(')
        {
            for w in words(rest.split('(').next().unwrap_or_default()) {
                note_ident(w, 3);
            }
        }
        let code_spans = backticked(line);
        for phrase in phrases(line, in_fence, &code_spans) {
            if q.phrases.len() < MAX_PHRASES && !q.phrases.contains(&phrase) {
                q.phrases.push(phrase);
            }
        }
        let mut span_at = vec![false; line.len()];
        for &(a, b) in &code_spans {
            span_at[a..b].iter_mut().for_each(|x| *x = true);
        }
        for (start, end) in words_at(line) {
            let w = &line[start..end];
            let in_span = span_at.get(start).copied().unwrap_or(false);
            let call = line[end..].starts_with('(');
            let member = line[..start].ends_with('.');
            // In a code block every word is code; only the ones shaped or used like names
            // of the program (`parse_date`, `HttpClient`, `x.send`, `load(`) say much.
            let strength = if in_span || (in_fence && (call || member || code_shaped(w))) {
                3
            } else if call || code_shaped(w) {
                2
            } else if in_fence {
                1
            } else {
                0
            };
            if strength > 0 {
                note_ident(w, strength);
            }
            for part in std::iter::once(w.to_ascii_lowercase())
                .chain(split_parts(w).into_iter().map(|p| p.to_ascii_lowercase()))
            {
                if part.len() < 3 || part.len() > 80 || is_stop(&part) {
                    continue;
                }
                order += 1;
                let stemmed = stem(&stemmer, &part);
                if !surface.contains_key(&stemmed) && surface.len() < 4 * MAX_TERMS {
                    surface.insert(stemmed.clone(), part.clone());
                }
                let e = terms.entry(stemmed).or_insert((0.0, order));
                // The title says what the issue is about: its words count twice.
                e.0 = (e.0 + if title { 2.0 } else { 1.0 }).min(4.0);
            }
        }
        let output = in_fence || output_line(line);
        for p in path_words(line) {
            if q.paths.len() < MAX_PATHS && !q.paths.contains(&p) {
                if output {
                    q.in_output.push(p.clone());
                }
                q.paths.push(p);
            } else if !output {
                q.in_output.retain(|o| *o != p);
            }
        }
    }
    let mut idents: Vec<(String, (u8, usize))> = idents.into_iter().collect();
    idents.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
    q.idents = idents
        .into_iter()
        .take(MAX_IDENTS)
        .map(|(name, (strength, _))| Ident { name, strength })
        .collect();
    let mut terms: Vec<(String, (f32, usize))> = terms.into_iter().collect();
    terms.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
    terms.truncate(MAX_TERMS);
    terms.sort_by(|a, b| a.0.cmp(&b.0));
    q.shown = terms
        .iter()
        .map(|(t, _)| surface.get(t).cloned().unwrap_or_else(|| t.clone()))
        .collect();
    q.terms = terms.into_iter().map(|(t, (w, _))| (t, w)).collect();
    q
}

/// The messages a line quotes: a pasted error line in a code block (`TypeError: Could not
/// determine name for option` gives `Could not determine name for option` too), a string
/// in backticks or in double quotes.
fn phrases(line: &str, in_fence: bool, spans: &[(usize, usize)]) -> Vec<String> {
    let mut raw: Vec<&str> = Vec::new();
    if in_fence {
        raw.push(line.trim());
        // `Error: message` and `File "x", line 3, in f`: the message part alone.
        if let Some((_, rest)) = line.split_once(": ") {
            raw.push(rest.trim());
        }
    }
    raw.extend(spans.iter().map(|&(a, b)| &line[a..b]));
    let quotes: Vec<usize> = line.match_indices('"').map(|(i, _)| i).collect();
    raw.extend(quotes.chunks_exact(2).map(|p| &line[p[0] + 1..p[1]]));
    // A message printed with values in it (`the 'weeks' granularity`) is written in the
    // code with placeholders: its pieces between quotes are matched too.
    let pieces: Vec<&str> = raw.iter().flat_map(|p| quoted_pieces(p)).collect();
    raw.extend(pieces);
    raw.into_iter()
        .map(|p| p.trim_matches(|c: char| c.is_whitespace() || "\"'`.,:;".contains(c)))
        .filter(|p| {
            p.len() >= MIN_PHRASE_LEN
                && p.len() <= MAX_PHRASE_LEN
                && p.contains(' ')
                && p.chars().filter(|c| c.is_alphabetic()).count() * 2 > p.len()
        })
        .map(str::to_owned)
        .fold(Vec::new(), |mut out, p| {
            if !out.contains(&p) {
                out.push(p);
            }
            out
        })
}

/// The pieces of a text between its quotes and braces; an apostrophe inside a word
/// (`can't`) is not a quote.
fn quoted_pieces(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let quote = match c {
            b'"' | b'`' | b'{' | b'}' => true,
            b'\'' => {
                let letter = |j: Option<usize>| {
                    j.and_then(|j| b.get(j))
                        .is_some_and(u8::is_ascii_alphabetic)
                };
                !(letter(i.checked_sub(1)) && letter(Some(i + 1)))
            }
            _ => false,
        };
        if quote {
            out.push(&text[start..i]);
            start = i + 1;
        }
    }
    out.push(&text[start..]);
    out
}

/// A word's stem (`stripping` → `strip`, `comments` → `comment`), so that an issue's words
/// meet the code's in any form; identifiers with `_` are kept whole.
pub(crate) fn stem(stemmer: &rust_stemmers::Stemmer, lower: &str) -> String {
    if lower.len() < 4 || lower.contains('_') {
        lower.to_owned()
    } else {
        stemmer.stem(lower).into_owned()
    }
}

/// A line of a program's output rather than of a person: a traceback frame, a test
/// runner's verdict, a compiler's location.
fn output_line(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("File \"")
        || t.starts_with("at ")
        || t.starts_with("--> ")
        || [
            "FAILED", "ERROR", "PASSED", "FAIL ", "ok ", "not ok", "panicked", "thread '",
        ]
        .iter()
        .any(|p| t.starts_with(p))
        || line.contains(", line ")
        || line
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .any(|w| {
                // `src/x.rs:12:5`, `test_a.py:31:` …
                let mut parts = w.split(':');
                parts.next().is_some_and(|p| p.contains('.'))
                    && parts
                        .next()
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
}

/// The head and the tail of a text longer than [`MAX_TEXT`].
fn bounded(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_TEXT {
        return text.into();
    }
    let head = super::candidates::floor_char_boundary(text, MAX_TEXT * 3 / 4);
    let mut tail = text.len() - MAX_TEXT / 4;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}\n{}", &text[..head], &text[tail..]).into()
}

/// A word too common in code to follow: a stop word or a language's own name.
pub(crate) fn is_common(w: &str) -> bool {
    is_stop(w) || BUILTINS.contains(&w) || w == "self" || w == "this"
}

fn is_stop(w: &str) -> bool {
    let lower = w.to_ascii_lowercase();
    STOP.contains(&lower.as_str())
}

/// The byte ranges of the words (identifier-shaped: letters, digits, `_` and `$`) of a line.
pub(crate) fn words_at(line: &str) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() || b[i] == b'_' || b[i] == b'$' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    words_at(s).into_iter().map(move |(a, b)| &s[a..b])
}

/// The byte ranges inside single backticks of a line.
fn backticked(line: &str) -> Vec<(usize, usize)> {
    let ticks: Vec<usize> = line.match_indices('`').map(|(i, _)| i).collect();
    ticks
        .chunks_exact(2)
        .map(|p| (p[0] + 1, p[1]))
        .filter(|(a, b)| b - a <= 200)
        .collect()
}

/// CamelCase (`parseDate`, `HttpClient`), snake_case (`parse_date`) or CONSTANT_CASE.
pub(crate) fn code_shaped(w: &str) -> bool {
    let b = w.as_bytes();
    let inner_underscore = w.trim_matches('_').contains('_');
    let hump = b
        .windows(2)
        .any(|p| p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase());
    inner_underscore || hump
}

/// The parts of an identifier: `parseDateTime` → parse, Date, Time; `read_file` → read, file.
pub(crate) fn split_parts(w: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for piece in w.split('_').filter(|p| !p.is_empty()) {
        let b = piece.as_bytes();
        let mut start = 0;
        for i in 1..b.len() {
            let hump = b[i - 1].is_ascii_lowercase() && b[i].is_ascii_uppercase();
            let acronym_end = i + 1 < b.len()
                && b[i - 1].is_ascii_uppercase()
                && b[i].is_ascii_uppercase()
                && b[i + 1].is_ascii_lowercase();
            if hump || acronym_end {
                out.push(&piece[start..i]);
                start = i;
            }
        }
        out.push(&piece[start..]);
    }
    if out.len() == 1 && out[0] == w {
        out.clear();
    }
    out
}

/// Words of a line that are paths or file names, normalised.
fn path_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_./-@+".contains(c);
    for raw in line.split(|c: char| !is_path_char(c)) {
        if raw.len() < 3 || raw.len() > 300 {
            continue;
        }
        // `.` and `..` are dropped: a path is only ever compared with the checkout's files,
        // by its trailing components.
        let p = raw
            .split('/')
            .filter(|c| !c.is_empty() && *c != "." && *c != "..")
            .collect::<Vec<_>>()
            .join("/");
        let p = p.trim_end_matches(['.', '-']);
        let name = p.rsplit('/').next().unwrap_or(p);
        let has_ext = name
            .rsplit_once('.')
            .is_some_and(|(stem, ext)| !stem.is_empty() && PATH_EXT.contains(&ext));
        let is_dir_path = p.contains('/') && !p.contains("//") && p.split('/').count() >= 2;
        if has_ext || (is_dir_path && !p.starts_with("http")) {
            out.push(p.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(q: &Query) -> Vec<(&str, u8)> {
        q.idents
            .iter()
            .map(|i| (i.name.as_str(), i.strength))
            .collect()
    }

    #[test]
    fn reads_paths_identifiers_and_frames() {
        let q = parse(
            "`decamelize` breaks on acronyms in src/index.ts\n\
             Traceback (most recent call last):\n  File \"/home/u/proj/pkg/parser.py\", line 12, in parse_date\n\
             when calling HttpClient.send() the os.path value is wrong\n\
             see ./docs/usage.md and a/lib/x.rs:10:5\n",
        );
        assert_eq!(
            q.paths,
            [
                "src/index.ts",
                "home/u/proj/pkg/parser.py",
                "docs/usage.md",
                "a/lib/x.rs"
            ]
        );
        assert_eq!(
            names(&q),
            [
                ("decamelize", 3),
                ("parse_date", 3),
                ("HttpClient", 2),
                ("send", 2)
            ]
        );
        assert!(q.terms.iter().any(|(t, _)| t == "acronym"), "stemmed");
        assert!(q.terms.iter().any(|(t, _)| t == "client"));
    }

    #[test]
    fn splits_identifiers_into_words() {
        assert_eq!(split_parts("parseDateTime"), ["parse", "Date", "Time"]);
        assert_eq!(split_parts("HTTPServer"), ["HTTP", "Server"]);
        assert_eq!(split_parts("read_file"), ["read", "file"]);
        assert!(split_parts("plain").is_empty());
    }

    #[test]
    fn hostile_text_is_bounded() {
        let many: String = (0..50_000).map(|i| format!("`ident_{i}` ")).collect();
        let big = format!("{many}{}", "x".repeat(10 * 1024 * 1024));
        let q = parse(&big);
        assert!(q.idents.len() <= MAX_IDENTS);
        assert!(q.terms.len() <= MAX_TERMS);
        assert!(q.paths.len() <= MAX_PATHS);
        let q = parse("../../etc/passwd /proc/self/environ ~/.ssh/id_rsa");
        assert_eq!(q.paths, ["etc/passwd", "proc/self/environ", ".ssh/id_rsa"]);
    }
}
