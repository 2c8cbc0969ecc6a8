//! `[providers.<name>]` tables of `hermes.toml`, and the built-in providers they add
//! to or override.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Provider entries beyond (or overriding) the built-ins, by registry name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ProvidersConfig {
    /// `[providers.<name>]` tables, keyed by `<name>` (the `provider` in `provider/model`).
    pub entries: BTreeMap<String, ProviderEntry>,
}

/// One `[providers.<name>]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// The wire format the endpoint speaks.
    pub kind: ProviderKind,
    /// Endpoint base, e.g. `http://127.0.0.1:11434/v1` (OpenAI kind) or
    /// `https://api.anthropic.com` (Anthropic kind, with or without `/v1`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Environment variable holding the API key; none means the endpoint needs no key.
    #[serde(default)]
    pub api_key_env: Option<String>,
}

/// The wire formats a provider can speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI Chat Completions (also OpenRouter, Ollama, vLLM, ...).
    Openai,
    /// Anthropic Messages API.
    Anthropic,
}

/// A built-in provider: its defaults and the variables it reads.
pub(crate) struct Builtin {
    pub name: &'static str,
    pub kind: ProviderKind,
    pub default_base: &'static str,
    pub base_env: &'static str,
    /// `None`: the endpoint needs no key (a local server).
    pub key_env: Option<&'static str>,
}

/// The providers every host knows without configuration.
pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "openai",
        kind: ProviderKind::Openai,
        default_base: "https://api.openai.com/v1",
        base_env: "OPENAI_BASE_URL",
        key_env: Some("OPENAI_API_KEY"),
    },
    Builtin {
        name: "anthropic",
        kind: ProviderKind::Anthropic,
        default_base: "https://api.anthropic.com",
        base_env: "ANTHROPIC_BASE_URL",
        key_env: Some("ANTHROPIC_API_KEY"),
    },
    Builtin {
        name: "openrouter",
        kind: ProviderKind::Openai,
        default_base: "https://openrouter.ai/api/v1",
        base_env: "OPENROUTER_BASE_URL",
        key_env: Some("OPENROUTER_API_KEY"),
    },
    Builtin {
        name: "ollama",
        kind: ProviderKind::Openai,
        default_base: "http://127.0.0.1:11434/v1",
        base_env: "OLLAMA_BASE_URL",
        key_env: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_tables_parse_from_toml() {
        #[derive(Deserialize)]
        struct File {
            providers: ProvidersConfig,
        }
        let f: File = toml::from_str(
            r#"
            [providers.local]
            kind = "openai"
            base_url = "http://127.0.0.1:8000/v1"

            [providers.corp-claude]
            kind = "anthropic"
            base_url = "https://llm.corp.example"
            api_key_env = "CORP_KEY"
            "#,
        )
        .expect("valid config");
        let local = &f.providers.entries["local"];
        assert_eq!(local.kind, ProviderKind::Openai);
        assert_eq!(local.api_key_env, None);
        assert_eq!(f.providers.entries["corp-claude"].api_key_env.as_deref(), Some("CORP_KEY"));
    }

    #[test]
    fn unknown_kind_and_fields_are_rejected() {
        assert!(toml::from_str::<ProvidersConfig>("[x]\nkind = \"gemini\"").is_err());
        assert!(toml::from_str::<ProvidersConfig>("[x]\nkind = \"openai\"\napi_key = \"sk\"").is_err());
    }
}
