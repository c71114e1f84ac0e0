//! The arithmetic of a model's context window: what aider itself sends, the message, the
//! reply, a margin, and what is left for files and the repository map. Also the two ways
//! a text is made to fit: a long message keeps its head and its tail; a file too large to
//! send whole becomes an excerpt around what the issue names.

use super::tokens;

/// Tokens of aider's own prompts (system prompt, examples, reminders) per edit format,
/// measured with aider 0.86.2 and one two-line file (docs/benchmarks.md), rounded up.
pub fn system_tokens(edit_format: &str) -> u32 {
    match edit_format {
        "whole" => 650,
        "udiff" => 1200,
        _ => 1900,
    }
}

/// What a reply needs beside the files it resends: room for the explanation, or for the
/// search/replace blocks of a diff.
pub fn reply_tokens(edit_format: &str) -> u32 {
    if edit_format == "whole" { 256 } else { 1024 }
}

/// The share of the window the message may take (the rest is for files and the reply).
pub const MESSAGE_SHARE: f32 = 0.3;
/// The share of the window kept free: local models' tokenizers count code a little
/// differently, and aider's map is sized approximately.
pub const MARGIN_SHARE: f32 = 0.1;
/// The repository map is given at most this many tokens (aider's own default) while files
/// are chosen, and twice as many when none is.
pub const MAP_MAX: u32 = 1024;
/// Below this, no map is worth its prompt.
pub const MAP_MIN: u32 = 256;

/// The arithmetic, for a plan and run.json.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Budget {
    /// The model's context window.
    pub window: u32,
    /// Kept free.
    pub margin: u32,
    /// aider's own prompts.
    pub system: u32,
    /// The message, after trimming.
    pub message: u32,
    /// Reserved for the reply (for `whole`, the edited files again).
    pub reply: u32,
    /// Files to edit.
    pub edit: u32,
    /// Read-only files and excerpts.
    pub read: u32,
    /// aider's repository map (`--map-tokens`).
    pub map: u32,
}

impl Budget {
    /// Everything the prompt and its reply take.
    pub fn used(&self) -> u32 {
        self.margin + self.system + self.message + self.reply + self.edit + self.read + self.map
    }

    /// What is still free.
    pub fn left(&self) -> u32 {
        self.window.saturating_sub(self.used())
    }

    /// The arithmetic in one line.
    pub fn line(&self) -> String {
        format!(
            "window {} = aider {} + message {} + files {} + read-only {} + map {} + reply {} + margin {} + free {}",
            self.window,
            self.system,
            self.message,
            self.edit,
            self.read,
            self.map,
            self.reply,
            self.margin,
            self.left()
        )
    }
}

/// `text` cut to at most `max` tokens by keeping its head (two thirds) and its tail, with a
/// line saying what was cut; `None` when it fits.
pub fn trim_middle(text: &str, max: u32) -> Option<String> {
    // A token is at least one byte.
    if text.len() <= max as usize {
        return None;
    }
    // Characters per token, from (a sample of) the text, to find the cut quickly; the cut
    // is then checked by counting. A hostile message may be megabytes: never all counted.
    const SAMPLE: usize = 64 * 1024;
    let sample = &text[..super::candidates::floor_char_boundary(text, SAMPLE)];
    let sample_tokens = tokens::count(sample).max(1);
    let per_token = sample.len() as f32 / sample_tokens as f32;
    if (text.len() == sample.len() && sample_tokens <= max)
        || (text.len() as f32 / per_token < max as f32 * 0.8 && tokens::count(text) <= max)
    {
        return None;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut keep_chars = (max as f32 * per_token * 0.95) as usize;
    loop {
        let head_chars = keep_chars * 2 / 3;
        let tail_chars = keep_chars - head_chars;
        let (mut head, mut used) = (0, 0);
        while head < lines.len() && used + lines[head].len() <= head_chars {
            used += lines[head].len();
            head += 1;
        }
        let (mut tail, mut used) = (lines.len(), 0);
        while tail > head && used + lines[tail - 1].len() <= tail_chars {
            used += lines[tail - 1].len();
            tail -= 1;
        }
        let cut = tail - head;
        let mut out: String = lines[..head].concat();
        if head == 0 && tail == lines.len() {
            // One huge line: cut by characters.
            let a = super::candidates::floor_char_boundary(text, head_chars);
            let mut b = text.len().saturating_sub(tail_chars).max(a);
            while !text.is_char_boundary(b) {
                b += 1;
            }
            out = format!(
                "{}\n[… codingworker cut {} characters here to fit the model's context window …]\n{}",
                &text[..a],
                b - a,
                &text[b..]
            );
        } else {
            if !out.ends_with('\n') && !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!(
                "[… codingworker cut {cut} lines here to fit the model's context window …]\n"
            ));
            out.push_str(&lines[tail..].concat());
        }
        if tokens::count(&out) <= max || keep_chars < 64 {
            return Some(out);
        }
        keep_chars = keep_chars * 4 / 5;
    }
}

