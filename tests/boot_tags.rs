//! End-to-end tests of boot's tag sources: a fake EC2 instance metadata
//! service (IMDSv2) on 127.0.0.1 written here, metadata failures that must
//! leave a running set untouched, hostile tag values rejected before any
//! write, every file source format and the precedence of merged sources.
//! These run production-mode worker sets (no databases).
#![allow(clippy::unwrap_used)]

#[path = "boot_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{BootBox, environ};

/// What the fake metadata service does; changed by tests while it runs.
#[derive(Debug, Clone)]
struct Ctl {
    tags: BTreeMap<String, String>,
    instance_id: String,
    tags_enabled: bool,
    /// 401 on every GET, whatever token is sent.
    reject_tokens: bool,
    delay_ms: u64,
    /// Answer this many next requests with 503.
    fail_next: usize,
    /// Revoke the current token when the GET count reaches this (that GET
    /// and later ones with the old token get 401; a new PUT gets a new one).
    revoke_at_get: Option<usize>,
    /// Token generation: the valid token is `TOKEN` followed by it.
    token_gen: u32,
    /// Requests seen: `METHOD path token=<yes|no> ttl=<yes|no>`.
    seen: Vec<String>,
    /// TTLs asked for, in order.
    ttls: Vec<String>,
}

const TOKEN: &str = "AQAEAFAKE-TOKEN-DO-NOT-LEAK==";

struct FakeImds {
    port: u16,
    ctl: Arc<Mutex<Ctl>>,
    stop: Arc<AtomicBool>,
}

impl FakeImds {
    fn start(tags: &[(&str, &str)], instance_id: &str) -> FakeImds {
        Self::start_on(0, tags, instance_id)
    }

