//! Masking secrets: every text we log, store or send passes through a [`Masker`].
//!
//! The masker knows the values of the playbook's listed secrets, the worker's GitHub token
//! and AWS credentials, and any variable of the worker's environment whose name looks like a
//! credential. Each occurrence becomes `***`.

use std::collections::BTreeMap;

/// What a masked value is replaced with.
pub(crate) const MASK: &str = "***";
/// Values shorter than this are not masked: they would blank out ordinary text.
pub(crate) const MIN_SECRET_LEN: usize = 4;

/// Names of worker variables that are credentials whatever the playbook says.
const ALWAYS_SECRET: [&str; 4] = [
    "GITHUB_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID",
];

/// Parts of a variable name that mark it as a credential.
const SECRET_NAME_PARTS: [&str; 7] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "API_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
];

/// Replaces known secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Longest first, so a secret that contains another is masked whole.
    secrets: Vec<String>,
}

impl Masker {
    pub fn new<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut secrets: Vec<String> = Vec::new();
        for value in values.into_iter().map(Into::into) {
            // Output is masked line by line, so a multi-line secret (a PEM key) is masked by
            // its lines too.
            if value.contains('\n') {
                secrets.extend(value.lines().map(|l| l.trim().to_owned()));
            }
            secrets.push(value);
        }
        secrets.retain(|s| s.len() >= MIN_SECRET_LEN);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// A masker for a run: the listed secrets' values plus every credential-like variable of
    /// the worker's environment.
    pub fn for_environment(env: &BTreeMap<String, String>, listed: &[String]) -> Self {
        let values = env
            .iter()
            .filter(|(name, _)| listed.contains(name) || is_secret_name(name))
            .map(|(_, v)| v.clone());
        Self::new(values)
    }

    /// Where a long piece of output that is still arriving may be cut so that each part can
    /// be masked on its own: at a character boundary, never inside an occurrence of a
    /// secret, and leaving back enough bytes that a secret only partly arrived is kept
    /// whole for the next piece. `bytes[..cut]` can be masked and written now; the rest
    /// waits. The cut can be 0 (nothing safe yet).
    pub fn split_point(&self, bytes: &[u8]) -> usize {
        let longest = self.secrets.first().map_or(0, String::len);
        let mut cut = complete_prefix(bytes).saturating_sub(longest.saturating_sub(1));
        loop {
            let before = cut;
            for s in &self.secrets {
                let s = s.as_bytes();
                let from = cut.saturating_sub(s.len() - 1);
                let to = (cut + s.len() - 1).min(bytes.len());
                if let Some(at) = bytes[from..to]
                    .windows(s.len())
                    .position(|w| w == s)
                    .map(|i| from + i)
                    .filter(|&at| at < cut)
                {
                    cut = at;
                }
            }
            // Never split a UTF-8 sequence: back up to the byte that starts it.
            while cut > 0 && cut < bytes.len() && bytes[cut] & 0b1100_0000 == 0b1000_0000 {
                cut -= 1;
            }
            if cut == before {
                return cut;
            }
        }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }
}

/// The length of `bytes` without a UTF-8 sequence that its last bytes only begin.
fn complete_prefix(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(4) {
        let b = bytes[len - back];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: look further back for the start
        }
        let needs = match b {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        return if needs > back { len - back } else { len };
    }
    len
}

/// Whether a variable is one of the worker's own credentials, which never reach a child
/// process, even when a playbook lists it as a secret (product spec §7).
pub(crate) fn is_worker_credential(name: &str) -> bool {
    matches!(
        name,
        "GITHUB_TOKEN" | "GH_TOKEN" | "CODINGWORKER_STATUS_TOKEN"
    ) || name.starts_with("AWS_")
}

/// Whether a variable name is a credential's.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ALWAYS_SECRET.contains(&upper.as_str()) || SECRET_NAME_PARTS.iter().any(|p| upper.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let m = Masker::new(["abcd", "abcdefgh", "x"]);
        assert_eq!(m.mask("1 abcdefgh 2 abcd 3 x"), "1 *** 2 *** 3 x");
    }

    #[test]
    fn a_split_point_never_cuts_a_secret_or_a_character() {
        let m = Masker::new(["secret-value-1234"]);
        // A whole secret across the natural cut moves it to the secret's start.
        let text = format!("{}secret-value-1234{}", "x".repeat(100), "y".repeat(5));
        let cut = m.split_point(text.as_bytes());
        assert!(cut <= 100, "{cut}");
        // A secret only partly arrived is held back.
        let text = format!("{}secret-val", "x".repeat(100));
        assert!(m.split_point(text.as_bytes()) <= 100);
        // Without secrets, a cut backs up to the start of a multi-byte character.
        let text = format!("{}é", "x".repeat(10));
        let bytes = &text.as_bytes()[..11]; // half of `é`
        assert_eq!(Masker::default().split_point(bytes), 10);
        assert_eq!(Masker::default().split_point(text.as_bytes()), 12);
    }

    #[test]
    fn multi_line_secrets_are_masked_line_by_line() {
        let key =
            "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQAB\nQkFTRTY0U0VDUkVU\n-----END KEY-----\n";
        let m = Masker::new([key]);
        assert_eq!(m.mask(key), "***");
        assert_eq!(m.mask("line: QkFTRTY0U0VDUkVU\n"), "line: ***\n");
    }

    #[test]
    fn environment_credentials_are_found_by_name() {
        let env = BTreeMap::from([
            ("GITHUB_TOKEN".to_string(), "ghp_secretvalue".to_string()),
            ("MY_API_KEY".to_string(), "k-123456".to_string()),
            ("GEMINI".to_string(), "listed-value".to_string()),
            ("HOME".to_string(), "/home/me".to_string()),
        ]);
        let m = Masker::for_environment(&env, &["GEMINI".to_string()]);
        assert_eq!(
            m.mask("ghp_secretvalue k-123456 listed-value /home/me"),
            "*** *** *** /home/me"
        );
    }
}
