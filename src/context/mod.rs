//! What a coding agent is shown: the checkout's files ranked by what the issue says
//! (`candidates`, `query`, `rank`), and as many of the best as fit the model's context
//! window beside aider's own prompts, the message and the reply (`budget`, counted by
//! `tokens`). Each choice carries its reasons, so a dry run and run.json can say why a file
//! was handed over or left out.
//!
//! [`select`] reads the checkout and nothing else; it writes nothing. Paths the issue names
//! are only ever compared with the checkout's own file list.

pub mod budget;
pub mod candidates;
pub mod query;
pub mod rank;
pub mod tokens;

use std::path::Path;

pub use budget::Budget;
use candidates::{Candidate, FileKind, LeftOut};

/// At most this many files are edited when the playbook does not say (`context.max_files`).
pub const DEFAULT_MAX_FILES: usize = 3;
/// A file is chosen to edit only if it scores at least this share of the best file's score.
pub const CUT_SHARE: f32 = 0.33;
/// ...and at least this much (a single shared word is not a reason).
pub const MIN_SCORE: f32 = 4.0;

/// At most this many files too large to send are handed as excerpts.
pub const MAX_EXCERPTS: usize = 2;
/// An excerpt smaller than this shows too little to be worth its place.
const EXCERPT_MIN: u32 = 200;

/// What the step asks for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The model's context window.
    pub window: u32,
    /// The edit format the playbook set; `None`: `whole` (aider's choice for local models),
    /// which the selection may switch to `diff` for a large file.
    pub edit_format: Option<String>,
    /// Rank the whole checkout (`files: auto`); otherwise only `listed` are candidates.
    pub auto: bool,
    /// Files the playbook lists (globs resolved), relative to the root: always candidates.
    pub listed: Vec<String>,
    /// Read-only files the playbook lists.
    pub read: Vec<String>,
    /// Files to edit at most (auto).
    pub max_files: usize,
    /// Tokens for files and the map together, at most.
    pub budget: Option<u32>,
    /// The repository map's size; `None`: what is left, in auto mode only.
    pub map_tokens: Option<u32>,
}

/// A file handed to the agent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Chosen {
    pub path: String,
    pub tokens: u32,
    pub score: f32,
    pub reasons: Vec<String>,
}

/// A file left out, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Skipped {
    pub path: String,
    pub score: f32,
    pub why: String,
}

/// An excerpt of a file too large to send whole, handed read-only.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Excerpt {
    /// The file it is taken from.
    pub of: String,
    pub tokens: u32,
    #[serde(skip)]
    #[schemars(skip)]
    pub text: String,
}

/// What the agent is shown, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Selection {
    pub auto: bool,
    /// Files read and ranked.
    pub candidates: usize,
    pub skipped_files: LeftOut,
    pub edit: Vec<Chosen>,
    pub read: Vec<Chosen>,
    pub excerpts: Vec<Excerpt>,
    /// The best of what was left out (at most five).
    pub left_out: Vec<Skipped>,
    pub edit_format: String,
    /// Whether `--edit-format` is passed (set by the playbook, or switched here).
    pub pass_edit_format: bool,
    pub map_tokens: u32,
    pub budget: Budget,
    /// What was switched, trimmed or dropped.
    pub notes: Vec<String>,
    /// The message as sent (trimmed when it was too long).
    #[serde(skip)]
    #[schemars(skip)]
    pub message: String,
}

impl Selection {
    /// The same, with every text that came from the issue or the repository passed through
    /// `mask` (run.json holds only masked text).
    pub fn masked(&self, mask: impl Fn(&str) -> String) -> Selection {
        let chosen = |v: &[Chosen]| -> Vec<Chosen> {
            v.iter()
                .map(|c| Chosen {
                    path: mask(&c.path),
                    reasons: c.reasons.iter().map(|r| mask(r)).collect(),
                    ..c.clone()
                })
                .collect()
        };
        Selection {
            edit: chosen(&self.edit),
            read: chosen(&self.read),
            excerpts: self
                .excerpts
                .iter()
                .map(|x| Excerpt {
                    of: mask(&x.of),
                    tokens: x.tokens,
                    text: String::new(),
                })
                .collect(),
            left_out: self
                .left_out
                .iter()
                .map(|l| Skipped {
                    path: mask(&l.path),
                    why: mask(&l.why),
                    score: l.score,
                })
                .collect(),
            notes: self.notes.iter().map(|n| mask(n)).collect(),
            message: String::new(),
            ..self.clone()
        }
    }

