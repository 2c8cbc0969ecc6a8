//! Cursor pagination: one page of a list and the cursor of the next, cut from `limit + 1` rows.

use serde::Serialize;

use crate::status::DeploymentStatus;

/// Smallest and largest `limit` a list accepts.
pub const LIMIT_RANGE: std::ops::RangeInclusive<u32> = 1..=100;

/// A page of results and the cursor of the next one.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Pass as `cursor` (or `starting_after`) to get the next page; absent on the last.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts rows read with `limit + 1` into a page: the extra row only says another
    /// page exists, and the last kept row's `key` is the cursor to it.
    pub fn cut<R>(mut rows: Vec<R>, limit: u32, key: impl Fn(&R) -> String, map: impl FnMut(R) -> T) -> Page<T> {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(key) } else { None };
        Page { data: rows.into_iter().map(map).collect(), next_cursor }
    }
}

/// Which deployments a listing returns.
/// Filters of a deployment listing.
#[derive(Clone, Debug, Default)]
pub struct DeploymentFilter {
    /// Only this customer's deployments.
    pub customer_id: Option<String>,
    /// Only deployments in this status.
    pub status: Option<DeploymentStatus>,
    /// Continue after this deployment id (newest first).
    pub starting_after: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extra_row_becomes_the_cursor_of_the_next_page() {
        let page = Page::cut(vec![1, 2, 3], 2, |r| r.to_string(), |r| r * 10);
        assert_eq!(page.data, vec![10, 20]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::cut(vec![1, 2], 2, |r| r.to_string(), |r| r);
        assert_eq!(last.next_cursor, None);
    }
}
