//! Host configuration: `hermes.toml` plus environment.

mod automations;
mod dreaming;
mod mcp;
mod pricing;
pub mod reference;
mod webhooks;

use std::path::Path;

use serde::Deserialize;

pub use automations::AutomationsConfig;
pub use dreaming::DreamingConfig;
use hermes_providers::{ProvidersConfig, RetryPolicy};
pub use hermes_runtime::{PluginLimits, SandboxLimits};
pub use mcp::McpConfig;
pub use pricing::{Price, Pricing};
pub use webhooks::WebhooksConfig;

/// Everything a host is configured with.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Model used when a deployment names none (`provider/model`).
    pub default_model: String,
    /// Provider entries beyond the built-ins.
    pub providers: ProvidersConfig,
    /// Retries of model calls.
    pub retry: RetryPolicy,
    /// Sandbox limits.
    pub limits: SandboxLimits,
    /// Bounds on vendor plugins (`[plugins]`).
    pub plugins: PluginLimits,
    /// Bearer token `/metrics` requires (`HERMES_METRICS_TOKEN`); without one,
    /// `/metrics` answers loopback peers only.
    pub metrics_token: Option<String>,
    /// Most model turns in one run.
    pub max_iterations: u32,
    /// Most tokens a single completion may generate.
    pub max_output_tokens: u32,
    /// Credits the default account starts with on first start.
    pub starting_credits: i64,
    /// Let skill URLs, MCP servers and webhooks reach loopback/private addresses
    /// (`HERMES_ALLOW_PRIVATE_URLS=1`); off by default (SSRF).
    pub allow_private_urls: bool,
    /// Credits charged per model call (`[pricing]`; see [`Pricing`]).
    pub pricing: Pricing,
    /// Event retention and slow-subscriber limits (`[events]`).
    pub events: hermes_events::EventsConfig,
    /// Idle-time dreaming (`[dreaming]`).
    pub dreaming: DreamingConfig,
    /// The automation scheduler (`[automations]`).
    pub automations: AutomationsConfig,
    /// Webhook delivery retries and concurrency (`[webhooks]`).
    pub webhooks: WebhooksConfig,
    /// MCP client timeouts, concurrency and backoff (`[mcp]`).
    pub mcp: McpConfig,
    /// The `python` and `shell` tools (`[code_tools]`).
    pub code_tools: CodeToolsConfig,
    /// Per-tenant bounds (`[tenants]`).
    pub tenants: TenantLimits,
    /// `web_fetch` (`[web]`).
    pub web: crate::web::WebConfig,
    /// The provider behind `web_search` (`[search]`); the tool is offered only when set.
    pub search: Option<crate::web::SearchConfig>,
    /// Context windows of models (`[context]`), which the harness compacts under.
    pub context: ContextConfig,
    /// Bounds on delegation to child runs (`[subagents]`).
    pub subagents: SubagentsConfig,
    /// How the API names itself in the URLs it answers with (`[api]`).
    pub api: ApiConfig,
    /// Workspaces kept after their deployment's deletion (`[workspaces]`).
    pub workspaces: WorkspacesConfig,
}

/// `[workspaces]`: how long `DELETE …?retain_filesystem=true` keeps a workspace.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WorkspacesConfig {
    /// Days a retained workspace stays listed and downloadable before it is removed.
    pub retained_days: u32,
    /// Seconds between passes that remove expired retained workspaces.
    pub sweep_secs: u64,
}

impl Default for WorkspacesConfig {
    fn default() -> Self {
        WorkspacesConfig { retained_days: 30, sweep_secs: 600 }
    }
}

/// `[api]`: the address the API's own URLs (a deployment's `events.url`) are built on.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// The public base URL (`https://agents.example.com`), used as is
    /// (`HERMES_PUBLIC_URL`); unset, each URL follows the request's `Host`.
    pub public_url: Option<String>,
    /// Read the scheme and host from `Forwarded` / `X-Forwarded-Proto` /
    /// `X-Forwarded-Host` (`HERMES_TRUST_FORWARDED=1`): only behind a proxy that sets
    /// them, since a client can send them too.
    pub trust_forwarded_headers: bool,
}

