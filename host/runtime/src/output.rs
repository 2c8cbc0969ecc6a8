//! Guest stdout/stderr: kept up to a cap, the excess counted and dropped (never a trap).

use hermes_types::sync::Locked;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// A size-capped, shareable byte sink for a guest's output streams.
#[derive(Clone, Default)]
pub struct CappedOutput {
    inner: Arc<Mutex<Buf>>,
}

#[derive(Default)]
struct Buf {
    bytes: Vec<u8>,
    cap: usize,
    dropped: usize,
}

impl CappedOutput {
    /// A sink keeping at most `cap` bytes.
    pub fn new(cap: usize) -> CappedOutput {
        CappedOutput { inner: Arc::new(Mutex::new(Buf { bytes: Vec::new(), cap, dropped: 0 })) }
    }

    /// What was kept (lossy UTF-8) and how many bytes were dropped.
    pub fn contents(&self) -> (String, usize) {
        let b = self.inner.locked();
        (String::from_utf8_lossy(&b.bytes).into_owned(), b.dropped)
    }

    /// What was kept, as bytes, and how many bytes were dropped.
    pub fn bytes(&self) -> (Vec<u8>, usize) {
        let b = self.inner.locked();
        (b.bytes.clone(), b.dropped)
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CappedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let mut b = self.inner.locked();
        let room = b.cap.saturating_sub(b.bytes.len());
        let keep = room.min(buf.len());
        b.bytes.extend_from_slice(&buf[..keep]);
        b.dropped += buf.len() - keep;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The last `max` bytes (or fewer, at a char boundary) of `output`, trailing
/// whitespace trimmed: what a trap's message quotes of a guest's stderr.
pub(crate) fn tail(output: &str, max: usize) -> &str {
    let t = output.trim_end();
    let start = t.len().saturating_sub(max);
    let start = (start..t.len()).find(|i| t.is_char_boundary(*i)).unwrap_or(t.len());
    &t[start..]
}