    /// The selection as a plan shows it, one line each.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let how = if self.auto {
            format!(
                "files: auto, {} files of the checkout ranked",
                self.candidates
            )
        } else {
            "files: as listed, fitted to the window".to_owned()
        };
        let s = &self.skipped_files;
        let skipped: Vec<String> = [
            (s.generated, "generated"),
            (s.lock, "lock"),
            (s.minified, "minified"),
            (s.binary, "binary"),
            (s.too_large, "too large"),
            (s.cut, "past the limit"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if skipped.is_empty() {
            out.push(how);
        } else {
            out.push(format!("{how} (left out: {})", skipped.join(", ")));
        }
        for (label, list) in [("edit", &self.edit), ("read", &self.read)] {
            for c in list {
                let score = if c.score > 0.0 {
                    format!(", score {:.1}", c.score)
                } else {
                    String::new()
                };
                out.push(format!(
                    "  {label} {} ({} tokens{score}): {}",
                    c.path,
                    c.tokens,
                    c.reasons.join("; ")
                ));
            }
        }
        for x in &self.excerpts {
            out.push(format!(
                "  read an excerpt of {} ({} tokens)",
                x.of, x.tokens
            ));
        }
        for l in &self.left_out {
            out.push(format!(
                "  not  {} (score {:.1}): {}",
                l.path, l.score, l.why
            ));
        }
        out.push(format!("  budget: {}", self.budget.line()));
        for n in &self.notes {
            out.push(format!("  note: {n}"));
        }
        out
    }
}

