//! `docs/configuration.md`, generated from the configuration types: every key of
//! `hermes.toml` with its type, its default (the effective value of an empty file) and
//! its doc comment, then the environment variables the host reads. A test compares the
//! checked-in file with this output, so the reference cannot drift from the code, and a
//! key without a doc comment fails the generation.

use serde_json::{Map, Value};

use super::{FileConfig, HostConfig};

/// Environment variables the host reads, with what each does. A test checks that
/// every `HERMES_*` name in the host's sources is listed here.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("HERMES_CONFIG", "Path of `hermes.toml` (default `./hermes.toml` when it exists)."),
    ("HERMES_DATA_DIR", "The data directory (database, workspaces, keys); `serve --data-dir` overrides it."),
    ("HERMES_LISTEN", "Address to serve on; `serve --listen` overrides it."),
    ("HERMES_CACHE_DIR", "Where compiled components are cached, so hosts of one build can share them."),
    ("HERMES_METRICS_TOKEN", "Sets `metrics_token`."),
    ("HERMES_ALLOW_PRIVATE_URLS", "`1` sets `allow_private_urls`."),
    ("HERMES_PUBLIC_URL", "Sets `[api] public_url`."),
    ("HERMES_TRUST_FORWARDED", "`1` sets `[api] trust_forwarded_headers`."),
    ("HERMES_MASTER_KEY", "The key secrets are encrypted with (else `master.key` in the data directory)."),
    ("HERMES_LOG", "Log filter (`tracing-subscriber` syntax), default `info`."),
    ("HERMES_LOG_FORMAT", "`json` for one JSON object per log line."),
    ("HERMES_HEADER_READ_TIMEOUT_MS", "How long a connection may take to send a request's headers (default 10 s)."),
    ("HERMES_ALLOW_TEST_CLOCK", "Testing only: allows `[automations] clock_file`."),
    ("OPENAI_API_KEY / OPENAI_BASE_URL", "The built-in `openai` provider's key and endpoint."),
    ("ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL", "The built-in `anthropic` provider's key and endpoint."),
    ("OPENROUTER_API_KEY / OPENROUTER_BASE_URL", "The built-in `openrouter` provider's key and endpoint."),
    ("BRAVE_API_KEY / TAVILY_API_KEY", "The `web_search` provider's key (`[search] api_key_env` names another)."),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "Exports traces over OTLP/HTTP (protobuf) to this `http://` collector; unset, nothing is exported. The \
         SDK's other standard variables apply (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, \
         `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`); `OTEL_SDK_DISABLED=true` or \
         `OTEL_TRACES_EXPORTER=none` turn it off. See `docs/observability.md`.",
    ),
    (
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "`true` puts tool arguments and results (scrubbed of secret values) into `execute_tool` spans; off by \
         default, spans carry no content.",
    ),
];

/// The configuration reference as Markdown.
pub fn reference() -> Result<String, String> {
    let schema = schemars::schema_for!(FileConfig);
    let defaults = serde_json::to_value(FileConfig::effective(&HostConfig::default())).map_err(|e| e.to_string())?;
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from the configuration types by `hermes-host config reference`; a test fails \
         when this file and the code differ. Every key is optional: the default is what an empty \
         `hermes.toml` gives. `hermes-host config check FILE` validates a file and prints its \
         effective configuration (secrets masked). Unknown keys are refused by name.\n",
    );
    out.push_str(&render(schema.as_value(), &defaults)?);
    out.push_str("\n## Environment variables\n\n| variable | what it does |\n|---|---|\n");
    for (name, what) in ENV_VARS {
        out.push_str(&format!("| `{name}` | {what} |\n"));
    }
    Ok(out)
}

/// Renders the keys of `schema` (a JSON Schema of a configuration struct): top-level
/// scalars first, then one section per table. Fails naming the first key without a
/// description.
pub fn render(schema: &Value, defaults: &Value) -> Result<String, String> {
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let props = properties(schema);
    let mut top = Vec::new();
    let mut sections = String::new();
    for (key, sub) in &props {
        let doc = description(sub, key)?;
        let resolved = resolve(sub, &defs);
        let default = defaults.get(key.as_str()).unwrap_or(&Value::Null);
        if resolved.get("properties").is_some() {
            sections.push_str(&format!("\n## `[{key}]`\n\n{}\n\n", one_line(&doc)));
            sections.push_str(&table(key, &resolved, &defs, default)?);
        } else if let Some(entry) = map_entry(&resolved, &defs) {
            sections.push_str(&format!("\n## `[{key}.<name>]`\n\n{}\n\n", one_line(&doc)));
            match entry.get("properties") {
                Some(_) => sections.push_str(&table(&format!("{key}.<name>"), &entry, &defs, &Value::Null)?),
                None => sections.push_str(&format!("Each `<name> = {}`.\n", type_of(&entry))),
            }
        } else {
            top.push(row(key, &resolved, default, &doc));
        }
    }
    let mut out = String::from("\n## Top level\n\n| key | type | default | what it is for |\n|---|---|---|---|\n");
    for r in top {
        out.push_str(&r);
    }
    out.push_str(&sections);
    Ok(out)
}