/// `[subagents]`: how far and how wide runs may delegate to child runs.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SubagentsConfig {
    /// Offer the `subagents` tool at all.
    pub enabled: bool,
    /// Levels of children below a run a message started (1: its children may not
    /// delegate further).
    pub max_depth: u32,
    /// Children one run may start over its whole life.
    pub max_children: u32,
}

impl Default for SubagentsConfig {
    fn default() -> Self {
        SubagentsConfig { enabled: true, max_depth: 2, max_children: 8 }
    }
}

/// `[context]`: how many tokens each model's context holds. The harness keeps every
/// request under it, summarising older turns when a thread grows past it.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    /// Fold older turns into a summary as a thread grows (`false`: send the newest
    /// 200 entries only, and lose what is older).
    pub compact: bool,
    /// Window of a model named neither in `models` nor known by its provider.
    pub default_window_tokens: u32,
    /// Per `provider/model` (exact), e.g. `"local/llama-3.1-8b" = 8192`.
    pub models: std::collections::BTreeMap<String, u32>,
    /// Models (exact `provider/model`) that take images, beyond the families known to see
    /// (Claude 3 and later, GPT-4o, GPT-4.1, GPT-5, o3, o4): image attachments reach
    /// them as image parts, other models get the attachment list as text only.
    pub vision_models: Vec<String>,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            compact: true,
            default_window_tokens: hermes_runtime::ports::DEFAULT_CONTEXT_WINDOW,
            models: Default::default(),
            vision_models: Vec::new(),
        }
    }
}

impl ContextConfig {
    /// What the harness is told of `model`'s window: 0 when compaction is off.
    pub fn harness_window(&self, model: &str) -> u32 {
        if self.compact { self.window_for(model) } else { 0 }
    }

    /// Whether `model` (`provider/model`) is sent images: configured, or of a family
    /// known to take them.
    pub fn sees_images(&self, model: &str) -> bool {
        if self.vision_models.iter().any(|m| m == model) {
            return true;
        }
        let name = model.split_once('/').map_or(model, |(_, m)| m).to_ascii_lowercase();
        let claude = name.starts_with("claude") && !name.starts_with("claude-2") && !name.starts_with("claude-instant");
        claude || ["gpt-4o", "gpt-4.1", "gpt-5", "o3", "o4"].iter().any(|f| name.starts_with(f))
    }

    /// The window of `model` (`provider/model`): configured, else what its family is
    /// known to hold (Claude models 200k tokens), else the default.
    pub fn window_for(&self, model: &str) -> u32 {
        if let Some(&n) = self.models.get(model) {
            return n.max(1024);
        }
        let name = model.split_once('/').map_or(model, |(_, m)| m);
        if name.starts_with("claude") {
            return 200_000;
        }
        self.default_window_tokens.max(1024)
    }
}

/// Bounds that keep one account (or one key) from starving the others. 0 turns a
/// bound off.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TenantLimits {
    /// Requests per second one API key may make, sustained (Stripe's live-mode rate).
    pub requests_per_second: u32,
    /// Requests a key may make at once above that rate.
    pub request_burst: u32,
    /// Runs one account may have waiting for an instance slot; past it a message that
    /// would start a run gets 429.
    pub max_queued_runs: u64,
    /// Event streams (SSE) one account may hold open at once.
    pub max_event_streams: u32,
}

impl Default for TenantLimits {
    fn default() -> Self {
        TenantLimits { requests_per_second: 100, request_burst: 200, max_queued_runs: 1000, max_event_streams: 2000 }
    }
}

impl TenantLimits {
    /// No bounds at all (benchmarks that measure the host's own ceiling).
    pub fn unlimited() -> TenantLimits {
        TenantLimits { requests_per_second: 0, request_burst: 0, max_queued_runs: 0, max_event_streams: 0 }
    }
}