/// The files of `root` to hand an agent for `message`, within `opts.window`.
pub fn select(root: &Path, message: &str, opts: &Options) -> Result<Selection, String> {
    let mut notes = Vec::new();
    let mut format = opts
        .edit_format
        .clone()
        .unwrap_or_else(|| "whole".to_owned());
    let switchable = opts.edit_format.is_none();
    let window = opts.window;
    let margin = (window as f32 * budget::MARGIN_SHARE) as u32;

    let max_message = (window as f32 * budget::MESSAGE_SHARE) as u32;
    let (sent, message_tokens) = match budget::trim_middle(message, max_message) {
        Some(cut) => {
            let n = tokens::count(&cut);
            notes.push(format!(
                "the message was cut from {} characters to {n} tokens (its head and tail kept) to fit a window of {window}",
                message.len()
            ));
            (cut, n)
        }
        None => (message.to_owned(), tokens::count(message)),
    };
    let fixed = |format: &str| {
        margin + budget::system_tokens(format) + message_tokens + budget::reply_tokens(format)
    };
    if fixed(&format) >= window {
        return Err(format!(
            "the model's context window ({window} tokens) cannot hold aider's prompts for the `{format}` edit format ({}), the message ({message_tokens}) and a reply; raise `num_ctx`",
            budget::system_tokens(&format)
        ));
    }

    // The candidates and their ranking.
    let query = query::parse(message);
    let (mut cands, skipped_files) = if opts.auto {
        candidates::collect(root)
    } else {
        (Vec::new(), LeftOut::default())
    };
    // Listed files are candidates whatever their kind or folder, and pinned: always
    // handed over when they fit, first.
    let mut pinned = Vec::new();
    for c in listed(root, &opts.listed) {
        let i = match cands.iter().position(|k| k.path == c.path) {
            Some(i) => i,
            None => {
                cands.push(c);
                cands.len() - 1
            }
        };
        if !pinned.contains(&i) {
            pinned.push(i);
        }
    }
    let ranked = rank::rank(&cands, &query);
    let mut order: Vec<(usize, f32, Vec<String>)> = ranked
        .iter()
        .map(|s| (s.index, s.score, s.reasons.clone()))
        .collect();
    if opts.auto {
        credit_sources_of_tests(&cands, &mut order);
    }
    for &i in &pinned {
        if !order.iter().any(|o| o.0 == i) {
            order.push((i, 0.0, Vec::new()));
        }
        let o = order.iter_mut().find(|o| o.0 == i).expect("just added");
        o.2.insert(0, format!("listed in the playbook (`{}`)", cands[i].path));
    }
    // Pinned files first (ranked among themselves), then the ranking.
    order.sort_by_key(|o| !pinned.contains(&o.0));

    let cost = |c: &Candidate| tokens::count(&c.text) + tokens::per_file(&c.path);
    let mut edit: Vec<Chosen> = Vec::new();
    let mut read: Vec<Chosen> = Vec::new();
    let mut excerpts: Vec<Excerpt> = Vec::new();
    let mut left_out: Vec<Skipped> = Vec::new();
    let files_cap = opts.budget.unwrap_or(u32::MAX);
    // Tokens free for `format` with these edit and read totals (a whole-file reply resends
    // the edited files).
    let free = |format: &str, edit_sum: u32, read_sum: u32| -> i64 {
        let resend = if format == "whole" { edit_sum } else { 0 };
        let by_window = i64::from(window)
            - i64::from(fixed(format))
            - i64::from(edit_sum)
            - i64::from(resend)
            - i64::from(read_sum);
        by_window.min(i64::from(files_cap) - i64::from(edit_sum) - i64::from(read_sum))
    };
    let sum = |v: &[Chosen]| v.iter().map(|c| c.tokens).sum::<u32>();
    let sum_ex = |v: &[Excerpt]| v.iter().map(|c| c.tokens).sum::<u32>();

    let top = order
        .iter()
        .filter(|o| editable(&cands[o.0], &o.2))
        .map(|o| o.1)
        .fold(0.0f32, f32::max);
    let cut = (top * CUT_SHARE).max(MIN_SCORE);
    if opts.auto {
        order = best_set_first(
            order,
            |o| {
                let c = &cands[o.0];
                let pin = pinned.contains(&o.0);
                (pin || (editable(c, &o.2) && o.1 >= cut)).then(|| (cost(c), pin))
            },
            opts.max_files,
            |edit_sum| {
                free(&format, edit_sum, 0) >= 0 || (switchable && free("diff", edit_sum, 0) >= 0)
            },
        );
    }
    let mut too_large: Vec<(usize, u32)> = Vec::new();
    for (i, score, reasons) in &order {
        let c = &cands[*i];
        let skip = |why: String, left_out: &mut Vec<Skipped>| {
            left_out.push(Skipped {
                path: c.path.clone(),
                score: *score,
                why,
            });
        };
        if opts.auto && !pinned.contains(i) {
            if !editable(c, reasons) {
                continue;
            }
            if *score < cut {
                skip(
                    if cut > MIN_SCORE {
                        format!("scores below {cut:.1}, a third of the best file's")
                    } else {
                        format!("scores below {MIN_SCORE:.1}")
                    },
                    &mut left_out,
                );
                continue;
            }
            if edit
                .iter()
                .filter(|e| !opts.listed.contains(&e.path))
                .count()
                >= opts.max_files
            {
                skip(
                    format!(
                        "{} files to edit already (`context.max_files`)",
                        opts.max_files
                    ),
                    &mut left_out,
                );
                continue;
            }
        }
        let t = cost(c);
        let reads = sum(&read) + sum_ex(&excerpts);
        let chosen = Chosen {
            path: c.path.clone(),
            tokens: t,
            score: *score,
            reasons: reasons.clone(),
        };
        if free(&format, sum(&edit) + t, reads) >= 0 {
            edit.push(chosen);
        } else if format == "whole" && switchable && free("diff", sum(&edit) + t, reads) >= 0 {
            notes.push(format!(
                "the edit format is `diff`, not `whole`: `{}` ({t} tokens) is too large to send and receive whole",
                c.path
            ));
            format = "diff".into();
            edit.push(chosen);
        } else if too_large.len() < MAX_EXCERPTS && (opts.auto || edit.is_empty()) {
            // Handed as an excerpt once the files that fit are chosen.
            too_large.push((*i, t));
        } else {
            skip(
                format!(
                    "does not fit: {t} tokens, {} free",
                    free(&format, sum(&edit), reads).max(0)
                ),
                &mut left_out,
            );
            if pinned.contains(i) {
                notes.push(format!(
                    "`{}` is listed but does not fit the window ({t} tokens): left out",
                    c.path
                ));
            }
        }
    }

    // Files that matter but fit in no format: a part of each, read-only, in what is left.
    for (i, t) in too_large {
        let c = &cands[i];
        let reads = sum(&read) + sum_ex(&excerpts);
        let room = (free(&format, sum(&edit), reads).max(0) as u32 / 2).min(window / 4);
        let bare =
            t + budget::system_tokens("diff") + message_tokens + budget::reply_tokens("diff");
        let needed = ((bare as f32 / (1.0 - budget::MARGIN_SHARE)) as u32).div_ceil(1024) * 1024;
        if room < EXCERPT_MIN {
            left_out.push(Skipped {
                path: c.path.clone(),
                score: order.iter().find(|o| o.0 == i).map_or(0.0, |o| o.1),
                why: format!("does not fit: {t} tokens; a window of {needed} would hold it"),
            });
            continue;
        }
        let needles: Vec<&str> = query
            .phrases
            .iter()
            .map(String::as_str)
            .chain(query.idents.iter().map(|i| i.name.as_str()))
            .collect();
        // aider names the excerpt's file (under the run's folder) and fences it: room for that.
        let framing = tokens::per_file(&c.path) + 24;
        let text = budget::excerpt(&c.path, &c.text, &needles, room.saturating_sub(framing));
        if text.is_empty() {
            continue;
        }
        let tokens = tokens::count(&text) + framing;
        notes.push(format!(
            "`{}` ({t} tokens) does not fit the window even in the `diff` format: an excerpt ({tokens} tokens) is handed read-only; a window of {needed} tokens (`num_ctx`) would hold it whole",
            c.path
        ));
        excerpts.push(Excerpt {
            of: c.path.clone(),
            tokens,
            text,
        });
    }

    // Listed files in the order the playbook lists them, then the ranked ones.
    edit.sort_by_key(|e| {
        opts.listed
            .iter()
            .position(|l| *l == e.path)
            .unwrap_or(usize::MAX)
    });

    // Read-only: what the playbook lists, then the tests of the files chosen.
    for path in &opts.read {
        let text = read_text(root, path);
        let t = tokens::count(&text) + tokens::per_file(path);
        if free(&format, sum(&edit), sum(&read) + sum_ex(&excerpts) + t) >= 0 {
            read.push(Chosen {
                path: path.clone(),
                tokens: t,
                score: 0.0,
                reasons: vec!["listed in the playbook as `read`".into()],
            });
        } else {
            notes.push(format!(
                "`{path}` is listed as `read` but does not fit the window ({t} tokens): left out"
            ));
        }
    }
    if opts.auto {
        let mut wanted: Vec<(usize, String)> = Vec::new();
        for e in &edit {
            if let Some(t) = test_of(&cands, &e.path) {
                wanted.push((t, format!("tests `{}`", e.path)));
            }
        }
        for x in &excerpts {
            if let Some(t) = test_of(&cands, &x.of) {
                wanted.push((t, format!("tests `{}`", x.of)));
            }
        }
        // Tests the issue itself points at (a failing test in a traceback).
        for (i, score, reasons) in order.iter().take(20) {
            if cands[*i].kind == FileKind::Test && *score >= cut && strong(reasons) {
                wanted.push((*i, reasons.join("; ")));
            }
        }
        for (i, why) in wanted {
            let c = &cands[i];
            if read.iter().any(|r| r.path == c.path) || edit.iter().any(|e| e.path == c.path) {
                continue;
            }
            let t = cost(c);
            // Context, not the work: a test file larger than a quarter of the window is
            // left for the map to mention.
            if t > window / 4 {
                left_out.push(Skipped {
                    path: c.path.clone(),
                    score: 0.0,
                    why: format!(
                        "read-only ({why}) but {t} tokens, more than a quarter of the window"
                    ),
                });
                continue;
            }
            if free(&format, sum(&edit), sum(&read) + sum_ex(&excerpts) + t) >= 0 {
                read.push(Chosen {
                    path: c.path.clone(),
                    tokens: t,
                    score: 0.0,
                    reasons: vec![why],
                });
            } else {
                left_out.push(Skipped {
                    path: c.path.clone(),
                    score: 0.0,
                    why: format!("read-only ({why}) but does not fit: {t} tokens"),
                });
            }
        }
    }

    let left = free(&format, sum(&edit), sum(&read) + sum_ex(&excerpts)).max(0) as u32;
    let map_tokens = match opts.map_tokens {
        Some(n) if n > left => {
            notes.push(format!(
                "`map_tokens` is {n} but {left} tokens are free: the map gets {left}"
            ));
            left
        }
        Some(n) => n,
        None if opts.auto => {
            let max = if edit.is_empty() {
                budget::MAP_MAX * 2
            } else {
                budget::MAP_MAX
            };
            if left >= budget::MAP_MIN {
                left.min(max)
            } else {
                0
            }
        }
        None => 0,
    };
    if opts.auto && edit.is_empty() && excerpts.is_empty() {
        notes.push(
            "no file of the checkout matches the issue: aider gets its repository map to find them"
                .into(),
        );
    }
    left_out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.path.cmp(&b.path)));
    left_out.truncate(5);
    let reply = budget::reply_tokens(&format) + if format == "whole" { sum(&edit) } else { 0 };
    let plan = Budget {
        window,
        margin,
        system: budget::system_tokens(&format),
        message: message_tokens,
        reply,
        edit: sum(&edit),
        read: sum(&read) + sum_ex(&excerpts),
        map: map_tokens,
    };
    debug_assert!(plan.used() <= window, "{plan:?}");
    Ok(Selection {
        auto: opts.auto,
        candidates: cands.len(),
        skipped_files,
        edit,
        read,
        excerpts,
        left_out,
        pass_edit_format: opts.edit_format.is_some() || format != "whole",
        edit_format: format,
        map_tokens,
        budget: plan,
        notes,
        message: sent,
    })
}

