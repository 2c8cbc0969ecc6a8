//! A minimal SSE reader over reqwest for black-box tests.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde_json::Value;

/// One `event:` frame (comments and heartbeats are skipped).
#[derive(Clone, Debug)]
pub struct Frame {
    pub id: String,
    pub event: String,
    pub data: Value,
}

impl Frame {
    pub fn seq(&self) -> u64 {
        self.data["sequence"].as_u64().expect("sequence")
    }
}

type Bytes = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// An open event stream.
pub struct SseReader {
    body: Bytes,
    buf: String,
    /// Comment lines seen (without the leading `:`).
    pub comments: Vec<String>,
}

impl SseReader {
    /// Opens `GET {base}/v1/deployments/{dep}/events{query}`, optionally with `Last-Event-ID`.
    pub async fn open(base: &str, key: &str, dep: &str, query: &str, last_event_id: Option<&str>) -> SseReader {
        Self::open_path(base, key, &format!("/v1/deployments/{dep}/events{query}"), last_event_id).await
    }

    /// Opens `GET {base}{path}` as an event stream (any of the API's SSE endpoints).
    #[allow(dead_code)]
    pub async fn open_path(base: &str, key: &str, path: &str, last_event_id: Option<&str>) -> SseReader {
        let mut req = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(key);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.expect("GET events");
        assert_eq!(resp.status(), 200, "events stream opens");
        SseReader { body: Box::pin(resp.bytes_stream()), buf: String::new(), comments: Vec::new() }
    }

    /// The next frame, or `None` when the stream ends, fails or `wait` passes.
    pub async fn next(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.to_string();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    } else if let Some(v) = line.strip_prefix(':') {
                        self.comments.push(v.trim().to_string());
                    }
                }
                if !data.is_empty() {
                    return Some(Frame { id, event, data: serde_json::from_str(&data).expect("JSON data") });
                }
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}

/// Every event of a deployment in the log, via `?after=0` (reads until `wait` of quiet).
pub async fn log(base: &str, key: &str, dep: &str) -> Vec<Frame> {
    let mut r = SseReader::open(base, key, dep, "?after=0", None).await;
    let mut out = Vec::new();
    while let Some(f) = r.next(Duration::from_millis(700)).await {
        out.push(f);
    }
    out
}

/// Asserts `seen` (in arrival order) holds each log event exactly once, in order, contiguous.
pub fn assert_exact(seen: &[u64], log: &[Frame]) {
    let log_seqs: Vec<u64> = log.iter().map(Frame::seq).collect();
    assert!(log_seqs.windows(2).all(|w| w[1] == w[0] + 1), "the log is contiguous: {log_seqs:?}");
    assert_eq!(seen, log_seqs.as_slice(), "seen events == the log: no duplicates, no gaps, in order");
}
