//! How values enter a shell command, whatever quotes the playbook's author wrote around them.
//!
//! A `shell` step's template is rendered with every `{{ }}` value (anything not marked safe:
//! issue text, step outputs, secrets) replaced by a placeholder character. The rendered text
//! is then read the way `sh` reads it, and each placeholder becomes what is safe where it
//! stands:
//!
//! | where the value stands | it becomes |
//! |---|---|
//! | a word, or part of one, outside quotes | the value, single-quoted (`'it'\''s'`) |
//! | inside double quotes, an unquoted here-document, a comment | `${CW_VALUE_n}`, a variable the step's process gets (a value of letters, digits and `_-./,:@%+=` only is written as it is) |
//! | inside single quotes, `$'…'`, backticks, `$((…))`, `${…}`, `[[ … ]]`, a quoted here-document | refused |
//! | the command itself, or a wrapped one (`env`, `xargs`, `timeout` …) | refused |
//! | code another program runs: `eval`, `sh -c`, `python -c`, `node -e`, `perl -e`, an `awk` or `sed` program, a script path, what is piped into a shell | refused |
//! | a variable name of `read`, `declare`, `printf -v`, `unset`, `let` … | refused |
//!
//! A variable reference is safe in double quotes and here-documents because the shell does
//! not read the result of an expansion as code again. Single quotes cannot hold one (they
//! keep `$` literal), and the refused places are those where the shell or the named program
//! runs the text as code. The rule is about how the shell reads the command; what any other
//! program does with an argument is its own (a value that starts with `-` is an option to
//! most programs: write `--` before it where the program allows).

use minijinja::Value;
use minijinja::value::ValueKind;

use super::quote::{is_plain, shell_quote};

/// The first placeholder character: value `n` of a render is `U+F0000 + n`, in a private use
/// plane no keyboard types.
const PLACEHOLDER_BASE: u32 = 0xF0000;
/// How many values one command may hold.
pub(crate) const MAX_VALUES: usize = 0xFFFE;
/// The variables that carry values into double quotes and here-documents.
pub(crate) const VALUE_VAR_PREFIX: &str = "CW_VALUE_";

/// The placeholder of value `n`.
pub(crate) fn placeholder(n: usize) -> char {
    char::from_u32(PLACEHOLDER_BASE + n as u32).expect("a private use character")
}

fn value_of(c: char) -> Option<usize> {
    let u = c as u32;
    (PLACEHOLDER_BASE..PLACEHOLDER_BASE + MAX_VALUES as u32)
        .contains(&u)
        .then(|| (u - PLACEHOLDER_BASE) as usize)
}

/// A shell command ready to run: the script and the variables its values travel in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    pub script: String,
    pub env: Vec<(String, String)>,
}

/// Why a value cannot stand where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Why {
    SingleQuotes,
    AnsiQuotes,
    Backticks,
    Arithmetic,
    Parameter,
    Brackets,
    QuotedHeredoc,
    HeredocDelimiter,
    Escaped,
    /// Right after a `$`: the shell would read it as a parameter or a quoting form.
    Dollar,
    CommandName,
    /// The argument is code the program runs.
    Code(String),
    /// The argument names the file or module the program runs.
    Program(String),
    /// The text reaches, through a pipe or a here-document, a program that reads its code
    /// from standard input.
    Stdin(String),
    /// The argument is a variable name (bash evaluates array subscripts in them).
    VariableName(String),
    /// The rest of the command cannot be read (an unterminated quote or bracket).
    Unreadable(&'static str),
}

impl Why {
    /// What is wrong, in a sentence.
    pub(crate) fn message(&self) -> String {
        match self {
            Why::SingleQuotes => "a value inside single quotes: the shell keeps `$` literal there, so the value cannot be passed safely".into(),
            Why::AnsiQuotes => "a value inside `$'…'`: its escapes would be read from the value".into(),
            Why::Backticks => "a value inside backticks: the text between them is read as a command again".into(),
            Why::Arithmetic => "a value inside an arithmetic expression: bash runs command substitutions found in array subscripts there".into(),
            Why::Parameter => "a value inside `${…}`: the shell reads it as part of an expansion".into(),
            Why::Brackets => "a value inside `[[ … ]]`: bash evaluates arithmetic (and the command substitutions in it) there".into(),
            Why::QuotedHeredoc => "a value in a here-document whose delimiter is quoted: nothing is expanded there, so the value cannot be passed safely".into(),
            Why::HeredocDelimiter => "a value as a here-document's delimiter".into(),
            Why::Escaped => "a value right after a backslash: the backslash would apply to its quoting".into(),
            Why::Dollar => "a value right after `$`: the shell would read the two together (`$'…'`, `$$`)".into(),
            Why::CommandName => "a value as the command to run: whoever writes the issue would choose the program".into(),
            Why::Code(p) => format!("a value in the code that `{p}` runs"),
            Why::Program(p) => format!("a value as the file or module that `{p}` runs"),
            Why::Stdin(p) => format!("a value that reaches `{p}`'s standard input, which `{p}` reads as code"),
            Why::VariableName(b) => format!("a value as a variable name of `{b}`: bash evaluates array subscripts in it, command substitutions included"),
            Why::Unreadable(what) => format!("the command cannot be read past here ({what}), so where the value stands cannot be told"),
        }
    }

    /// What to do instead.
    pub(crate) fn help(&self) -> &'static str {
        match self {
            Why::SingleQuotes | Why::AnsiQuotes | Why::QuotedHeredoc | Why::Escaped => {
                "put the value outside quotes (`git commit -m {{ issue.title }}`) or inside double quotes (`\"fix: {{ issue.title }}\"`), or read the issue from $CW_ISSUE_TITLE / $CW_ISSUE_BODY_FILE"
            }
            Why::Code(_) | Why::Stdin(_) | Why::Program(_) => {
                "pass data to a program as an argument or a variable, never as its code: e.g. `python3 -c 'import os; print(os.environ[\"CW_ISSUE_TITLE\"])'`, or `sh -c '…\"$1\"…' sh {{ issue.title }}`"
            }
            Why::CommandName => {
                "write the command yourself; only values you wrote (`vars`, attempt keys, or `| safe`) may name a program"
            }
            _ => {
                "assign the value to a variable first (`t={{ issue.title }}`) and use \"$t\", or read it from $CW_ISSUE_TITLE"
            }
        }
    }
}

/// A value that cannot stand where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The value's index.
    pub value: usize,
    /// Its character offset in the rendered script.
    pub at: usize,
    pub why: Why,
}

