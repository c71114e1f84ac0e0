//! "Did you mean …?" for misspelt keys and names.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let name_lower = name.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| {
            let d = strsim::damerau_levenshtein(&name_lower, &c.to_lowercase());
            (d, c)
        })
        .filter(|(d, c)| {
            let longest = name.chars().count().max(c.chars().count());
            *d <= (longest / 3).max(1)
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The suggestion as a sentence fragment: "did you mean `x`?".
pub(crate) fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    suggest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["shell", "aider", "retry", "pr_open", "comment", "timeout"];
        for (typo, want) in [
            ("shel", Some("shell")),
            ("sehll", Some("shell")),
            ("timeuot", Some("timeout")),
            ("pr-open", Some("pr_open")),
            ("Comment", Some("comment")),
            ("xyz", None),
            ("", None),
        ] {
            assert_eq!(suggest(typo, keys), want, "{typo}");
        }
    }
}