/// The ranking with the best set of files to edit moved to the front: among the first ten
/// candidates (`candidate` gives a file's tokens and whether it is pinned), the set of at
/// most `max_files` (pinned ones always in) that `fits` and has the largest sum of squared
/// scores. Squares keep one strong file ahead of two middling ones; the set lets a small
/// relevant file in where a large one of about the same score would take the whole window.
fn best_set_first(
    order: Vec<(usize, f32, Vec<String>)>,
    candidate: impl Fn(&(usize, f32, Vec<String>)) -> Option<(u32, bool)>,
    max_files: usize,
    fits: impl Fn(u32) -> bool,
) -> Vec<(usize, f32, Vec<String>)> {
    const CONSIDERED: usize = 10;
    let pool: Vec<(usize, u32, f32, bool)> = order
        .iter()
        .enumerate()
        .filter_map(|(k, o)| candidate(o).map(|(t, pin)| (k, t, o.1, pin)))
        .take(CONSIDERED)
        .collect();
    let pins = pool.iter().filter(|p| p.3).count();
    let mut best: (f32, u32, Vec<usize>) = (-1.0, 0, Vec::new());
    for mask in 0u32..(1 << pool.len()) {
        let set: Vec<&(usize, u32, f32, bool)> = pool
            .iter()
            .enumerate()
            .filter(|(b, _)| mask & (1 << b) != 0)
            .map(|(_, p)| p)
            .collect();
        if set.iter().filter(|p| p.3).count() != pins || set.len() > max_files + pins {
            continue;
        }
        let tokens: u32 = set.iter().map(|p| p.1).sum();
        if !set.is_empty() && !fits(tokens) {
            continue;
        }
        let value: f32 = set.iter().map(|p| p.2 * p.2).sum();
        if value > best.0 || (value == best.0 && tokens < best.1) {
            best = (value, tokens, set.iter().map(|p| p.0).collect());
        }
    }
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for (k, o) in order.into_iter().enumerate() {
        if best.2.contains(&k) {
            first.push(o);
        } else {
            rest.push(o);
        }
    }
    first.extend(rest);
    first
}

