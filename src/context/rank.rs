//! Ranking a checkout's files by what an issue says, each score with its reasons:
//! a path the issue names; an identifier it names that the file defines; the words it
//! shares with the issue (BM25 over the file's text and its path). Deterministic: ties go
//! to the path that sorts first.

use rustc_hash::{FxHashMap, FxHashSet};

use super::candidates::{Candidate, FileKind};
use super::query::{Query, split_parts, stem, words_at};

/// Score of a file whose path the issue names.
pub const NAMED: f32 = 100.0;
/// Score of a file whose name (without folders) the issue names, shared among the files
/// with that name.
pub const NAMED_FILE: f32 = 60.0;
/// Score of defining an identifier named in code or a stack frame (strength 3), shared among
/// the files that define it.
pub const DEFINES: f32 = 36.0;
/// Score of defining what a named definition uses (one hop along the calls), at most.
pub const CALLED: f32 = 20.0;
/// At most this many names used by named definitions are followed.
const MAX_CALLEES: usize = 60;
/// A definition's body is read this far.
const BODY_LINES: usize = 40;

/// Score of a file named after an identifier the issue names, shared among such files.
pub const NAMED_AFTER: f32 = 30.0;
/// Score of using an identifier named in code that no file defines, shared among the five
/// files that use it most, by how often.
pub const USES: f32 = 24.0;
/// Score of holding a message the issue quotes, shared among the files that hold it.
pub const QUOTES: f32 = 50.0;
/// Score of the best lexical match; the others are scaled to it.
pub const WORDS: f32 = 20.0;
/// Docs and settings count this much of their lexical score (a named one counts whole).
const PROSE_WEIGHT: f32 = 0.4;
/// Path words count as this many occurrences in the text.
const PATH_WORD_BOOST: f32 = 4.0;

/// A file's score and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scored {
    /// Index into the candidates.
    #[serde(skip)]
    pub index: usize,
    pub path: String,
    pub score: f32,
    pub reasons: Vec<String>,
}

/// What one file holds of the query, from one read of its text.
#[derive(Default)]
struct Seen {
    /// Identifiers (by index into the query) the file defines.
    defines: Vec<usize>,
    /// Where: (identifier, line index).
    def_lines: Vec<(usize, usize)>,
    /// Phrases (by index into the query) the file holds.
    quotes: Vec<usize>,
    /// Identifier index → how often the file uses it.
    uses: FxHashMap<usize, u32>,
    /// Term index → occurrences.
    terms: FxHashMap<usize, f32>,
    /// Words in the file.
    length: f32,
}

/// Words that introduce a definition of the word after them.
const DEF_KEYWORDS: [&str; 30] = [
    "def",
    "class",
    "fn",
    "struct",
    "enum",
    "trait",
    "type",
    "interface",
    "func",
    "function",
    "const",
    "let",
    "var",
    "module",
    "impl",
    "macro_rules",
    "union",
    "typedef",
    "record",
    "object",
    "protocol",
    "extension",
    "val",
    "mod",
    "namespace",
    "alias",
    "defmodule",
    "defp",
    "defn",
    "sub",
];
/// First words of a line that make a following `name(` a call, not a definition.
const CONTROL: [&str; 14] = [
    "if", "for", "while", "switch", "return", "sizeof", "else", "catch", "case", "do", "await",
    "new", "throw", "assert",
];