/// The built-in code tools: whether the host offers them and their bounds.
#[derive(Clone, Debug)]
pub struct CodeToolsConfig {
    /// Offer `python` and `shell` to every deployment (each may still disable them).
    pub enabled: bool,
    /// Compile (or load from the cache) their programs when the host starts, so the
    /// first call does not wait for it.
    pub preload: bool,
    /// Deadlines, memory and output caps.
    pub sandbox: hermes_sandbox::SandboxConfig,
}

impl Default for CodeToolsConfig {
    fn default() -> Self {
        CodeToolsConfig { enabled: true, preload: true, sandbox: hermes_sandbox::SandboxConfig::default() }
    }
}

/// The model a deployment without one uses when the host configures none.
pub const DEFAULT_MODEL: &str = "anthropic/claude-sonnet-4.5";

/// The default model for the provider keys the host has: Anthropic's when its key is
/// set, else OpenAI's, else OpenRouter's route to the same Claude model; `None`
/// leaves [`DEFAULT_MODEL`] (its runs then say which key to set).
pub fn default_model_for(providers: &hermes_providers::Providers) -> Option<&'static str> {
    [
        ("anthropic", DEFAULT_MODEL),
        ("openai", "openai/gpt-4.1"),
        ("openrouter", "openrouter/anthropic/claude-sonnet-4.5"),
    ]
    .into_iter()
    .find(|(p, _)| providers.is_ready(p))
    .map(|(_, m)| m)
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            default_model: DEFAULT_MODEL.into(),
            providers: ProvidersConfig::default(),
            retry: RetryPolicy::default(),
            limits: SandboxLimits::default(),
            plugins: PluginLimits::default(),
            metrics_token: None,
            max_iterations: 50,
            max_output_tokens: 8192,
            starting_credits: 1_000_000,
            allow_private_urls: false,
            pricing: Pricing::default(),
            events: hermes_events::EventsConfig::default(),
            dreaming: DreamingConfig::default(),
            automations: AutomationsConfig::default(),
            webhooks: WebhooksConfig::default(),
            mcp: McpConfig::default(),
            code_tools: CodeToolsConfig::default(),
            tenants: TenantLimits::default(),
            web: crate::web::WebConfig::default(),
            search: None,
            context: ContextConfig::default(),
            subagents: SubagentsConfig::default(),
            api: ApiConfig::default(),
            workspaces: WorkspacesConfig::default(),
        }
    }
}

