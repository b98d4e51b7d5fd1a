//! Process 1's system calls: the only code here that touches the OS.
//!
//! [`boot`] sets process 1 up the way runit does (runit-init.md §2.1): a
//! new session; SIGALRM, SIGHUP, SIGPIPE and SIGTERM blocked for good (so
//! they have no effect, SIGTERM included — unless container mode catches
//! it); SIGCHLD, SIGCONT and SIGINT caught into a self-pipe; the console as
//! descriptors 0, 1 and 2; Ctrl-Alt-Del delivered as SIGINT. It then feeds
//! the [`Runit`] machine: it sleeps in `poll(2)` on the self-pipe until a
//! signal arrives or the machine's next deadline passes, reaps every child
//! (orphans included), re-opens the console as standard error (a console
//! that appears later is then used, as in runit), and performs the effects.
//!
//! One descriptor and one timeout: `poll(2)` is all the event loop needs.

use crate::config::{Config, Paths};
use crate::machine::{
    AfterHalt, Effect, Event, Flags, Halt, HaltAction, Job, PidNamespace, Policy, Runit, Sig, Stage,
};
use crate::message::{Message, job_path};
use runit_core::process::{self, Program, child};
use runit_core::report;
use runit_core::selfpipe::SignalPipe;
use std::ffi::{CString, OsStr};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The link `/proc/self/ns/pid` shows in the initial PID namespace (the
/// kernel's fixed `PROC_PID_INIT_INO`).
const INITIAL_PID_NS: &[u8] = b"pid:[4026531836]";

/// Runs process 1. Returns only in container mode, with the exit status.
pub fn boot(config: Config) -> i32 {
    // SAFETY: plain system call; failure (already a session leader) is
    // harmless.
    unsafe { libc::setsid() };
    let mut blocked = vec![libc::SIGALRM, libc::SIGHUP, libc::SIGPIPE];
    if !config.container {
        blocked.push(libc::SIGTERM);
    }
    block(&blocked);
    let console = config.console.as_deref().and_then(Console::new);
    if let Some(c) = &console {
        c.to_stdio();
    }
    for w in &config.warnings {
        say(&config.paths, &Message::BadSetting(w.clone()));
    }
    let pipe = signal_pipe(&config);
    let namespace = pid_namespace(disable_ctrl_alt_del());
    let policy = if config.container {
        Policy::container(config.shutdown_timeout, namespace)
    } else {
        Policy::runit(config.shutdown_timeout)
    };
    let machine = Runit::new(policy, Instant::now());
    Pid1 { machine, pipe, paths: config.paths, console }.run()
}

/// The signals process 1 catches.
fn caught(container: bool) -> &'static [i32] {
    if container {
        &[libc::SIGCHLD, libc::SIGCONT, libc::SIGINT, libc::SIGTERM]
    } else {
        &[libc::SIGCHLD, libc::SIGCONT, libc::SIGINT]
    }
}

/// Every signal process 1 may catch, reset in its children.
const ALL_CAUGHT: [i32; 4] = [libc::SIGCHLD, libc::SIGCONT, libc::SIGINT, libc::SIGTERM];

fn block(sigs: &[i32]) {
    // SAFETY: `set` is initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Creates the self-pipe, retrying every 5 s as runit does.
fn signal_pipe(config: &Config) -> SignalPipe {
    loop {
        let made = SignalPipe::new().and_then(|mut p| {
            for &sig in caught(config.container) {
                p.catch(sig)?;
            }
            Ok(p)
        });
        match made {
            Ok(p) => return p,
            Err(e) => {
                say(&config.paths, &Message::SelfPipe(e.raw_os_error().unwrap_or(0)));
                std::thread::sleep(Duration::from_secs(5));
            }
        }
    }
}

/// `reboot(RB_DISABLE_CAD)`: Ctrl-Alt-Del becomes SIGINT to process 1.
/// The answer also tells where we run: a child PID namespace refuses this
/// command with EINVAL.
fn disable_ctrl_alt_del() -> Result<(), i32> {
    // SAFETY: this command only changes how Ctrl-Alt-Del is delivered.
    let r = unsafe { libc::reboot(libc::RB_DISABLE_CAD) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error().raw_os_error().unwrap_or(0)) }
}

