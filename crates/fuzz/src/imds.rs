//! boot's instance metadata client against a metadata service that says
//! whatever the fuzzer wants: an in-process HTTP server on 127.0.0.1
//! answers the token, instance-id, tag-list and per-key requests with raw
//! responses cut from the input. Whatever comes back must be refused with
//! an error or give tags that then go through the same plan-and-render
//! checks as every other source.

use crate::boot::plan_and_render;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Mutex, OnceLock};

/// The raw responses the server hands out, by request kind.
#[derive(Default)]
struct Script {
    token: Vec<u8>,
    instance_id: Vec<u8>,
    list: Vec<u8>,
    values: Vec<Vec<u8>>,
    served: usize,
}

static SCRIPT: Mutex<Option<Script>> = Mutex::new(None);

fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = l.local_addr().expect("local address");
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut s) = conn else { continue };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = answer(&req);
                let _ = s.write_all(&answer);
            }
        });
        addr
    })
}

fn answer(req: &[u8]) -> Vec<u8> {
    let line = req.split(|&b| b == b'\r').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let mut guard = SCRIPT.lock().unwrap_or_else(|e| e.into_inner());
    let Some(s) = guard.as_mut() else { return b"HTTP/1.1 500 x\r\n\r\n".to_vec() };
    if text.contains("/latest/api/token") {
        s.token.clone()
    } else if text.contains("/meta-data/instance-id") {
        s.instance_id.clone()
    } else if text.contains("/tags/instance/") {
        let i = s.served;
        s.served += 1;
        s.values.get(i).cloned().unwrap_or_else(|| b"HTTP/1.1 404 Not Found\r\n\r\n".to_vec())
    } else if text.contains("/tags/instance") {
        s.list.clone()
    } else {
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
    }
}

/// Wraps `body` as a response unless the piece starts with `H` (then it is
/// sent raw, status line and all).
fn response(piece: &[u8]) -> Vec<u8> {
    if piece.first() == Some(&b'H') {
        return piece.to_vec();
    }
    let (status, body) = match piece.split_first() {
        Some((&s, rest)) => (
            match s % 8 {
                0 => 404,
                1 => 401,
                2 => 500,
                3 => 403,
                _ => 200,
            },
            rest,
        ),
        None => (200, piece),
    };
    let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Input: pieces separated by NUL: token, instance-id, tag list, values.
pub fn imds(data: &[u8]) {
    let mut pieces = data.split(|&b| b == 0).map(response);
    let script = Script {
        token: pieces.next().unwrap_or_default(),
        instance_id: pieces.next().unwrap_or_default(),
        list: pieces.next().unwrap_or_default(),
        values: pieces.take(60).collect(),
        served: 0,
    };
    *SCRIPT.lock().unwrap_or_else(|e| e.into_inner()) = Some(script);
    let cfg = boot::config::Imds {
        endpoint: format!("http://{}", server()),
        connect_timeout_ms: 500,
        timeout_ms: 500,
        retries: 0,
        ..boot::config::Imds::default()
    };
    if let Ok(snap) = boot::tags::imds::fetch(&cfg, None, false, std::time::Duration::ZERO) {
        plan_and_render(snap, "imds");
    }
}
