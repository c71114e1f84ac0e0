//! Capturing a child's output: bounded in memory, complete in the log file, masked in both.
//!
//! Output is cut into lines (or 64 KiB pieces of a line that never ends, cut where no secret
//! and no character straddles the cut), each piece masked before it is kept. Memory keeps only the last `limit` bytes of stdout, of stderr and of
//! the two interleaved; the log file gets everything.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::mask::Masker;

const MAX_PIECE: usize = 64 * 1024;

/// The end of a text, at most `limit` bytes kept.
#[derive(Debug, Default)]
struct Tail {
    text: String,
    dropped: usize,
    limit: usize,
}

impl Tail {
    fn new(limit: usize) -> Self {
        Self {
            text: String::new(),
            dropped: 0,
            limit,
        }
    }

    fn push(&mut self, piece: &str) {
        self.text.push_str(piece);
        if self.text.len() > self.limit.saturating_mul(2).max(MAX_PIECE) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.text.len() <= self.limit {
            return;
        }
        let mut cut = self.text.len() - self.limit;
        while !self.text.is_char_boundary(cut) {
            cut += 1;
        }
        self.dropped += cut;
        self.text.drain(..cut);
    }

    fn finish(mut self) -> String {
        self.trim();
        if self.dropped > 0 {
            format!(
                "[… {} earlier bytes not kept; see the log file …]\n{}",
                self.dropped, self.text
            )
        } else {
            self.text
        }
    }
}

/// Output of one process as it arrives.
pub struct Capture {
    stdout: Tail,
    stderr: Tail,
    combined: Tail,
    log: Option<File>,
    masker: Masker,
}

/// What a process printed, after it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
    /// stdout and stderr interleaved as they arrived.
    pub output: String,
}

#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Capture {
    pub fn new(limit: usize, log: Option<File>, masker: Masker) -> Arc<Mutex<Self>> {
        Arc::new(Mutex::new(Self {
            stdout: Tail::new(limit),
            stderr: Tail::new(limit),
            combined: Tail::new(limit),
            log,
            masker,
        }))
    }

    fn push(&mut self, stream: Stream, raw: &[u8]) {
        let piece = self.masker.mask(&String::from_utf8_lossy(raw));
        match stream {
            Stream::Stdout => self.stdout.push(&piece),
            Stream::Stderr => self.stderr.push(&piece),
        }
        self.combined.push(&piece);
        if let Some(log) = &mut self.log
            && log.write_all(piece.as_bytes()).is_err()
        {
            self.log = None; // a full disk must not kill the step
        }
    }

    /// Writes a line of our own (e.g. the command) to the log only.
    pub fn note(&mut self, line: &str) {
        if let Some(log) = &mut self.log {
            let _ = writeln!(log, "{}", self.masker.mask(line));
        }
    }

    pub fn finish(capture: Arc<Mutex<Self>>) -> Captured {
        let inner = match Arc::try_unwrap(capture) {
            Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
            Err(shared) => {
                // A reader was abandoned (a process outside the group holds the pipe).
                let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
                std::mem::replace(
                    &mut *guard,
                    Capture {
                        stdout: Tail::default(),
                        stderr: Tail::default(),
                        combined: Tail::default(),
                        log: None,
                        masker: Masker::default(),
                    },
                )
            }
        };
        let mut inner = inner;
        if let Some(log) = &mut inner.log {
            let _ = log.flush();
        }
        Captured {
            stdout: inner.stdout.finish(),
            stderr: inner.stderr.finish(),
            output: inner.combined.finish(),
        }
    }
}

/// Reads a pipe to its end, feeding the capture line by line.
pub async fn pump<R: AsyncRead + Unpin>(
    mut reader: R,
    capture: Arc<Mutex<Capture>>,
    stream: Stream,
    watch: Option<super::Watch>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(pos) = pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos + 1;
            if let Some(w) = &watch {
                w.line(String::from_utf8_lossy(&pending[start..end]).trim_end());
            }
            lock(&capture).push(stream, &pending[start..end]);
            start = end;
        }
        pending.drain(..start);
        if pending.len() >= MAX_PIECE {
            // A line that does not end: write what can be masked on its own now, keeping
            // back any secret that straddles the cut and any half of a character.
            let mut c = lock(&capture);
            let cut = c.masker.split_point(&pending);
            c.push(stream, &pending[..cut]);
            drop(c);
            pending.drain(..cut);
        }
    }
    if !pending.is_empty() {
        lock(&capture).push(stream, &pending);
    }
}

pub fn lock(capture: &Mutex<Capture>) -> std::sync::MutexGuard<'_, Capture> {
    capture.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_and_says_what_it_dropped() {
        let mut t = Tail::new(10);
        for _ in 0..100 {
            t.push("0123456789\n");
        }
        let out = t.finish();
        assert!(out.starts_with("[… 1090 earlier bytes not kept"), "{out}");
        assert!(
            out.ends_with("\n0123456789\n") || out.ends_with("123456789\n"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn a_secret_or_a_character_across_a_piece_boundary_is_kept_whole() {
        let secret = "s3cr3t-t0ken-value";
        for shift in [1, 5, secret.len() - 1] {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("log");
            let cap = Capture::new(
                1 << 20,
                Some(File::create(&log).unwrap()),
                Masker::new([secret]),
            );
            // One line far longer than a piece, with the secret straddling the first cut
            // and a two-byte character on the second.
            let mut line = "a".repeat(MAX_PIECE - shift);
            line.push_str(secret);
            line.push_str(&"b".repeat(MAX_PIECE - line.len() % MAX_PIECE + MAX_PIECE - 1));
            line.push('é');
            line.push_str(&"c".repeat(MAX_PIECE));
            line.push('\n');
            pump(line.as_bytes(), cap.clone(), Stream::Stdout, None).await;
            let c = Capture::finish(cap);
            let written = std::fs::read_to_string(&log).unwrap();
            for text in [&c.stdout, &written] {
                assert!(!text.contains(secret), "shift {shift}: unmasked");
                assert!(text.contains("a***b"), "shift {shift}");
                assert!(
                    !text.contains('\u{fffd}'),
                    "shift {shift}: a split character"
                );
                assert_eq!(text.matches('é').count(), 1);
            }
        }
    }

    #[tokio::test]
    async fn masks_and_interleaves_lines() {
        let cap = Capture::new(1 << 20, None, Masker::new(["hunter22"]));
        pump(
            &b"a\npassword hunter22\nno newline"[..],
            cap.clone(),
            Stream::Stdout,
            None,
        )
        .await;
        pump(&b"err\n"[..], cap.clone(), Stream::Stderr, None).await;
        let c = Capture::finish(cap);
        assert_eq!(c.stdout, "a\npassword ***\nno newline");
        assert_eq!(c.stderr, "err\n");
        assert_eq!(c.output, "a\npassword ***\nno newlineerr\n");
    }
}