/// The candidates scored for `q`, best first; files with no signal are left out.
pub fn rank(cands: &[Candidate], q: &Query) -> Vec<Scored> {
    let idents: FxHashMap<&str, usize> = q
        .idents
        .iter()
        .enumerate()
        .map(|(i, id)| (id.name.as_str(), i))
        .collect();
    let terms: FxHashMap<&str, usize> = q
        .terms
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (t.as_str(), i))
        .collect();
    let phrases = aho_corasick::AhoCorasick::new(&q.phrases).ok();
    let seen = scan_all(cands, &idents, &terms, phrases.as_ref());

    let mut out: Vec<Scored> = cands
        .iter()
        .enumerate()
        .map(|(index, c)| Scored {
            index,
            path: c.path.clone(),
            score: 0.0,
            reasons: Vec::new(),
        })
        .collect();

    // Paths the issue names.
    for mention in &q.paths {
        let named: Vec<usize> = cands
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                ends_with_components(mention, &c.path) || ends_with_components(&c.path, mention)
            })
            .map(|(i, _)| i)
            .collect();
        let weight = if mention.contains('/') {
            NAMED
        } else {
            NAMED_FILE
        };
        let dir_mention = !mention.contains('.');
        let where_ = if q.in_output.contains(mention) {
            "in the output the issue shows"
        } else {
            "in the issue"
        };
        for &i in &named {
            out[i].score += weight / named.len() as f32;
            out[i].reasons.push(format!("named {where_}: `{mention}`"));
        }
        if named.is_empty() && dir_mention {
            for (i, c) in cands.iter().enumerate() {
                if c.path.starts_with(&format!("{mention}/"))
                    || c.path.contains(&format!("/{mention}/"))
                {
                    out[i].score += 5.0;
                    if out[i].reasons.iter().all(|r| !r.starts_with("in `")) {
                        out[i]
                            .reasons
                            .push(format!("in `{mention}`, which the issue names"));
                    }
                }
            }
        }
    }

    // Identifiers the issue names, where they are defined.
    let mut definers: Vec<Vec<usize>> = vec![Vec::new(); q.idents.len()];
    for (i, s) in seen.iter().enumerate() {
        for &id in &s.defines {
            definers[id].push(i);
        }
    }
    for (id, files) in definers.iter().enumerate() {
        if files.is_empty() {
            continue;
        }
        let ident = &q.idents[id];
        let share = DEFINES * f32::from(ident.strength) / 3.0 / files.len() as f32;
        for &i in files {
            out[i].score += share;
            out[i]
                .reasons
                .push(format!("defines `{}`, which the issue names", ident.name));
        }
    }

    // What the named definitions use, where that is defined: one hop along the calls
    // (`fields.Url` builds a `validate.URL`; `toFormat` calls `Formatter`).
    let mut callees: Vec<(String, usize)> = Vec::new();
    for (id, files) in definers.iter().enumerate() {
        if files.is_empty() || files.len() > 3 || q.idents[id].strength < 2 {
            continue;
        }
        for &i in files {
            for &(_, line) in seen[i].def_lines.iter().filter(|d| d.0 == id) {
                for name in body_names(&cands[i].text, line) {
                    if name != q.idents[id].name
                        && !q.idents.iter().any(|x| x.name == name)
                        && !callees.iter().any(|c| c.0 == name)
                        && callees.len() < MAX_CALLEES
                    {
                        callees.push((name, id));
                    }
                }
            }
        }
    }
    if !callees.is_empty() {
        let names: Vec<&str> = callees.iter().map(|c| c.0.as_str()).collect();
        let mut credit: FxHashMap<usize, (f32, Vec<String>)> = FxHashMap::default();
        for (k, files) in definers_of(cands, &names).iter().enumerate() {
            if files.is_empty() || files.len() > 3 {
                continue;
            }
            let (name, id) = &callees[k];
            let from = &q.idents[*id];
            for &i in files {
                if definers[*id].contains(&i) {
                    continue;
                }
                let e = credit.entry(i).or_default();
                e.0 += CALLED * f32::from(from.strength) / 3.0 / files.len() as f32;
                e.1.push(format!("`{name}` (used by `{}`)", from.name));
            }
        }
        let mut credit: Vec<(usize, (f32, Vec<String>))> = credit.into_iter().collect();
        credit.sort_by_key(|c| c.0);
        for (i, (score, names)) in credit {
            out[i].score += score.min(CALLED);
            let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
            out[i].reasons.push(format!("defines {}", shown.join(", ")));
        }
    }

    // Files named after an identifier the issue names (`inc()` and functions/inc.js,
    // `Month` and month.rs).
    for ident in q.idents.iter().filter(|i| i.strength >= 2) {
        let lower = ident.name.to_ascii_lowercase();
        let named: Vec<usize> = cands
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                let name = c.path.rsplit('/').next().unwrap_or(&c.path);
                let stem = name.split('.').next().unwrap_or(name);
                stem.len() >= 3 && stem.to_ascii_lowercase().replace('-', "_") == lower
            })
            .map(|(i, _)| i)
            .collect();
        if named.is_empty() || named.len() > 3 {
            continue;
        }
        for &i in &named {
            out[i].score += NAMED_AFTER * f32::from(ident.strength) / 3.0 / named.len() as f32;
            out[i].reasons.push(format!(
                "is named after `{}`, which the issue names",
                ident.name
            ));
        }
    }

    // Identifiers the issue names in code that nothing defines (a hook, a key, a method of
    // another library): where they are used most.
    for (id, files) in definers.iter().enumerate() {
        let ident = &q.idents[id];
        if !files.is_empty() || ident.strength < 3 {
            continue;
        }
        let mut users: Vec<(u32, usize)> = seen
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.uses.get(&id).map(|&n| (n, i)))
            .filter(|&(_, i)| cands[i].kind != FileKind::Test)
            .collect();
        // A name most files use (`require`, `self`) points nowhere.
        if users.len() > 5.max(cands.len() / 5) {
            continue;
        }
        users.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        users.truncate(5);
        let total: u32 = users.iter().map(|u| u.0).sum();
        for (n, i) in users {
            out[i].score += USES * n as f32 / total.max(1) as f32;
            out[i].reasons.push(format!(
                "uses `{}` ({n} times), which the issue names",
                ident.name
            ));
        }
    }

    // Messages the issue quotes, where they are written.
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); q.phrases.len()];
    for (i, s) in seen.iter().enumerate() {
        for &p in &s.quotes {
            holders[p].push(i);
        }
    }
    for (p, files) in holders.iter().enumerate() {
        if files.is_empty() || files.len() > 5 {
            continue;
        }
        for &i in files {
            out[i].score += QUOTES / files.len() as f32;
            out[i].reasons.push(format!(
                "holds `{}`, which the issue quotes",
                crate::text::printable(&q.phrases[p])
            ));
        }
    }

    // Words shared with the issue.
    let n = cands.len().max(1) as f32;
    let mut df = vec![0f32; q.terms.len()];
    for s in &seen {
        for &t in s.terms.keys() {
            df[t] += 1.0;
        }
    }
    let avg_len = (seen.iter().map(|s| s.length).sum::<f32>() / n).max(1.0);
    // Source files are long when they matter: length counts less than in prose retrieval.
    let (k1, b) = (1.2f32, 0.5f32);
    let mut lexical: Vec<(f32, Vec<(f32, usize)>)> = seen
        .iter()
        .map(|s| {
            let mut parts: Vec<(f32, usize)> = s
                .terms
                .iter()
                .map(|(&t, &tf)| {
                    let idf = ((n - df[t] + 0.5) / (df[t] + 0.5) + 1.0).ln();
                    let norm = tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * s.length / avg_len));
                    (idf * norm * q.terms[t].1, t)
                })
                .collect();
            parts.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            (parts.iter().map(|p| p.0).sum(), parts)
        })
        .collect();
    for (i, c) in cands.iter().enumerate() {
        if matches!(c.kind, FileKind::Doc | FileKind::Config) {
            lexical[i].0 *= PROSE_WEIGHT;
        }
    }
    let best = lexical.iter().map(|l| l.0).fold(0.0f32, f32::max);
    if best > 0.0 {
        for (i, (score, parts)) in lexical.iter().enumerate() {
            let scaled = WORDS * score / best;
            if scaled < 0.5 {
                continue;
            }
            out[i].score += scaled;
            let shown: Vec<String> = parts
                .iter()
                .take(4)
                .map(|(_, t)| format!("`{}`", q.shown[*t]))
                .collect();
            out[i]
                .reasons
                .push(format!("shares words with the issue: {}", shown.join(", ")));
        }
    }

    // Docs, examples, benchmarks and type stubs are rarely what an issue asks to change,
    // unless it names them.
    for (i, c) in cands.iter().enumerate() {
        let named = out[i].reasons.iter().any(|r| r.starts_with("named in"));
        if !named && secondary(&c.path) {
            out[i].score *= 0.5;
        }
    }
    out.retain(|s| s.score > 0.0);
    for s in &mut out {
        s.score = (s.score * 10.0).round() / 10.0;
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.path.cmp(&b.path)));
    out
}

