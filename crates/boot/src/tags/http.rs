//! A minimal HTTP/1.1 client over `std::net::TcpStream`, enough for the
//! instance metadata service: one request per connection (`Connection:
//! close`), hard connect and total deadlines, no redirects, no proxies, a
//! 64 KiB cap on bodies, `Content-Length`, chunked or read-to-EOF bodies.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// A response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes (de-chunked).
    pub body: Vec<u8>,
}

/// Sends one request and reads the response, all before `deadline`; the
/// connect alone is also bounded by `connect_timeout`.
pub fn request(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    connect_timeout: Duration,
    deadline: Instant,
) -> io::Result<Response> {
    let left = || deadline.saturating_duration_since(Instant::now());
    let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "timed out");
    let connect = connect_timeout.min(left());
    if connect.is_zero() {
        return Err(timed_out());
    }
    let mut s = TcpStream::connect_timeout(&addr, connect)?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "PUT" || method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    let write = left();
    if write.is_zero() {
        return Err(timed_out());
    }
    s.set_write_timeout(Some(write))?;
    s.write_all(req.as_bytes())?;
    let raw = read_until_deadline(&mut s, deadline)?;
    parse_response(&raw)
}

fn read_until_deadline(s: &mut TcpStream, deadline: Instant) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "response timed out"));
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf) {
            Ok(0) => return Ok(raw),
            Ok(n) => {
                raw.extend_from_slice(buf.get(..n).unwrap_or_default());
                if raw.len() > MAX_BODY + 8192 {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "response too large"));
                }
                if response_complete(&raw) {
                    return Ok(raw);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "response timed out"));
            }
            Err(e) => return Err(e),
        }
    }
}

/// True when `raw` holds a whole response with a Content-Length body
/// (lets us return before the server closes).
fn response_complete(raw: &[u8]) -> bool {
    let Some(end) = find(raw, b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|n| (end + 4).checked_add(n).is_some_and(|total| raw.len() >= total))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Parses a complete raw response.
pub fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let end = find(raw, b"\r\n\r\n").ok_or_else(|| bad("truncated response head"))?;
    let head =
        std::str::from_utf8(raw.get(..end).unwrap_or_default()).map_err(|_| bad("bad response head"))?;
    let rest = raw.get(end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1.x response"));
    }
    let status: u16 = parts.next().and_then(|c| c.parse().ok()).ok_or_else(|| bad("bad status line"))?;
    let mut length = None;
    let mut chunked = false;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let k = k.trim().to_ascii_lowercase();
        if k == "content-length" {
            length = Some(v.trim().parse::<usize>().map_err(|_| bad("bad content-length"))?);
        } else if k == "transfer-encoding" && v.trim().eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n).ok_or_else(|| bad("truncated body"))?.to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() > MAX_BODY {
        return Err(bad("body too large"));
    }
    Ok(Response { status, body })
}

fn dechunk(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = find(rest, b"\r\n").ok_or_else(|| bad("truncated chunk"))?;
        let size_text =
            std::str::from_utf8(rest.get(..eol).unwrap_or_default()).map_err(|_| bad("bad chunk"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        rest = rest.get(eol + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(rest.get(..size).ok_or_else(|| bad("truncated chunk"))?);
        if out.len() > MAX_BODY {
            return Err(bad("body too large"));
        }
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bodies() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").expect("length");
        assert_eq!((r.status, r.body), (200, b"abc".to_vec()));
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\n\r\nnope").expect("eof");
        assert_eq!((r.status, r.body), (404, b"nope".to_vec()));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!(r.body, b"abcde");
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc").is_err());
        assert!(response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"));
        assert!(!response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na"));
        // A hostile length neither overflows nor panics.
        let huge = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\nab", usize::MAX);
        assert!(!response_complete(huge.as_bytes()));
        assert!(parse_response(huge.as_bytes()).is_err());
        let chunk = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\nab", usize::MAX);
        assert!(parse_response(chunk.as_bytes()).is_err());
        assert!(parse_response(b"HTTP/1.1 99999999 OK\r\n\r\n").is_err());
    }
}
