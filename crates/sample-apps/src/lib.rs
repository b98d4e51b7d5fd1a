//! The sample stack that `boot`'s catalogue (`sv-templates/`) runs: a small
//! web service and a worker, written with the standard library only so they
//! build on any machine that has Rust.
//!
//! Both read their configuration from the environment, as 12-factor services
//! do under `chpst -e`: `REDIS_HOST`/`REDIS_PORT` for Redis, the libpq
//! variables `PGHOST`/`PGPORT`/`PGUSER`/`PGDATABASE` (plus `PSQL`, the psql
//! binary) for PostgreSQL. Redis is spoken directly (RESP is a few lines);
//! PostgreSQL is queried by running `psql` with an argv, never a shell.
//!
//! Both print one `event=<what> t=<unix nanos> pid=<pid>` line on start and
//! (the worker) on stop, so tests can order starts and stops of different
//! services from their logs.
#![deny(missing_docs)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch.
pub fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Prints `<prog>: event=<what> t=<nanos> pid=<pid>` on stdout and flushes.
pub fn event(prog: &str, what: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{prog}: event={what} t={} pid={}", now_nanos(), std::process::id());
    let _ = out.flush();
}

/// Where Redis is, from `REDIS_HOST` (default 127.0.0.1) and `REDIS_PORT`;
/// `None` when no port is configured.
pub fn redis_addr() -> Option<String> {
    let port = std::env::var("REDIS_PORT").ok().filter(|p| !p.is_empty())?;
    let host = std::env::var("REDIS_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    Some(format!("{host}:{port}"))
}

/// One RESP reply, as much of it as the samples need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `:42`
    Integer(i64),
    /// `$n` bulk string, `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `-ERR ...`
    Error(String),
}

/// Encodes a command as a RESP array of bulk strings.
pub fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one reply (status, error, integer or bulk string).
pub fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']);
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad RESP reply");
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    match kind {
        "+" => Ok(Reply::Status(rest.to_string())),
        "-" => Ok(Reply::Error(rest.to_string())),
        ":" => rest.parse().map(Reply::Integer).map_err(|_| bad()),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                return Ok(Reply::Bulk(None));
            }
            let n = usize::try_from(n).map_err(|_| bad())?;
            let mut buf = vec![0u8; n + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(n);
            Ok(Reply::Bulk(Some(buf)))
        }
        _ => Err(bad()),
    }
}

/// A connection to Redis with short timeouts.
#[derive(Debug)]
pub struct Redis {
    reader: BufReader<TcpStream>,
}

impl Redis {
    /// Connects to `addr` (host:port).
    pub fn connect(addr: &str) -> io::Result<Redis> {
        let sa = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let s = TcpStream::connect_timeout(&sa, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.set_write_timeout(Some(Duration::from_secs(2)))?;
        Ok(Redis { reader: BufReader::new(s) })
    }

    /// Sends one command and reads its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        self.reader.get_mut().write_all(&resp_command(args))?;
        read_reply(&mut self.reader)
    }
}

/// Runs `psql -XAtq -c <sql>` (the binary from `PSQL`, default
/// `/usr/bin/psql`) with the libpq variables of our environment; returns its
/// trimmed output or the error text.
pub fn psql(sql: &str) -> Result<String, String> {
    let bin = std::env::var("PSQL").unwrap_or_else(|_| "/usr/bin/psql".into());
    let out = Command::new(&bin)
        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{bin}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// True when PostgreSQL is configured (`PGPORT` set).
pub fn postgres_configured() -> bool {
    std::env::var("PGPORT").is_ok_and(|p| !p.is_empty())
}

/// Value of `--name VALUE` in `args`, if present.
pub fn flag_value(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// True when `--name` is in `args`.
pub fn has_flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

/// Reports readiness s6-style (runit-rs's runsv `notification-fd`,
/// docs/health.md): writes a newline on descriptor `spec` (3 or more) and
/// closes it, so that no child inherits it.
pub fn notify_ready_fd(spec: &str) -> Result<(), String> {
    use std::os::fd::FromRawFd;
    let fd: i32 =
        spec.parse().ok().filter(|&fd| fd >= 3).ok_or_else(|| format!("bad descriptor {spec:?}"))?;
    // SAFETY: F_GETFD only queries the descriptor table.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(format!("descriptor {fd}: {}", io::Error::last_os_error()));
    }
    // SAFETY: `fd` is open (checked above) and nothing else in this
    // program uses it; the File closes it when dropped.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(b"\n").map_err(|e| format!("descriptor {fd}: {e}"))
}

/// A minimal HTTP/1.1 GET against `addr`: returns (status, body).
pub fn http_get(addr: &str, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
    let sa = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
    let mut s = TcpStream::connect_timeout(&sa, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.take(1 << 20).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_round_trip() {
        assert_eq!(resp_command(&[b"INCR", b"k"]), b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n".to_vec());
        let mut r = &b":42\r\n$3\r\nabc\r\n$-1\r\n+OK\r\n-ERR no\r\n"[..];
        assert_eq!(read_reply(&mut r).ok(), Some(Reply::Integer(42)));
        assert_eq!(read_reply(&mut r).ok(), Some(Reply::Bulk(Some(b"abc".to_vec()))));
        assert_eq!(read_reply(&mut r).ok(), Some(Reply::Bulk(None)));
        assert_eq!(read_reply(&mut r).ok(), Some(Reply::Status("OK".into())));
        assert_eq!(read_reply(&mut r).ok(), Some(Reply::Error("ERR no".into())));
        let mut bad = &b"?x\r\n"[..];
        assert!(read_reply(&mut bad).is_err());
    }

    #[test]
    fn readiness_descriptor() {
        let (r, w) = {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for two descriptors.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            (fds[0], fds[1])
        };
        notify_ready_fd(&w.to_string()).expect("notify");
        // SAFETY: `r` is the read end just created, owned here.
        let mut read = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(r) };
        let mut got = Vec::new();
        read.read_to_end(&mut got).expect("read");
        assert_eq!(got, b"\n", "a newline, then end of file: the write end was closed");
        assert!(notify_ready_fd("2").is_err());
        assert!(notify_ready_fd("x").is_err());
        assert!(notify_ready_fd("1000").is_err(), "not open");
    }

    #[test]
    fn flags() {
        let a: Vec<String> = ["--listen", "1.2.3.4:5", "--x"].iter().map(|s| s.to_string()).collect();
        assert_eq!(flag_value(&a, "--listen").as_deref(), Some("1.2.3.4:5"));
        assert!(has_flag(&a, "--x"));
        assert_eq!(flag_value(&a, "--x"), None);
    }
}