/// The names a definition at `line` uses in its body (its next lines, until the indent
/// returns to the definition's, at most [`BODY_LINES`]): types, calls, methods.
fn body_names(text: &str, line: usize) -> Vec<String> {
    let mut lines = text.lines().skip(line);
    let Some(head) = lines.next() else {
        return Vec::new();
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let base = indent(head);
    let mut out: Vec<String> = Vec::new();
    let mut seen: FxHashSet<&str> = FxHashSet::default();
    for l in std::iter::once(head).chain(lines.take(BODY_LINES).take_while(|l| {
        l.trim().is_empty() || indent(l) > base || l.trim_start().starts_with(['}', ')'])
    })) {
        for (a, b) in words_at(l) {
            let w = &l[a..b];
            let capital =
                w.as_bytes()[0].is_ascii_uppercase() && w.bytes().any(|c| c.is_ascii_lowercase());
            let call = l[b..].starts_with('(');
            if w.len() >= 4
                && (capital || call || super::query::code_shaped(w))
                && !DEF_KEYWORDS.contains(&w)
                && !CONTROL.contains(&w)
                && !super::query::is_common(w)
                && seen.insert(w)
            {
                out.push(w.to_owned());
                if out.len() >= MAX_CALLEES {
                    return out;
                }
            }
        }
    }
    out
}

/// A line's start and end in a text, and its words.
type LineWords = (usize, usize, Vec<(usize, usize)>);

/// For each name, the files that define it (read only where the name occurs).
fn definers_of(cands: &[Candidate], names: &[&str]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); names.len()];
    let Ok(ac) = aho_corasick::AhoCorasick::new(names) else {
        return out;
    };
    for (i, c) in cands.iter().enumerate() {
        if c.kind == FileKind::Test {
            continue;
        }
        let c_family = c
            .path
            .rsplit_once('.')
            .is_some_and(|(_, e)| matches!(e, "c" | "h" | "cc" | "cpp" | "cxx" | "hpp" | "hh"));
        // The line of the last match and its words, worked out once per line.
        let mut current: Option<LineWords> = None;
        for m in ac.find_overlapping_iter(&c.text) {
            let n = m.pattern().as_usize();
            if out[n].last() == Some(&i) {
                continue;
            }
            if !current
                .as_ref()
                .is_some_and(|(a, b, _)| *a <= m.start() && m.end() <= *b)
            {
                let a = c.text[..m.start()].rfind('\n').map_or(0, |p| p + 1);
                let b = c.text[m.end()..]
                    .find('\n')
                    .map_or(c.text.len(), |p| m.end() + p);
                current = Some((a, b, words_at(&c.text[a..b])));
            }
            let Some((a, b, words)) = &current else {
                continue;
            };
            let line = &c.text[*a..*b];
            let at = (m.start() - a, m.end() - a);
            if let Ok(k) = words.binary_search_by_key(&at.0, |w| w.0)
                && words[k] == at
                && defines_here(line, words, k, c_family)
            {
                out[n].push(i);
            }
        }
    }
    out
}

