//! The readiness channels of the main service (runit-rs extension,
//! docs/health.md): s6's notification pipe and systemd's notify socket.
//! Only services that opt in get either; the driver polls their read ends
//! in its mio loop like the control FIFOs, so waiting for readiness costs no
//! wake-up.
//!
//! * `notification-fd`: for each `./run`, a pipe whose write end the child
//!   gets as descriptor N ([`NotifyPipe`]). A newline means ready; runsv
//!   then closes its end, as s6-supervise does.
//! * `notify-socket`: one unix datagram socket for runsv's life, bound in
//!   the **abstract** namespace with a kernel-chosen name (autobind), passed
//!   as `NOTIFY_SOCKET=@<name>` ([`NotifySocket`]). A file under
//!   `supervise/` would be out of reach for services that drop privileges
//!   (`supervise/` is 0700) and would fail on long paths; every sd_notify
//!   implementation understands `@`. Anyone in the network namespace can
//!   send to it, so the sender's pid (`SO_PASSCRED`) must be the current
//!   `./run`, a member of its process group, or one of its descendants
//!   ([`belongs_to`]); descriptors passed along are closed at once. A
//!   sender that is already gone when runsv looks (`systemd-notify
//!   --ready` run from a script exits at once; systemd knows the same race)
//!   is accepted when its uid is root's or `./run`'s: such a process could
//!   signal or trace the service anyway.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// A datagram longer than this is dropped (systemd's own limit is close).
const DATAGRAM_MAX: usize = 4096;
/// How far up the parent chain a sender is looked for.
const ANCESTRY_MAX: usize = 16;

/// Runsv's end of one `./run`'s notification pipe.
#[derive(Debug)]
pub struct NotifyPipe {
    /// Non-blocking, close-on-exec read end.
    pub read: OwnedFd,
}

/// What reading the notification pipe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeNews {
    /// Nothing more for now.
    Nothing,
    /// A newline arrived: ready.
    Ready,
    /// End of file (every writer closed it) or an error, without a newline.
    Closed,
}

/// Creates a notification pipe: `(runsv's read end, the child's write
/// end)`, both close-on-exec and numbered 3 or higher (so that setting up
/// the child's standard descriptors cannot clobber them).
pub fn pipe() -> io::Result<(NotifyPipe, OwnedFd)> {
    let (r, w) = runit_core::selfpipe::pipe(libc::O_CLOEXEC)?;
    let (r, w) = (above_stdio(r)?, above_stdio(w)?);
    set_nonblocking(r.as_raw_fd())?;
    Ok((NotifyPipe { read: r }, w))
}

fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on an open descriptor returns a new one.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl flag calls on an open descriptor.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl NotifyPipe {
    /// Reads everything available.
    pub fn read(&self) -> PipeNews {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: `buf` is a valid buffer of its length.
            let n = unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            match usize::try_from(n) {
                Ok(0) => return PipeNews::Closed,
                Ok(n) if buf.get(..n).is_some_and(|b| b.contains(&b'\n')) => return PipeNews::Ready,
                Ok(_) => {}
                Err(_) => {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::Interrupted => {}
                        io::ErrorKind::WouldBlock => return PipeNews::Nothing,
                        _ => return PipeNews::Closed,
                    }
                }
            }
        }
    }
}

/// runsv's notify socket.
#[derive(Debug)]
pub struct NotifySocket {
    fd: OwnedFd,
    /// `NOTIFY_SOCKET=@<name>`, ready for a child's environment.
    assignment: CString,
}