fn pid_namespace(cad: Result<(), i32>) -> PidNamespace {
    let link = fs::read_link("/proc/self/ns/pid").ok();
    classify_namespace(cad, link.as_deref().map(Path::as_os_str))
}

/// Where process 1 runs, from the Ctrl-Alt-Del call's result and the
/// `/proc/self/ns/pid` link (if `/proc` is mounted).
pub fn classify_namespace(cad: Result<(), i32>, link: Option<&OsStr>) -> PidNamespace {
    match (cad, link) {
        (Ok(()), _) => PidNamespace::Initial,
        (Err(libc::EINVAL), _) => PidNamespace::Child,
        (Err(_), Some(l)) if l.as_bytes() == INITIAL_PID_NS => PidNamespace::Initial,
        (Err(_), Some(_)) => PidNamespace::Child,
        (Err(_), None) => PidNamespace::Unknown,
    }
}

/// Prints a message on standard error (the console).
fn say(paths: &Paths, m: &Message) {
    report::write_stderr(&m.line(paths));
}

/// The flag files now.
pub fn read_flags(paths: &Paths) -> Flags {
    Flags {
        stopit: owner_exec(&paths.stopit()),
        reboot: owner_exec(&paths.reboot()),
        ctrlaltdel: owner_exec(&paths.ctrlaltdel()),
        nosync: fs::metadata(paths.nosync()).is_ok(),
    }
}

/// runit's test for a flag: it exists and has the owner-execute bit.
fn owner_exec(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o100 != 0)
}

/// The console device.
#[derive(Debug)]
struct Console {
    path: PathBuf,
    c_path: CString,
}

impl Console {
    fn new(path: &Path) -> Option<Console> {
        let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
        Some(Console { path: path.to_path_buf(), c_path })
    }

    /// Opens it for writing like runit (non-blocking, so a stuck terminal
    /// cannot hang process 1), never as our controlling terminal; append
    /// mode lets a regular file serve as the console in tests.
    fn open_write(&self) -> Option<i32> {
        let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_APPEND | libc::O_CLOEXEC;
        // SAFETY: `c_path` is NUL-terminated.
        let fd = unsafe { libc::open(self.c_path.as_ptr(), flags) };
        (fd >= 0).then_some(fd)
    }

    /// At start: descriptors 0, 1 and 2 (if the console can be opened).
    fn to_stdio(&self) {
        if let Some(fd) = self.open_write() {
            for to in 0..3 {
                let _ = child::dup2(fd, to);
            }
            close_above_stdio(fd);
        }
    }

    /// After each wake-up: standard error.
    fn to_stderr(&self) {
        if let Some(fd) = self.open_write() {
            let _ = child::dup2(fd, 2);
            close_above_stdio(fd);
        }
    }
}

fn close_above_stdio(fd: i32) {
    if fd > 2 {
        child::close(fd);
    }
}

/// Process 1 at work.
struct Pid1 {
    machine: Runit,
    pipe: SignalPipe,
    paths: Paths,
    console: Option<Console>,
}

impl Pid1 {
    fn run(mut self) -> i32 {
        if let Some(code) = self.perform_all() {
            return code;
        }
        loop {
            self.sleep();
            let now = Instant::now();
            let signals = self.pipe.drain();
            let flags = read_flags(&self.paths);
            while let Ok(Some((pid, status))) = process::reap_nohang() {
                if let Some(code) = self.feed(Event::Reaped { pid, status }, now, &flags) {
                    return code;
                }
            }
            if let Some(c) = &self.console {
                c.to_stderr();
            }
            for sig in signals.into_iter().filter_map(to_sig) {
                if let Some(code) = self.feed(Event::Signal(sig), now, &flags) {
                    return code;
                }
            }
            if self.machine.next_deadline().is_some_and(|d| d <= now)
                && let Some(code) = self.feed(Event::Timeout, now, &flags)
            {
                return code;
            }
        }
    }

    /// One event, then its effects at once, so that every spawn is
    /// answered before the next event is looked at.
    fn feed(&mut self, event: Event, now: Instant, flags: &Flags) -> Option<i32> {
        self.machine.handle(event, now, flags);
        self.perform_all()
    }

    fn perform_all(&mut self) -> Option<i32> {
        while let Some(effect) = self.machine.poll_effect() {
            if let Some(code) = self.perform(effect) {
                return Some(code);
            }
        }
        None
    }

