//! The EC2 instance metadata source (IMDSv2).
//!
//! Protocol (design notes §1.1): `PUT /latest/api/token` with
//! `X-aws-ec2-metadata-token-ttl-seconds`, then `GET`s with
//! `X-aws-ec2-metadata-token`: `meta-data/instance-id`,
//! `meta-data/tags/instance` (keys, one per line) and
//! `meta-data/tags/instance/<key>` (raw value).
//!
//! * A 404 on the tag list means "tags are not enabled in metadata"
//!   ([`SourceError::Disabled`]); a refused connection or a timeout means
//!   "no metadata service" ([`SourceError::Unavailable`]).
//! * Every attempt is bounded (connect and total timeouts); transport errors
//!   and 5xx are retried a bounded number of times with a short backoff.
//! * No IMDSv1 fallback unless `allow_v1`. The token never leaves this
//!   module: it is not logged, not put in errors, not passed to services.
//! * The endpoint must be loopback or link-local unless explicitly allowed.
//! * A key that vanishes between the list and its GET restarts the snapshot.

use super::http::{self, Response};
use super::{Snapshot, SourceError};
use crate::config::Imds;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Snapshot attempts when keys change under us.
const SNAPSHOT_ATTEMPTS: usize = 3;

/// A resolved endpoint.
#[derive(Debug, Clone)]
struct Endpoint {
    addr: SocketAddr,
    host: String,
    label: String,
}

/// Parses `http://host[:port][/]` and checks the address is allowed.
fn endpoint(url: &str, allow_any: bool) -> Result<Endpoint, SourceError> {
    let invalid = |m: &str| SourceError::Invalid(format!("instance metadata endpoint {url:?}: {m}"));
    let rest = url.strip_prefix("http://").ok_or_else(|| invalid("only http:// is supported"))?;
    let hostport = rest.trim_end_matches('/');
    if hostport.is_empty() || hostport.contains(['/', '@', '?', '#']) {
        return Err(invalid("expected http://host[:port]"));
    }
    let with_port = if hostport.starts_with('[') {
        if hostport.contains("]:") { hostport.to_string() } else { format!("{hostport}:80") }
    } else if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| invalid(&format!("cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| invalid("no address"))?;
    if !allow_any && !local_address(addr.ip()) {
        return Err(invalid("not a loopback or link-local address (set imds.allow_any_endpoint)"));
    }
    Ok(Endpoint { addr, host: hostport.to_string(), label: url.to_string() })
}

/// Loopback, IPv4 link-local (169.254/16), IPv6 link-local and AWS's
/// `fd00:ec2::254`.
fn local_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

/// The IMDS client for one snapshot.
struct Client<'a> {
    ep: Endpoint,
    cfg: &'a Imds,
    token: Option<String>,
}

impl Client<'_> {
    /// One request with bounded retries on transport errors and 5xx.
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Result<Response, SourceError> {
        let connect = Duration::from_millis(self.cfg.connect_timeout_ms.max(1));
        let total = Duration::from_millis(self.cfg.timeout_ms.max(1));
        let mut last = String::new();
        for attempt in 0..=self.cfg.retries {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 << attempt.min(4)));
            }
            match http::request(self.ep.addr, &self.ep.host, method, path, headers, connect, total) {
                Ok(r) if r.status >= 500 => last = format!("HTTP {}", r.status),
                Ok(r) => return Ok(r),
                Err(e) => last = runit_core::errtext::io_text(&e).to_string(),
            }
        }
        Err(SourceError::Unavailable(format!(
            "no instance metadata service at {}: {last} (after {} attempts)",
            self.ep.label,
            self.cfg.retries + 1
        )))
    }

    /// Gets the session token (IMDSv2).
    fn fetch_token(&mut self) -> Result<(), SourceError> {
        let ttl = self.cfg.token_ttl_s.clamp(1, 21600).to_string();
        let r = self.send("PUT", "/latest/api/token", &[("X-aws-ec2-metadata-token-ttl-seconds", &ttl)])?;
        match r.status {
            200 => {
                let token = String::from_utf8(r.body).unwrap_or_default().trim().to_string();
                if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(SourceError::Unavailable(format!(
                        "instance metadata at {} returned an unusable token",
                        self.ep.label
                    )));
                }
                self.token = Some(token);
                Ok(())
            }
            403..=405 if self.cfg.allow_v1 => {
                self.token = None;
                Ok(())
            }
            s => Err(SourceError::Unavailable(format!(
                "instance metadata at {} refused a session token (HTTP {s}); IMDSv1 fallback is off",
                self.ep.label
            ))),
        }
    }

    /// GET with the token.
    fn get(&self, path: &str) -> Result<Response, SourceError> {
        let headers: Vec<(&str, &str)> = match &self.token {
            Some(t) => vec![("X-aws-ec2-metadata-token", t.as_str())],
            None => Vec::new(),
        };
        let r = self.send("GET", path, &headers)?;
        if r.status == 401 {
            return Err(SourceError::Unavailable(format!(
                "instance metadata at {} rejected the session token (HTTP 401)",
                self.ep.label
            )));
        }
        Ok(r)
    }

    fn text(&self, path: &str, body: Vec<u8>) -> Result<String, SourceError> {
        String::from_utf8(body)
            .map_err(|_| SourceError::Invalid(format!("instance metadata {path}: not UTF-8")))
    }
}

