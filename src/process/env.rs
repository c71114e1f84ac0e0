//! The scrubbed environment of child processes (product spec §7).
//!
//! A child sees PATH, HOME, LANG, LC_*, TMPDIR from the worker, then the layers the engine
//! adds (issue variables, listed secrets, playbook, attempt and step env). Never the worker's
//! GitHub token or AWS credentials: tests and the model's code run there.

use std::collections::BTreeMap;

/// The worker variables passed through to every child.
pub fn passthrough(parent: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    parent
        .iter()
        .filter(|(k, _)| {
            matches!(k.as_str(), "PATH" | "HOME" | "LANG" | "TMPDIR") || k.starts_with("LC_")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Makes this process's memory and `/proc/<pid>/environ` unreadable to other processes of
/// the same user: the steps' processes, which run the model's code, cannot read the worker's
/// token from their parent. (Linux; elsewhere there is no `/proc` to protect.)
pub fn protect_self() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(error = %e, "failed to make the process non-dumpable");
    }
}

/// The worker's environment, as a map (variables that are not UTF-8 are left out).
pub fn current() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Linux refuses a single environment string longer than this (MAX_ARG_STRLEN).
pub const MAX_ENV_VALUE: usize = 128 * 1024 - 1;

/// Whether a value can be put in the environment as is: no NUL byte, not too long.
pub fn env_safe(name: &str, value: &str) -> bool {
    !value.contains('\0') && name.len() + 1 + value.len() <= MAX_ENV_VALUE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_credentials_are_recognised() {
        for name in [
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_PROFILE",
        ] {
            assert!(crate::mask::is_worker_credential(name), "{name}");
        }
        assert!(!crate::mask::is_worker_credential("GEMINI_API_KEY"));
    }

    #[test]
    fn only_the_basics_pass_through() {
        let parent = BTreeMap::from([
            ("PATH".to_string(), "/bin".to_string()),
            ("HOME".to_string(), "/h".to_string()),
            ("LC_ALL".to_string(), "C".to_string()),
            ("GITHUB_TOKEN".to_string(), "t".to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), "s".to_string()),
            ("OLLAMA_API_BASE".to_string(), "x".to_string()),
        ]);
        let kept: Vec<_> = passthrough(&parent).into_keys().collect();
        assert_eq!(kept, ["HOME", "LC_ALL", "PATH"]);
    }
}