/// A rendered command whose values cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShellError {
    pub message: String,
    pub help: String,
}

impl std::fmt::Display for ShellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.help)
    }
}

/// Turns a rendered script with placeholders into the command to run.
pub(crate) fn resolve(script: &str, values: &[Value]) -> Result<ShellCommand, ShellError> {
    let chars: Vec<char> = script.chars().collect();
    // Each placeholder must stand exactly once: a value marked safe could hold one (a
    // forged placeholder), a filter applied to a block could have removed or doubled one.
    let mut seen = vec![0usize; values.len()];
    for &c in &chars {
        if let Some(n) = value_of(c) {
            match seen.get_mut(n) {
                Some(count) => *count += 1,
                None => return Err(forged()),
            }
        }
    }
    if seen.iter().any(|&n| n != 1) {
        return Err(forged());
    }
    if values.is_empty() {
        return Ok(ShellCommand {
            script: script.to_owned(),
            env: Vec::new(),
        });
    }
    let parsed = analyse(&chars);
    if let Some(r) = parsed.refusals.first() {
        return Err(ShellError {
            message: format!("{} in `{}`", r.why.message(), excerpt(&chars, r.at)),
            help: r.why.help().to_owned(),
        });
    }
    let mut out = String::with_capacity(script.len());
    let mut env = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        let Some(n) = value_of(c) else {
            out.push(c);
            continue;
        };
        let value = &values[n];
        match parsed.placement(i) {
            Place::Word => {
                let words = words_of(value);
                if words.iter().any(|w| w.contains('\0')) {
                    return Err(nul());
                }
                out.push_str(
                    &words
                        .iter()
                        .map(|w| shell_quote(w))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
            Place::Variable => {
                let text = words_of(value).join(" ");
                if text.contains('\0') {
                    return Err(nul());
                }
                if is_plain(&text) {
                    // Nothing in it is special here either: shown as it is.
                    out.push_str(&text);
                    continue;
                }
                let name = format!("{VALUE_VAR_PREFIX}{}", env.len() + 1);
                out.push_str(&format!("${{{name}}}"));
                env.push((name, text));
            }
        }
    }
    Ok(ShellCommand { script: out, env })
}

/// Where the values of a rendered script stand; the places that refuse them. For `validate`,
/// which works on a template's text with placeholders for its `{{ }}`.
pub(crate) fn check(script: &str) -> Vec<Refusal> {
    let chars: Vec<char> = script.chars().collect();
    analyse(&chars).refusals
}

fn forged() -> ShellError {
    ShellError {
        message: "the command's values could not be told apart from its text: a value marked `| safe` holds a reserved character, or a filter applied to a whole block changed the values in it".into(),
        help: "apply filters to values (`{{ x | upper }}`), not to blocks, and do not mark issue text `| safe`".into(),
    }
}

fn nul() -> ShellError {
    ShellError {
        message: "a value holds a NUL byte, which no command or variable can carry".into(),
        help: "read the text from a file instead (the issue body is in $CW_ISSUE_BODY_FILE)".into(),
    }
}

/// A list is one word per item; anything else one word of its text.
fn words_of(value: &Value) -> Vec<String> {
    if value.kind() == ValueKind::Seq
        && let Ok(items) = value.try_iter()
    {
        return items.map(|v| v.to_string()).collect();
    }
    vec![value.to_string()]
}

/// The text around a placeholder, the placeholder shown as `{{ … }}`.
fn excerpt(chars: &[char], at: usize) -> String {
    let line_start = chars[..at]
        .iter()
        .rposition(|&c| c == '\n')
        .map_or(0, |p| p + 1);
    let line_end = chars[at..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |p| at + p);
    let from = line_start.max(at.saturating_sub(40));
    let to = line_end.min(at + 40);
    let mut s = String::new();
    if from > line_start {
        s.push('…');
    }
    for &c in &chars[from..to] {
        if value_of(c).is_some() {
            s.push_str("{{ … }}");
        } else if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    if to < line_end {
        s.push('…');
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A word or part of one: the value quoted.
    Word,
    /// Inside double quotes, a here-document or a comment: a variable reference.
    Variable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Unquoted,
    Double,
    Heredoc,
    Comment,
}

/// A placeholder found while reading.
#[derive(Debug)]
struct Occ {
    at: usize,
    ctx: Ctx,
}

/// What reading a script found.
struct Analysis {
    occs: Vec<Occ>,
    refusals: Vec<Refusal>,
}

impl Analysis {
    fn placement(&self, at: usize) -> Place {
        let found = self
            .occs
            .binary_search_by_key(&at, |o| o.at)
            .ok()
            .map(|i| self.occs[i].ctx);
        match found {
            Some(Ctx::Unquoted) | None => Place::Word,
            Some(Ctx::Double | Ctx::Heredoc | Ctx::Comment) => Place::Variable,
        }
    }
}

fn analyse(chars: &[char]) -> Analysis {
    let mut r = Reader {
        c: chars,
        i: 0,
        occs: Vec::new(),
        refusals: Vec::new(),
        heredocs: Vec::new(),
    };
    if let Err(what) = r.list(End::Eof) {
        // A script that cannot be read: where any value stands is unknown (the shell will
        // refuse the script too), so every value is refused.
        for (i, &c) in chars.iter().enumerate() {
            if let Some(n) = value_of(c) {
                r.refusals.retain(|x| x.at != i);
                r.refusals.push(Refusal {
                    value: n,
                    at: i,
                    why: Why::Unreadable(what),
                });
            }
        }
    }
    r.refusals.sort_by_key(|x| x.at);
    r.refusals.dedup_by_key(|x| x.at);
    r.occs.sort_by_key(|o| o.at);
    Analysis {
        occs: r.occs,
        refusals: r.refusals,
    }
}

/// What ends a list of commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    /// `)` of `$(…)` or a subshell.
    Paren,
    /// A reserved word in command position: `}`, `fi`, `done`, `esac`.
    Word(&'static str),
}

/// Where the next word goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A command name (or an assignment, a reserved word) comes next.
    Command,
    /// Arguments of the command.
    Args,
    /// After `for`/`select`: the name and the words (data) up to `;` or a line break.
    ForHeader,
    /// After `case`: the word, then `in`.
    CaseWord,
    /// A pattern of `case`, up to `)`.
    CasePattern,
    /// Inside `[[ … ]]`.
    Brackets,
}

/// One word of a command: its literal text (quotes removed, for telling program names and
/// options) and the placeholders in it.
#[derive(Debug, Default)]
struct Word {
    text: String,
    /// Indexes into `Reader::occs` of the placeholders directly in the word.
    occs: Vec<usize>,
    /// Any quote, expansion or placeholder in it (it is then no reserved word).
    plain: bool,
    /// Placeholder indexes in the word and in substitutions nested in it.
    first_occ: usize,
    end_occ: usize,
}

impl Word {
    fn is_assignment(&self) -> bool {
        let Some((name, _)) = self.text.split_once('=') else {
            return false;
        };
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && self.name_part_has_no_value()
    }

    /// Whether no placeholder stands before the first `=`.
    fn name_part_has_no_value(&self) -> bool {
        // Placeholders are kept in `text` as themselves.
        let eq = self.text.find('=').unwrap_or(self.text.len());
        !self.text[..eq].chars().any(|c| value_of(c).is_some())
    }
}

/// A here-document whose body is still to come.
#[derive(Debug)]
struct Heredoc {
    delimiter: String,
    quoted: bool,
    strip_tabs: bool,
    /// The program that reads it as code, if any.
    feeds: Option<String>,
    /// Whether its body has been read.
    read: bool,
}

/// A command of a pipeline: where its placeholders start, and whether it reads code from
/// standard input.
#[derive(Debug)]
struct Piece {
    first_occ: usize,
    reads_code: Option<String>,
    heredocs: Vec<usize>,
}

struct Reader<'a> {
    c: &'a [char],
    i: usize,
    occs: Vec<Occ>,
    refusals: Vec<Refusal>,
    heredocs: Vec<Heredoc>,
}

const RESERVED: [&str; 22] = [
    "if", "then", "elif", "else", "fi", "do", "done", "while", "until", "for", "in", "case",
    "esac", "{", "}", "!", "function", "select", "time", "[[", "]]", "coproc",
];

impl Reader<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    fn refuse(&mut self, at: usize, why: Why) {
        if let Some(n) = value_of(self.c[at]) {
            self.refusals.push(Refusal { value: n, at, why });
        }
    }

    fn refuse_occ(&mut self, occ: usize, why: Why) {
        let at = self.occs[occ].at;
        self.refuse(at, why);
    }

    fn occ(&mut self, ctx: Ctx) -> usize {
        self.occs.push(Occ { at: self.i, ctx });
        self.occs.len() - 1
    }

    /// Refuses every placeholder from `from` up to (not including) `to`.
    fn refuse_span(&mut self, from: usize, to: usize, why: &Why) {
        for at in from..to.min(self.c.len()) {
            if value_of(self.c[at]).is_some() {
                self.refuse(at, why.clone());
            }
        }
    }

    /// Reads commands up to `end`.
    fn list(&mut self, end: End) -> Result<(), &'static str> {
        self.list_in(end, Mode::Command)
    }

    fn list_in(&mut self, end: End, start: Mode) -> Result<(), &'static str> {
        let mut mode = start;
        let mut words: Vec<Word> = Vec::new();
        let mut pipeline: Vec<Piece> = Vec::new();
        let mut cmd_first_occ = self.occs.len();
        let mut cmd_heredocs: Vec<usize> = Vec::new();
        let mut stdin_occs: Vec<usize> = Vec::new();
        loop {
            // Blanks and line continuations.
            while let Some(c) = self.peek(0) {
                if c == ' ' || c == '\t' {
                    self.i += 1;
                } else if c == '\\' && self.peek(1) == Some('\n') {
                    self.i += 2;
                } else {
                    break;
                }
            }
            let Some(c) = self.peek(0) else {
                self.end_command(
                    &mut words,
                    &mut pipeline,
                    cmd_first_occ,
                    &mut cmd_heredocs,
                    &mut stdin_occs,
                );
                self.end_pipeline(&mut pipeline);
                return if end == End::Eof {
                    Ok(())
                } else {
                    Err("a `(`, `{`, `if`, `for`, `while` or `case` is not closed")
                };
            };
            let ended = |r: &mut Self,
                         words: &mut Vec<Word>,
                         pipeline: &mut Vec<Piece>,
                         first: &mut usize,
                         hd: &mut Vec<usize>,
                         si: &mut Vec<usize>| {
                r.end_command(words, pipeline, *first, hd, si);
                *first = r.occs.len();
            };
            match c {
                '\n' => {
                    ended(
                        self,
                        &mut words,
                        &mut pipeline,
                        &mut cmd_first_occ,
                        &mut cmd_heredocs,
                        &mut stdin_occs,
                    );
                    self.end_pipeline(&mut pipeline);
                    self.i += 1;
                    self.heredoc_bodies()?;
                    cmd_first_occ = self.occs.len();
                    mode = after_separator(mode);
                }
                '#' => {
                    // A comment (we are between words).
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        if value_of(c).is_some() {
                            self.occ(Ctx::Comment);
                        }
                        self.i += 1;
                    }
                }
                ';' | '&' | '|' => {
                    let two = self.peek(1);
                    let pipe = c == '|' && two != Some('|');
                    if c == '&' && two == Some('>') {
                        // `&>file`: a redirection.
                        self.i += 2;
                        self.redirect_target()?;
                        continue;
                    }
                    ended(
                        self,
                        &mut words,
                        &mut pipeline,
                        &mut cmd_first_occ,
                        &mut cmd_heredocs,
                        &mut stdin_occs,
                    );
                    if !pipe {
                        self.end_pipeline(&mut pipeline);
                    }
                    self.i += 1;
                    if matches!(
                        (c, two),
                        (';', Some(';'))
                            | ('&', Some('&'))
                            | ('|', Some('|'))
                            | ('|', Some('&'))
                            | (';', Some('&'))
                    ) {
                        self.i += 1;
                        if c == ';' && self.peek(0) == Some('&') {
                            self.i += 1; // `;;&`
                        }
                    }
                    cmd_first_occ = self.occs.len();
                    mode = if c == ';' && matches!(two, Some(';' | '&')) {
                        Mode::CasePattern
                    } else {
                        after_separator(mode)
                    };
                }
                ')' => {
                    if mode == Mode::CasePattern {
                        self.i += 1;
                        words.clear();
                        cmd_first_occ = self.occs.len();
                        mode = Mode::Command;
                        continue;
                    }
                    ended(
                        self,
                        &mut words,
                        &mut pipeline,
                        &mut cmd_first_occ,
                        &mut cmd_heredocs,
                        &mut stdin_occs,
                    );
                    self.end_pipeline(&mut pipeline);
                    if end == End::Paren {
                        self.i += 1;
                        return Ok(());
                    }
                    return Err("a `)` closes nothing");
                }
                '(' => {
                    if mode == Mode::Command && words.is_empty() {
                        if self.peek(1) == Some('(') {
                            // `(( … ))`: an arithmetic command.
                            let from = self.i;
                            self.i += 2;
                            self.skip_arith()?;
                            self.refuse_span(from, self.i, &Why::Arithmetic);
                        } else {
                            self.i += 1;
                            self.list(End::Paren)?;
                        }
                        mode = Mode::Args;
                    } else if mode == Mode::CasePattern {
                        self.i += 1; // `(pattern)`
                    } else {
                        // `name()`: a function definition.
                        self.i += 1;
                        if self.peek(0) == Some(')') {
                            self.i += 1;
                        }
                        words.clear();
                        mode = Mode::Command;
                    }
                }
                '<' | '>' => {
                    let heredoc =
                        c == '<' && self.peek(1) == Some('<') && self.peek(2) != Some('<');
                    let herestring =
                        c == '<' && self.peek(1) == Some('<') && self.peek(2) == Some('<');
                    if heredoc {
                        self.i += 2;
                        let strip_tabs = self.peek(0) == Some('-');
                        if strip_tabs {
                            self.i += 1;
                        }
                        self.blanks();
                        let w = self.word(Ctx::Unquoted)?;
                        for &o in &w.occs {
                            self.refuse_occ(o, Why::HeredocDelimiter);
                        }
                        self.heredocs.push(Heredoc {
                            delimiter: w.text.clone(),
                            quoted: !w.plain,
                            strip_tabs,
                            feeds: None,
                            read: false,
                        });
                        cmd_heredocs.push(self.heredocs.len() - 1);
                    } else if herestring {
                        self.i += 3;
                        self.blanks();
                        let w = self.word(Ctx::Unquoted)?;
                        stdin_occs.extend(w.first_occ..w.end_occ);
                    } else {
                        self.i += 1;
                        while matches!(self.peek(0), Some('>' | '&' | '|')) {
                            self.i += 1;
                        }
                        self.redirect_target()?;
                    }
                }
                _ => {
                    let w = self.word(Ctx::Unquoted)?;
                    // An IO number (`2>`): part of the redirection that follows.
                    if w.plain_digits() && matches!(self.peek(0), Some('<' | '>')) {
                        continue;
                    }
                    let reserved = w.plain_text() && RESERVED.contains(&w.text.as_str());
                    match mode {
                        Mode::Brackets => {
                            if reserved && w.text == "]]" {
                                mode = Mode::Args;
                            } else {
                                for o in w.first_occ..w.end_occ {
                                    self.refuse_occ(o, Why::Brackets);
                                }
                            }
                        }
                        Mode::ForHeader => {
                            if reserved && w.text == "do" {
                                mode = Mode::Command;
                            }
                        }
                        Mode::CaseWord => {
                            if reserved && w.text == "in" {
                                mode = Mode::CasePattern;
                            }
                        }
                        Mode::CasePattern => {
                            if reserved && w.text == "esac" {
                                if end == End::Word("esac") {
                                    return Ok(());
                                }
                                return Err("an `esac` closes nothing");
                            }
                        }
                        Mode::Command if reserved => match w.text.as_str() {
                            "if" => {
                                self.list(End::Word("fi"))?;
                                mode = Mode::Args;
                                words.push(compound());
                            }
                            "while" | "until" => {
                                self.list(End::Word("done"))?;
                                mode = Mode::Args;
                                words.push(compound());
                            }
                            "for" | "select" => {
                                self.list_in(End::Word("done"), Mode::ForHeader)?;
                                mode = Mode::Args;
                                words.push(compound());
                            }
                            "case" => {
                                self.list_in(End::Word("esac"), Mode::CaseWord)?;
                                mode = Mode::Args;
                                words.push(compound());
                            }
                            "{" => {
                                self.list(End::Word("}"))?;
                                mode = Mode::Args;
                                words.push(compound());
                            }
                            "[[" => mode = Mode::Brackets,
                            "}" | "fi" | "done" | "esac" => {
                                let closer = match w.text.as_str() {
                                    "}" => "}",
                                    "fi" => "fi",
                                    "done" => "done",
                                    _ => "esac",
                                };
                                ended(
                                    self,
                                    &mut words,
                                    &mut pipeline,
                                    &mut cmd_first_occ,
                                    &mut cmd_heredocs,
                                    &mut stdin_occs,
                                );
                                self.end_pipeline(&mut pipeline);
                                return if end == End::Word(closer) {
                                    Ok(())
                                } else {
                                    Err("a closing word closes nothing")
                                };
                            }
                            _ => {} // then, else, do, !, time, function …: a command still comes
                        },
                        Mode::Command => {
                            if w.is_assignment() {
                                words.push(w);
                            } else {
                                words.push(w);
                                mode = Mode::Args;
                            }
                        }
                        Mode::Args => words.push(w),
                    }
                }
            }
        }
    }

    fn blanks(&mut self) {
        while matches!(self.peek(0), Some(' ' | '\t')) {
            self.i += 1;
        }
    }

    /// The file a redirection names: data.
    fn redirect_target(&mut self) -> Result<(), &'static str> {
        self.blanks();
        self.word(Ctx::Unquoted).map(drop)
    }

    /// Ends the simple command in `words`: classifies its arguments.
    fn end_command(
        &mut self,
        words: &mut Vec<Word>,
        pipeline: &mut Vec<Piece>,
        first_occ: usize,
        heredocs: &mut Vec<usize>,
        stdin_occs: &mut Vec<usize>,
    ) {
        if words.is_empty()
            && heredocs.is_empty()
            && stdin_occs.is_empty()
            && first_occ == self.occs.len()
        {
            return;
        }
        let (refusals, reads_code) = classify(words);
        for (occ, why) in refusals {
            self.refuse_occ(occ, why);
        }
        if let Some(p) = &reads_code {
            for o in stdin_occs.drain(..) {
                self.refuse_occ(o, Why::Stdin(p.clone()));
            }
        }
        pipeline.push(Piece {
            first_occ,
            reads_code,
            heredocs: std::mem::take(heredocs),
        });
        stdin_occs.clear();
        words.clear();
    }

    /// Ends a pipeline: text flowing into a program that reads code from its standard input
    /// is refused, and so are here-documents fed to one.
    fn end_pipeline(&mut self, pipeline: &mut Vec<Piece>) {
        for (k, piece) in pipeline.iter().enumerate() {
            let reader = pipeline[k..].iter().find_map(|p| p.reads_code.clone());
            let Some(program) = reader else { continue };
            for &h in &piece.heredocs {
                self.heredocs[h].feeds = Some(program.clone());
            }
            if piece.reads_code.is_none() {
                let to = pipeline.get(k + 1).map_or(self.occs.len(), |p| p.first_occ);
                for o in piece.first_occ..to {
                    if self.occs[o].ctx != Ctx::Comment {
                        self.refuse_occ(o, Why::Stdin(program.clone()));
                    }
                }
            }
        }
        pipeline.clear();
    }

    /// Reads the bodies of the here-documents whose line just ended.
    fn heredoc_bodies(&mut self) -> Result<(), &'static str> {
        let pending: Vec<usize> = (0..self.heredocs.len())
            .filter(|&h| !self.heredocs[h].read)
            .collect();
        for h in pending {
            self.heredocs[h].read = true;
            let (delimiter, quoted, strip, feeds) = {
                let d = &self.heredocs[h];
                (d.delimiter.clone(), d.quoted, d.strip_tabs, d.feeds.clone())
            };
            let why = if quoted {
                Some(Why::QuotedHeredoc)
            } else {
                feeds.map(Why::Stdin)
            };
            let mut line_start = true;
            loop {
                if line_start {
                    // The delimiter, alone on its line, ends the body.
                    let line_end = self.c[self.i..]
                        .iter()
                        .position(|&c| c == '\n')
                        .map_or(self.c.len(), |p| self.i + p);
                    let line: String = self.c[self.i..line_end].iter().collect();
                    let shown = if strip {
                        line.trim_start_matches('\t')
                    } else {
                        &line
                    };
                    if shown == delimiter {
                        self.i = (line_end + 1).min(self.c.len());
                        break;
                    }
                }
                let Some(c) = self.peek(0) else {
                    break; // the shell takes an unterminated body at the end
                };
                line_start = c == '\n';
                if let Some(why) = &why {
                    if value_of(c).is_some() {
                        self.refuse(self.i, why.clone());
                    }
                    self.i += 1;
                } else if c == '\\' {
                    if self.peek(1).is_some_and(|n| value_of(n).is_some()) {
                        self.refuse(self.i + 1, Why::Escaped);
                    }
                    self.i += 2;
                } else if c == '$' || c == '`' {
                    // Expansions happen, as in double quotes.
                    self.expansion()?;
                } else {
                    if value_of(c).is_some() {
                        self.occ(Ctx::Heredoc);
                    }
                    self.i += 1;
                }
            }
        }
        Ok(())
    }

    /// Reads one word at the cursor.
    fn word(&mut self, base: Ctx) -> Result<Word, &'static str> {
        let mut w = Word {
            plain: true,
            first_occ: self.occs.len(),
            ..Word::default()
        };
        while let Some(c) = self.peek(0) {
            if is_break(c) {
                break;
            }
            match c {
                '\\' => {
                    w.plain = false;
                    match self.peek(1) {
                        Some(n) if value_of(n).is_some() => {
                            self.refuse(self.i + 1, Why::Escaped);
                            w.text.push(n);
                        }
                        Some('\n') => {}
                        Some(n) => w.text.push(n),
                        None => {}
                    }
                    self.i += 2;
                }
                '\'' => {
                    w.plain = false;
                    let from = self.i;
                    self.i += 1;
                    while self.peek(0).is_some_and(|c| c != '\'') {
                        w.text.push(self.c[self.i]);
                        self.i += 1;
                    }
                    if self.peek(0).is_none() {
                        self.i = from;
                        return Err("a single quote is not closed");
                    }
                    self.refuse_span(from, self.i, &Why::SingleQuotes);
                    self.i += 1;
                }
                '"' => {
                    w.plain = false;
                    self.i += 1;
                    self.double_quoted(&mut w)?;
                }
                '$' | '`' => {
                    w.plain = false;
                    self.expansion()?;
                }
                c if value_of(c).is_some() => {
                    w.plain = false;
                    let o = self.occ(base);
                    w.occs.push(o);
                    w.text.push(c);
                    self.i += 1;
                }
                c => {
                    w.text.push(c);
                    self.i += 1;
                }
            }
        }
        w.end_occ = self.occs.len();
        Ok(w)
    }

    /// Inside `"…"`, after the opening quote.
    fn double_quoted(&mut self, w: &mut Word) -> Result<(), &'static str> {
        loop {
            let Some(c) = self.peek(0) else {
                return Err("a double quote is not closed");
            };
            match c {
                '"' => {
                    self.i += 1;
                    return Ok(());
                }
                '\\' => {
                    if self.peek(1).is_some_and(|n| value_of(n).is_some()) {
                        self.refuse(self.i + 1, Why::Escaped);
                    }
                    if let Some(n) = self.peek(1) {
                        w.text.push(n);
                    }
                    self.i += 2;
                }
                '$' | '`' => self.expansion()?,
                c => {
                    if value_of(c).is_some() {
                        let o = self.occ(Ctx::Double);
                        w.occs.push(o);
                    }
                    w.text.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `$…` or a backtick at the cursor, in a context where expansions happen.
    fn expansion(&mut self) -> Result<(), &'static str> {
        let from = self.i;
        if self.c[self.i] == '`' {
            self.i += 1;
            if let Err(e) = self.skip_to('`', "a backtick is not closed") {
                self.i = from;
                return Err(e);
            }
            self.refuse_span(from, self.i, &Why::Backticks);
            return Ok(());
        }
        match self.peek(1) {
            Some('(') if self.peek(2) == Some('(') => {
                self.i += 3;
                self.skip_arith()?;
                self.refuse_span(from, self.i, &Why::Arithmetic);
            }
            Some('(') => {
                self.i += 2;
                self.list(End::Paren)?;
            }
            Some('[') => {
                // `$[ … ]`: old bash arithmetic.
                self.i += 2;
                self.skip_nested('[', ']', "a `$[` is not closed")?;
                self.refuse_span(from, self.i, &Why::Arithmetic);
            }
            Some('{') => {
                self.i += 2;
                self.skip_nested('{', '}', "a `${` is not closed")?;
                self.refuse_span(from, self.i, &Why::Parameter);
            }
            Some('\'') => {
                // bash's `$'…'`.
                self.i += 2;
                self.skip_to('\'', "a `$'` is not closed")?;
                self.refuse_span(from, self.i, &Why::AnsiQuotes);
            }
            Some(n) if value_of(n).is_some() => {
                self.refuse(self.i + 1, Why::Dollar);
                self.i += 1;
            }
            _ => {
                // `$name`, `$1`, `$?`, or a lone `$`.
                self.i += 1;
                while self
                    .peek(0)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.i += 1;
                }
            }
        }
        Ok(())
    }

    /// Skips past the next `close` not escaped by a backslash.
    fn skip_to(&mut self, close: char, unclosed: &'static str) -> Result<(), &'static str> {
        loop {
            match self.peek(0) {
                None => return Err(unclosed),
                Some('\\') => self.i += 2,
                Some(c) => {
                    self.i += 1;
                    if c == close {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Skips past the `close` that matches an `open` just read, nested pairs and escaped
    /// characters included.
    fn skip_nested(
        &mut self,
        open: char,
        close: char,
        unclosed: &'static str,
    ) -> Result<(), &'static str> {
        let mut depth = 1;
        while depth > 0 {
            match self.peek(0) {
                None => return Err(unclosed),
                Some('\\') => self.i += 1,
                Some(c) if c == open => depth += 1,
                Some(c) if c == close => depth -= 1,
                _ => {}
            }
            self.i += 1;
        }
        Ok(())
    }

    /// Skips to the end of `(( … ))` / `$(( … ))`, after its opening.
    fn skip_arith(&mut self) -> Result<(), &'static str> {
        let mut depth = 0usize;
        loop {
            match self.peek(0) {
                None => return Err("an arithmetic expression is not closed"),
                Some('(') => depth += 1,
                Some(')') if depth > 0 => depth -= 1,
                Some(')') if self.peek(1) == Some(')') => {
                    self.i += 2;
                    return Ok(());
                }
                _ => {}
            }
            self.i += 1;
        }
    }
}

impl Word {
    fn plain_text(&self) -> bool {
        self.plain && !self.text.is_empty()
    }

    fn plain_digits(&self) -> bool {
        self.plain && !self.text.is_empty() && self.text.chars().all(|c| c.is_ascii_digit())
    }
}

/// A compound command (`if … fi`, `{ … }`) as a word of its pipeline.
fn compound() -> Word {
    Word {
        text: "{compound}".into(),
        plain: false,
        ..Word::default()
    }
}

fn after_separator(mode: Mode) -> Mode {
    match mode {
        Mode::ForHeader => Mode::ForHeader,
        Mode::CaseWord | Mode::CasePattern => mode,
        _ => Mode::Command,
    }
}

/// Characters that end an unquoted word.
fn is_break(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')'
    )
}

/// Programs that run another command given as their arguments, with the options of theirs
/// that take a value. The command they run is found after their options.
fn wrapper(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "env" => &["-u", "--unset", "-C", "--chdir", "-S", "--split-string"],
        "sudo" | "doas" => &["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"],
        "nice" => &["-n", "--adjustment"],
        "ionice" => &["-c", "-n", "-p", "-P", "-u"],
        "timeout" | "gtimeout" => &["-s", "--signal", "-k", "--kill-after"],
        "nohup" | "exec" | "command" | "builtin" | "setsid" | "time" | "caffeinate"
        | "unbuffer" => &[],
        "stdbuf" => &["-i", "-o", "-e"],
        "xargs" => &[
            "-I",
            "-n",
            "-P",
            "-L",
            "-s",
            "-d",
            "-E",
            "-a",
            "--arg-file",
            "--delimiter",
            "--max-args",
            "--max-procs",
            "--max-lines",
            "--max-chars",
            "--replace",
        ],
        "chronic" | "ifne" => &[],
        _ => return None,
    })
}

/// The program a code-reading argument belongs to, and how to find its code.
enum Interp {
    /// sh, bash …: `-c` makes the first operand code; otherwise the first operand is the
    /// script file, and with none (or `-s`) the code comes from standard input.
    Shell,
    /// python, node, perl …: options that take code, options that take a program (module or
    /// file), options that take something else; without a code option, the first operand is
    /// the script file, and with none (or `-`) the code comes from standard input.
    Script {
        code: &'static [&'static str],
        program: &'static [&'static str],
        other: &'static [&'static str],
        /// Short options that take code as their last letter of a cluster (`perl -ne`).
        cluster: &'static [char],
        /// The program options after which the rest are the program's arguments (`-m`).
        terminal: &'static [&'static str],
    },
    /// awk, sed: the program is the first operand unless given by an option.
    Program {
        code: &'static [&'static str],
        file: &'static [&'static str],
        other: &'static [&'static str],
    },
    /// eval, `.`, source, trap, let, alias, watch: every argument is code.
    All,
    /// ssh: the first operand is the host, the rest a remote shell command.
    Remote,
    /// su, runuser, script, flock: `-c` takes a shell command.
    DashC(&'static [&'static str]),
    /// declare, read, printf -v …: arguments are variable names.
    Names,
    /// find: `-exec` and its kin run a command.
    Find,
    /// git: `-c name=value` sets configuration (aliases, `core.sshCommand` run code).
    Git,
}