    fn perform(&mut self, effect: Effect) -> Option<i32> {
        match effect {
            Effect::Say(m) => say(&self.paths, &m),
            Effect::Spawn(job) => {
                let result = self.spawn(job).map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL));
                self.machine.spawned(job, result, Instant::now());
            }
            Effect::Kill { pid, sig, group } => {
                let target = if group { -pid } else { pid };
                // SAFETY: plain system call; a vanished target is fine.
                unsafe { libc::kill(target, sig) };
            }
            Effect::ConsumeStopit => {
                let _ = fs::set_permissions(self.paths.stopit(), fs::Permissions::from_mode(0o000));
            }
            Effect::KillAll => {
                if let Some(c) = &self.console {
                    c.to_stderr();
                }
                // SAFETY: process 1 signalling every other process is the
                // point of this step.
                unsafe { libc::kill(-1, libc::SIGKILL) };
            }
            Effect::Halt(h) => return Some(self.halt(h)),
        }
        None
    }

    /// Forks and execs a script the way runit does: a new session, the
    /// signal mask and handlers of a fresh process, for stage 1 the console
    /// as controlling terminal and standard input; `enter stage:` is
    /// printed by the child, and an exec failure makes it exit 0 (a missing
    /// stage counts as done).
    fn spawn(&self, job: Job) -> io::Result<i32> {
        let path = job_path(&self.paths, job);
        let program = Program::new(path.as_os_str(), &[path.as_os_str()])?;
        let enter = Message::EnterStage(job).line(&self.paths);
        let fatal = Message::UnableToStart(job).line(&self.paths);
        let console = match (job, &self.console) {
            (Job::Stage(Stage::One), Some(c)) => {
                Some((c.c_path.clone(), Message::UnableToOpenConsole(c.path.clone()).line(&self.paths)))
            }
            _ => None,
        };
        // SAFETY: runit is single-threaded; the child makes only system
        // calls on what was prepared above (signals, setsid, open, ioctl,
        // dup2, close, write, exec, _exit).
        unsafe {
            process::fork(move || {
                for sig in ALL_CAUGHT {
                    child::default_signal(sig);
                }
                child::unblock_all();
                child::setsid();
                if let Some((c_path, warning)) = &console {
                    controlling_terminal(c_path, warning);
                }
                report::write_stderr(&enter);
                let e = program.exec(None);
                child::die(&fatal, &e, 0)
            })
        }
    }

    /// The end: reboot or power off as runit does (from a child, with
    /// process 1 pausing afterwards), or in container mode exit.
    fn halt(&mut self, h: Halt) -> i32 {
        if h.syscall {
            let lines = HaltLines::new(&self.paths);
            // SAFETY: runit is single-threaded; the child writes prepared
            // lines, calls sync, reboot and nanosleep, and exits.
            match unsafe {
                process::fork(|| {
                    lines.perform(&h);
                    child::exit(0)
                })
            } {
                Ok(pid) => {
                    let _ = process::wait_for(pid);
                }
                Err(_) => lines.perform(&h),
            }
        } else if h.sync {
            // SAFETY: plain system call.
            unsafe { libc::sync() };
        }
        // Still here: the kernel refused, or was not asked.
        match h.after {
            AfterHalt::Pause => self.pause_forever(),
            AfterHalt::Exit(code) => {
                let reboot = h.action == HaltAction::Reboot;
                say(&self.paths, &Message::ContainerExit { code: code.code(), reboot });
                code.code()
            }
        }
    }

    /// runit's last state when `reboot(2)` did not end the machine. We
    /// still reap, in case something new appears (e.g. `docker exec`).
    fn pause_forever(&mut self) -> ! {
        loop {
            // SAFETY: plain system call; returns when a signal was handled.
            unsafe { libc::pause() };
            let _ = self.pipe.drain();
            while let Ok(Some(_)) = process::reap_nohang() {}
        }
    }

    fn sleep(&self) {
        let timeout = match self.machine.next_deadline() {
            None => -1,
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                // Round up, so we do not wake just before the deadline.
                i32::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
            }
        };
        let mut pfd = libc::pollfd { fd: self.pipe.fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd; EINTR simply returns early.
        unsafe { libc::poll(&mut pfd, 1, timeout) };
    }
}

fn to_sig(sig: i32) -> Option<Sig> {
    match sig {
        libc::SIGCONT => Some(Sig::Cont),
        libc::SIGINT => Some(Sig::Int),
        libc::SIGTERM => Some(Sig::Term),
        // SIGCHLD only wakes us up: every wake-up reaps.
        _ => None,
    }
}

