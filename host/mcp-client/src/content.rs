//! A `CallToolResult` as text the model can read. The tool-output the harness
//! hands the model is text, so binary content (images, audio, blobs) is described
//! rather than inlined: its type, size and where it came from.

use serde_json::Value;

/// The model-readable text of a `CallToolResult` and whether it is an error.
pub fn to_text(result: &Value) -> (String, bool) {
    let is_error = result.get("isError").and_then(Value::as_bool).unwrap_or(false);
    let mut parts: Vec<String> = Vec::new();
    let items = result.get("content").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for item in items {
        parts.push(block(item));
    }
    if let Some(structured) = result.get("structuredContent").filter(|v| !v.is_null()) {
        // Servers SHOULD repeat structured content in a text block; when they do (any
        // text block present), the text already says it and is not doubled.
        let has_text = items.iter().any(|i| i.get("type").and_then(Value::as_str) == Some("text"));
        if !has_text {
            let json = serde_json::to_string(structured).unwrap_or_default();
            parts.push(if parts.is_empty() { json } else { format!("Structured content: {json}") });
        }
    }
    if parts.is_empty() {
        parts.push(if is_error { "the tool failed without saying why".into() } else { "(no content)".into() });
    }
    (parts.join("\n"), is_error)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Decoded size of a base64 payload, for descriptions.
fn b64_bytes(data: &str) -> usize {
    let trimmed = data.trim_end_matches('=').len();
    trimmed * 3 / 4
}

fn block(item: &Value) -> String {
    match str_of(item, "type") {
        "text" => str_of(item, "text").to_string(),
        kind @ ("image" | "audio") => {
            format!(
                "[{kind}: {}, {} bytes; not shown to the model]",
                str_of(item, "mimeType"),
                b64_bytes(str_of(item, "data"))
            )
        }
        "resource" => {
            let r = item.get("resource").unwrap_or(&Value::Null);
            let (uri, mime) = (str_of(r, "uri"), str_of(r, "mimeType"));
            match r.get("text").and_then(Value::as_str) {
                Some(text) => format!(
                    "[resource {uri}{}]\n{text}",
                    if mime.is_empty() { String::new() } else { format!(" ({mime})") }
                ),
                None => {
                    format!("[resource {uri}: {mime}, {} bytes of binary; not shown]", b64_bytes(str_of(r, "blob")))
                }
            }
        }
        "resource_link" => {
            let mut s = format!("[resource link: {} <{}>", str_of(item, "name"), str_of(item, "uri"));
            for (label, key) in [("", "mimeType"), ("", "description")] {
                let v = str_of(item, key);
                if !v.is_empty() {
                    s.push_str(&format!("{label} — {v}"));
                }
            }
            s.push(']');
            s
        }
        other => format!("[content of type {other:?} the host cannot show]"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_content_type_becomes_text() {
        let result = json!({"content": [
            {"type": "image", "data": "aGVsbG8=", "mimeType": "image/png"},
            {"type": "audio", "data": "AAAA", "mimeType": "audio/wav"},
            {"type": "resource", "resource": {"uri": "file:///a.txt", "mimeType": "text/plain", "text": "body"}},
            {"type": "resource", "resource": {"uri": "file:///b.bin", "blob": "AAAA"}},
            {"type": "resource_link", "uri": "file:///c", "name": "c", "description": "the c file"},
        ], "structuredContent": {"n": 1}});
        let (text, err) = to_text(&result);
        assert!(!err);
        for want in [
            "[image: image/png, 5 bytes",
            "[audio: audio/wav, 3 bytes",
            "[resource file:///a.txt (text/plain)]\nbody",
            "file:///b.bin",
            "[resource link: c <file:///c> — the c file]",
            "Structured content: {\"n\":1}",
        ] {
            assert!(text.contains(want), "{want:?} missing from {text}");
        }
    }

    #[test]
    fn structured_content_repeated_as_text_is_not_doubled() {
        let (text, _) =
            to_text(&json!({"content": [{"type": "text", "text": "3"}], "structuredContent": {"result": 3}}));
        assert_eq!(text, "3");
        let (text, _) = to_text(&json!({"content": [], "structuredContent": {"n": 1}}));
        assert_eq!(text, "{\"n\":1}");
        let (text, err) = to_text(&json!({"content": [], "isError": true}));
        assert!(err && text.contains("failed"));
    }
}