fn interp(name: &str) -> Option<Interp> {
    let base = name
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '.')
        .to_owned();
    Some(match name {
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash" | "yash" | "fish" | "busybox"
        | "rbash" => Interp::Shell,
        "eval" | "." | "source" | "trap" | "let" | "alias" | "watch" => Interp::All,
        "ssh" => Interp::Remote,
        "su" | "runuser" | "script" => Interp::DashC(&["-s", "--shell", "-u", "-g", "-G", "-q"]),
        "flock" => Interp::DashC(&["-w", "--timeout", "-E"]),
        "declare" | "typeset" | "local" | "readonly" | "export" | "unset" | "read" | "mapfile"
        | "readarray" | "getopts" => Interp::Names,
        "find" => Interp::Find,
        "git" => Interp::Git,
        "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk" => Interp::Program {
            code: &["-e", "--source"],
            file: &["-f", "--file", "-i", "--include", "-l", "--load"],
            other: &["-F", "--field-separator", "-v", "--assign"],
        },
        "sed" | "gsed" => Interp::Program {
            code: &["-e", "--expression"],
            file: &["-f", "--file"],
            other: &["-l", "--line-length"],
        },
        _ => match base.as_str() {
            "python" | "pypy" | "python-dbg" => Interp::Script {
                code: &["-c"],
                program: &["-m"],
                other: &["-W", "-X", "--check-hash-based-pycs"],
                cluster: &['c'],
                terminal: &["-m"],
            },
            "node" | "nodejs" | "bun" => Interp::Script {
                code: &["-e", "--eval", "-p", "--print"],
                program: &[
                    "-r",
                    "--require",
                    "--import",
                    "--loader",
                    "--experimental-loader",
                ],
                other: &["-C", "--conditions", "--title", "--env-file"],
                cluster: &[],
                terminal: &[],
            },
            "perl" => Interp::Script {
                code: &["-e", "-E"],
                program: &["-M", "-m"],
                other: &["-I", "-l", "-0", "-i", "-F", "-x", "-C"],
                cluster: &['e', 'E'],
                terminal: &[],
            },
            "ruby" => Interp::Script {
                code: &["-e"],
                program: &["-r", "--require"],
                other: &["-I", "-C", "-E", "--encoding", "-F", "-i", "-x"],
                cluster: &['e'],
                terminal: &[],
            },
            "php" => Interp::Script {
                code: &["-r", "-B", "-R", "-F", "-E"],
                program: &["-f", "-d", "-c", "-z"],
                other: &["-t"],
                cluster: &[],
                terminal: &["-f"],
            },
            "Rscript" => Interp::Script {
                code: &["-e"],
                program: &[],
                other: &[],
                cluster: &[],
                terminal: &[],
            },
            "osascript" => Interp::Script {
                code: &["-e"],
                program: &[],
                other: &["-l", "-s"],
                cluster: &[],
                terminal: &[],
            },
            "lua" | "luajit" | "tclsh" | "wish" | "jshell" | "deno" | "tsx" | "ts-node" => {
                Interp::Script {
                    code: &["-e", "eval", "--eval", "-p", "--print"],
                    program: &["-l", "-r", "run"],
                    other: &[],
                    cluster: &[],
                    terminal: &["run"],
                }
            }
            _ => return None,
        },
    })
}