/// Stage 1's console: read-write, the controlling terminal, standard
/// input. A console that cannot be a terminal (TIOCSCTTY failing) is still
/// used; only an open failure is reported. Runs in the forked child.
fn controlling_terminal(c_path: &CString, warning: &[u8]) {
    // SAFETY: `c_path` is NUL-terminated.
    let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_RDWR) };
    if fd < 0 {
        child::warn(warning, &io::Error::last_os_error());
        return;
    }
    // SAFETY: ioctl on a descriptor we own; a failure is ignored.
    unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) };
    let _ = child::dup2(fd, 0);
    close_above_stdio(fd);
}

/// The lines of the halt sequence, rendered before forking.
struct HaltLines {
    reboot: Vec<u8>,
    power_off: Vec<u8>,
    halt: Vec<u8>,
}

impl HaltLines {
    fn new(paths: &Paths) -> Self {
        HaltLines {
            reboot: Message::SystemReboot.line(paths),
            power_off: Message::PowerOff.line(paths),
            halt: Message::SystemHalt.line(paths),
        }
    }

    /// runit's sequence; only returns when the kernel refused.
    fn perform(&self, h: &Halt) {
        let sync = || {
            if h.sync {
                // SAFETY: plain system call.
                unsafe { libc::sync() };
            }
        };
        match h.action {
            HaltAction::Reboot => {
                report::write_stderr(&self.reboot);
                sync();
                // SAFETY: rebooting is what this step is for.
                unsafe { libc::reboot(libc::RB_AUTOBOOT) };
            }
            HaltAction::PowerOff => {
                report::write_stderr(&self.power_off);
                sync();
                // SAFETY: powering off is what this step is for.
                unsafe { libc::reboot(libc::RB_POWER_OFF) };
                std::thread::sleep(Duration::from_secs(2));
                report::write_stderr(&self.halt);
                sync();
                // SAFETY: halting is what this step is for.
                unsafe { libc::reboot(libc::RB_HALT_SYSTEM) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_from_ctrl_alt_del_and_proc() {
        assert_eq!(classify_namespace(Ok(()), None), PidNamespace::Initial);
        assert_eq!(classify_namespace(Err(libc::EINVAL), None), PidNamespace::Child);
        let init = OsStr::new("pid:[4026531836]");
        let other = OsStr::new("pid:[4026532201]");
        assert_eq!(classify_namespace(Err(libc::EPERM), Some(init)), PidNamespace::Initial);
        assert_eq!(classify_namespace(Err(libc::EPERM), Some(other)), PidNamespace::Child);
        assert_eq!(classify_namespace(Err(libc::EPERM), None), PidNamespace::Unknown);
    }

    #[test]
    fn flags_need_the_owner_execute_bit() {
        let dir = std::env::temp_dir().join(format!("runit-flags-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("mkdir");
        let paths = Paths::new(&dir);
        assert_eq!(read_flags(&paths), Flags::default());
        fs::write(paths.stopit(), "").expect("write");
        fs::set_permissions(paths.stopit(), fs::Permissions::from_mode(0o644)).expect("chmod");
        fs::write(paths.nosync(), "").expect("write");
        fs::set_permissions(paths.nosync(), fs::Permissions::from_mode(0o000)).expect("chmod");
        let f = read_flags(&paths);
        assert!(!f.stopit, "existence alone is not enough");
        assert!(f.nosync, "nosync only needs to exist");
        fs::set_permissions(paths.stopit(), fs::Permissions::from_mode(0o100)).expect("chmod");
        fs::write(paths.reboot(), "").expect("write");
        fs::set_permissions(paths.reboot(), fs::Permissions::from_mode(0o011)).expect("chmod");
        let f = read_flags(&paths);
        assert!(f.stopit);
        assert!(!f.reboot, "group and other execute bits do not count");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_cont_int_and_term_are_events() {
        assert_eq!(to_sig(libc::SIGCONT), Some(Sig::Cont));
        assert_eq!(to_sig(libc::SIGINT), Some(Sig::Int));
        assert_eq!(to_sig(libc::SIGTERM), Some(Sig::Term));
        assert_eq!(to_sig(libc::SIGCHLD), None);
    }
}