/// Whether a ranked file may be edited in auto mode: code, or a test, doc or setting the
/// issue names.
fn editable(c: &Candidate, reasons: &[String]) -> bool {
    match c.kind {
        FileKind::Source => true,
        // Tests are read-only context, unless the issue's own words name one (`add a test
        // to ...`): a test in a traceback is what fails, not what to change.
        FileKind::Test => reasons.iter().any(|r| r.starts_with("named in the issue")),
        FileKind::Doc | FileKind::Config => reasons.iter().any(|r| r.starts_with("named in")),
    }
}

/// The listed files as candidates (a file that does not exist yet is empty: aider creates
/// it).
fn listed(root: &Path, paths: &[String]) -> Vec<Candidate> {
    paths
        .iter()
        .map(|p| Candidate {
            path: p.clone(),
            kind: if candidates::is_test(p) {
                FileKind::Test
            } else {
                FileKind::Source
            },
            text: read_text(root, p),
        })
        .collect()
}

/// A file's text, bounded; empty when it cannot be read.
fn read_text(root: &Path, rel: &str) -> String {
    use std::io::Read;
    let mut bytes = Vec::new();
    let _ = std::fs::File::open(root.join(rel.trim_start_matches("./")))
        .and_then(|f| f.take(candidates::MAX_FILE_BYTES).read_to_end(&mut bytes));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A test the issue points at (it defines a test named in a traceback, or is named) points
/// at the code it tests: that file gets most of the test's score.
fn credit_sources_of_tests(cands: &[Candidate], order: &mut Vec<(usize, f32, Vec<String>)>) {
    let tests: Vec<(usize, f32)> = order
        .iter()
        .filter(|o| {
            cands[o.0].kind == FileKind::Test
                && o.1 >= MIN_SCORE
                && o.2
                    .iter()
                    .any(|r| r.starts_with("named in") || r.starts_with("defines"))
        })
        .map(|o| (o.0, o.1))
        .take(20)
        .collect();
    // Sources by file stem, once.
    let mut by_stem: rustc_hash::FxHashMap<String, Vec<usize>> = rustc_hash::FxHashMap::default();
    for (i, c) in cands.iter().enumerate() {
        if c.kind == FileKind::Source {
            let name = c.path.rsplit('/').next().unwrap_or(&c.path);
            let stem = name.split('.').next().unwrap_or(name).to_ascii_lowercase();
            by_stem.entry(stem).or_default().push(i);
        }
    }
    for (t, score) in tests {
        let test_path = &cands[t].path;
        let stem = tested_stem(test_path.rsplit('/').next().unwrap_or(test_path));
        if stem.is_empty() || GENERIC_STEMS.contains(&stem.as_str()) {
            continue;
        }
        let source = by_stem
            .get(&stem)
            .into_iter()
            .flatten()
            .copied()
            .max_by_key(|&i| {
                let shared = cands[i]
                    .path
                    .split('/')
                    .zip(test_path.split('/'))
                    .take_while(|(a, b)| a == b)
                    .count();
                (shared, std::cmp::Reverse(cands[i].path.len()))
            });
        let Some(s) = source else { continue };
        let credit = score * 0.8;
        let why = format!("tested by `{test_path}`, which the issue points at");
        match order.iter_mut().find(|o| o.0 == s) {
            Some(o) => {
                o.1 += credit;
                o.2.push(why);
            }
            None => order.push((s, credit, vec![why])),
        }
    }
    order.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(cands[a.0].path.cmp(&cands[b.0].path))
    });
}

