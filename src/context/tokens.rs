//! Counting tokens as the model will: OpenAI's `cl100k_base` byte-pair encoding, the one
//! aider (through litellm) counts with for models it has no tokenizer of its own for, so
//! our arithmetic and aider's warnings agree. Local models' own tokenizers differ by a few
//! percent on code (measured in docs/benchmarks.md); the budget keeps a margin for that.

/// The tokens of `text`.
pub fn count(text: &str) -> u32 {
    u32::try_from(
        tiktoken_rs::cl100k_base_singleton()
            .encode_ordinary(text)
            .len(),
    )
    .unwrap_or(u32::MAX)
}

/// Tokens aider adds around each file it sends (its path and a code fence).
pub const PER_FILE: u32 = 12;

#[cfg(test)]
mod tests {
    #[test]
    fn counts_code_as_a_bpe_does() {
        assert_eq!(super::count(""), 0);
        assert_eq!(super::count("hello world"), 2);
        // Code is denser than characters/4 says.
        let code = "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n";
        assert!(
            super::count(code) > code.len() as u32 / 4,
            "{}",
            super::count(code)
        );
    }
}