impl NotifySocket {
    /// Creates the socket (non-blocking, close-on-exec, `SO_PASSCRED`) and
    /// lets the kernel pick a unique abstract name.
    pub fn bind() -> io::Result<NotifySocket> {
        let ty = libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
        // SAFETY: plain system call.
        let raw = unsafe { libc::socket(libc::AF_UNIX, ty, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let one: libc::c_int = 1;
        // SAFETY: `one` lives across the call; the length matches.
        let r = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_PASSCRED,
                (&raw const one).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: an all-zero sockaddr_un is valid.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        // Autobind: an address of just the family asks for a fresh
        // abstract name.
        let family_len = size_of::<libc::sa_family_t>() as libc::socklen_t;
        // SAFETY: `addr` is a valid sockaddr_un at least `family_len` long.
        if unsafe { libc::bind(raw, (&raw const addr).cast(), family_len) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut len = size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // SAFETY: `addr` and `len` describe a writable sockaddr_un.
        if unsafe { libc::getsockname(raw, (&raw mut addr).cast(), &mut len) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let path_len = usize::try_from(len).unwrap_or(0).saturating_sub(size_of::<libc::sa_family_t>());
        // The name starts with a NUL byte (abstract); `@` stands for it.
        let name: Vec<u8> = addr.sun_path.iter().take(path_len).skip(1).map(|&c| c as u8).collect();
        if name.is_empty() || name.contains(&0) {
            return Err(io::Error::from_raw_os_error(libc::EADDRNOTAVAIL));
        }
        let mut text = b"NOTIFY_SOCKET=@".to_vec();
        text.extend_from_slice(&name);
        let assignment = CString::new(text).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        Ok(NotifySocket { fd, assignment })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// `NOTIFY_SOCKET=@<name>`.
    pub fn assignment(&self) -> &CString {
        &self.assignment
    }

    /// runsv's environment with `NOTIFY_SOCKET` set to this socket (any
    /// inherited value replaced), for `./run`: prepared for `execve`.
    pub fn environment(&self) -> runit_core::process::Environ {
        let mut env: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| k.as_bytes() != b"NOTIFY_SOCKET")
            .filter_map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        env.push(self.assignment.clone());
        runit_core::process::Environ::new(env)
    }

    /// Receives every pending datagram; calls `each(sender, bytes)` for
    /// those that came with credentials and fit the buffer.
    pub fn receive(&self, mut each: impl FnMut(Sender, &[u8])) {
        let mut buf = vec![0u8; DATAGRAM_MAX];
        loop {
            match self.receive_one(&mut buf) {
                Ok(Some((sender, len))) => {
                    if let (Some(sender), Some(bytes)) = (sender, buf.get(..len)) {
                        each(sender, bytes);
                    }
                }
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// One `recvmsg`: `Ok(None)` for a datagram that is dropped (too long),
    /// `Err(WouldBlock)` when there is none left.
    fn receive_one(&self, buf: &mut [u8]) -> io::Result<Option<(Option<Sender>, usize)>> {
        // Room for the credentials and some descriptors (which are closed).
        let mut control = [0u64; 32];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: an all-zero msghdr is valid; the pointers set below stay
        // alive across the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control) as _;
        let flags = libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC;
        // SAFETY: `msg` describes valid buffers.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, flags) };
        let len = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        let sender = credentials(&msg);
        if msg.msg_flags & libc::MSG_TRUNC != 0 {
            return Ok(None);
        }
        Ok(Some((sender, len)))
    }
}

/// Who sent a datagram (`SCM_CREDENTIALS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    /// Its pid.
    pub pid: u32,
    /// Its (real) uid.
    pub uid: u32,
}

/// The sender from the control messages; closes any descriptors that came
/// along.
fn credentials(msg: &libc::msghdr) -> Option<Sender> {
    let mut sender = None;
    // SAFETY: `msg` was filled by recvmsg; the CMSG macros walk its control
    // buffer within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let data = libc::CMSG_DATA(cmsg);
            let payload = (c.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_CREDENTIALS {
                if payload >= size_of::<libc::ucred>() {
                    let cred: libc::ucred = std::ptr::read_unaligned(data.cast());
                    sender = u32::try_from(cred.pid).ok().map(|pid| Sender { pid, uid: cred.uid });
                }
            } else if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_RIGHTS {
                for i in 0..payload / size_of::<libc::c_int>() {
                    let fd: libc::c_int = std::ptr::read_unaligned(data.cast::<libc::c_int>().add(i));
                    libc::close(fd);
                }
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    sender
}

/// `(ppid, pgrp)` of `pid`, from `/proc/<pid>/stat`.
fn parents(pid: u32) -> Option<(u32, u32)> {
    let st = runit_core::instance::proc_stat(pid).ok()?;
    Some((u32::try_from(st.ppid).ok()?, u32::try_from(st.pgrp).ok()?))
}

/// The real uid of `pid` (first field of `Uid:` in `/proc/<pid>/status`).
fn uid_of(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_ascii_whitespace().next()?.parse().ok()
}

/// True when `sender` is the `./run` with pid `run` (also its process
/// group, since runsv makes it a group leader), a member of that group, or
/// a descendant of it; or, when the sender is already gone, when it ran as
/// root or as `./run`'s user.
pub fn belongs_to(sender: Sender, run: u32) -> bool {
    if run == 0 {
        return false;
    }
    if sender.pid == run {
        return true;
    }
    let mut pid = sender.pid;
    for depth in 0..ANCESTRY_MAX {
        let Some((ppid, pgrp)) = parents(pid) else {
            return depth == 0 && (sender.uid == 0 || uid_of(run) == Some(sender.uid));
        };
        if pgrp == run || ppid == run {
            return true;
        }
        if ppid <= 1 {
            return false;
        }
        pid = ppid;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_reports_ready_on_newline_and_closed_on_eof() {
        let (p, w) = pipe().expect("pipe");
        assert!(p.read.as_raw_fd() > 2 && w.as_raw_fd() > 2);
        assert_eq!(p.read(), PipeNews::Nothing);
        runit_core::report::write_fd(w.as_raw_fd(), b"almost");
        assert_eq!(p.read(), PipeNews::Nothing);
        runit_core::report::write_fd(w.as_raw_fd(), b"\n");
        assert_eq!(p.read(), PipeNews::Ready);
        drop(w);
        assert_eq!(p.read(), PipeNews::Closed);
    }

    #[test]
    fn socket_receives_with_the_senders_pid() {
        let s = NotifySocket::bind().expect("bind");
        let text = s.assignment().to_str().expect("ascii").to_string();
        assert!(text.starts_with("NOTIFY_SOCKET=@") && text.len() > "NOTIFY_SOCKET=@".len(), "{text}");
        let name = &text["NOTIFY_SOCKET=@".len()..];
        // Send like sd_notify does: to the abstract address.
        let client = std::os::unix::net::UnixDatagram::unbound().expect("client");
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        client.send_to_addr(b"READY=1\nSTATUS=up", &addr).expect("send");
        client.send_to_addr(&vec![b'x'; DATAGRAM_MAX + 10], &addr).expect("send big");
        let mut got = Vec::new();
        s.receive(|sender, bytes| got.push((sender.pid, bytes.to_vec())));
        assert_eq!(got, [(std::process::id(), b"READY=1\nSTATUS=up".to_vec())], "the long one is dropped");
        let env = s.environment();
        assert_eq!(env.vars().iter().filter(|e| e.as_bytes().starts_with(b"NOTIFY_SOCKET=")).count(), 1);
    }

    #[test]
    fn membership_by_pid_group_or_ancestry() {
        let me = std::process::id();
        // SAFETY: plain system call.
        let uid = unsafe { libc::getuid() };
        let who = |pid| Sender { pid, uid };
        assert!(belongs_to(who(me), me));
        assert!(!belongs_to(who(me), 0));
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("sleep");
        let pid = child.id();
        assert!(belongs_to(who(pid), me), "a child of ./run");
        assert!(!belongs_to(who(me), pid), "not the other way round");
        let _ = child.kill();
        let _ = child.wait();
        // Gone already: trusted by uid only.
        assert!(belongs_to(who(pid), me));
        assert!(!belongs_to(Sender { pid, uid: uid + 4242 }, me));
    }
}
