//! Strict JSON reading for request bodies: a field the type does not know is an
//! error naming it, not silently dropped (a misspelt `mcp_server` would otherwise
//! create a deployment without its MCP servers), and every error names the path of
//! the field at fault.

use serde::de::DeserializeOwned;

/// Why a body was refused: the field's path (`None` for the body as a whole) and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Dotted path of the offending field, e.g. `mcp_servers[0].url`.
    pub param: Option<String>,
    /// One sentence.
    pub message: String,
    /// The bytes were not JSON at all.
    pub syntax: bool,
}

/// Reads `T` from JSON bytes, refusing unknown fields.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Refusal> {
    read(&mut serde_json::Deserializer::from_slice(bytes))
}

/// Reads `T` from a JSON value, refusing unknown fields.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Refusal> {
    read(value)
}

fn read<'de, D, T>(de: D) -> Result<T, Refusal>
where
    D: serde::Deserializer<'de, Error: Into<serde_json::Error>>,
    T: DeserializeOwned,
{
    let mut unknown: Option<String> = None;
    let mut track = serde_path_to_error::Track::new();
    let result = {
        let mut note = |path: serde_ignored::Path<'_>| {
            unknown.get_or_insert_with(|| render(&path));
        };
        let ignoring = serde_ignored::Deserializer::new(de, &mut note);
        T::deserialize(serde_path_to_error::Deserializer::new(ignoring, &mut track))
    };
    match result {
        Ok(value) => match unknown {
            None => Ok(value),
            Some(path) => Err(Refusal {
                message: format!("unknown field `{path}`; check its spelling (this host does not accept it)"),
                param: Some(path),
                syntax: false,
            }),
        },
        Err(e) => {
            let e: serde_json::Error = e.into();
            let path = track.path().to_string();
            let syntax = e.is_syntax() || e.is_eof();
            // `?` is the tracker's "somewhere unknown": a syntax error has no field.
            let mut param = (!syntax && !matches!(path.as_str(), "" | "." | "?")).then_some(path.clone());
            // serde names a missing field only in its message; lift it into `param`.
            let text = e.to_string();
            if let Some(field) = text.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                param = Some(if param.is_none() { field.to_string() } else { format!("{path}.{field}") });
            }
            Err(Refusal { param, message: text, syntax })
        }
    }
}

/// A path as the other errors spell it: `a.b[0].c`.
fn render(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render(parent)),
        Path::Map { parent, key } => match render(parent) {
            p if p.is_empty() => key.to_string(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => render(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DeploymentSpec;
    use serde_json::json;

    fn spec(extra: serde_json::Value) -> serde_json::Value {
        let mut v = json!({"customer_id": "c", "name": "n", "system_prompt": "p"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn an_unknown_field_is_refused_by_its_path_at_any_depth() {
        assert!(from_value::<DeploymentSpec>(spec(json!({}))).is_ok());
        let top = from_value::<DeploymentSpec>(spec(json!({"mcp_server": []}))).unwrap_err();
        assert_eq!(top.param.as_deref(), Some("mcp_server"));
        assert!(top.message.contains("unknown field `mcp_server`"), "{}", top.message);
        let nested = from_value::<DeploymentSpec>(spec(json!({"features": {"memory": true, "dreams": true}})));
        assert_eq!(nested.unwrap_err().param.as_deref(), Some("features.dreams"));
        let deep = spec(json!({"mcp_servers": [{"name": "crm", "url": "https://x.example/mcp", "header": {}}]}));
        assert_eq!(from_value::<DeploymentSpec>(deep).unwrap_err().param.as_deref(), Some("mcp_servers[0].header"));
    }

    #[test]
    fn type_errors_and_missing_fields_name_their_field() {
        let wrong = from_value::<DeploymentSpec>(spec(json!({"features": {"memory": "yes"}}))).unwrap_err();
        assert_eq!(wrong.param.as_deref(), Some("features.memory"));
        let missing = from_value::<DeploymentSpec>(json!({"customer_id": "c", "name": "n"})).unwrap_err();
        assert_eq!(missing.param.as_deref(), Some("system_prompt"));
        let broken = from_slice::<DeploymentSpec>(b"{not json").unwrap_err();
        assert!(broken.syntax && broken.param.is_none(), "{broken:?}");
    }
}
