//! Model providers behind one trait: the Anthropic Messages API and OpenAI-compatible
//! Chat Completions (OpenAI, OpenRouter, Ollama, custom endpoints), both streamed, with
//! tool calls, usage and retries. [`Providers`] resolves `provider/model` names.

mod anthropic;
mod config;
mod openai;
mod retry;
pub mod sse;
pub mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use config::{ProviderEntry, ProviderKind, ProvidersConfig};
pub use retry::RetryPolicy;

use config::BUILTINS;

/// Longest time to establish a connection to a provider.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time for one whole model call (long generations stream for minutes).
const TOTAL_TIMEOUT: Duration = Duration::from_secs(600);

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatRole {
    /// The user (or the host on the user's behalf).
    User,
    /// The model.
    Assistant,
    /// A tool's result, answering one of the assistant's tool calls.
    Tool,
}

/// A tool invocation the model asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    /// Provider-assigned id, echoed back in the tool result.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Arguments as JSON text (`"{}"` when the model sent none).
    pub arguments: String,
}

/// One message of the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: ChatRole,
    /// Its text (for `Tool`, the tool's output).
    pub content: String,
    /// Tool calls made in this (assistant) message.
    pub tool_calls: Vec<ToolCall>,
    /// For `Tool` messages: the call this answers.
    pub tool_call_id: Option<String>,
    /// For `Tool` messages: the tool failed.
    pub is_error: bool,
    /// Images shown with a `User` message (sent as image parts; vision models only).
    pub images: Vec<ImagePart>,
}

/// An image a message shows the model, by URL (the provider fetches it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImagePart {
    /// `http(s)://…`
    pub url: String,
}

/// A tool offered to the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    /// The tool's name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: serde_json::Value,
}

/// One completion request, provider-neutral.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    /// Provider-local model name, e.g. `claude-sonnet-4.5`.
    pub model: String,
    /// System prompt (may be empty).
    pub system: String,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// Most tokens to generate.
    pub max_tokens: u32,
}

/// Why the model stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// It finished its turn.
    EndTurn,
    /// It wants tool results.
    ToolUse,
    /// It hit `max_tokens`.
    MaxTokens,
    /// Anything else (stop sequence, content filter, refusal...).
    Other,
}

/// Tokens a call used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens (cached ones included).
    pub input_tokens: u32,
    /// Generated tokens.
    pub output_tokens: u32,
    /// Of `input_tokens`, those read from the provider's prompt cache (priced lower).
    pub cached_input_tokens: u32,
}

/// A finished completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// All text the model produced (the streamed deltas, concatenated).
    pub content: String,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Tokens used.
    pub usage: Usage,
}

/// Why a model call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The request cannot succeed as is: bad model name, missing key, a 4xx other than 429.
    #[error("{0}")]
    InvalidRequest(String),
    /// The provider could not answer: network, 429/5xx after retries, malformed stream.
    #[error("{0}")]
    Unavailable(String),
}

/// A model provider.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// Runs one completion, passing each text delta to `on_delta` as it streams.
    ///
    /// (`for<'a>` is what `FnMut(&str)` means anyway; spelled out because
    /// `async_trait` would otherwise tie the `&str` to one caller-chosen lifetime.)
    async fn complete(
        &self,
        req: &ChatRequest,
        on_delta: &mut (dyn for<'a> FnMut(&'a str) + Send),
    ) -> Result<Completion, ProviderError>;
}

/// An API key; its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// Where a provider lives and how it authenticates (shared by both kinds).
#[derive(Clone, Debug)]
struct Endpoint {
    /// Registry name, for messages.
    name: String,
    /// Base URL without a trailing `/`.
    base_url: String,
    /// The key, if the endpoint needs one.
    key: Option<ApiKey>,
    /// Says where the key comes from (for 401 messages).
    key_hint: String,
    client: reqwest::Client,
    retry: RetryPolicy,
}

impl Endpoint {
    /// A streamed call to `url` of this endpoint (client, retry policy and key
    /// scrubbing shared by both provider kinds).
    fn call<'a>(
        &'a self,
        url: &'a str,
        headers: reqwest::header::HeaderMap,
        body: &'a serde_json::Value,
    ) -> retry::Call<'a> {
        retry::Call {
            provider: &self.name,
            url,
            client: &self.client,
            headers,
            body,
            policy: &self.retry,
            secret: self.key.as_ref().map(|k| k.expose()),
            auth_hint: self.key_hint.clone(),
        }
    }
}