/// `hermes.toml`: every key a host reads from its configuration file. Its doc
/// comments are the configuration reference (`docs/configuration.md`, generated by
/// [`reference`] and checked against the code by a test), so each says what the key
/// is for and why its default is what it is.
#[derive(Debug, Default, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Model used when a deployment names none (`provider/model`). Unset, it follows the
    /// provider keys the host has (Anthropic's, else OpenAI's, else OpenRouter's), so a
    /// host never defaults to a model it cannot call.
    #[serde(default)]
    pub default_model: Option<String>,
    /// Most model turns in one run: a loop that keeps calling tools ends here with an
    /// error instead of spending credits forever.
    #[serde(default)]
    pub max_iterations: Option<u32>,
    /// Most tokens one completion may generate (the provider's `max_tokens`).
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// Credits the default account starts with on the first start of a data directory.
    #[serde(default)]
    pub starting_credits: Option<i64>,
    /// Let skill URLs, MCP servers, webhooks and `web_fetch` reach loopback and private
    /// addresses (`HERMES_ALLOW_PRIVATE_URLS=1`). Off by default: a tenant's URL must not
    /// reach the host's own network (SSRF).
    #[serde(default)]
    pub allow_private_urls: Option<bool>,
    /// Bearer token `/metrics` requires (`HERMES_METRICS_TOKEN`); without one, `/metrics`
    /// answers loopback peers only. Masked by `config check`.
    #[serde(default)]
    pub metrics_token: Option<String>,
    /// Model providers beyond (or overriding) the built-in `openai`, `anthropic` and
    /// `openrouter`, one `[providers.<name>]` table each; `<name>` is the `provider` in
    /// `provider/model`.
    #[serde(default)]
    pub providers: ProvidersConfig,
    /// Retries of model calls that fail with 429, 5xx or a dropped connection.
    #[serde(default)]
    pub retry: Option<RetryFile>,
    /// Bounds of every guest instance.
    #[serde(default)]
    pub sandbox: Option<SandboxFile>,
    /// Credits charged per model call.
    #[serde(default)]
    pub pricing: Option<Pricing>,
    /// Event retention and slow-subscriber limits.
    #[serde(default)]
    pub events: Option<hermes_events::EventsConfig>,
    /// Idle-time dreaming (memory consolidation and learned skills).
    #[serde(default)]
    pub dreaming: Option<DreamingConfig>,
    /// The automation scheduler.
    #[serde(default)]
    pub automations: Option<AutomationsConfig>,
    /// Webhook delivery retries and concurrency.
    #[serde(default)]
    pub webhooks: Option<WebhooksConfig>,
    /// The MCP client: timeouts, concurrency, reconnection backoff.
    #[serde(default)]
    pub mcp: Option<McpConfig>,
    /// Bounds on vendor plugins.
    #[serde(default)]
    pub plugins: Option<PluginsFile>,
    /// The `python` and `shell` tools.
    #[serde(default)]
    pub code_tools: Option<CodeToolsFile>,
    /// Per-tenant bounds (0 turns one off).
    #[serde(default)]
    pub tenants: Option<TenantLimits>,
    /// The `web_fetch` tool.
    #[serde(default)]
    pub web: Option<crate::web::WebConfig>,
    /// The provider behind `web_search`; the tool is offered only when this is set.
    #[serde(default)]
    pub search: Option<crate::web::SearchConfig>,
    /// Context windows of models, which the harness compacts under.
    #[serde(default)]
    pub context: Option<ContextConfig>,
    /// Bounds on delegation to child runs.
    #[serde(default)]
    pub subagents: Option<SubagentsConfig>,
    /// The URLs the API answers with.
    #[serde(default)]
    pub api: Option<ApiConfig>,
    /// Workspaces kept after their deployment's deletion.
    #[serde(default)]
    pub workspaces: Option<WorkspacesConfig>,
}

/// `[retry]`: how model calls are retried.
#[derive(Debug, Default, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryFile {
    /// Attempts in all, the first included (1 = no retries).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Milliseconds before the first retry; it doubles with each further one (±50 %
    /// jitter), so a burst of failures does not retry in lockstep.
    #[serde(default)]
    pub base_delay_ms: Option<u64>,
    /// Longest single wait in milliseconds, also the cap on a provider's `Retry-After`.
    #[serde(default)]
    pub max_delay_ms: Option<u64>,
}

/// `[code_tools]`: the `python` and `shell` tools.
#[derive(Debug, Default, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeToolsFile {
    /// Offer `python` and `shell` to every deployment (each may still disable them).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Compile CPython at start, so the first call does not wait for it.
    #[serde(default)]
    pub preload: Option<bool>,
    /// Seconds one call may run when it asks for no timeout.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Longest timeout a call may ask for, in seconds.
    #[serde(default)]
    pub max_timeout_secs: Option<u64>,
    /// Memory of one program in MiB (at least 64: CPython needs about 40); never more
    /// than `[sandbox] max_memory_mib`.
    #[serde(default)]
    pub max_memory_mib: Option<usize>,
    /// KiB of a program's output handed to the model; the rest is cut.
    #[serde(default)]
    pub result_kib: Option<usize>,
}

/// `[plugins]`: bounds on vendor plugins.
#[derive(Debug, Default, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginsFile {
    /// Largest component an upload may carry, in MiB.
    #[serde(default)]
    pub max_upload_mib: Option<usize>,
    /// Memory of one plugin call in MiB.
    #[serde(default)]
    pub max_memory_mib: Option<usize>,
    /// Seconds one tool call of a plugin may take.
    #[serde(default)]
    pub call_timeout_secs: Option<u64>,
    /// Seconds a plugin may take to list its tools.
    #[serde(default)]
    pub list_tools_timeout_secs: Option<u64>,
}

