//! Bounds on text: how much a guest may pass, and how long text is cut for display.

/// Largest text a guest may pass in one field (message content, tool output).
pub const MAX_TEXT: usize = 1 << 20;

/// Checks a guest-supplied string against a byte budget.
pub fn bounded(what: &str, s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        return Err(format!("{what} is {} bytes; the limit is {max}", s.len()));
    }
    Ok(())
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub fn preview(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &s[..end], s.len() - end)
}
