//! Address rules shared by every egress path (skills, MCP, webhooks, plugin HTTP).

use std::net::IpAddr;

/// Whether an address is one a public URL must never reach.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // CGNAT 100.64/10
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
        }
    }
}

/// Whether a host allowlist entry admits `host` on `port`: `api.example.com` (any
/// port), `api.example.com:8443` (that port only), or `*.example.com` (any subdomain,
/// not the apex). Case-insensitive; IPv6 literals may be bracketed. The one rule for
/// every destination check (plugin `http` grants, secrets' `allowed_hosts`).
pub fn host_matches(pattern: &str, host: &str, port: u16) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    // `[v6]:port`, `name:port`, or a bare name / bare v6 literal.
    let (name, wanted_port) = if let Some(rest) = pattern.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((n, p)) => (n.to_string(), p.parse::<u16>().ok()),
            None => (rest.trim_end_matches(']').to_string(), None),
        }
    } else {
        match pattern.rsplit_once(':').filter(|(n, p)| !n.contains(':') && p.parse::<u16>().is_ok()) {
            Some((n, p)) => (n.to_string(), p.parse::<u16>().ok()),
            None => (pattern.clone(), None),
        }
    };
    let name = name.as_str();
    if wanted_port.is_some_and(|p| p != port) {
        return false;
    }
    match name.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
        None => name == host,
    }
}

/// Whether `entry` is a well-formed allowlist entry for [`host_matches`].
pub fn valid_host_pattern(entry: &str) -> bool {
    let body = entry.strip_prefix("*.").unwrap_or(entry);
    !body.is_empty()
        && entry.len() <= 253
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        && !body.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_match_exactly_by_port_or_by_subdomain() {
        assert!(host_matches("api.example.com", "API.example.com", 443));
        assert!(host_matches("127.0.0.1:8080", "127.0.0.1", 8080));
        assert!(!host_matches("127.0.0.1:8080", "127.0.0.1", 8081));
        assert!(host_matches("*.example.com", "eu.api.example.com", 443));
        assert!(!host_matches("*.example.com", "example.com", 443));
        assert!(!host_matches("*.example.com", "evilexample.com", 443));
        assert!(!host_matches("api.example.com", "api.example.com.evil.net", 443));
        assert!(host_matches("[::1]:9000", "[::1]", 9000));
        assert!(valid_host_pattern("*.example.com") && valid_host_pattern("10.0.0.1:80"));
        assert!(!valid_host_pattern("") && !valid_host_pattern("a b") && !valid_host_pattern("*."));
    }
}