/// `[sandbox]`: the bounds of every guest instance.
#[derive(Debug, Default, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxFile {
    /// Linear memory per instance in MiB: it holds an agent loop with a long transcript
    /// many times over, and bounds what a runaway guest can take.
    #[serde(default)]
    pub max_memory_mib: Option<usize>,
    /// Instances alive at once; runs beyond it wait for a slot (never dropped), shared
    /// fairly between accounts.
    #[serde(default)]
    pub max_concurrent_instances: Option<u32>,
    /// Wall-clock seconds of one instance, host calls included (a run waiting for a
    /// human holds no instance, so this bounds one stretch of work).
    #[serde(default)]
    pub run_deadline_secs: Option<u64>,
    /// MiB one deployment's workspace may hold (file bytes plus a small charge per
    /// entry); a write past it fails with `ENOSPC` in the guest and 413 in the API.
    #[serde(default)]
    pub workspace_quota_mib: Option<u64>,
    /// Table elements per table (function references); Rust guests need a few thousand.
    #[serde(default)]
    pub max_table_elements: Option<usize>,
    /// KiB of a guest's stdout and stderr kept per run for the logs.
    #[serde(default)]
    pub max_output_kib: Option<usize>,
    /// KiB of WebAssembly stack per instance.
    #[serde(default)]
    pub max_wasm_stack_kib: Option<usize>,
}

impl FileConfig {
    /// The file that configures `c` exactly: every key set to its effective value
    /// (what `config check` prints, and the defaults of the reference).
    pub fn effective(c: &HostConfig) -> FileConfig {
        let l = &c.limits;
        let k = &c.code_tools;
        FileConfig {
            default_model: Some(c.default_model.clone()),
            max_iterations: Some(c.max_iterations),
            max_output_tokens: Some(c.max_output_tokens),
            starting_credits: Some(c.starting_credits),
            allow_private_urls: Some(c.allow_private_urls),
            metrics_token: c.metrics_token.clone(),
            providers: c.providers.clone(),
            retry: Some(RetryFile {
                max_attempts: Some(c.retry.max_attempts),
                base_delay_ms: Some(c.retry.base_delay.as_millis() as u64),
                max_delay_ms: Some(c.retry.max_delay.as_millis() as u64),
            }),
            sandbox: Some(SandboxFile {
                max_memory_mib: Some(l.max_memory_bytes >> 20),
                max_concurrent_instances: Some(l.max_concurrent_instances),
                run_deadline_secs: Some(l.run_deadline.as_secs()),
                workspace_quota_mib: Some(l.max_workspace_bytes >> 20),
                max_table_elements: Some(l.max_table_elements),
                max_output_kib: Some(l.max_output_bytes >> 10),
                max_wasm_stack_kib: Some(l.max_wasm_stack >> 10),
            }),
            pricing: Some(c.pricing.clone()),
            events: Some(c.events.clone()),
            dreaming: Some(c.dreaming.clone()),
            automations: Some(c.automations.clone()),
            webhooks: Some(c.webhooks.clone()),
            mcp: Some(c.mcp.clone()),
            plugins: Some(PluginsFile {
                max_upload_mib: Some(c.plugins.max_upload_bytes >> 20),
                max_memory_mib: Some(c.plugins.max_memory_bytes >> 20),
                call_timeout_secs: Some(c.plugins.call_deadline.as_secs()),
                list_tools_timeout_secs: Some(c.plugins.list_deadline.as_secs()),
            }),
            code_tools: Some(CodeToolsFile {
                enabled: Some(k.enabled),
                preload: Some(k.preload),
                timeout_secs: Some(k.sandbox.default_timeout.as_secs()),
                max_timeout_secs: Some(k.sandbox.max_timeout.as_secs()),
                max_memory_mib: Some(k.sandbox.memory_bytes >> 20),
                result_kib: Some(k.sandbox.result_bytes >> 10),
            }),
            tenants: Some(c.tenants.clone()),
            web: Some(c.web.clone()),
            search: c.search.clone(),
            context: Some(c.context.clone()),
            subagents: Some(c.subagents.clone()),
            api: Some(c.api.clone()),
            workspaces: Some(c.workspaces.clone()),
        }
    }