    /// On `port` (0: any free one).
    fn start_on(port: u16, tags: &[(&str, &str)], instance_id: &str) -> FakeImds {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let ctl = Arc::new(Mutex::new(Ctl {
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            instance_id: instance_id.into(),
            tags_enabled: true,
            reject_tokens: false,
            delay_ms: 0,
            fail_next: 0,
            revoke_at_get: None,
            token_gen: 1,
            seen: Vec::new(),
            ttls: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (ctl.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let c = c.clone();
                std::thread::spawn(move || serve(conn, &c));
            }
        });
        FakeImds { port, ctl, stop }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, f: impl FnOnce(&mut Ctl)) {
        f(&mut self.ctl.lock().unwrap());
    }

    fn seen(&self) -> Vec<String> {
        self.ctl.lock().unwrap().seen.clone()
    }

    /// Forgets the requests seen so far.
    fn clear(&self) {
        let mut c = self.ctl.lock().unwrap();
        c.seen.clear();
        c.ttls.clear();
    }

    /// (token PUTs, GETs) seen.
    fn counts(&self) -> (usize, usize) {
        let seen = self.seen();
        (
            seen.iter().filter(|r| r.starts_with("PUT")).count(),
            seen.iter().filter(|r| r.starts_with("GET")).count(),
        )
    }
}

impl Drop for FakeImds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut rest = s.as_bytes();
    while let Some((&c, tail)) = rest.split_first() {
        let hex = tail
            .get(..2)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                rest = &tail[2..];
            }
            _ => {
                out.push(c);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(conn: TcpStream, ctl: &Mutex<Ctl>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let (c, failing) = {
        let mut g = ctl.lock().unwrap();
        g.seen.push(format!(
            "{method} {path} token={} ttl={}",
            if headers.contains_key("x-aws-ec2-metadata-token") { "yes" } else { "no" },
            if headers.contains_key("x-aws-ec2-metadata-token-ttl-seconds") { "yes" } else { "no" }
        ));
        if let Some(ttl) = headers.get("x-aws-ec2-metadata-token-ttl-seconds") {
            g.ttls.push(ttl.clone());
        }
        let gets = g.seen.iter().filter(|r| r.starts_with("GET")).count();
        if method == "GET" && g.revoke_at_get == Some(gets) {
            g.token_gen += 1;
        }
        let failing = g.fail_next > 0;
        g.fail_next = g.fail_next.saturating_sub(1);
        (g.clone(), failing)
    };
    std::thread::sleep(Duration::from_millis(c.delay_ms));
    let token = format!("{TOKEN}{}", c.token_gen);
    let token_ok = headers.get("x-aws-ec2-metadata-token") == Some(&token) && !c.reject_tokens;
    let (status, body) = if failing {
        (503, "Service Unavailable".to_string())
    } else if method == "PUT" && path == "/latest/api/token" {
        if headers.contains_key("x-aws-ec2-metadata-token-ttl-seconds") {
            (200, token)
        } else {
            (400, "Missing or Invalid Parameters".to_string())
        }
    } else if method != "GET" {
        (405, String::new())
    } else if !token_ok {
        (401, String::new())
    } else if path == "/latest/meta-data/instance-id" {
        (200, c.instance_id.clone())
    } else if let Some(rest) = path.strip_prefix("/latest/meta-data/tags/instance") {
        let key = rest.trim_start_matches('/');
        if !c.tags_enabled {
            (404, String::new())
        } else if key.is_empty() {
            (200, c.tags.keys().cloned().collect::<Vec<_>>().join("\n"))
        } else {
            match c.tags.get(&percent_decode(key)) {
                Some(v) => (200, v.clone()),
                None => (404, String::new()),
            }
        }
    } else {
        (404, String::new())
    };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn raw(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = std::io::Read::read_to_string(&mut s, &mut out);
    out
}

const ODD: &str = "a'b\"c$(x)`y` ;|&<>*?~#!{}\\";

/// IMDSv2 end to end, then every metadata failure: each exits with its own
/// code within the bound and changes nothing, files or processes.
#[test]
fn imds_source_and_failures_leave_the_running_set_untouched() {
    let imds = FakeImds::start(&[("Mode", "production"), ("Service", "worker"), ("Team", ODD)], "i-0aaa");
    let cfg = "sources = [\"imds\"]\n[imds]\nconnect_timeout_ms = 300\ntimeout_ms = 700\nretries = 1\n";
    let mut b = BootBox::new("boot-imds", cfg);
    b.start_runsvdir();
    let ep = imds.endpoint();
    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep.as_str())];
    let up = b.boot_env(&["up"], &env);
    assert_eq!(up.code, Some(0), "{}", up.stderr);
    // It says what it waits for, and for how long.
    assert!(up.stderr.contains("boot: waiting up to 20 s for worker to be ready\n"), "{}", up.stderr);
    assert!(up.stderr.contains("boot: worker is ready ("), "{}", up.stderr);
    let pid = b.pid("worker");
    let wenv = environ(pid);
    // The whitelisted odd value arrives verbatim, and nothing executed.
    assert_eq!(wenv.get("APP_TEAM").map(Vec::as_slice), Some(ODD.as_bytes()));
    assert_eq!(wenv.get("BOOT_INSTANCE_ID").map(Vec::as_slice), Some(&b"i-0aaa"[..]));
    // The token is used, never shown or passed on.
    let seen = imds.seen();
    assert!(seen.iter().any(|r| r == "PUT /latest/api/token token=no ttl=yes"), "{seen:?}");
    assert!(seen.iter().filter(|r| r.starts_with("GET")).all(|r| r.contains("token=yes")), "{seen:?}");
    assert!(!up.stdout.contains("FAKE-TOKEN") && !up.stderr.contains("FAKE-TOKEN"));
    assert!(!wenv.values().any(|v| String::from_utf8_lossy(v).contains("FAKE-TOKEN")));
    let tags = b.boot_env(&["tags"], &env);
    assert!(tags.stdout.contains("\"Team\"") && tags.stdout.contains("imds"), "{}", tags.stdout);
    assert!(!tags.stdout.contains("FAKE-TOKEN"));
    // The fake behaves like IMDS for clients that forget things.
    assert!(
        raw(imds.port, "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .contains(" 400 ")
    );
    assert!(
        raw(imds.port, "GET /latest/meta-data/tags/instance HTTP/1.1\r\nHost: x\r\n\r\n").contains(" 401 ")
    );

    let tree = b.tree();
    let untouched = |what: &str| {
        assert_eq!(b.tree(), tree, "{what}: files changed");
        assert_eq!(b.pid("worker"), pid, "{what}: worker restarted");
    };
    imds.set(|c| c.tags_enabled = false);
    let o = b.boot_env(&["up"], &env);
    assert_eq!(o.code, Some(4), "{}", o.stderr);
    assert!(o.stderr.contains("not enabled"), "{}", o.stderr);
    untouched("tags disabled");
    assert_eq!(b.boot_env(&["plan"], &env).code, Some(4));

    imds.set(|c| {
        c.tags_enabled = true;
        c.reject_tokens = true;
    });
    let o = b.boot_env(&["up"], &env);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("401"), "{}", o.stderr);
    untouched("token rejected");

    imds.set(|c| {
        c.reject_tokens = false;
        c.delay_ms = 3000;
    });
    imds.clear();
    let o = b.boot_env(&["up"], &env);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("timed out") && !o.stderr.contains("unknown error"), "{}", o.stderr);
    // Bounded by attempts, not by the clock: the token call, retried once
    // (`retries = 1`), and nothing after it.
    let (puts, gets) = imds.counts();
    assert!((1..=2).contains(&puts) && gets == 0, "slow server: not bounded: {:?}", imds.seen());
    untouched("slow server");

    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let o = b.boot_env(&["up"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", dead.as_str())]);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    assert!(
        o.stderr.contains("no instance metadata service") && o.stderr.contains("refused"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("waiting for"), "no wait_s: not waited for: {}", o.stderr);
    untouched("no server");

    // An instance id that differs from the recorded one: clean, then up as new.
    imds.set(|c| {
        c.delay_ms = 0;
        c.instance_id = "i-0bbb".into();
    });
    let o = b.boot_env(&["up"], &env);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("another instance"), "{}", o.stdout);
    let new_pid = b.pid("worker");
    assert_ne!(new_pid, pid);
    assert_eq!(environ(new_pid).get("BOOT_INSTANCE_ID").map(Vec::as_slice), Some(&b"i-0bbb"[..]));
    b.ok(&["down"]);
    b.assert_clean();
}

/// The token: asked for with 21600 s, reused for every request of a fetch,
/// renewed once on a 401 (and only once), never shown.
#[test]
fn imds_token_lifetime_reuse_and_renewal() {
    let tags: Vec<(String, String)> = (0..8).map(|i| (format!("K{i}"), format!("v{i}"))).collect();
    let refs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let imds = FakeImds::start(&refs, "i-0tok");
    // Exact request counts: generous timeouts, so a loaded machine never
    // turns a slow answer into a retry.
    let b = BootBox::new(
        "boot-imds-token",
        "sources = [\"imds\"]\n[imds]\nretries = 0\ntimeout_ms = 20000\ndeadline_ms = 120000\n",
    );
    let ep = imds.endpoint();
    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep.as_str())];
    let o = b.boot_env(&["tags"], &env);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("\"K7\"\t\"v7\"\timds"), "{}", o.stdout);
    // instance-id, the list, 8 values: one token for all ten GETs.
    assert_eq!(imds.counts(), (1, 10), "{:?}", imds.seen());
    assert_eq!(imds.ctl.lock().unwrap().ttls, ["21600"]);

    // The token is revoked on the fifth GET: one new token, then on.
    imds.clear();
    imds.set(|c| c.revoke_at_get = Some(5));
    let o = b.boot_env(&["tags"], &env);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("\"K7\"\t\"v7\"\timds"), "{}", o.stdout);
    assert_eq!(imds.counts(), (2, 11), "{:?}", imds.seen());
    assert!(o.stderr.contains("asking for a new one"), "{}", o.stderr);
    assert!(!o.stderr.contains("FAKE-TOKEN"));

    // A fresh token rejected as well: exit 3 after exactly one renewal.
    imds.clear();
    imds.set(|c| {
        c.revoke_at_get = None;
        c.reject_tokens = true;
    });
    let o = b.boot_env(&["tags", "--wait", "30"], &env);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("HTTP 401"), "{}", o.stderr);
    assert!(!o.stderr.contains("waiting for"), "a rejected token is not waited for: {}", o.stderr);
    assert_eq!(imds.counts(), (2, 2), "{:?}", imds.seen());
    assert!(!o.stderr.contains("FAKE-TOKEN"));
}