/// File names too common to pair a test with its code by.
const GENERIC_STEMS: [&str; 8] = [
    "__init__", "index", "mod", "lib", "main", "utils", "conftest", "__main__",
];

/// Reasons that point at a file on their own (not only shared words).
fn strong(reasons: &[String]) -> bool {
    reasons
        .iter()
        .any(|r| r.starts_with("named in") || r.starts_with("defines") || r.starts_with("holds"))
}

/// The name a test file is about: `test_parser.py`, `parser_test.go`, `parser.test.ts`,
/// `ParserTest.java` are all about `parser`.
fn tested_stem(name: &str) -> String {
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem
        .strip_prefix("test_")
        .or_else(|| stem.strip_suffix("_test"))
        .or_else(|| stem.strip_suffix("_tests"))
        .or_else(|| stem.strip_suffix("_spec"))
        .or_else(|| stem.strip_suffix("Test"))
        .or_else(|| stem.strip_prefix("test"))
        .unwrap_or(stem);
    stem.to_ascii_lowercase()
}

/// The test file of a source file: the one whose name is about the source's name, nearest
/// to it (most leading folders shared).
fn test_of(cands: &[Candidate], source: &str) -> Option<usize> {
    let name = source.rsplit('/').next().unwrap_or(source);
    let stem = name.split('.').next().unwrap_or(name).to_ascii_lowercase();
    // Names every folder has say nothing about which test is whose.
    if stem.is_empty() || GENERIC_STEMS.contains(&stem.as_str()) {
        return None;
    }
    cands
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == FileKind::Test)
        .filter(|(_, c)| tested_stem(c.path.rsplit('/').next().unwrap_or(&c.path)) == stem)
        .max_by_key(|(_, c)| {
            let shared = c
                .path
                .split('/')
                .zip(source.split('/'))
                .take_while(|(a, b)| a == b)
                .count();
            (shared, std::cmp::Reverse(c.path.len()))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests;
