//! Secrets: values encrypted at rest ([`crypto`]), sealed and opened only through
//! [`Secrets`] (the one holder of the master key), and scrubbed from everything a
//! guest or model produces ([`scrub`]). The guest only ever sees names.
#![deny(missing_docs)]

pub mod crypto;
mod resolver;
pub mod scrub;

pub use crypto::{CryptoError, MASTER_KEY_ENV, MASTER_KEY_FILE, SecretValue};
pub use resolver::{Released, Secrets, SecretsError, fill};
pub use scrub::Scrubber;

/// An environment variable name as deployments map them: `[A-Z_][A-Z0-9_]*`, ≤ 128.
pub fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 128
        && bytes.next().is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}