/// Percent-encodes a tag key for the URL path (IMDS keys are already
/// restricted to `A-Za-z0-9+-=.,_:@`, but keys are data: encode anything else).
fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~+=,:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Fetches instance id and tags. `env_endpoint` is
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT` when set; `disabled` is
/// `AWS_EC2_METADATA_DISABLED=true`.
pub fn fetch(cfg: &Imds, env_endpoint: Option<&str>, disabled: bool) -> Result<Snapshot, SourceError> {
    if disabled {
        return Err(SourceError::Unavailable(
            "instance metadata disabled by AWS_EC2_METADATA_DISABLED".into(),
        ));
    }
    let url = env_endpoint.filter(|e| !e.is_empty()).unwrap_or(&cfg.endpoint);
    let mut client = Client { ep: endpoint(url, cfg.allow_any_endpoint)?, cfg, token: None };
    client.fetch_token()?;
    let r = client.get("/latest/meta-data/instance-id")?;
    let instance_id = match r.status {
        200 => Some(client.text("instance-id", r.body)?.trim().to_string()).filter(|s| !s.is_empty()),
        _ => None,
    };
    for _ in 0..SNAPSHOT_ATTEMPTS {
        if let Some(tags) = snapshot(&client)? {
            return Ok(Snapshot { tags, instance_id });
        }
    }
    Err(SourceError::Unavailable(format!(
        "instance tags at {} kept changing while being read",
        client.ep.label
    )))
}

/// One pass over the tag list; `None` when a listed key vanished.
fn snapshot(client: &Client<'_>) -> Result<Option<BTreeMap<String, String>>, SourceError> {
    let r = client.get("/latest/meta-data/tags/instance")?;
    match r.status {
        200 => {}
        404 => {
            return Err(SourceError::Disabled(format!(
                "instance tags are not enabled in instance metadata at {} (HTTP 404 on tags/instance)",
                client.ep.label
            )));
        }
        s => return Err(SourceError::Unavailable(format!("instance metadata tags/instance: HTTP {s}"))),
    }
    let list = client.text("tags/instance", r.body)?;
    let mut tags = BTreeMap::new();
    for key in list.split('\n').map(|k| k.trim_end_matches('\r')).filter(|k| !k.is_empty()) {
        let r = client.get(&format!("/latest/meta-data/tags/instance/{}", encode_key(key)))?;
        match r.status {
            200 => {
                let value = client.text(key, r.body)?;
                tags.insert(key.to_string(), value);
            }
            404 => return Ok(None),
            s => return Err(SourceError::Unavailable(format!("instance metadata tag {key:?}: HTTP {s}"))),
        }
    }
    Ok(Some(tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(endpoint("http://169.254.169.254", false).is_ok());
        assert!(endpoint("http://127.0.0.1:1338/", false).is_ok());
        assert!(endpoint("http://[::1]:1338", false).is_ok());
        assert!(matches!(endpoint("https://169.254.169.254", false), Err(SourceError::Invalid(_))));
        assert!(matches!(endpoint("http://10.1.2.3", false), Err(SourceError::Invalid(_))));
        assert!(endpoint("http://10.1.2.3", true).is_ok());
        assert!(endpoint("http://user@127.0.0.1/x", false).is_err());
    }

    #[test]
    fn key_encoding() {
        assert_eq!(encode_key("aws:autoscaling:groupName"), "aws:autoscaling:groupName");
        assert_eq!(encode_key("a b/../c"), "a%20b%2F..%2Fc");
    }

    #[test]
    fn no_server_is_unavailable_and_bounded() {
        // A port nobody listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let Ok(port) = port else { return };
        let cfg = Imds { retries: 1, connect_timeout_ms: 200, timeout_ms: 200, ..Imds::default() };
        let t = std::time::Instant::now();
        let r = fetch(&cfg, Some(&format!("http://127.0.0.1:{port}")), false);
        assert!(matches!(r, Err(SourceError::Unavailable(_))), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(matches!(fetch(&cfg, None, true), Err(SourceError::Unavailable(_))));
    }
}
