//! An incremental `text/event-stream` parser (the WHATWG rules MCP servers follow):
//! bytes in, complete events out, with the `id` and `retry` fields a reconnect needs.

/// One dispatched event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// `event:` (empty means `message`).
    pub kind: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Parser state across chunks.
#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    kind: String,
    data: String,
    has_data: bool,
    /// The last event id seen (`id:`), kept across events as the spec says.
    pub last_id: Option<String>,
    /// The last reconnection time the server asked for (`retry:`), in ms.
    pub retry_ms: Option<u64>,
}

impl Parser {
    /// Feeds `chunk`; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n' || *b == b'\r') {
            // A `\r` at the very end may be the first half of `\r\n`: wait for more.
            if self.buf[pos] == b'\r' && pos + 1 == self.buf.len() {
                break;
            }
            let skip = if self.buf[pos] == b'\r' && self.buf.get(pos + 1) == Some(&b'\n') { 2 } else { 1 };
            let line: Vec<u8> = self.buf.drain(..pos + skip).take(pos).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            if !self.has_data {
                self.kind.clear();
                return None;
            }
            let event = Event { kind: std::mem::take(&mut self.kind), data: std::mem::take(&mut self.data) };
            self.has_data = false;
            return Some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.kind = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
        None
    }

    /// Bytes buffered but not yet a complete line.
    pub fn pending(&self) -> usize {
        self.buf.len() + self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_with_ids_and_retry() {
        let mut p = Parser::default();
        assert_eq!(p.push(b"id: e1\nretry: 500\ndata: \n\nev"), vec![Event::default()], "the priming event");
        let got = p.push(b"ent: message\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n");
        assert_eq!(got, vec![Event { kind: "message".into(), data: "{\"a\":\n1}".into() }]);
        assert_eq!(p.last_id.as_deref(), Some("e1"));
        assert_eq!(p.retry_ms, Some(500));
    }

    #[test]
    fn priming_event_with_empty_data_is_dispatched_empty() {
        let mut p = Parser::default();
        let got = p.push(b": comment\nid: 7\ndata:\n\n");
        assert_eq!(got, vec![Event { kind: String::new(), data: String::new() }]);
        assert_eq!(p.last_id.as_deref(), Some("7"));
    }
}
