//! Counting tokens the way a model's provider does, so a harness keeps its requests
//! under the model's window by the provider's own measure. OpenAI publishes its
//! tokenizers (`o200k_base` for GPT-4o, GPT-4.1, GPT-5 and the o-series; `cl100k_base`
//! for GPT-4 and GPT-3.5), and they are used here through `tiktoken-rs`; Anthropic
//! publishes none for current Claude models, so those and every other model get a
//! conservative estimate (a token per 3 bytes, where English and JSON average
//! nearer 4).

use tiktoken_rs::CoreBPE;

/// How a model's text is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tokenizer {
    /// OpenAI's `o200k_base`.
    O200k,
    /// OpenAI's `cl100k_base`.
    Cl100k,
    /// No tokenizer known: a token per 3 bytes.
    Estimate,
}

impl Tokenizer {
    /// The tokenizer of `model` (`provider/model` or a bare model name).
    pub fn for_model(model: &str) -> Tokenizer {
        let name = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
        let starts = |families: &[&str]| families.iter().any(|f| name.starts_with(f));
        if starts(&["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"]) {
            Tokenizer::O200k
        } else if starts(&["gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada"]) {
            Tokenizer::Cl100k
        } else {
            Tokenizer::Estimate
        }
    }

    /// Tokens of each text. CPU-bound (about 3 ms per 100 KB, and the vocabulary is
    /// loaded on first use): call it off the async runtime's threads.
    pub fn count(self, texts: &[String]) -> Vec<u32> {
        let bpe: Option<&CoreBPE> = match self {
            Tokenizer::O200k => Some(tiktoken_rs::o200k_base_singleton()),
            Tokenizer::Cl100k => Some(tiktoken_rs::cl100k_base_singleton()),
            Tokenizer::Estimate => None,
        };
        texts
            .iter()
            .map(|t| {
                let n = match bpe {
                    Some(bpe) => bpe.encode_ordinary(t).len(),
                    None => estimate(t.len()),
                };
                u32::try_from(n).unwrap_or(u32::MAX)
            })
            .collect()
    }
}

/// The conservative estimate for text of `bytes`.
pub fn estimate(bytes: usize) -> usize {
    bytes.div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_map_to_their_family_tokenizer_and_counts_are_real() {
        assert_eq!(Tokenizer::for_model("openai/gpt-4o-mini"), Tokenizer::O200k);
        assert_eq!(Tokenizer::for_model("openai/gpt-5"), Tokenizer::O200k);
        assert_eq!(Tokenizer::for_model("openai/gpt-4-turbo"), Tokenizer::Cl100k);
        assert_eq!(Tokenizer::for_model("anthropic/claude-sonnet-4.5"), Tokenizer::Estimate);
        assert_eq!(Tokenizer::for_model("local/llama-3.1-8b"), Tokenizer::Estimate);

        let texts = vec!["hello world".to_string(), String::new(), "a ".repeat(1000)];
        let real = Tokenizer::O200k.count(&texts);
        assert_eq!(real[0], 2, "`hello` and ` world`");
        assert_eq!(real[1], 0);
        assert!((900..=1100).contains(&real[2]), "{}", real[2]);
        assert_eq!(Tokenizer::Cl100k.count(&texts)[0], 2);
        // The estimate is a token per 3 bytes; text of short words beats it (2 bytes a
        // token above), which is why a real count is used where there is one.
        let est = Tokenizer::Estimate.count(&texts);
        assert_eq!(est, [4, 0, 667]);
    }
}