    /// [`FileConfig::effective`] as TOML, with secret values masked.
    pub fn effective_toml(c: &HostConfig) -> Result<String, String> {
        let mut file = FileConfig::effective(c);
        if file.metrics_token.is_some() {
            file.metrics_token = Some("********".into());
        }
        toml::to_string(&file).map_err(|e| e.to_string())
    }
}

/// Errors reading the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this host.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with its location.
        message: String,
    },
}

impl HostConfig {
    /// The model a deployment's runs call: its own, else the host's default.
    pub fn model_of<'a>(&'a self, spec: &'a hermes_types::spec::DeploymentSpec) -> &'a str {
        spec.model.as_deref().unwrap_or(&self.default_model)
    }

    /// Applies the environment's overrides (`HERMES_METRICS_TOKEN`,
    /// `HERMES_ALLOW_PRIVATE_URLS`, `HERMES_PUBLIC_URL`, `HERMES_TRUST_FORWARDED`) and
    /// checks what they set.
    pub fn apply_env(&mut self, env: &std::collections::HashMap<String, String>) -> Result<(), String> {
        let yes = |name: &str| env.get(name).is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
        if let Some(token) = env.get("HERMES_METRICS_TOKEN").filter(|t| !t.is_empty()) {
            self.metrics_token = Some(token.clone());
        }
        if yes("HERMES_ALLOW_PRIVATE_URLS") {
            self.allow_private_urls = true;
        }
        if let Some(url) = env.get("HERMES_PUBLIC_URL").filter(|u| !u.is_empty()) {
            self.api.public_url = Some(url.clone());
        }
        if yes("HERMES_TRUST_FORWARDED") {
            self.api.trust_forwarded_headers = true;
        }
        if let Some(url) = &self.api.public_url {
            let parsed = url::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if parsed.is_none() {
                return Err(format!("[api] public_url {url:?} is not an http(s) URL"));
            }
        }
        Ok(())
    }

