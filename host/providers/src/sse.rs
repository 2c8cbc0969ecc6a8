//! A small Server-Sent Events decoder: bytes in (in whatever pieces the network
//! delivers them), complete events out. Follows the WHATWG event-stream rules that
//! matter for model APIs: `event:` / `data:` fields, multi-line data joined by `\n`,
//! comments, and `\n`, `\r\n` or `\r` line endings, even split across reads.

/// Longest line accepted; a stream that exceeds it is malformed (or hostile).
const MAX_LINE: usize = 16 << 20;

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, empty when the server sent none (the spec's "message").
    pub event: String,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
}

/// Incremental decoder: feed it chunks with [`SseDecoder::push`].
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the line being read.
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a leading `\n` in the next one belongs to it.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
}

/// The stream broke the decoder's limits.
#[derive(Debug, thiserror::Error)]
#[error("server-sent event line longer than {MAX_LINE} bytes")]
pub struct LineTooLong;

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one chunk; returns the events it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut out = Vec::new();
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..pos]);
            let was_cr = rest[pos] == b'\r';
            rest = &rest[pos + 1..];
            if was_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = std::mem::take(&mut self.line);
            if let Some(ev) = self.line_done(&line) {
                out.push(ev);
            }
        }
        self.line.extend_from_slice(rest);
        if self.line.len() > MAX_LINE {
            return Err(LineTooLong);
        }
        Ok(out)
    }

    /// The stream ended: returns an event left without its closing blank line, if any
    /// (lenient: some servers close the connection right after the last `data:`).
    pub fn finish(&mut self) -> Option<SseEvent> {
        let line = std::mem::take(&mut self.line);
        let mut ev = None;
        if !line.is_empty() {
            ev = self.line_done(&line);
        }
        ev.or_else(|| self.dispatch())
    }

    fn line_done(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None; // comment / keep-alive
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&line[..], ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {} // id, retry and unknown fields do not matter here
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(SseEvent { event, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            out.extend(d.push(chunk).expect("within limits"));
        }
        out.extend(d.finish());
        out
    }

    #[test]
    fn events_survive_any_split_and_line_ending() {
        let streams: [&[u8]; 3] = [
            b"event: a\ndata: {\"x\":1}\n\n: keep-alive\n\ndata: two\ndata: lines\n\n",
            b"event: a\r\ndata: {\"x\":1}\r\n\r\n: keep-alive\r\n\r\ndata: two\r\ndata: lines\r\n\r\n",
            b"event: a\rdata: {\"x\":1}\r\r: keep-alive\r\rdata: two\rdata: lines\r\r",
        ];
        let want = vec![
            SseEvent { event: "a".into(), data: "{\"x\":1}".into() },
            SseEvent { event: String::new(), data: "two\nlines".into() },
        ];
        for s in streams {
            for piece in 1..=s.len() {
                assert_eq!(decode_in_pieces(s, piece), want, "piece size {piece} of {:?}", String::from_utf8_lossy(s));
            }
        }
    }

    #[test]
    fn data_without_space_and_final_event_without_blank_line() {
        let got = decode_in_pieces(b"data:[DONE]", 4);
        assert_eq!(got, vec![SseEvent { event: String::new(), data: "[DONE]".into() }]);
    }

    #[test]
    fn multibyte_text_split_mid_character_is_intact() {
        let s = "data: héllo — ✓\n\n".as_bytes();
        assert_eq!(decode_in_pieces(s, 1)[0].data, "héllo — ✓");
    }

    #[test]
    fn event_name_without_data_is_not_dispatched() {
        assert!(decode_in_pieces(b"event: ping\n\n", 3).is_empty());
    }
}