/// A token is renewed before it expires, within one fetch: with
/// `token_ttl_s = 1` it is used until 0.9 s after it was asked for, and
/// every request of this fake takes at least 0.4 s, so the fourth GET needs
/// a new one (a slower machine only needs more).
#[test]
fn imds_token_is_renewed_shortly_before_its_ttl() {
    let imds = FakeImds::start(&[("A", "1"), ("B", "2"), ("C", "3")], "i-0ttl");
    let b = BootBox::new(
        "boot-imds-ttl",
        "sources = [\"imds\"]\n[imds]\nretries = 0\ntoken_ttl_s = 1\ndeadline_ms = 120000\n",
    );
    imds.set(|c| c.delay_ms = 400);
    let ep = imds.endpoint();
    let o = b.boot_env(&["tags"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep.as_str())]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("\"C\"\t\"3\"\timds"), "{}", o.stdout);
    let (puts, gets) = imds.counts();
    assert!(puts >= 2 && gets == 5, "{:?}", imds.seen());
    let c = imds.ctl.lock().unwrap();
    assert!(c.ttls.iter().all(|t| t == "1"), "{:?}", c.ttls);
    // Renewed ahead of time, never after a 401: every GET had a valid token.
    assert!(!o.stderr.contains("asking for a new one"), "{}", o.stderr);
}

