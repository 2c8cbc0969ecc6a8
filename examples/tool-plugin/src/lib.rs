//! A Hermes tool plugin with two tools, `word_count` and `slugify`.
//!
//! Copy this crate to start your own: implement
//! [`Guest`](hermes_guest::tool_plugin::exports::hermes::agent::tool::Guest) (the list
//! of tools and a call), export it with [`hermes_guest::export_tool_plugin!`], and build
//! with `cargo build --target wasm32-wasip2 --release`.

use hermes_guest::tool_plugin::exports::hermes::agent::tool::Guest;
use hermes_guest::{ToolDefinition, ToolOutput, parse_args};
use serde::Deserialize;
use serde_json::json;

/// The plugin. It keeps no state: every call stands alone.
pub struct TextTools;

impl Guest for TextTools {
    fn list_tools() -> Vec<ToolDefinition> {
        vec![
            ToolDefinition::new(
                "word_count",
                "Count the words, lines and characters of a text.",
                json!({
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"]
                }),
            ),
            ToolDefinition::new(
                "slugify",
                "Turn a title into a URL slug (lowercase ASCII words joined by '-').",
                json!({
                    "type": "object",
                    "properties": {"title": {"type": "string"}},
                    "required": ["title"]
                }),
            ),
        ]
    }

    fn call_tool(name: String, arguments: String) -> Result<ToolOutput, String> {
        // `Err` is for calls the plugin cannot take at all (an unknown tool); a call that
        // fails (bad arguments, …) is an `Ok(ToolOutput::err(..))` the model can read.
        match name.as_str() {
            "word_count" => Ok(word_count(&arguments)),
            "slugify" => Ok(slugify_tool(&arguments)),
            other => Err(format!("unknown tool `{other}`")),
        }
    }
}

hermes_guest::export_tool_plugin!(TextTools);

#[derive(Deserialize)]
struct WordCountArgs {
    text: String,
}

fn word_count(arguments: &str) -> ToolOutput {
    match parse_args::<WordCountArgs>(arguments) {
        Ok(WordCountArgs { text }) => ToolOutput::ok(
            json!({
                "words": text.split_whitespace().count(),
                "lines": text.lines().count(),
                "characters": text.chars().count(),
            })
            .to_string(),
        ),
        Err(e) => ToolOutput::err(e),
    }
}

#[derive(Deserialize)]
struct SlugifyArgs {
    title: String,
}

fn slugify_tool(arguments: &str) -> ToolOutput {
    match parse_args::<SlugifyArgs>(arguments) {
        Ok(SlugifyArgs { title }) => match slugify(&title) {
            slug if slug.is_empty() => ToolOutput::err("the title has no letters or digits"),
            slug => ToolOutput::ok(slug),
        },
        Err(e) => ToolOutput::err(e),
    }
}

/// `"Hello, Wörld! 2026"` → `"hello-w-rld-2026"`: ASCII letters and digits, lowercased,
/// every other run of characters becomes one `-`.
pub fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_lines_and_characters() {
        let out = TextTools::call_tool("word_count".into(), r#"{"text":"one two\nthree"}"#.into()).unwrap();
        assert!(!out.is_error);
        assert_eq!(out.content, r#"{"characters":13,"lines":2,"words":3}"#);
    }

    #[test]
    fn slugifies_titles() {
        assert_eq!(slugify("  Hello, World! 2026 "), "hello-world-2026");
        assert!(slugify_tool(r#"{"title":"!!!"}"#).is_error);
    }

    #[test]
    fn bad_arguments_and_unknown_tools_are_errors() {
        assert!(TextTools::call_tool("slugify".into(), "{}".into()).unwrap().is_error);
        assert!(TextTools::call_tool("nope".into(), "{}".into()).is_err());
    }

    #[test]
    fn every_listed_tool_is_callable() {
        for tool in TextTools::list_tools() {
            assert!(TextTools::call_tool(tool.name, "{}".into()).is_ok());
        }
    }
}