/// Files beside the code: docs, examples, benchmarks, type stubs, build settings.
fn secondary(path: &str) -> bool {
    let first = path.split('/').next().unwrap_or(path);
    matches!(
        first,
        "docs"
            | "doc"
            | "examples"
            | "example"
            | "benchmarks"
            | "bench"
            | "benches"
            | "scripts"
            | "bin"
    ) || path.ends_with(".pyi")
        || path.ends_with(".d.ts")
        || path.ends_with("conf.py")
        || path.ends_with("setup.py")
        || path.ends_with("noxfile.py")
}

/// Whether `long` ends with all the components of `short` (`a/b/c.py` ends with `c.py`
/// and `b/c.py`, not with `/c.py` or `bc.py`).
pub(crate) fn ends_with_components(long: &str, short: &str) -> bool {
    long == short || (long.ends_with(short) && long[..long.len() - short.len()].ends_with('/'))
}

/// What one thread has worked out about words: which query term each is (stemmed once).
struct Memo {
    words: FxHashMap<String, Option<usize>>,
    stemmer: rust_stemmers::Stemmer,
}

/// Every file read once, on every core.
fn scan_all(
    cands: &[Candidate],
    idents: &FxHashMap<&str, usize>,
    terms: &FxHashMap<&str, usize>,
    phrases: Option<&aho_corasick::AhoCorasick>,
) -> Vec<Seen> {
    let prefixes: FxHashSet<&[u8]> = terms
        .keys()
        .filter(|t| t.len() >= 3)
        .map(|t| &t.as_bytes()[..3])
        .collect();
    let prefixes = &prefixes;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = cands.len().div_ceil(threads).max(64);
    std::thread::scope(|scope| {
        let handles: Vec<_> = cands
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut memo = Memo {
                        words: FxHashMap::default(),
                        stemmer: rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English),
                    };
                    part.iter()
                        .map(|c| {
                            let mut seen = scan(c, idents, terms, prefixes, &mut memo);
                            if let Some(ac) = phrases {
                                for m in ac.find_overlapping_iter(&c.text) {
                                    let p = m.pattern().as_usize();
                                    if !seen.quotes.contains(&p) {
                                        seen.quotes.push(p);
                                    }
                                }
                            }
                            seen
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// What one file holds of the query.
fn scan(
    c: &Candidate,
    idents: &FxHashMap<&str, usize>,
    terms: &FxHashMap<&str, usize>,
    prefixes: &FxHashSet<&[u8]>,
    memo: &mut Memo,
) -> Seen {
    let mut seen = Seen::default();
    let mut count = |w: &str, by: f32, seen: &mut Seen| {
        let t = match memo.words.get(w) {
            Some(&t) => t,
            None => {
                let lower = w.to_ascii_lowercase();
                let t = terms.get(lower.as_str()).copied().or_else(|| {
                    // Stemming costs: only words that begin like a query word are stemmed.
                    (lower.len() >= 4 && prefixes.contains(&lower.as_bytes()[..3]))
                        .then(|| terms.get(stem(&memo.stemmer, &lower).as_str()).copied())
                        .flatten()
                });
                memo.words.insert(w.to_owned(), t);
                t
            }
        };
        if let Some(t) = t {
            *seen.terms.entry(t).or_default() += by;
        }
    };
    for part in c.path.split(['/', '.', '-', '_']) {
        count(part, PATH_WORD_BOOST, &mut seen);
        for p in split_parts(part) {
            count(p, PATH_WORD_BOOST, &mut seen);
        }
    }
    let c_family = c
        .path
        .rsplit_once('.')
        .is_some_and(|(_, e)| matches!(e, "c" | "h" | "cc" | "cpp" | "cxx" | "hpp" | "hh"));
    for (n, line) in c.text.lines().enumerate() {
        let words = words_at(line);
        for (k, &(a, b)) in words.iter().enumerate() {
            let w = &line[a..b];
            seen.length += 1.0;
            count(w, 1.0, &mut seen);
            if w.len() > 3 && (w.contains('_') || w.bytes().any(|c| c.is_ascii_uppercase())) {
                for p in split_parts(w) {
                    count(p, 1.0, &mut seen);
                }
            }
            let Some(&id) = idents.get(w) else {
                continue;
            };
            *seen.uses.entry(id).or_default() += 1;
            if defines_here(line, &words, k, c_family) && !seen.defines.contains(&id) {
                seen.defines.push(id);
                seen.def_lines.push((id, n));
            }
        }
    }
    seen
}

/// Whether the `k`th word of `line` is being defined there (a keyword before it, a C
/// definition at the margin, a method, a field holding a function), not imported or used.
fn defines_here(line: &str, words: &[(usize, usize)], k: usize, c_family: bool) -> bool {
    let (a, b) = words[k];
    let first = words.first().map(|&(a, b)| &line[a..b]);
    let at_margin = !line.starts_with([' ', '\t']);
    let prev = k.checked_sub(1).map(|j| &line[words[j].0..words[j].1]);
    let after = line[b..].trim_start();
    let call = after.starts_with('(');
    let defines = prev.is_some_and(|p| DEF_KEYWORDS.contains(&p))
        // Rust: `impl Trait for NAME`.
        || (prev == Some("for") && line.trim_start().starts_with("impl"))
        // A top-level assignment: `NAME = ...`, `exports.NAME = ...`.
        || (at_margin && after.starts_with('=') && !after.starts_with("=="))
        // Go methods: `func (r *T) Name(`.
        || (call && first == Some("func"))
        // C and C-like definitions at the margin: `static int name(...)` not ending in `;`.
        || (call && at_margin && k > 0
            && !line.trim_end().ends_with(';')
            && line[..a].bytes().all(|c| c.is_ascii_alphanumeric() || b" _*&\t".contains(&c))
            && !first.is_some_and(|f| CONTROL.contains(&f)))
        // GNU style C: the type on the line before, the name at the margin.
        || (call && at_margin && k == 0 && c_family && !line.trim_end().ends_with(';'))
        // Methods: `name(...) {` on an indented line.
        || (call && !at_margin
            && line.trim_end().ends_with('{')
            && !first.is_some_and(|f| CONTROL.contains(&f))
            && (k == 0 || !line[..a].trim_end().ends_with(['.', '=', '(', ',', '!', '&', '|'])))
        // Fields holding functions: `name = () =>`, `name: function`.
        || (k == 0 && (after.starts_with('=') || after.starts_with(':'))
            && (after.contains("=>") || after.contains("function")));
    // `const x = require(...)`, `import x from`: a name for another module's thing.
    defines && !(line.contains("require(") || line.contains("import "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::query::parse;

    fn cand(path: &str, text: &str) -> Candidate {
        Candidate {
            path: path.into(),
            kind: if crate::context::candidates::is_test(path) {
                FileKind::Test
            } else {
                FileKind::Source
            },
            text: text.into(),
        }
    }

    fn definitions(path: &str, text: &str, name: &str) -> bool {
        let c = cand(path, text);
        let idents = FxHashMap::from_iter([(name, 0usize)]);
        let mut memo = Memo {
            words: FxHashMap::default(),
            stemmer: rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English),
        };
        !scan(
            &c,
            &idents,
            &FxHashMap::default(),
            &FxHashSet::default(),
            &mut memo,
        )
        .defines
        .is_empty()
    }

    #[test]
    fn finds_definitions_in_many_languages() {
        for (path, text) in [
            ("a.py", "def target(x):\n"),
            ("a.py", "class target:\n"),
            ("a.py", "target = compile('x')\n"),
            ("a.rs", "pub(crate) fn target() {}\n"),
            ("a.rs", "impl<T> Display for target {}\n"),
            ("a.go", "func (r *Reader) target(b []byte) {\n"),
            ("a.go", "func target() {\n"),
            ("a.js", "export function target(a) {\n"),
            ("a.js", "const target = (a) => a\n"),
            ("a.ts", "  target(a: string): number {\n"),
            ("a.ts", "export interface target {\n"),
            ("a.c", "static int target(const char *s)\n{\n"),
            ("a.c", "int\ntarget(void) {\n"),
            ("a.rb", "  def target\n"),
        ] {
            assert!(definitions(path, text, "target"), "{path}: {text:?}");
        }
        for (path, text) in [
            ("a.py", "    y = target(x)\n"),
            ("a.c", "int target(void);\n"),
            ("a.c", "    if (target(x)) {\n"),
            ("a.js", "  return target(a)\n"),
            ("a.js", "  foo.target(a) {\n"),
            ("a.py", "if target == 1:\n"),
        ] {
            assert!(!definitions(path, text, "target"), "{path}: {text:?}");
        }
    }

    #[test]
    fn ranks_by_named_path_definition_and_words() {
        let cands = vec![
            cand("src/dates.py", "def parse_date(s):\n    return s\n"),
            cand(
                "src/other.py",
                "from .dates import parse_date\nx = parse_date('1')\n",
            ),
            cand(
                "src/timezone.py",
                "def offset(tz):\n    '''timezone offset'''\n",
            ),
            cand("README.md", "parse dates and timezone offsets"),
        ];
        let q = parse("`parse_date` ignores the timezone offset");
        let ranked = rank(&cands, &q);
        assert_eq!(ranked[0].path, "src/dates.py");
        assert_eq!(
            ranked[0].reasons[0],
            "defines `parse_date`, which the issue names"
        );
        assert_eq!(ranked[1].path, "src/timezone.py");
        let q = parse("crash in src/other.py at startup");
        assert_eq!(rank(&cands, &q)[0].path, "src/other.py");
        assert_eq!(
            rank(&cands, &q)[0].reasons[0],
            "named in the issue: `src/other.py`"
        );
    }
}