/// One deadline bounds the whole fetch, however many tags and however
/// slowly each answers within its own timeout.
#[test]
fn imds_whole_fetch_has_one_deadline() {
    let tags: Vec<(String, String)> = (0..40).map(|i| (format!("K{i:02}"), "v".to_string())).collect();
    let refs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let imds = FakeImds::start(&refs, "i-0slow");
    let b = BootBox::new(
        "boot-imds-deadline",
        "sources = [\"imds\"]\n[imds]\nretries = 0\ntimeout_ms = 2000\ndeadline_ms = 1500\n",
    );
    imds.set(|c| c.delay_ms = 150);
    let ep = imds.endpoint();
    let o = b.boot_env(&["tags"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep.as_str())]);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("fetch deadline of 1500 ms passed"), "{}", o.stderr);
    let (_, gets) = imds.counts();
    assert!(gets < 42, "the fetch went on past its deadline: {gets} GETs");
    assert!(o.stdout.is_empty());
}

/// `wait_s` in boot.toml: 5xx answers are waited out with a logged backoff;
/// without waiting, the first 503 is exit 3 with that error.
#[test]
fn imds_wait_rides_out_5xx() {
    let imds = FakeImds::start(&[("Mode", "production"), ("Service", "worker")], "i-0wait");
    let b = BootBox::new("boot-imds-5xx", "sources = [\"imds\"]\nwait_s = 120\n[imds]\nretries = 0\n");
    let ep = imds.endpoint();
    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep.as_str())];
    imds.set(|c| c.fail_next = 4);
    let o = b.boot_env(&["tags"], &env);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("\"Service\"\t\"worker\"\timds"), "{}", o.stdout);
    let waits = o.stderr.lines().filter(|l| l.starts_with("boot: waiting for instance metadata at ")).count();
    assert!(waits >= 1, "{}", o.stderr);
    assert!(o.stderr.contains("HTTP 503") && o.stderr.contains("giving up in"), "{}", o.stderr);
    assert!(o.stderr.contains("answered after"), "{}", o.stderr);
    // -vv: every request and its status, never the token.
    let o = b.boot_env(&["-vv", "tags"], &env);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        o.stderr.contains("boot: trace: instance metadata: GET /latest/meta-data/tags/instance: HTTP 200, "),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("FAKE-TOKEN"), "{}", o.stderr);
    // -q hides the waiting lines, not the result.
    imds.set(|c| c.fail_next = 2);
    let o = b.boot_env(&["-q", "tags"], &env);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    // --wait 0 wins over wait_s: the first 503 is final.
    imds.set(|c| c.fail_next = 1);
    let o = b.boot_env(&["tags", "--wait", "0"], &env);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("HTTP 503"), "{}", o.stderr);
    assert!(!o.stderr.contains("waiting for"), "{}", o.stderr);
}

