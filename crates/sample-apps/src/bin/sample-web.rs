//! `sample-web --listen HOST:PORT [--ready-fd N]` serves the review
//! stack's page; with `--ready-fd` it writes a newline on descriptor N once
//! it listens (runit-rs's `notification-fd`, docs/health.md).
//! `sample-web --check 127.0.0.1:PORT` is its readiness check (GET /health).
//!
//! Routes: `/health` (ok), `/env` (the `BOOT_*` and `APP_*` variables,
//! verbatim, one `NAME=value` per line), `/` (a page that reads both
//! databases: a Redis counter and a PostgreSQL query).

use sample_apps::{
    Redis, Reply, event, flag_value, http_get, notify_ready_fd, postgres_configured, psql, redis_addr,
};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(addr) = flag_value(&args, "--check") {
        let ok = matches!(http_get(&addr, "/health", Duration::from_secs(2)), Ok((200, _)));
        std::process::exit(if ok { 0 } else { 1 });
    }
    let Some(listen) = flag_value(&args, "--listen") else {
        eprintln!("usage: sample-web --listen HOST:PORT [--ready-fd N] | --check HOST:PORT");
        std::process::exit(100);
    };
    let listener = match TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sample-web: fatal: unable to listen on {listen}: {e}");
            std::process::exit(111);
        }
    };
    event("sample-web", "start");
    println!("sample-web: listening on {listen}");
    if let Some(fd) = flag_value(&args, "--ready-fd") {
        match notify_ready_fd(&fd) {
            Ok(()) => event("sample-web", "ready"),
            Err(e) => eprintln!("sample-web: warning: unable to report readiness: {e}"),
        }
    }
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || serve(conn));
    }
}

fn serve(mut conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/health" => ("200 OK", "ok\n".to_string()),
        "/env" => ("200 OK", env_listing()),
        "/" => ("200 OK", page()),
        _ => ("404 Not Found", "not found\n".to_string()),
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// `BOOT_*` and `APP_*` variables, sorted, verbatim.
fn env_listing() -> String {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .filter(|(k, _)| k.starts_with("BOOT_") || k.starts_with("APP_"))
        .collect();
    vars.sort();
    vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

fn page() -> String {
    let mut out = String::from("sample-web: the review stack\n\n");
    out.push_str(&env_listing());
    out.push('\n');
    out.push_str(&format!("redis: {}\n", redis_line()));
    out.push_str(&format!("postgres: {}\n", postgres_line()));
    out
}

fn redis_line() -> String {
    let Some(addr) = redis_addr() else { return "not configured".into() };
    let result = Redis::connect(&addr).and_then(|mut r| {
        let hits = r.call(&[b"INCR", b"web:hits"])?;
        let beats = r.call(&[b"GET", b"worker:beats"])?;
        Ok((hits, beats))
    });
    match result {
        Ok((Reply::Integer(h), beats)) => {
            let beats = match beats {
                Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
                _ => "0".into(),
            };
            format!("ok hits={h} worker_beats={beats}")
        }
        Ok((other, _)) => format!("error {other:?}"),
        Err(e) => format!("error {e}"),
    }
}

fn postgres_line() -> String {
    if !postgres_configured() {
        return "not configured".into();
    }
    match psql("select 'ok server_version_num=' || current_setting('server_version_num')") {
        Ok(v) => v,
        Err(e) => format!("error {}", e.lines().next().unwrap_or("")),
    }
}
