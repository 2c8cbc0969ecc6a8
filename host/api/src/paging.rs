//! `limit` + `cursor` paging, the same on every list endpoint.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ApiError;

/// Query parameters of a list: `limit` (1–100, default 20) and `cursor`
/// (`starting_after` is an alias).
#[derive(Deserialize, Default)]
pub struct PageQuery {
    limit: Option<String>,
    cursor: Option<String>,
    starting_after: Option<String>,
}

impl PageQuery {
    /// A page query from its parts (for endpoints that name their cursor otherwise).
    pub fn of(limit: Option<String>, cursor: Option<String>) -> PageQuery {
        PageQuery { limit, cursor, starting_after: None }
    }

    /// The page size, validated.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit.as_deref() {
            None => Ok(20),
            Some(l) => l.parse::<u32>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                ApiError::validation(Some("limit".into()), "`limit` must be an integer between 1 and 100")
            }),
        }
    }

    /// Where the page starts: the previous page's `next_cursor`.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().or(self.starting_after.as_deref()).filter(|c| !c.is_empty())
    }
}

/// The body of every list: `{data, next_cursor, has_more}`.
pub fn page_body<T: Serialize>(data: T, next_cursor: &Option<String>) -> Value {
    json!({"data": data, "next_cursor": next_cursor, "has_more": next_cursor.is_some()})
}