/// `--wait`: a metadata service that appears later is waited for; one that
/// never does is exit 3 with the last error; tags that are not enabled are
/// exit 4 at once, naming the fix, however long boot may wait.
#[test]
fn imds_wait_for_an_absent_service() {
    let b = BootBox::new("boot-imds-absent", "sources = [\"imds\"]\n[imds]\nretries = 0\n");
    let port = support::free_port();
    let ep = format!("http://127.0.0.1:{port}");
    let err = b.scratch.join("absent.stderr");
    let mut c = std::process::Command::new(harness::ours("boot"));
    c.arg("--root").arg(&b.root).args(["tags", "--wait", "120"]);
    c.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &ep).stdout(std::process::Stdio::piped());
    let mut p = harness::Proc::spawn_logging(&mut c, &err);
    harness::wait_until(Duration::from_secs(60), "boot to say it waits for metadata", || {
        harness::read(&err).contains(&format!("waiting for instance metadata at {ep}"))
    });
    assert!(harness::read(&err).contains("refused"), "{}", harness::read(&err));
    let imds = FakeImds::start_on(port, &[("Mode", "review")], "i-0late");
    let st = p.wait_timeout(Duration::from_secs(60)).expect("boot did not finish once metadata answered");
    assert_eq!(st.code(), Some(0), "{}", harness::read(&err));
    assert!(harness::read(&err).contains("answered after"), "{}", harness::read(&err));
    assert!(imds.counts().1 >= 2);

    // Tags disabled: exit 4 at once, whatever --wait says.
    imds.set(|c| c.tags_enabled = false);
    let o = b.boot_env(&["tags", "--wait", "600"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep.as_str())]);
    assert_eq!(o.code, Some(4), "{}", o.stderr);
    assert!(o.stderr.contains("InstanceMetadataTags=enabled"), "{}", o.stderr);
    assert!(!o.stderr.contains("waiting for"), "{}", o.stderr);
    drop(imds);

    // Never there: exit 3 after the wait, with the last error.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let o = b.boot_env(&["tags", "--wait", "2"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", dead.as_str())]);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    let last = o.stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("boot: fatal: no instance metadata service after waiting 2 s")
            && last.contains("refused"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.is_empty());
    assert!(!b.root.join("var").exists(), "tags writes nothing");
}

/// Hostile values are refused before anything is written, on a clean box
/// and on a box with a running set; nothing they contain executes.
#[test]
fn hostile_tags_are_rejected_before_any_write() {
    let mut b = BootBox::new("boot-hostile", "sources = [\"env\"]");
    let long = "x".repeat(300);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "../../etc")],
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "web;touch /tmp/boot-pwned")],
        vec![
            ("BOOT_TAG_Mode", "production"),
            ("BOOT_TAG_Service", "worker"),
            ("BOOT_TAG_Component", "$(id)"),
        ],
        vec![("BOOT_TAG_Mode", "Review")],
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "web'\"")],
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker"), ("BOOT_TAG_Team", &long)],
        vec![
            ("BOOT_TAG_Mode", "production"),
            ("BOOT_TAG_Service", "worker"),
            ("BOOT_TAG_Environment", "production\nx"),
        ],
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker"), ("BOOT_TAG_Team", "a\nb")],
        vec![("BOOT_TAG_Service", "worker")],
    ];
    let check_all = |b: &BootBox| {
        for tags in &cases {
            let tree = b.tree();
            let o = b.boot_env(&["up"], tags);
            assert_eq!(o.code, Some(2), "{tags:?} was not rejected: {}", o.stderr);
            assert!(o.stderr.contains("invalid tags"), "{}", o.stderr);
            assert_eq!(b.tree(), tree, "{tags:?}: something was written");
            assert!(!std::path::Path::new("/tmp/boot-pwned").exists());
        }
    };
    check_all(&b);
    assert_eq!(
        b.tree(),
        vec![b.root.join("etc"), b.root.join("etc/boot"), b.root.join("etc/boot/boot.toml")]
    );
    b.start_runsvdir();
    let good = [("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker")];
    assert_eq!(b.boot_env(&["up"], &good).code, Some(0));
    let pid = b.pid("worker");
    check_all(&b);
    assert_eq!(b.pid("worker"), pid);
    b.ok(&["down"]);
    b.assert_clean();
}

