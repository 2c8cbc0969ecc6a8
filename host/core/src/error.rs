//! The library's error type: what went wrong, phrased for the caller.

use hermes_runtime::RuntimeError;
use hermes_store::StoreError;

/// Errors returned by the [`crate::Host`] API.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The input is invalid; `param` names the field when one is at fault.
    #[error("{message}")]
    Validation {
        /// What to fix.
        message: String,
        /// The offending field, e.g. `skills[1].content`.
        param: Option<String>,
    },
    /// The caller's key lacks a scope this particular change needs.
    #[error("{message}")]
    Forbidden {
        /// The scope it needs.
        scope: String,
        /// Why, for the caller.
        message: String,
    },
    /// The object does not exist (or belongs to another account).
    #[error("{0}")]
    NotFound(String),
    /// The deployment cannot take messages yet.
    #[error("{0}")]
    NotReady(String),
    /// The request conflicts with the object's state.
    #[error("{0}")]
    Conflict(String),
    /// A skill could not be parsed or fetched.
    #[error("{0}")]
    InvalidSkill(String),
    /// A deployment's `secrets` map names a secret the account does not have.
    #[error("{message}")]
    InvalidSecretRef {
        /// What is wrong.
        message: String,
        /// The offending entry, e.g. `secrets.META_ADS_TOKEN`.
        param: String,
    },
    /// An uploaded plugin, or a deployment's use of one, was refused: why, for the vendor.
    #[error("{0}")]
    InvalidPlugin(String),
    /// A write would take a bounded resource (a workspace's quota) past its limit.
    #[error("{0}")]
    TooLarge(String),
    /// The account's credit balance is exhausted.
    #[error("{0}")]
    InsufficientCredits(String),
    /// A per-tenant bound is reached; the caller may retry after `retry_after` seconds.
    #[error("{message}")]
    RateLimited {
        /// What was refused and why.
        message: String,
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// The secrets store failed (bad master key, undecryptable value).
    #[error("{0}")]
    Secrets(String),
    /// Persistence failed. (A store "not found" or "conflict" never lands here: it
    /// becomes [`HostError::NotFound`] / [`HostError::Conflict`] by the `From` below.)
    #[error(transparent)]
    Store(StoreError),
    /// The Wasm runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Filesystem work on a workspace or the data directory failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The one place a store error becomes the caller's: what does not exist is "not
/// found", what conflicts with the current state is a conflict, an empty balance is
/// out of credits; everything else is the store's failure.
impl From<hermes_events::SubscriptionError> for HostError {
    fn from(e: hermes_events::SubscriptionError) -> Self {
        use hermes_events::SubscriptionError as S;
        match e {
            S::Store(e) => e.into(),
            S::Expired(why) => StoreError::Expired(why).into(),
            S::Closed => StoreError::Closed.into(),
        }
    }
}

impl From<StoreError> for HostError {
    fn from(e: StoreError) -> HostError {
        match e {
            StoreError::NotFound(what) => HostError::NotFound(format!("{what} not found")),
            StoreError::Conflict(m) => HostError::Conflict(m),
            StoreError::Limited(message) => HostError::RateLimited { message, retry_after: 5 },
            StoreError::InsufficientCredits(balance) => {
                HostError::InsufficientCredits(crate::billing::exhausted(balance))
            }
            other => HostError::Store(other),
        }
    }
}

impl From<hermes_secrets::SecretsError> for HostError {
    fn from(e: hermes_secrets::SecretsError) -> HostError {
        use hermes_secrets::SecretsError as E;
        match e {
            E::Missing { name, id } => HostError::InvalidSecretRef {
                message: format!("Secret reference {id} does not exist"),
                param: format!("secrets.{name}"),
            },
            E::Store(e) => HostError::Store(e),
            other => HostError::Secrets(other.to_string()),
        }
    }
}

impl HostError {
    /// Fails unless `limit` is one a list accepts (1–100).
    pub(crate) fn check_limit(limit: u32) -> Result<(), HostError> {
        if hermes_types::paging::LIMIT_RANGE.contains(&limit) {
            Ok(())
        } else {
            Err(HostError::invalid("limit", "`limit` must be between 1 and 100"))
        }
    }

    /// A list `cursor` that names no item of the list.
    pub(crate) fn unknown_cursor() -> HostError {
        HostError::invalid("cursor", "unknown cursor; pass the `next_cursor` of a previous page")
    }

    /// A validation error on one field.
    pub fn invalid(param: &str, message: impl Into<String>) -> HostError {
        HostError::Validation { message: message.into(), param: Some(param.to_string()) }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> HostError {
        let context = context.into();
        move |source| HostError::Io { context, source }
    }
}
