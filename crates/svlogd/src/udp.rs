//! UDP copies of selected lines (`u`/`U` config lines, spec svlogd.md §5).
//!
//! Each selected line becomes one datagram `[stamp ][prefix]line[...]\n`
//! (the line cut at `len`, `...` when it was cut), sent without blocking.
//! When no socket can be had or the send fails, runit writes
//! `warning: no udp socket available: <datagram>` or
//! `warning: failure sending through udp: <datagram>` into the *log
//! directory* instead, so the line is not lost; so do we.
//!
//! runit opens a new socket for every line; we keep one non-blocking socket
//! per directory and open it again only after a failure to get one. The
//! datagrams are the same; only their source port no longer changes.

use crate::config::UdpTarget;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

/// Why a datagram was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpFailure {
    /// No socket could be created.
    NoSocket,
    /// `sendto` failed.
    Send,
}

impl UdpFailure {
    /// The text runit writes into the log directory before the datagram.
    pub fn warning(self) -> &'static [u8] {
        match self {
            UdpFailure::NoSocket => b"warning: no udp socket available: ",
            UdpFailure::Send => b"warning: failure sending through udp: ",
        }
    }
}

/// A directory's UDP destination and socket.
#[derive(Debug)]
pub struct UdpSender {
    target: SocketAddrV4,
    socket: Option<UdpSocket>,
}

impl UdpSender {
    /// A sender to `target` (the socket is opened on first use).
    pub fn new(target: UdpTarget) -> Self {
        UdpSender { target: SocketAddrV4::new(Ipv4Addr::from(target.addr), target.port), socket: None }
    }

    /// Sends one datagram.
    pub fn send(&mut self, datagram: &[u8]) -> Result<(), UdpFailure> {
        if self.socket.is_none() {
            let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
                .map_err(|_| UdpFailure::NoSocket)?;
            s.set_nonblocking(true).map_err(|_| UdpFailure::NoSocket)?;
            self.socket = Some(s);
        }
        let socket = self.socket.as_ref().ok_or(UdpFailure::NoSocket)?;
        match socket.send_to(datagram, self.target) {
            Ok(_) => Ok(()),
            Err(_) => Err(UdpFailure::Send),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_loopback() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = rx.local_addr().expect("addr").port();
        let mut tx = UdpSender::new(UdpTarget { addr: [127, 0, 0, 1], port });
        tx.send(b"hello\n").expect("send");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"hello\n");
    }

    #[test]
    fn broadcast_without_permission_fails() {
        let mut tx = UdpSender::new(UdpTarget { addr: [255, 255, 255, 255], port: 9 });
        assert_eq!(tx.send(b"x\n"), Err(UdpFailure::Send));
        assert_eq!(UdpFailure::Send.warning(), b"warning: failure sending through udp: ");
    }
}