/// Each file format, the merge order (later wins), provenance, optional
/// sources, and the autoscaling group deriving the service.
#[test]
fn sources_formats_and_precedence() {
    let b = BootBox::new("boot-sources", "instance_id = \"i-1\"\nasg_service = \"prod-{service}-asg\"");
    let describe = b.scratch.join("describe.json");
    std::fs::write(
        &describe,
        r#"{"Tags":[
          {"Key":"Mode","ResourceId":"i-1","ResourceType":"instance","Value":"production"},
          {"Key":"Owner","ResourceId":"i-1","ResourceType":"instance","Value":"alice"},
          {"Key":"Mode","ResourceId":"i-2","ResourceType":"instance","Value":"staging"},
          {"Key":"Cost","ResourceId":"prod-worker-asg","ResourceType":"auto-scaling-group","Value":"1","PropagateAtLaunch":true}]}"#,
    )
    .unwrap();
    let legacy = b.scratch.join("legacy.txt");
    std::fs::write(&legacy, "TAG\ti-1\tinstance\tOwner\tbob\nTAG\ti-2\tinstance\tOwner\tcarol\n").unwrap();
    let legacy_aws = b.scratch.join("legacy-aws.txt");
    std::fs::write(&legacy_aws, "TAG\tinstance\ti-1\tOwner\tbob\nTAG\tinstance\ti-2\tOwner\tcarol\n")
        .unwrap();
    let d = format!("describe-tags:{}", describe.display());
    let l = format!("legacy:{}", legacy.display());
    let la = format!("legacy:{}", legacy_aws.display());
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> =
            ["--source", "static", "--source", &d, "--source", &l].map(String::from).to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |a: Vec<String>, env: &[(&str, &str)]| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        b.boot_env(&refs, env)
    };
    let o = run(args(&["--source", "env", "tags"]), &[("BOOT_TAG_Team", "envteam")]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let line =
        |k: &str| o.stdout.lines().find(|l| l.starts_with(&format!("{k:?}\t"))).unwrap_or("").to_string();
    assert_eq!(line("Mode"), format!("\"Mode\"\t\"production\"\t{d}"));
    assert_eq!(line("Owner"), format!("\"Owner\"\t\"bob\"\t{l}"));
    assert_eq!(line("Team"), "\"Team\"\t\"envteam\"\tenv");
    assert_eq!(line("Cost"), format!("\"Cost\"\t\"1\"\t{d}"));
    assert_eq!(
        line("aws:autoscaling:groupName"),
        format!("\"aws:autoscaling:groupName\"\t\"prod-worker-asg\"\t{d}")
    );
    // Without the env source the static value of Team stands.
    let o = run(args(&["tags"]), &[("BOOT_TAG_Team", "envteam")]);
    assert!(o.stdout.contains("\"Team\"\t\"demo\"\tstatic:"), "{}", o.stdout);
    // Legacy text in the AWS tools' column order parses the same.
    let o2 = run(["--source", &la, "tags", "--json"].map(String::from).to_vec(), &[]);
    assert!(
        o2.stdout.contains("\"Owner\":{\"source\":") && o2.stdout.contains("\"value\":\"bob\""),
        "{}",
        o2.stdout
    );
    // The autoscaling group names the service when no Service tag exists.
    let o = run(args(&["plan"]), &[]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("service: worker\ncomponent: default\n"), "{}", o.stdout);
    // Optional sources are skipped when unreachable; required ones fail.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", dead.as_str())];
    let o = run(["--source", "static", "--source", "imds?", "tags"].map(String::from).to_vec(), &env);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("\"Mode\"\t\"review\""), "{}", o.stdout);
    let o = run(["--source", "static", "--source", "imds", "tags"].map(String::from).to_vec(), &env);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    // Several instances in a file without a known id is refused.
    let no_id = BootBox::new("boot-sources-noid", "");
    let o = no_id.boot(&["--source", &d, "tags"]);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("several instances"), "{}", o.stderr);
    assert!(!b.root.join("var").exists(), "tags and plan write nothing");
}

