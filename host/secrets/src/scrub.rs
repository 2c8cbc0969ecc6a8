//! The last guard: before the host persists or logs anything a guest or a model
//! produced, every value of the deployment's secrets (at least [`MIN_LEN`] bytes)
//! is replaced with `[REDACTED:NAME]`. Values are matched verbatim and in their
//! JSON-escaped form (tool arguments and event data are JSON text).

use std::borrow::Cow;

use super::crypto::SecretValue;

/// The largest char boundary of `s` at or below `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut end = at.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Shorter values are not scrubbed: they would redact ordinary words.
pub const MIN_LEN: usize = 6;

/// The secret values of one run, by env name, ready to scrub text.
#[derive(Default)]
pub struct Scrubber {
    /// (pattern, replacement), longest pattern first.
    patterns: Vec<(SecretValue, String)>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} patterns)", self.patterns.len())
    }
}

impl Scrubber {
    /// A scrubber for `(env name, value)` pairs.
    pub fn new(secrets: Vec<(String, SecretValue)>) -> Scrubber {
        let mut patterns = Vec::new();
        for (name, value) in secrets {
            if value.expose().len() < MIN_LEN {
                continue;
            }
            let replacement = format!("[REDACTED:{name}]");
            let quoted = serde_json::to_string(value.expose()).unwrap_or_default();
            let escaped = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default();
            if escaped != value.expose() && escaped.len() >= MIN_LEN {
                patterns.push((SecretValue::new(escaped), replacement.clone()));
            }
            patterns.push((value, replacement));
        }
        patterns.sort_by_key(|p| std::cmp::Reverse(p.0.expose().len()));
        Scrubber { patterns }
    }

    /// True when there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `text` with every secret value replaced.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for (value, replacement) in &self.patterns {
            if out.contains(value.expose()) {
                out = Cow::Owned(out.replace(value.expose(), replacement));
            }
        }
        out
    }

    /// At most `max` bytes of `text` (cut at a character boundary), scrubbed. Only a
    /// prefix a little longer than `max` is scanned — enough that a value starting
    /// before the cut is replaced whole, never shown in part — so a huge text costs
    /// no more than a short one.
    pub fn scrub_prefix(&self, text: &str, max: usize) -> String {
        let longest = self.patterns.first().map_or(0, |p| p.0.expose().len());
        let scan = floor_boundary(text, max.saturating_add(longest));
        let clean = self.scrub(&text[..scan]);
        clean[..floor_boundary(&clean, max)].to_string()
    }

    /// Scrubs an owned string in place (no copy when nothing matches).
    pub fn scrub_owned(&self, text: String) -> String {
        match self.scrub(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(s) => s,
        }
    }

    /// A scrubber for text arriving in pieces (streamed deltas): a value split
    /// across pieces is still caught, at the cost of holding back a possible prefix.
    pub fn stream(&self) -> StreamScrubber<'_> {
        StreamScrubber { scrubber: self, pending: String::new() }
    }

    /// Length of the longest suffix of `text` that is a proper prefix of a value.
    fn held_back(&self, text: &str) -> usize {
        let mut best = 0;
        for (value, _) in &self.patterns {
            let v = value.expose();
            let max = (v.len() - 1).min(text.len());
            for len in (best + 1..=max).rev() {
                let start = text.len() - len;
                if text.is_char_boundary(start) && v.as_bytes().starts_with(&text.as_bytes()[start..]) {
                    best = len;
                    break;
                }
            }
        }
        best
    }
}

/// See [`Scrubber::stream`].
pub struct StreamScrubber<'a> {
    scrubber: &'a Scrubber,
    pending: String,
}

impl StreamScrubber<'_> {
    /// Feeds a piece; returns the text safe to release now (possibly empty).
    pub fn push(&mut self, piece: &str) -> String {
        if self.scrubber.is_empty() {
            return piece.to_string();
        }
        self.pending.push_str(piece);
        let scrubbed = self.scrubber.scrub_owned(std::mem::take(&mut self.pending));
        let keep = self.scrubber.held_back(&scrubbed);
        let cut = scrubbed.len() - keep;
        self.pending = scrubbed[cut..].to_string();
        scrubbed[..cut].to_string()
    }

    /// Releases whatever is still held back.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.scrubber.scrub_owned(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber() -> Scrubber {
        Scrubber::new(vec![
            ("META_ADS_TOKEN".into(), SecretValue::new("sk-live-abc123")),
            ("SHORT".into(), SecretValue::new("abc")),
            ("QUOTED".into(), SecretValue::new("pa\"ss\\word")),
        ])
    }

    #[test]
    fn a_prefix_never_shows_part_of_a_value_cut_at_its_end() {
        let s = scrubber();
        // The value straddles the cut: scanned whole, replaced, then cut.
        let text = format!("{}sk-live-abc123 and more", "x".repeat(95));
        let out = s.scrub_prefix(&text, 100);
        assert!(out.len() <= 100 && !out.contains("sk-li"), "{out}");
        assert!(out.starts_with(&"x".repeat(95)));
        // A huge text is cut, not scanned whole, and multibyte text is cut on a boundary.
        let huge = "é".repeat(1 << 20);
        let out = s.scrub_prefix(&huge, 101);
        assert_eq!(out.len(), 100);
    }

    #[test]
    fn replaces_values_verbatim_and_json_escaped() {
        let s = scrubber();
        assert_eq!(s.scrub("token=sk-live-abc123!"), "token=[REDACTED:META_ADS_TOKEN]!");
        assert_eq!(s.scrub("abc stays"), "abc stays", "values under 6 bytes are not scrubbed");
        let json = serde_json::json!({"p": "pa\"ss\\word"}).to_string();
        assert_eq!(s.scrub(&json), r#"{"p":"[REDACTED:QUOTED]"}"#);
        assert!(matches!(s.scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_value_split_across_deltas_is_caught() {
        let s = scrubber();
        let mut st = s.stream();
        let mut out = String::new();
        for piece in ["The key is sk-li", "ve-ab", "c123 and more", " text sk-"] {
            out.push_str(&st.push(piece));
        }
        out.push_str(&st.finish());
        assert_eq!(out, "The key is [REDACTED:META_ADS_TOKEN] and more text sk-");
        let mut st = Scrubber::default();
        assert_eq!(st.stream().push("as is"), "as is");
        st = Scrubber::new(vec![("K".into(), SecretValue::new("ééééé1"))]);
        let mut stream = st.stream();
        let mut out = stream.push("xé");
        out.push_str(&stream.push("éééé1y"));
        out.push_str(&stream.finish());
        assert_eq!(out, "x[REDACTED:K]y");
    }
}
