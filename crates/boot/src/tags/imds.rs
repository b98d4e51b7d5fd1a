//! The EC2 instance metadata source (IMDSv2).
//!
//! Protocol (design notes §1.1): `PUT /latest/api/token` with
//! `X-aws-ec2-metadata-token-ttl-seconds`, then `GET`s with
//! `X-aws-ec2-metadata-token`: `meta-data/instance-id`,
//! `meta-data/tags/instance` (keys, one per line) and
//! `meta-data/tags/instance/<key>` (raw value).
//!
//! * The token is asked for with the AWS SDKs' lifetime (21600 s by
//!   default) and reused for every request until shortly before it expires
//!   (`Token::usable`). A 401 on a GET fetches one new token and retries
//!   that GET once; a second 401 fails the source.
//! * Every request is bounded (connect and per-attempt timeouts), and one
//!   deadline (`imds.deadline_ms`) bounds the whole fetch: token, instance
//!   id, list and every value. Transport errors and 5xx are retried
//!   `imds.retries` times within that deadline.
//! * Waiting (`wait_s`, `--wait`): while the service is absent, refuses
//!   connections, times out or answers 5xx, the fetch is repeated with a
//!   capped exponential backoff until `wait` has passed; each pause is
//!   logged (what, why, for how long). Then the last error is returned.
//! * A 404 on the tag list while the instance id answers means "tags are
//!   not enabled in metadata" ([`SourceError::Disabled`]): returned at once,
//!   never waited for, naming the fix.
//! * No IMDSv1 fallback unless `allow_v1`. The token never leaves this
//!   module: it is not logged, not put in errors, not passed to services.
//! * The endpoint must be loopback or link-local unless explicitly allowed.
//! * A key that vanishes between the list and its GET restarts the snapshot.

use super::http::{self, Response};
use super::{Snapshot, SourceError};
use crate::config::Imds;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

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

/// An I/O error in runit's words for system errors (`connection refused`),
/// else its own text (`response timed out`, `bad status line`).
fn io_msg(e: &std::io::Error) -> String {
    if e.raw_os_error().is_some() { runit_core::errtext::io_text(e).to_string() } else { e.to_string() }
}

/// First pause between two fetches while waiting for the service.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
/// Longest pause between two fetches while waiting.
const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// The pause after `pause` while waiting: doubled, at most [`BACKOFF_CAP`].
fn next_backoff(pause: Duration) -> Duration {
    pause.saturating_mul(2).min(BACKOFF_CAP)
}

/// Why one fetch failed.
#[derive(Debug)]
enum Failure {
    /// The service is absent, refuses connections, timed out or answered
    /// 5xx: worth waiting for.
    Transient(String),
    /// Anything else: returned at once.
    Final(SourceError),
}

/// A session token and when to stop using it.
#[derive(Debug)]
struct Token {
    value: String,
    refresh_at: Instant,
}

impl Token {
    /// A token obtained at `at` with `ttl`: used until `margin` before its
    /// expiry, where `margin` is a tenth of the lifetime, at most 60 s.
    fn new(value: String, at: Instant, ttl: Duration) -> Token {
        let margin = (ttl / 10).min(Duration::from_secs(60));
        Token { value, refresh_at: at + ttl.saturating_sub(margin) }
    }

    /// Still good for a request starting at `now`.
    fn usable(&self, now: Instant) -> bool {
        now < self.refresh_at
    }
}

/// The IMDS client: one per fetch, kept across the retries of a wait (the
/// token is reused while valid).
struct Client<'a> {
    ep: Endpoint,
    cfg: &'a Imds,
    /// `None` before the first token call, `Some(None)` in IMDSv1 mode.
    token: Option<Option<Token>>,
    /// The deadline of the current fetch.
    deadline: Instant,
}