/// The file name of a command word (`/usr/bin/python3` → `python3`).
fn program_name(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

/// Which placeholders of a simple command's words may not stand where they are, and whether
/// the command reads code from its standard input (and which program).
fn classify(words: &[Word]) -> (Vec<(usize, Why)>, Option<String>) {
    let mut out = Vec::new();
    let mut k = 0;
    while k < words.len() && words[k].is_assignment() {
        k += 1;
    }
    let reads = classify_from(words, k, &mut out);
    (out, reads)
}

fn all_occs(w: &Word) -> std::ops::Range<usize> {
    w.first_occ..w.end_occ
}

/// Refuses the values of the word at `j`, if there is one.
fn refuse_at(words: &[Word], j: usize, why: &Why, out: &mut Vec<(usize, Why)>) {
    refuse_words(words.get(j..=j).unwrap_or_default(), why, out);
}

fn refuse_words(words: &[Word], why: &Why, out: &mut Vec<(usize, Why)>) {
    for w in words {
        for o in all_occs(w) {
            out.push((o, why.clone()));
        }
    }
}

fn classify_from(words: &[Word], mut k: usize, out: &mut Vec<(usize, Why)>) -> Option<String> {
    loop {
        let w = words.get(k)?;
        if w.text == "{compound}" {
            return None;
        }
        for o in all_occs(w) {
            out.push((o, Why::CommandName));
        }
        let name = program_name(&w.text).to_owned();
        let args = &words[k + 1..];
        if let Some(takes) = wrapper(&name) {
            // Skip the wrapper's options (and their values), then what it runs comes.
            let mut j = 0;
            let mut operands_to_skip = usize::from(matches!(name.as_str(), "timeout" | "gtimeout"));
            while let Some(a) = args.get(j) {
                if a.text == "--" {
                    j += 1;
                    break;
                }
                if a.text.starts_with('-') && a.text.len() > 1 {
                    // `env -S` splits its value into a command line: code.
                    let split = name == "env"
                        && (a.text == "-S"
                            || a.text.starts_with("--split-string")
                            || (a.text.starts_with("-S") && a.text.len() > 2));
                    if split {
                        refuse_words(
                            &args[j..(j + 2).min(args.len())],
                            &Why::Code(name.clone()),
                            out,
                        );
                    }
                    if takes.contains(&a.text.as_str()) {
                        j += 1;
                    }
                    j += 1;
                    continue;
                }
                if name == "env" && a.is_assignment() {
                    j += 1;
                    continue;
                }
                if operands_to_skip > 0 {
                    operands_to_skip -= 1;
                    j += 1;
                    continue;
                }
                break;
            }
            // Values among the wrapper's own options are data (`timeout {{ t }} cmd`).
            k += 1 + j;
            continue;
        }
        if name == "printf" {
            if let Some(j) = args.iter().position(|a| a.text == "-v")
                && let Some(v) = args.get(j + 1)
            {
                for o in all_occs(v) {
                    out.push((o, Why::VariableName(name.clone())));
                }
            }
            return None;
        }
        let kind = interp(&name)?;
        return match kind {
            Interp::All => {
                refuse_words(args, &Why::Code(name.clone()), out);
                None
            }
            Interp::Names => {
                for a in args {
                    if !a.name_part_has_no_value() || (!a.text.contains('=') && !a.occs.is_empty())
                    {
                        for o in all_occs(a) {
                            out.push((o, Why::VariableName(name.clone())));
                        }
                    }
                }
                None
            }
            Interp::Shell => {
                let mut dash_c = false;
                let mut stdin = false;
                let mut j = 0;
                while let Some(a) = args.get(j) {
                    let t = a.text.as_str();
                    if t == "--" || t == "-" {
                        stdin |= t == "-";
                        j += 1;
                        break;
                    }
                    if (t.starts_with('-') || t.starts_with('+')) && t.len() > 1 {
                        refuse_words(std::slice::from_ref(a), &Why::Code(name.clone()), out);
                        if !t.starts_with("--") {
                            dash_c |= t[1..].contains('c');
                            stdin |= t[1..].contains('s');
                        }
                        if matches!(t, "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file") {
                            j += 1;
                            if let Some(v) = args.get(j) {
                                refuse_words(
                                    std::slice::from_ref(v),
                                    &Why::Code(name.clone()),
                                    out,
                                );
                            }
                        }
                        j += 1;
                        continue;
                    }
                    break;
                }
                match args.get(j) {
                    Some(first) if dash_c => {
                        refuse_words(std::slice::from_ref(first), &Why::Code(name.clone()), out);
                        None
                    }
                    Some(first) if !stdin => {
                        refuse_words(
                            std::slice::from_ref(first),
                            &Why::Program(name.clone()),
                            out,
                        );
                        None
                    }
                    _ if dash_c => None,
                    _ => Some(name),
                }
            }
            Interp::Script {
                code,
                program,
                other,
                cluster,
                terminal,
            } => {
                let mut has_code = false;
                let mut j = 0;
                while let Some(a) = args.get(j) {
                    let t = a.text.as_str();
                    if t == "--" {
                        j += 1;
                        break;
                    }
                    if t == "-"
                        || !(t.starts_with('-') || code.contains(&t) || program.contains(&t))
                    {
                        break;
                    }
                    // Options themselves are the program's to read: no values there.
                    refuse_words(std::slice::from_ref(a), &Why::Code(name.clone()), out);
                    let long = t.split('=').next().unwrap_or(t);
                    let short_cluster = !t.starts_with("--")
                        && t.len() > 2
                        && t.chars().last().is_some_and(|c| cluster.contains(&c));
                    if code.contains(&long) || short_cluster {
                        has_code = true;
                        if !t.contains('=') {
                            j += 1;
                            if let Some(v) = args.get(j) {
                                refuse_words(
                                    std::slice::from_ref(v),
                                    &Why::Code(name.clone()),
                                    out,
                                );
                            }
                        }
                        // The rest are the program's arguments: data.
                        j = args.len();
                        break;
                    }
                    if program.contains(&long) {
                        if !t.contains('=') {
                            j += 1;
                            if let Some(v) = args.get(j) {
                                refuse_words(
                                    std::slice::from_ref(v),
                                    &Why::Program(name.clone()),
                                    out,
                                );
                            }
                        }
                        if terminal.contains(&long) {
                            has_code = true;
                            j = args.len();
                            break;
                        }
                    } else if other.contains(&long) && !t.contains('=') {
                        j += 1; // its value is data
                    }
                    j += 1;
                }
                if has_code {
                    return None;
                }
                match args.get(j) {
                    Some(first) if first.text != "-" => {
                        refuse_words(
                            std::slice::from_ref(first),
                            &Why::Program(name.clone()),
                            out,
                        );
                        None
                    }
                    _ => Some(name),
                }
            }
            Interp::Program { code, file, other } => {
                let mut given = false;
                let mut j = 0;
                while let Some(a) = args.get(j) {
                    let t = a.text.as_str();
                    if t == "--" {
                        j += 1;
                        break;
                    }
                    if !(t.starts_with('-') && t.len() > 1) {
                        break;
                    }
                    let long = t.split('=').next().unwrap_or(t);
                    let attached = |opts: &[&str]| {
                        opts.iter()
                            .any(|o| o.len() == 2 && t.starts_with(o) && t.len() > 2)
                    };
                    if code.contains(&long) || attached(code) {
                        given = true;
                        refuse_words(std::slice::from_ref(a), &Why::Code(name.clone()), out);
                        if !t.contains('=') && !attached(code) {
                            j += 1;
                            if let Some(v) = args.get(j) {
                                refuse_words(
                                    std::slice::from_ref(v),
                                    &Why::Code(name.clone()),
                                    out,
                                );
                            }
                        }
                    } else if file.contains(&long) || attached(file) {
                        given = true;
                        refuse_words(std::slice::from_ref(a), &Why::Program(name.clone()), out);
                        if !t.contains('=') && !attached(file) {
                            j += 1;
                            if let Some(v) = args.get(j) {
                                refuse_words(
                                    std::slice::from_ref(v),
                                    &Why::Program(name.clone()),
                                    out,
                                );
                            }
                        }
                    } else if other.contains(&long) && !t.contains('=') {
                        j += 1; // its value is data
                    }
                    j += 1;
                }
                if !given && let Some(first) = args.get(j) {
                    refuse_words(std::slice::from_ref(first), &Why::Code(name.clone()), out);
                }
                None
            }
            Interp::Remote => {
                const TAKES: [&str; 19] = [
                    "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O",
                    "-o", "-p", "-Q", "-R", "-S", "-W",
                ];
                let mut j = 0;
                while let Some(a) = args.get(j) {
                    let t = a.text.as_str();
                    if !(t.starts_with('-') && t.len() > 1) {
                        break;
                    }
                    refuse_words(std::slice::from_ref(a), &Why::Code(name.clone()), out);
                    if TAKES.contains(&t) {
                        j += 1;
                        refuse_at(args, j, &Why::Code(name.clone()), out);
                    }
                    j += 1;
                }
                // The host, then a shell command run on it.
                refuse_words(
                    args.get(j + 1..).unwrap_or(&[]),
                    &Why::Code(name.clone()),
                    out,
                );
                None
            }
            Interp::DashC(takes) => {
                let mut j = 0;
                while let Some(a) = args.get(j) {
                    let t = a.text.as_str();
                    if t == "-c" || t == "--command" {
                        refuse_at(args, j + 1, &Why::Code(name.clone()), out);
                        j += 2;
                        continue;
                    }
                    if t.starts_with("--command=") || (t.starts_with("-c") && t.len() > 2) {
                        refuse_words(std::slice::from_ref(a), &Why::Code(name.clone()), out);
                    } else if takes.contains(&t) {
                        refuse_at(args, j + 1, &Why::Program(name.clone()), out);
                        j += 1;
                    }
                    j += 1;
                }
                None
            }
            Interp::Find => {
                let mut j = 0;
                while j < args.len() {
                    if matches!(
                        args[j].text.as_str(),
                        "-exec" | "-execdir" | "-ok" | "-okdir"
                    ) {
                        let start = j + 1;
                        let mut end = start;
                        while end < args.len() && !matches!(args[end].text.as_str(), ";" | "+") {
                            end += 1;
                        }
                        classify_from(&args[start..end], 0, out);
                        j = end;
                    }
                    j += 1;
                }
                None
            }
            Interp::Git => {
                let mut j = 0;
                while let Some(a) = args.get(j) {
                    let t = a.text.as_str();
                    if t == "-c" || t == "--config-env" {
                        refuse_at(args, j + 1, &Why::Code(name.clone()), out);
                        j += 2;
                        continue;
                    }
                    if !t.starts_with('-') {
                        break;
                    }
                    if t.starts_with("--config-env=") || t.starts_with("--exec-path") {
                        refuse_words(std::slice::from_ref(a), &Why::Code(name.clone()), out);
                    }
                    if matches!(t, "-C" | "--git-dir" | "--work-tree" | "--namespace") {
                        j += 1;
                    }
                    j += 1;
                }
                None
            }
        };
    }
}

#[cfg(test)]
mod tests;