/// The rows of one table's keys (nested tables get their own sub-heading). A key's
/// default is its effective value in `defaults`, else its type's own serde default;
/// a key the table cannot go without says `required`.
fn table(prefix: &str, schema: &Value, defs: &Value, defaults: &Value) -> Result<String, String> {
    let props = properties(schema);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut rows = String::from("| key | type | default | what it is for |\n|---|---|---|---|\n");
    let mut nested = String::new();
    for (key, sub) in &props {
        let path = format!("{prefix}.{key}");
        let doc = description(sub, &path)?;
        let resolved = resolve(sub, defs);
        let default = match defaults.get(key.as_str()).filter(|v| !v.is_null()).or_else(|| sub.get("default")) {
            Some(v) => v.clone(),
            None if required.contains(&key.as_str()) => Value::from("(required)"),
            None => Value::Null,
        };
        if let Some(entry) = map_entry(&resolved, defs)
            && entry.get("properties").is_some()
        {
            nested.push_str(&format!("\n### `[{path}.<name>]`\n\n{}\n\n", one_line(&doc)));
            nested.push_str(&table(&format!("{path}.<name>"), &entry, defs, &Value::Null)?);
        } else {
            rows.push_str(&row(key, &resolved, &default, &doc));
        }
    }
    Ok(rows + &nested)
}

fn row(key: &str, schema: &Value, default: &Value, doc: &str) -> String {
    let default = match default {
        Value::Null => "none".to_string(),
        Value::String(s) if s == "(required)" => "required".to_string(),
        Value::Object(m) if m.is_empty() => "none".to_string(),
        Value::Array(a) if a.is_empty() => "`[]`".to_string(),
        v => format!("`{}`", v.to_string().replace('|', "\\|")),
    };
    format!("| `{key}` | {} | {default} | {} |\n", type_of(schema), one_line(doc).replace('|', "\\|"))
}

fn properties(schema: &Value) -> Map<String, Value> {
    schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default()
}

fn description(schema: &Value, key: &str) -> Result<String, String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| !d.trim().is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("configuration key `{key}` has no doc comment; say what it is for"))
}

fn one_line(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Follows `$ref` and takes the non-null branch of an `Option<T>`'s `anyOf`.
fn resolve(schema: &Value, defs: &Value) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        return resolve(defs.get(name).unwrap_or(&Value::Null), defs);
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let real: Vec<&Value> = branches.iter().filter(|b| b.get("type") != Some(&Value::from("null"))).collect();
        if real.len() == 1 {
            return resolve(real[0], defs);
        }
    }
    schema.clone()
}

/// The value schema of a map-typed key (`[providers.<name>]`), if it is one.
fn map_entry(schema: &Value, defs: &Value) -> Option<Value> {
    let entry = schema.get("additionalProperties").filter(|v| v.is_object())?;
    schema.get("properties").is_none().then(|| resolve(entry, defs))
}

fn type_of(schema: &Value) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let names: Vec<String> = branches
            .iter()
            .filter_map(|b| b.get("const").or_else(|| b.get("enum").and_then(|e| e.get(0))))
            .filter_map(Value::as_str)
            .map(|v| format!("`{v}`"))
            .collect();
        if !names.is_empty() {
            return names.join(" \\| ");
        }
    }
    let kinds: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => vec![],
    };
    match kinds.first().copied() {
        Some("array") => {
            let item = schema.get("items").map(type_of).unwrap_or_else(|| "value".into());
            format!("list of {item}")
        }
        Some("object") => match schema.get("additionalProperties").filter(|v| v.is_object()) {
            Some(v) => format!("table of {}", type_of(v)),
            None => "table".into(),
        },
        Some(t) => t.to_string(),
        None => "value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in reference is what the code generates.
    #[test]
    fn docs_configuration_md_matches_the_code() {
        let generated = reference().unwrap_or_else(|e| panic!("{e}"));
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/configuration.md is out of date: regenerate it with \
             `cargo run -q -p hermes-host -- config reference > docs/configuration.md`"
        );
    }

    /// A key added without a doc comment fails the generation, naming the key.
    #[test]
    fn an_undocumented_key_fails_the_reference() {
        #[derive(serde::Serialize, schemars::JsonSchema)]
        struct Documented {
            /// Says what it is for.
            said: u32,
            unsaid: u32,
        }
        let schema = schemars::schema_for!(Documented);
        let err = render(schema.as_value(), &serde_json::json!({"said": 1, "unsaid": 2})).unwrap_err();
        assert!(err.contains("`unsaid`"), "{err}");
    }

    /// Every `HERMES_*` variable the host's sources read is in [`ENV_VARS`].
    #[test]
    fn every_hermes_environment_variable_is_listed() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut stack = vec![std::path::PathBuf::from(root)];
        let mut missing = std::collections::BTreeSet::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if !path.ends_with("target") && !path.ends_with("tests") {
                        stack.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let mut rest = text.as_str();
                while let Some(at) = rest.find("\"HERMES_") {
                    // `env!("HERMES_…")` is a build-time input of a build script, not a setting.
                    let build_time = rest[..at].ends_with("env!(");
                    let piece = &rest[at + 1..];
                    let name: String = piece.chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
                    rest = &piece[name.len()..];
                    if !build_time
                        && name.len() > "HERMES_".len()
                        && rest.starts_with('"')
                        && !ENV_VARS.iter().any(|(v, _)| *v == name)
                    {
                        missing.insert(name);
                    }
                }
            }
        }
        assert!(missing.is_empty(), "environment variables read but not documented in ENV_VARS: {missing:?}");
    }
}
