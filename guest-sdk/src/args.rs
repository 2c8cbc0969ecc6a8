//! Reading a tool call's JSON arguments.

use serde::de::DeserializeOwned;

/// Parses a tool call's `arguments` (a JSON object, as the model produced it) into `T`.
///
/// An empty string counts as `{}` (some models send no arguments for tools without
/// parameters). The error is a sentence meant for the model, so it can fix its call:
/// return it as [`ToolOutput::err`](crate::ToolOutput::err).
///
/// ```
/// #[derive(serde::Deserialize, Debug)]
/// struct Args {
///     path: String,
///     #[serde(default)]
///     limit: Option<u32>,
/// }
///
/// let args: Args = hermes_guest::parse_args(r#"{"path": "notes.md"}"#).unwrap();
/// assert_eq!(args.path, "notes.md");
/// assert!(args.limit.is_none());
///
/// let err = hermes_guest::parse_args::<Args>(r#"{"limit": 3}"#).unwrap_err();
/// assert!(err.contains("missing field `path`"));
/// ```
pub fn parse_args<T: DeserializeOwned>(arguments: &str) -> Result<T, String> {
    let text = if arguments.trim().is_empty() { "{}" } else { arguments };
    serde_json::from_str(text).map_err(|e| format!("invalid arguments: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct NoArgs {}

    #[test]
    fn empty_arguments_are_an_empty_object() {
        assert!(parse_args::<NoArgs>("").is_ok());
        assert!(parse_args::<NoArgs>("  ").is_ok());
    }

    #[test]
    fn malformed_json_is_a_readable_error() {
        let err = parse_args::<NoArgs>("{oops").unwrap_err();
        assert!(err.starts_with("invalid arguments:"), "{err}");
    }
}