/// boot never writes through a symlink planted where it writes: a log
/// user's `config` link is replaced, not followed; a planted `sv` link is
/// refused.
#[test]
fn planted_symlinks_are_not_followed() {
    let mut b = BootBox::new("boot-symlinks", "sources = [\"env\"]");
    let victim = b.scratch.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let logdir = b.root.join("var/log/boot/worker");
    std::fs::create_dir_all(&logdir).unwrap();
    std::os::unix::fs::symlink(&victim, logdir.join("config")).unwrap();
    b.start_runsvdir();
    let tags = [("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker")];
    assert_eq!(b.boot_env(&["up"], &tags).code, Some(0));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(logdir.join("config")).unwrap().file_type().is_file());
    b.ok(&["down"]);
    let elsewhere = b.scratch.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(b.root.join("var/lib/boot")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, b.root.join("var/lib/boot/sv")).unwrap();
    let o = b.boot_env(&["up"], &tags);
    assert_eq!(o.code, Some(111), "{}", o.stderr);
    assert!(o.stderr.contains("not a directory"), "{}", o.stderr);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "wrote through the planted link");
}

/// A set that does not become ready is rolled back: to the previous
/// generation when there is one, to a clean box on a first `up`.
#[test]
fn failed_apply_rolls_back() {
    let mut b = BootBox::new("boot-rollback", "sources = [\"env\"]");
    let tags = [("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker")];
    // No runsvdir scans the set: nothing can start, back to a clean box.
    b.write_config("sources = [\"env\"]\nstart_timeout_s = 2");
    let o = b.boot_env(&["up"], &tags);
    assert_eq!(o.code, Some(6), "{}", o.stderr);
    assert!(o.stderr.contains("is a runsvdir scanning") && o.stderr.contains("clean box"), "{}", o.stderr);
    assert_eq!(b.ok(&["status"]).stdout, "clean\n");
    assert!(!b.root.join("var/lib/boot/sv").exists() && !b.root.join("var/lib/boot/current").exists());

    b.write_config("sources = [\"env\"]");
    b.start_runsvdir();
    assert_eq!(b.boot_env(&["up"], &tags).code, Some(0));
    let first = std::fs::canonicalize(b.svc("worker")).unwrap();
    // The new worker never passes its check.
    let manifest = b.catalogue.join("worker/service.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{text}\n[check]\ncommand = [\"/bin/false\"]\ntimeout_s = 2\n"))
        .unwrap();
    let o = b.boot_env(&["up"], &tags);
    assert_eq!(o.code, Some(6), "{}", o.stderr);
    assert!(
        o.stderr.contains("worker is not ready") && o.stderr.contains("rolled back to g000001"),
        "{}",
        o.stderr
    );
    assert_eq!(std::fs::read_link(b.current()).unwrap(), std::path::Path::new("sets/g000001"));
    assert_eq!(std::fs::canonicalize(b.svc("worker")).unwrap(), first);
    b.pid("worker");
    assert!(b.ok(&["status"]).stdout.starts_with("g000001 production"));
    assert_eq!(
        std::fs::read_dir(b.root.join("var/lib/boot/sv")).unwrap().count(),
        1,
        "the failed dir is collected"
    );
    b.ok(&["down"]);
    b.assert_clean();
}
