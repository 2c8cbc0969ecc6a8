//! The `hermes-host` command: a thin shell over the library.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use hermes_host::accounts::Accounts;
use hermes_host::{DEFAULT_ACCOUNT, Host, HostConfig};

mod plugin_cmd;

/// `--version`: this build, the WIT package its guests target (plugins of any
/// `0.1.x` load) and the wasmtime it runs them with.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nwit: ",
    env!("HERMES_WIT_PACKAGE"),
    " (worlds harness, tool-plugin; guests of 0.1.x load)\nwasmtime: ",
    env!("HERMES_WASMTIME_VERSION"),
);

#[derive(Parser)]
#[command(name = "hermes-host", version = VERSION, about = "A Wasm-sandboxed host for AI agents")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "HERMES_LISTEN", default_value = "127.0.0.1:8787")]
        listen: String,
        /// Where deployments, workspaces and the database live.
        #[arg(long, env = "HERMES_DATA_DIR", default_value = "./hermes-data")]
        data_dir: PathBuf,
        /// Configuration file (default: ./hermes.toml when present).
        #[arg(long, env = "HERMES_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage an account's credits.
    Credits {
        #[command(subcommand)]
        command: CreditsCommand,
    },
    /// Work with SKILL.md files.
    Skills {
        #[command(subcommand)]
        command: SkillsCommand,
    },
    /// Which model providers an account's deployments may use.
    Providers {
        #[command(subcommand)]
        command: ProvidersCommand,
    },
    /// Write and check plugins (Wasm components of the `tool-plugin` or `harness` world).
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Check a configuration file, or print the configuration reference.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Compile the harness (and the code tools' programs) into the component cache
    /// and exit, so that the first start of a server does not compile: what an image
    /// build runs. The cache is $HERMES_CACHE_DIR, else the data dir's.
    Precompile {
        /// The data dir whose cache to fill (default: a throwaway one, which needs
        /// $HERMES_CACHE_DIR so that the compiled components outlive it).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Configuration file (its `[code_tools]` decides whether their programs compile).
        #[arg(long, env = "HERMES_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a `hermes.toml` and print the effective configuration it gives (with
    /// the environment's overrides applied and secrets masked); exit 1 naming the
    /// problem when it is invalid.
    Check {
        /// The file (default: $HERMES_CONFIG, else ./hermes.toml).
        #[arg(env = "HERMES_CONFIG")]
        file: Option<PathBuf>,
    },
    /// Print the configuration reference (`docs/configuration.md`) as Markdown.
    Reference,
}

#[derive(Subcommand)]
enum ProvidersCommand {
    /// Allow only these providers (comma-separated, e.g. `anthropic,openai`), or `any`.
    Set {
        providers: String,
        #[arg(long, env = "HERMES_DATA_DIR", default_value = "./hermes-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
    },
    /// Print the account's allowlist (`any` when unrestricted).
    Show {
        #[arg(long, env = "HERMES_DATA_DIR", default_value = "./hermes-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Scaffold a tool-plugin crate (outside any workspace) that builds with
    /// `cargo build --target wasm32-wasip2 --release`.
    New {
        /// The plugin's name: its tools reach the model as `<name>__<tool>`.
        name: String,
        /// Where to create it (default: ./<name>).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Validate a component as an upload would: exit 0 when accepted, 1 otherwise,
    /// one line per problem, and the tool list.
    Check {
        file: PathBuf,
        /// A manifest JSON file, as the multipart `manifest` part would carry.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SkillsCommand {
    /// Validate skills (folders holding a SKILL.md, or SKILL.md files): one line per
    /// problem, exit 0 when all are valid, 1 otherwise.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it (the only time it is shown).
    Create {
        #[arg(long, env = "HERMES_DATA_DIR", default_value = "./hermes-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
        /// Comma-separated scopes, e.g. deployments:read,events:read or *.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// List an account's keys (never their secrets).
    List {
        #[arg(long, env = "HERMES_DATA_DIR", default_value = "./hermes-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
    },
    /// Revoke a key by id.
    Revoke {
        id: String,
        #[arg(long, env = "HERMES_DATA_DIR", default_value = "./hermes-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
    },
}

#[derive(Subcommand)]
enum CreditsCommand {
    /// Set the balance.
    Set {
        amount: i64,
        #[arg(long, env = "HERMES_DATA_DIR", default_value = "./hermes-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
    },
    /// Add to (or, negative, subtract from) the balance.
    Add {
        #[arg(allow_hyphen_values = true)]
        amount: i64,
        #[arg(long, env = "HERMES_DATA_DIR", default_value = "./hermes-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Command::Skills { command: SkillsCommand::Validate { paths } } = &cli.command {
        std::process::exit(hermes_host::skills::validate::cli(paths));
    }
    if let Command::Config { command } = &cli.command {
        std::process::exit(config_cmd(command));
    }
    if let Err(e) = tokio::runtime::Runtime::new().map_err(anyhow::Error::from).and_then(|rt| rt.block_on(run(cli))) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen, data_dir, config } => serve(&listen, &data_dir, config.as_deref()).await,
        Command::Keys { command } => keys(command).await,
        Command::Precompile { data_dir, config } => precompile(data_dir, config.as_deref()).await,
        Command::Skills { .. } | Command::Config { .. } => Ok(()),
        Command::Providers { command: ProvidersCommand::Set { providers, data_dir, account } } => {
            let list = match providers.trim() {
                "any" => None,
                list => Some(list.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()),
            };
            Accounts::open(&data_dir).await?.set_providers(&account, list).await?;
            Ok(())
        }
        Command::Providers { command: ProvidersCommand::Show { data_dir, account } } => {
            match Accounts::open(&data_dir).await?.providers(&account).await? {
                Some(list) => println!("{}", list.join(",")),
                None => println!("any"),
            }
            Ok(())
        }
        Command::Plugin { command: PluginCommand::New { name, dir } } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            plugin_cmd::new(&name, &dir)
        }
        Command::Plugin { command: PluginCommand::Check { file, manifest } } => {
            let code = plugin_cmd::check(&file, manifest.as_deref()).await;
            std::process::exit(code);
        }
        Command::Credits { command } => {
            let (amount, data_dir, account, add) = match command {
                CreditsCommand::Set { amount, data_dir, account } => (amount, data_dir, account, false),
                CreditsCommand::Add { amount, data_dir, account } => (amount, data_dir, account, true),
            };
            let balance = Accounts::open(&data_dir).await?.set_credits(&account, amount, add).await?;
            println!("{balance}");
            Ok(())
        }
    }
}

/// `hermes-host precompile`: builds a host (which compiles its harnesses), compiles the
/// code tools' programs, says where the cache is, and stops.
async fn precompile(data_dir: Option<PathBuf>, config: Option<&Path>) -> anyhow::Result<()> {
    let cache_env = std::env::var("HERMES_CACHE_DIR").ok().filter(|d| !d.is_empty());
    // `_throwaway` lives (and its directory with it) until the host has stopped.
    let (dir, _throwaway) = match (data_dir, &cache_env) {
        (Some(dir), _) => (dir, None),
        (None, Some(_)) => {
            let tmp = tempfile::tempdir().context("creating a throwaway data dir")?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
        (None, None) => anyhow::bail!(
            "set HERMES_CACHE_DIR (or pass --data-dir): a throwaway data dir's cache would be deleted with it"
        ),
    };
    let config = match config {
        Some(p) => HostConfig::from_file(p)?,
        None => HostConfig::default(),
    };
    let started = std::time::Instant::now();
    let host = Host::builder(&dir).config(config).build().await.context("starting the host")?;
    let programs = host.precompile().await?;
    host.shutdown().await;
    let cache = cache_env.map(PathBuf::from).unwrap_or_else(|| dir.join("cache").join("components"));
    let what = if programs { "the harness and the code tools' programs" } else { "the harness" };
    println!("compiled {what} into {} in {:.1} s", cache.display(), started.elapsed().as_secs_f64());
    Ok(())
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { data_dir, account, scopes, name } => {
            let (_, secret) = Accounts::open(&data_dir).await?.create_key(&account, &scopes, name).await?;
            println!("{secret}");
        }
        KeysCommand::List { data_dir, account } => {
            for k in Accounts::open(&data_dir).await?.list_keys(&account).await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{}\t{}…\t{}\t{}\t{}", k.id, k.prefix, k.scopes.join(","), state, k.name.unwrap_or_default());
            }
        }
        KeysCommand::Revoke { id, data_dir, account } => {
            Accounts::open(&data_dir).await?.revoke_key(&account, &id).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// Logs to stderr (`HERMES_LOG` filter, `HERMES_LOG_FORMAT=json`), and exports spans
/// over OTLP when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` is set; the returned
/// exporter must be shut down at exit so the last batch of spans is sent.
fn init_tracing() -> anyhow::Result<Option<hermes_telemetry::Telemetry>> {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter = EnvFilter::try_from_env("HERMES_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("HERMES_LOG_FORMAT").is_ok_and(|f| f == "json");
    // Colours only on a terminal: a log file or a container's log has no use for escapes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    let (otel, telemetry) = match hermes_telemetry::from_env()? {
        Some((layer, telemetry)) => (Some(layer), Some(telemetry)),
        None => (None, None),
    };
    tracing_subscriber::registry().with(fmt.with_filter(filter)).with(otel).init();
    if telemetry.is_some() {
        tracing::info!("exporting traces over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)");
    }
    Ok(telemetry)
}

/// Says at start which model providers can take calls and, when none can, how to add
/// one: a first run without a key should not learn it from its first failed run.
fn report_providers(host: &Host) {
    let status = host.provider_status();
    for p in &status {
        match (&p.problem, p.keyless) {
            (Some(why), _) => tracing::info!(provider = %p.name, "model provider not configured: {why}"),
            (None, true) => {
                tracing::info!(provider = %p.name, "model provider needs no key (a local endpoint, if one runs)")
            }
            (None, false) => tracing::info!(provider = %p.name, "model provider ready"),
        }
    }
    let keyed: Vec<&str> = status.iter().filter(|p| p.ready && !p.keyless).map(|p| p.name.as_str()).collect();
    if keyed.is_empty() {
        tracing::warn!(
            "no model provider is ready, so runs will fail: set OPENAI_API_KEY, ANTHROPIC_API_KEY or \
             OPENROUTER_API_KEY, or add a [providers.<name>] table to hermes.toml (docs/configuration.md)"
        );
    } else {
        tracing::info!(providers = %keyed.join(", "), default_model = %host.default_model(), "models available");
    }
}

/// `hermes-host config …`; returns the exit code.
fn config_cmd(command: &ConfigCommand) -> i32 {
    match command {
        ConfigCommand::Reference => match hermes_host::config::reference::reference() {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
        ConfigCommand::Check { file } => {
            let path = file.clone().unwrap_or_else(|| PathBuf::from("hermes.toml"));
            let env: std::collections::HashMap<String, String> = std::env::vars().collect();
            let checked = HostConfig::from_file(&path).map_err(|e| e.to_string()).and_then(|mut c| {
                c.apply_env(&env)?;
                hermes_host::config::FileConfig::effective_toml(&c)
            });
            match checked {
                Ok(toml) => {
                    println!("# {}: valid. The effective configuration (secrets masked):", path.display());
                    print!("{toml}");
                    0
                }
                Err(e) => {
                    eprintln!("{}: invalid: {e}", path.display());
                    1
                }
            }
        }
    }
}

async fn serve(listen: &str, data_dir: &Path, config: Option<&Path>) -> anyhow::Result<()> {
    let telemetry = init_tracing()?;
    let config = match config {
        Some(p) => HostConfig::from_file(p)?,
        None if Path::new("hermes.toml").exists() => HostConfig::from_file(Path::new("hermes.toml"))?,
        None => HostConfig::default(),
    };
    let credits = config.starting_credits;
    let host = Host::builder(data_dir).config(config).build().await.context("starting the host")?;
    report_providers(&host);
    if let Some(key) = host.accounts().bootstrap(credits).await? {
        let path = data_dir.join("admin.key");
        write_secret(&path, &key)?;
        println!("Created account {DEFAULT_ACCOUNT} with {credits} credits.");
        println!("Admin API key (shown once, also saved to {}):\n{key}", path.display());
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %data_dir.display(), "hermes-host serving");
    // On stdout too: supervisors (and our tests) learn the bound address, e.g. with `--listen 127.0.0.1:0`.
    println!("hermes-host listening on http://{addr}");
    let app = hermes_host::api::router(host.clone());
    let stopping = host.stopping();
    let options = hermes_host::api::ServeOptions { header_read_timeout: config_header_timeout(), ..Default::default() };
    hermes_host::api::serve(listener, app, options, async move {
        shutdown_signal().await;
        // Interrupt live runs and end event streams so draining connections finishes.
        stopping.cancel();
    })
    .await;
    tracing::info!("shutting down; live runs resume on the next start");
    host.shutdown().await;
    if let Some(t) = telemetry {
        // Flushing blocks on the exporter's own thread.
        tokio::task::spawn_blocking(move || t.shutdown()).await?;
    }
    Ok(())
}

/// `HERMES_HEADER_READ_TIMEOUT_MS`: how long a connection may take to send a request's
/// headers (default 10 s).
fn config_header_timeout() -> std::time::Duration {
    std::env::var("HERMES_HEADER_READ_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_millis)
        .unwrap_or(hermes_host::api::ServeOptions::default().header_read_timeout)
}

fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{secret}")?;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
