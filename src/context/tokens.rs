//! Counting tokens as the model will: OpenAI's `cl100k_base` byte-pair encoding, the one
//! aider (through litellm) counts with for models it has no tokenizer of its own for, so
//! our arithmetic and aider's warnings agree, with one correction: Qwen's tokenizer (the
//! models our users run) gives every digit a token of its own where `cl100k_base` groups up
//! to three, so digits are counted one each. Measured on 1,301 files of real code
//! (docs/benchmarks.md), Qwen2.5's counts are then within the budget's 10% margin.

/// The tokens of `text`.
pub fn count(text: &str) -> u32 {
    let bpe = tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len();
    u32::try_from(bpe + digit_surplus(text)).unwrap_or(u32::MAX)
}

/// The tokens a one-digit-per-token tokenizer spends on `text`'s numbers beyond the
/// `ceil(n / 3)` that `cl100k_base` does.
fn digit_surplus(text: &str) -> usize {
    let mut surplus = 0;
    let mut run = 0usize;
    for b in text.bytes().chain(std::iter::once(b' ')) {
        if b.is_ascii_digit() {
            run += 1;
        } else if run > 0 {
            surplus += run - run.div_ceil(3);
            run = 0;
        }
    }
    surplus
}

/// Tokens aider adds around a file it sends: its path, a code fence.
pub fn per_file(path: &str) -> u32 {
    count(path) + 8
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_code_as_a_bpe_does_and_digits_one_each() {
        assert_eq!(super::count(""), 0);
        assert_eq!(super::count("hello world"), 2);
        // Code is denser than characters/4 says.
        let code = "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n";
        assert!(
            super::count(code) > code.len() as u32 / 4,
            "{}",
            super::count(code)
        );
        // `1234567` is three tokens in cl100k_base, seven in Qwen's.
        assert_eq!(super::digit_surplus("x = 1234567, y = 12"), 4 + 1);
        assert_eq!(
            super::count("1234567"),
            tiktoken_rs::cl100k_base_singleton()
                .encode_ordinary("1234567")
                .len() as u32
                + 4
        );
    }
}
