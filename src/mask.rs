//! Masking secrets: every text we log, store or send passes through a [`Masker`].
//!
//! The masker knows the values of the playbook's listed secrets, the worker's GitHub token
//! and AWS credentials, and any variable of the worker's environment whose name looks like a
//! credential. Each occurrence becomes `***`.

use std::collections::BTreeMap;

/// What a masked value is replaced with.
pub const MASK: &str = "***";
/// Values shorter than this are not masked: they would blank out ordinary text.
pub const MIN_SECRET_LEN: usize = 4;

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

/// Whether a variable name is a credential's.
pub fn is_secret_name(name: &str) -> bool {
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