/// A registry entry: a ready provider, or why it cannot be used.
#[derive(Clone)]
enum Slot {
    Ready(Arc<dyn Provider>),
    Unusable(String),
}

/// All configured providers, by name.
#[derive(Clone)]
pub struct Providers {
    slots: BTreeMap<String, Slot>,
    /// Providers that take no key (a local endpoint): "ready" says nothing about whether
    /// anything answers there.
    keyless: Vec<String>,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, slot) in &self.slots {
            m.entry(name, &matches!(slot, Slot::Ready(_)));
        }
        m.finish()
    }
}

impl Providers {
    /// Built-ins + [providers.*] config, keys/base URLs from `env` (a snapshot map so tests inject it, never std::env directly inside).
    ///
    /// A `[providers.<name>]` table overrides the built-in of that name field by field;
    /// its `base_url` wins over the built-in's `*_BASE_URL` variable, which wins over
    /// the built-in default.
    pub fn new(config: &ProvidersConfig, env: &HashMap<String, String>, retry: RetryPolicy) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(concat!("hermes-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "building the model HTTP client failed; using defaults");
                reqwest::Client::new()
            });
        let var = |name: &str| env.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut names: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
        names.extend(config.entries.keys().map(String::as_str));
        let mut slots = BTreeMap::new();
        let mut keyless = Vec::new();
        for name in names {
            let builtin = BUILTINS.iter().find(|b| b.name == name);
            let entry = config.entries.get(name);
            let kind = entry.map(|e| e.kind).or(builtin.map(|b| b.kind));
            let base = entry
                .and_then(|e| e.base_url.clone())
                .or_else(|| builtin.and_then(|b| var(b.base_env)))
                .or_else(|| builtin.map(|b| b.default_base.to_string()));
            let key_env =
                entry.and_then(|e| e.api_key_env.clone()).or_else(|| builtin.and_then(|b| b.key_env.map(String::from)));
            if key_env.is_none() {
                keyless.push(name.to_string());
            }
            let key_where = |v: &str| match (entry, builtin) {
                (Some(e), _) if e.api_key_env.is_some() => {
                    format!("set {v} (named by api_key_env in [providers.{name}]) in the host's environment")
                }
                _ => format!("set {v} in the host's environment"),
            };
            let slot = match (kind, base) {
                (Some(kind), Some(base)) => {
                    let key = key_env.as_deref().and_then(var).map(ApiKey::new);
                    match (&key_env, &key) {
                        (Some(v), None) => {
                            Slot::Unusable(format!("model provider \"{name}\" has no API key: {}", key_where(v)))
                        }
                        _ => {
                            let endpoint = Endpoint {
                                name: name.to_string(),
                                base_url: base.trim_end_matches('/').to_string(),
                                key,
                                key_hint: match &key_env {
                                    Some(v) => format!("check the API key in {v}"),
                                    None => {
                                        format!("the endpoint wants an API key: set api_key_env in [providers.{name}]")
                                    }
                                },
                                client: client.clone(),
                                retry: retry.clone(),
                            };
                            Slot::Ready(match kind {
                                ProviderKind::Openai => Arc::new(openai::OpenAi::new(endpoint)),
                                ProviderKind::Anthropic => Arc::new(anthropic::Anthropic::new(endpoint)),
                            })
                        }
                    }
                }
                _ => Slot::Unusable(format!(
                    "model provider \"{name}\" has no base URL: set base_url in [providers.{name}] of hermes.toml"
                )),
            };
            slots.insert(name.to_string(), slot);
        }
        Providers { slots, keyless }
    }

    /// "anthropic/claude-sonnet-4.5" -> (provider, "claude-sonnet-4.5"); unknown provider or missing key -> InvalidRequest with a message saying which env var / config to set. Split on the FIRST '/', so "openrouter/meta-llama/llama-3" works.
    pub fn resolve(&self, model: &str) -> Result<(Arc<dyn Provider>, String), ProviderError> {
        let Some((provider, name)) = model.split_once('/').filter(|(p, n)| !p.is_empty() && !n.trim().is_empty())
        else {
            return Err(ProviderError::InvalidRequest(format!(
                "model {model:?} is not of the form provider/model, e.g. \"anthropic/claude-sonnet-4.5\""
            )));
        };
        match self.slots.get(provider) {
            Some(Slot::Ready(p)) => Ok((p.clone(), name.to_string())),
            Some(Slot::Unusable(why)) => Err(ProviderError::InvalidRequest(why.clone())),
            None => Err(ProviderError::InvalidRequest(format!(
                "unknown model provider \"{provider}\" in {model:?}: use one of {}, or add a [providers.{provider}] table (kind, base_url, api_key_env) to hermes.toml",
                self.slots.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// Whether provider `name` can take calls (known, with its key when it needs one).
    pub fn is_ready(&self, name: &str) -> bool {
        matches!(self.slots.get(name), Some(Slot::Ready(_)))
    }

    /// Every provider with whether it can take calls, or why not and what to set.
    pub fn status(&self) -> Vec<ProviderStatus> {
        self.slots
            .iter()
            .map(|(name, slot)| ProviderStatus {
                name: name.clone(),
                ready: matches!(slot, Slot::Ready(_)),
                keyless: self.keyless.contains(name),
                problem: match slot {
                    Slot::Ready(_) => None,
                    Slot::Unusable(why) => Some(why.clone()),
                },
            })
            .collect()
    }

    /// Names of every provider known to the registry, usable or not.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.slots.keys().map(String::as_str)
    }
}

/// One provider as [`Providers::status`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderStatus {
    /// The registry name (`openai`, or a `[providers.<name>]`).
    pub name: String,
    /// Whether calls can be made (known, with its key when it needs one).
    pub ready: bool,
    /// Whether it takes no key (a local endpoint, which may or may not be running).
    pub keyless: bool,
    /// Why it cannot take calls, and what to set.
    pub problem: Option<String>,
}

/// Tool arguments as sent on: `"{}"` for nothing.
fn args_or_empty_object(args: String) -> String {
    if args.trim().is_empty() { "{}".to_string() } else { args }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn err(p: &Providers, model: &str) -> String {
        match p.resolve(model) {
            Err(ProviderError::InvalidRequest(m)) => m,
            Err(e) => panic!("expected InvalidRequest, got {e:?}"),
            Ok(_) => panic!("{model} resolved"),
        }
    }

    #[test]
    fn resolve_splits_on_the_first_slash() {
        let p =
            Providers::new(&ProvidersConfig::default(), &env(&[("OPENROUTER_API_KEY", "k")]), RetryPolicy::default());
        let (_, name) = p.resolve("openrouter/meta-llama/llama-3").expect("resolves");
        assert_eq!(name, "meta-llama/llama-3");
        assert!(p.resolve("ollama/llama3.2").is_ok(), "ollama needs no key");
    }

    #[test]
    fn missing_key_names_the_variable() {
        let p = Providers::new(&ProvidersConfig::default(), &HashMap::new(), RetryPolicy::default());
        assert!(err(&p, "anthropic/claude-sonnet-4.5").contains("ANTHROPIC_API_KEY"));
        assert!(err(&p, "openai/gpt-4o").contains("OPENAI_API_KEY"));
        assert!(err(&p, "openrouter/x/y").contains("OPENROUTER_API_KEY"));
    }

    #[test]
    fn bad_names_and_unknown_providers_say_what_to_do() {
        let p = Providers::new(&ProvidersConfig::default(), &HashMap::new(), RetryPolicy::default());
        assert!(err(&p, "gpt-4o").contains("provider/model"));
        assert!(err(&p, "openai/").contains("provider/model"));
        let m = err(&p, "mistral/large");
        assert!(m.contains("[providers.mistral]") && m.contains("anthropic"), "{m}");
    }

    #[test]
    fn config_entries_add_providers_with_their_own_key_variable() {
        let config: ProvidersConfig = toml::from_str(
            "[corp]\nkind = \"anthropic\"\nbase_url = \"https://llm.corp.example/v1\"\napi_key_env = \"CORP_KEY\"\n\
             [nobase]\nkind = \"openai\"",
        )
        .expect("valid");
        let p = Providers::new(&config, &HashMap::new(), RetryPolicy::default());
        let m = err(&p, "corp/claude");
        assert!(m.contains("CORP_KEY") && m.contains("[providers.corp]"), "{m}");
        assert!(err(&p, "nobase/m").contains("base_url"));
        let p = Providers::new(&config, &env(&[("CORP_KEY", "k")]), RetryPolicy::default());
        assert!(p.resolve("corp/claude").is_ok());
    }

    #[test]
    fn api_keys_redact_themselves() {
        let k = ApiKey::new("sk-very-secret");
        assert!(!format!("{k:?}").contains("secret"));
        let p = Providers::new(
            &ProvidersConfig::default(),
            &env(&[("OPENAI_API_KEY", "sk-very-secret")]),
            RetryPolicy::default(),
        );
        assert!(!format!("{p:?}").contains("secret"));
    }
}