/// An excerpt of a file too large to send whole, within `max` tokens: the pieces of the
/// file around the lines that name the most `needles` (the first needles weigh most: the
/// caller puts quoted messages and definitions first), in the file's order, each saying
/// which lines it holds.
pub fn excerpt(path: &str, text: &str, needles: &[&str], max: u32) -> String {
    const BEFORE: usize = 8;
    const AFTER: usize = 24;
    let lines: Vec<&str> = text.lines().collect();
    // Each line's weight: the needles it holds, earlier needles weighing more.
    let weight = |l: &str| -> f32 {
        needles
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty() && l.contains(*n))
            .map(|(k, _)| 1.0 / (1.0 + k as f32 / 4.0))
            .sum()
    };
    let mut hits: Vec<(f32, usize)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (weight(l), i))
        .filter(|(w, _)| *w > 0.0)
        .collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    if hits.is_empty() {
        hits.push((1.0, 0));
    }
    let head = format!(
        "An excerpt of {path} ({} lines in all; the file is too large to send whole). Lines not shown are unchanged.\n",
        lines.len()
    );
    let piece = |a: usize, b: usize| {
        format!(
            "\n--- {path}, lines {}-{} ---\n{}\n",
            a + 1,
            b,
            lines[a..b].join("\n")
        )
    };
    let mut used = tokens::count(&head);
    if used > max {
        return String::new();
    }
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    for (_, i) in hits.into_iter().take(200) {
        let (a, b) = (i.saturating_sub(BEFORE), (i + AFTER).min(lines.len()));
        if pieces.iter().any(|&(x, y)| a >= x && b <= y) {
            continue;
        }
        let cost = tokens::count(&piece(a, b));
        if used + cost > max {
            continue;
        }
        used += cost;
        pieces.push((a, b));
    }
    pieces.sort();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in pieces {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    // Merging only removes repeated lines, but the count is checked, not assumed.
    loop {
        let out: String = std::iter::once(head.clone())
            .chain(merged.iter().map(|&(a, b)| piece(a, b)))
            .collect();
        if tokens::count(&out) <= max || merged.is_empty() {
            return out;
        }
        merged.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_keeps_head_and_tail() {
        let text: String = (0..2000)
            .map(|i| format!("line {i} of the issue\n"))
            .collect();
        let out = trim_middle(&text, 500).unwrap();
        assert!(tokens::count(&out) <= 500, "{}", tokens::count(&out));
        assert!(out.starts_with("line 0 of the issue\n"));
        assert!(out.ends_with("line 1999 of the issue\n"));
        assert!(out.contains("lines here to fit the model's context window"));
        assert_eq!(trim_middle("short", 500), None);
        let one_line = "x".repeat(100_000);
        let out = trim_middle(&one_line, 300).unwrap();
        assert!(tokens::count(&out) <= 300);
        assert!(out.contains("characters here"));
    }

    #[test]
    fn an_excerpt_holds_the_named_lines() {
        let text: String = (0..5000)
            .map(|i| {
                if i == 3000 {
                    "def target():\n".to_owned()
                } else {
                    format!("x{i} = {i}\n")
                }
            })
            .collect();
        let out = excerpt("big.py", &text, &["target"], 1000);
        assert!(out.contains("def target():"));
        assert!(out.contains("lines 2993-3024"), "{out}");
        assert!(tokens::count(&out) <= 1000);
    }

    #[test]
    fn the_arithmetic_adds_up() {
        let b = Budget {
            window: 8192,
            margin: 819,
            system: 650,
            message: 300,
            reply: 1256,
            edit: 1000,
            read: 200,
            map: 1024,
        };
        assert_eq!(b.used() + b.left(), 8192);
        assert_eq!(
            b.line(),
            "window 8192 = aider 650 + message 300 + files 1000 + read-only 200 + map 1024 + reply 1256 + margin 819 + free 2943"
        );
    }
}