impl Client<'_> {
    fn transient(&self, what: &str) -> Failure {
        Failure::Transient(format!("{what} (instance metadata at {})", self.ep.label))
    }

    /// One request, with bounded retries on transport errors and 5xx,
    /// all before the fetch deadline.
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Result<Response, Failure> {
        let connect = Duration::from_millis(self.cfg.connect_timeout_ms.max(1));
        let per_attempt = Duration::from_millis(self.cfg.timeout_ms.max(1));
        let mut last = String::new();
        for attempt in 0..=self.cfg.retries {
            if attempt > 0 {
                let pause = Duration::from_millis(100 << attempt.min(4));
                if Instant::now() + pause >= self.deadline {
                    break;
                }
                std::thread::sleep(pause);
            }
            let now = Instant::now();
            if now >= self.deadline {
                break;
            }
            let deadline = (now + connect + per_attempt).min(self.deadline);
            let r = http::request(self.ep.addr, &self.ep.host, method, path, headers, connect, deadline);
            // -vv: every request and its status (never a header: the token).
            if let Ok(r) = &r {
                log::trace!("instance metadata: {method} {path}: HTTP {}, {} bytes", r.status, r.body.len());
            }
            match r {
                Ok(r) if r.status >= 500 => last = format!("{method} {path}: HTTP {}", r.status),
                Ok(r) => return Ok(r),
                Err(e) => last = format!("{method} {path}: {}", io_msg(&e)),
            }
            log::debug!("instance metadata: {last}");
        }
        if Instant::now() >= self.deadline {
            let ms = self.cfg.deadline_ms;
            let what = if last.is_empty() { String::new() } else { format!(" (last: {last})") };
            return Err(self.transient(&format!("fetch deadline of {ms} ms passed{what}")));
        }
        Err(self.transient(&last))
    }

    /// Makes sure a usable token is held (IMDSv2), asking for a new one
    /// when there is none, it is about to expire, or `renew`.
    fn ensure_token(&mut self, renew: bool) -> Result<(), Failure> {
        match &self.token {
            Some(None) => return Ok(()),
            Some(Some(t)) if !renew && t.usable(Instant::now()) => return Ok(()),
            _ => {}
        }
        let ttl_s = self.cfg.token_ttl_s.clamp(1, 21600);
        let ttl = ttl_s.to_string();
        let at = Instant::now();
        let r = self.send("PUT", "/latest/api/token", &[("X-aws-ec2-metadata-token-ttl-seconds", &ttl)])?;
        log::debug!("instance metadata: new session token (HTTP {}, ttl {ttl_s} s)", r.status);
        match r.status {
            200 => {
                let token = String::from_utf8(r.body).unwrap_or_default().trim().to_string();
                if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(Failure::Final(SourceError::Unavailable(format!(
                        "instance metadata at {} returned an unusable token",
                        self.ep.label
                    ))));
                }
                self.token = Some(Some(Token::new(token, at, Duration::from_secs(u64::from(ttl_s)))));
                Ok(())
            }
            403..=405 if self.cfg.allow_v1 => {
                self.token = Some(None);
                Ok(())
            }
            s => Err(Failure::Final(SourceError::Unavailable(format!(
                "instance metadata at {} refused a session token (HTTP {s}); IMDSv1 fallback is off",
                self.ep.label
            )))),
        }
    }

    /// GET with the token; a 401 gets one new token and one more try.
    fn get(&mut self, path: &str) -> Result<Response, Failure> {
        self.ensure_token(false)?;
        for renewed in [false, true] {
            if renewed {
                log::info!("instance metadata rejected the session token on {path}; asking for a new one");
                self.ensure_token(true)?;
            }
            let token = self.token.as_ref().and_then(|t| t.as_ref()).map(|t| t.value.clone());
            let headers: Vec<(&str, &str)> = match &token {
                Some(t) => vec![("X-aws-ec2-metadata-token", t.as_str())],
                None => Vec::new(),
            };
            let r = self.send("GET", path, &headers)?;
            if r.status != 401 {
                return Ok(r);
            }
            if token.is_none() {
                return Err(Failure::Final(SourceError::Unavailable(format!(
                    "instance metadata at {} answers HTTP 401 on {path} without a session token \
                     (IMDSv1 fallback)",
                    self.ep.label
                ))));
            }
        }
        Err(Failure::Final(SourceError::Unavailable(format!(
            "instance metadata at {} rejected a fresh session token on {path} (HTTP 401)",
            self.ep.label
        ))))
    }

    fn text(path: &str, body: Vec<u8>) -> Result<String, Failure> {
        String::from_utf8(body)
            .map_err(|_| Failure::Final(SourceError::Invalid(format!("instance metadata {path}: not UTF-8"))))
    }

    /// One whole fetch: instance id, then a consistent tag snapshot.
    fn fetch_once(&mut self) -> Result<Snapshot, Failure> {
        let r = self.get("/latest/meta-data/instance-id")?;
        let id_answers = r.status == 200;
        let instance_id = match r.status {
            200 => Some(Self::text("instance-id", r.body)?.trim().to_string()).filter(|s| !s.is_empty()),
            _ => None,
        };
        for _ in 0..SNAPSHOT_ATTEMPTS {
            if let Some(tags) = self.snapshot(id_answers)? {
                return Ok(Snapshot { tags, instance_id });
            }
        }
        Err(Failure::Final(SourceError::Unavailable(format!(
            "instance tags at {} kept changing while being read",
            self.ep.label
        ))))
    }

    /// One pass over the tag list; `None` when a listed key vanished.
    fn snapshot(&mut self, id_answers: bool) -> Result<Option<BTreeMap<String, String>>, Failure> {
        let r = self.get("/latest/meta-data/tags/instance")?;
        match r.status {
            200 => {}
            404 if id_answers => {
                return Err(Failure::Final(SourceError::Disabled(format!(
                    "instance tags are not enabled in instance metadata at {} (HTTP 404 on \
                     /latest/meta-data/tags/instance while instance-id answers); enable them: \
                     InstanceMetadataTags=enabled in the launch template's MetadataOptions \
                     (or aws ec2 modify-instance-metadata-options --instance-metadata-tags enabled)",
                    self.ep.label
                ))));
            }
            s => {
                return Err(Failure::Final(SourceError::Unavailable(format!(
                    "instance metadata at {} answers HTTP {s} on /latest/meta-data/tags/instance",
                    self.ep.label
                ))));
            }
        }
        let list = Self::text("tags/instance", r.body)?;
        let mut tags = BTreeMap::new();
        for key in list.split('\n').map(|k| k.trim_end_matches('\r')).filter(|k| !k.is_empty()) {
            let r = self.get(&format!("/latest/meta-data/tags/instance/{}", encode_key(key)))?;
            match r.status {
                200 => {
                    let value = Self::text(key, r.body)?;
                    tags.insert(key.to_string(), value);
                }
                404 => return Ok(None),
                s => {
                    return Err(Failure::Final(SourceError::Unavailable(format!(
                        "instance metadata tag {key:?}: HTTP {s}"
                    ))));
                }
            }
        }
        Ok(Some(tags))
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
/// `AWS_EC2_METADATA_DISABLED=true`. While the service is absent, refuses
/// connections, times out or answers 5xx, fetches again with a capped
/// backoff until `wait` has passed (zero: one fetch). The whole call ends
/// by `max(wait, deadline_ms)` after it started (plus at most one
/// connect timeout).
pub fn fetch(
    cfg: &Imds,
    env_endpoint: Option<&str>,
    disabled: bool,
    wait: Duration,
) -> Result<Snapshot, SourceError> {
    if disabled {
        return Err(SourceError::Unavailable(
            "instance metadata disabled by AWS_EC2_METADATA_DISABLED".into(),
        ));
    }
    let url = env_endpoint.filter(|e| !e.is_empty()).unwrap_or(&cfg.endpoint);
    let start = Instant::now();
    let per_fetch = Duration::from_millis(cfg.deadline_ms.max(1));
    let give_up = start + wait;
    let end = start + wait.max(per_fetch);
    let mut client = Client { ep: endpoint(url, cfg.allow_any_endpoint)?, cfg, token: None, deadline: end };
    let mut backoff = BACKOFF_FIRST;
    let mut tries = 0u32;
    loop {
        tries += 1;
        client.deadline = (Instant::now() + per_fetch).min(end);
        log::debug!("fetching instance metadata from {} (try {tries})", client.ep.label);
        let why = match client.fetch_once() {
            Ok(snap) => {
                if tries > 1 {
                    log::info!(
                        "instance metadata at {} answered after {:.1} s",
                        client.ep.label,
                        start.elapsed().as_secs_f64()
                    );
                }
                return Ok(snap);
            }
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Transient(why)) => why,
        };
        let left = give_up.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let waited = if wait.is_zero() {
                String::new()
            } else {
                format!(" after waiting {} s ({tries} tries)", wait.as_secs())
            };
            return Err(SourceError::Unavailable(format!("no instance metadata service{waited}: {why}")));
        }
        let pause = backoff.min(left);
        log::info!(
            "waiting for instance metadata at {}: {why}; next try in {:.1} s, giving up in {:.0} s",
            client.ep.label,
            pause.as_secs_f64(),
            left.as_secs_f64().ceil()
        );
        std::thread::sleep(pause);
        backoff = next_backoff(backoff);
    }
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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a loopback port");
        let cfg = Imds { retries: 1, connect_timeout_ms: 200, timeout_ms: 200, ..Imds::default() };
        let r = fetch(&cfg, Some(&format!("http://127.0.0.1:{port}")), false, Duration::ZERO);
        assert!(matches!(&r, Err(SourceError::Unavailable(m)) if m.contains("refused")), "{r:?}");
        assert!(matches!(fetch(&cfg, None, true, Duration::ZERO), Err(SourceError::Unavailable(_))));
    }

    #[test]
    fn backoff_doubles_from_a_quarter_second_to_five() {
        let mut pause = BACKOFF_FIRST;
        let mut seen = vec![pause];
        for _ in 0..8 {
            pause = next_backoff(pause);
            seen.push(pause);
        }
        let ms: Vec<u128> = seen.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
    }

    #[test]
    fn token_is_reused_until_shortly_before_expiry() {
        let t0 = Instant::now();
        let t = Token::new("x".into(), t0, Duration::from_secs(21600));
        assert!(t.usable(t0 + Duration::from_secs(21600 - 61)));
        assert!(!t.usable(t0 + Duration::from_secs(21600 - 60)));
        let short = Token::new("x".into(), t0, Duration::from_secs(10));
        assert!(short.usable(t0 + Duration::from_secs(8)));
        assert!(!short.usable(t0 + Duration::from_secs(9)));
    }

    #[test]
    fn waiting_for_an_absent_service_is_bounded_and_keeps_the_last_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a loopback port");
        let cfg = Imds { retries: 0, connect_timeout_ms: 200, timeout_ms: 200, ..Imds::default() };
        let r = fetch(&cfg, Some(&format!("http://127.0.0.1:{port}")), false, Duration::from_secs(1));
        match r {
            Err(SourceError::Unavailable(m)) => {
                assert!(m.contains("after waiting 1 s") && m.contains("refused"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
}