    /// Loads `path` over the defaults.
    pub fn from_file(path: &Path) -> Result<HostConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse { path: path.display().to_string(), message })
    }

    /// Parses TOML text over the defaults.
    pub fn from_toml(text: &str) -> Result<HostConfig, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut c = HostConfig::default();
        if let Some(m) = file.default_model {
            c.default_model = m;
        }
        if let Some(n) = file.max_iterations {
            c.max_iterations = n;
        }
        if let Some(n) = file.max_output_tokens {
            if n == 0 {
                return Err("max_output_tokens must be at least 1".into());
            }
            c.max_output_tokens = n;
        }
        if let Some(b) = file.allow_private_urls {
            c.allow_private_urls = b;
        }
        if let Some(t) = file.metrics_token.filter(|t| !t.is_empty()) {
            c.metrics_token = Some(t);
        }
        if let Some(r) = file.retry {
            if r.max_attempts == Some(0) {
                return Err("[retry] max_attempts must be at least 1 (1 = no retries)".into());
            }
            let p = &mut c.retry;
            p.max_attempts = r.max_attempts.unwrap_or(p.max_attempts);
            if let Some(ms) = r.base_delay_ms {
                p.base_delay = std::time::Duration::from_millis(ms);
            }
            if let Some(ms) = r.max_delay_ms {
                p.max_delay = std::time::Duration::from_millis(ms);
            }
        }
        c.providers = file.providers;
        if let Some(n) = file.starting_credits {
            c.starting_credits = n;
        }
        if let Some(p) = file.pricing {
            c.pricing = p;
        }
        if let Some(e) = file.events {
            c.events = e;
        }
        if let Some(d) = file.dreaming {
            c.dreaming = d;
        }
        if let Some(a) = file.automations {
            c.automations = a;
        }
        if let Some(w) = file.webhooks {
            c.webhooks = w;
        }
        if let Some(m) = file.mcp {
            c.mcp = m;
        }
        if let Some(p) = file.plugins {
            if let Some(m) = p.max_upload_mib {
                c.plugins.max_upload_bytes = m << 20;
            }
            if let Some(m) = p.max_memory_mib {
                c.plugins.max_memory_bytes = m << 20;
            }
            if let Some(t) = p.call_timeout_secs {
                c.plugins.call_deadline = std::time::Duration::from_secs(t);
            }
            if let Some(t) = p.list_tools_timeout_secs {
                c.plugins.list_deadline = std::time::Duration::from_secs(t);
            }
        }
        if let Some(t) = file.tenants {
            c.tenants = t;
        }
        if let Some(w) = file.web {
            c.web = w;
        }
        c.search = file.search;
        if let Some(x) = file.context {
            c.context = x;
        }
        if let Some(x) = file.subagents {
            c.subagents = x;
        }
        if let Some(x) = file.api {
            c.api = x;
        }
        if let Some(x) = file.workspaces {
            if x.retained_days == 0 || x.sweep_secs == 0 {
                return Err("[workspaces] retained_days and sweep_secs must be at least 1".into());
            }
            c.workspaces = x;
        }
        if let Some(t) = file.code_tools {
            if t.timeout_secs == Some(0) || t.max_timeout_secs == Some(0) {
                return Err("[code_tools] timeouts must be at least 1 second".into());
            }
            if t.max_memory_mib.is_some_and(|m| m < 64) {
                return Err("[code_tools] max_memory_mib must be at least 64 (CPython needs ~40 MiB)".into());
            }
            let k = &mut c.code_tools;
            k.enabled = t.enabled.unwrap_or(k.enabled);
            k.preload = t.preload.unwrap_or(k.preload);
            if let Some(s) = t.timeout_secs {
                k.sandbox.default_timeout = std::time::Duration::from_secs(s);
            }
            if let Some(s) = t.max_timeout_secs {
                k.sandbox.max_timeout = std::time::Duration::from_secs(s);
            }
            if let Some(m) = t.max_memory_mib {
                k.sandbox.memory_bytes = m << 20;
            }
            if let Some(r) = t.result_kib {
                k.sandbox.result_bytes = r << 10;
            }
        }
        if let Some(s) = file.sandbox {
            if let Some(m) = s.max_memory_mib {
                c.limits.max_memory_bytes = m << 20;
            }
            if let Some(n) = s.max_concurrent_instances {
                c.limits.max_concurrent_instances = n;
            }
            if let Some(d) = s.run_deadline_secs {
                c.limits.run_deadline = std::time::Duration::from_secs(d);
            }
            if let Some(q) = s.workspace_quota_mib {
                c.limits.max_workspace_bytes = q << 20;
            }
            if let Some(n) = s.max_table_elements {
                c.limits.max_table_elements = n;
            }
            if let Some(k) = s.max_output_kib {
                c.limits.max_output_bytes = k << 10;
            }
            if let Some(k) = s.max_wasm_stack_kib {
                c.limits.max_wasm_stack = k << 10;
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_example_parses_and_sets_what_it_says() {
        let readme = include_str!("../../../../README.md");
        let block = readme.split("```toml\n").nth(1).and_then(|b| b.split("```").next()).expect("a toml block");
        let c = HostConfig::from_toml(block).unwrap_or_else(|e| panic!("the README's hermes.toml: {e}"));
        assert_eq!(c.search.as_ref().map(|s| s.kind), Some(crate::web::SearchKind::Brave));
        assert_eq!(c.context.window_for("local/llama-3.1-8b"), 8192);
        assert_eq!(c.context.window_for("anthropic/claude-sonnet-4.5"), 200_000);
        assert_eq!(c.context.window_for("openai/unknown"), hermes_runtime::ports::DEFAULT_CONTEXT_WINDOW);
        assert_eq!(c.limits.max_workspace_bytes, 1024 << 20);
        assert!(c.web.fetch, "web_fetch is on by default");
    }
}
