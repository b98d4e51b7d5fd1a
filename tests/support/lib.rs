//! Test harness for the end-to-end tests in `tests/`.
//!
//! The tests run the real binaries in scratch directories. Three rules keep
//! them honest and tidy:
//!
//! * every process a test starts is a [`Proc`], which puts it in its own
//!   process group and marks its environment with a tag unique to that
//!   `Proc`; dropping the `Proc` (also while a failed test unwinds) kills the
//!   group and then every process on the machine still carrying the tag, so
//!   services that escaped into their own group or session are caught too;
//! * waiting is done with [`wait_for`] against a deadline, never a fixed sleep;
//! * scratch space is a [`Scratch`] directory, removed on drop.
//!
//! Binaries come from the cargo target directory ([`ours`]); Debian's C
//! runit from `/usr/bin` and `/usr/sbin` ([`theirs`]). Differential tests
//! call [`theirs_required`] (or [`require_c!`]) and fail with a hint when
//! it is missing, as tests needing another tool `tests/run` installs do
//! ([`installed`]): a test skips only when the kernel refuses a namespace
//! or when it strictly needs root and the user is not.
#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use runit_core;

/// The environment variable that tags processes started by a [`Proc`].
pub const TAG_VAR: &str = "RUNIT_RS_TEST_TAG";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// The directory holding our built binaries (`target/<profile>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test-binary>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.to_path_buf()
}

/// Path of our binary `name`. Panics with a hint when it was not built.
pub fn ours(name: &str) -> PathBuf {
    let p = target_dir().join(name);
    assert!(
        p.exists(),
        "{} not built: run `cargo build --workspace --bins` (the README's test command does)",
        p.display()
    );
    p
}

/// Path of Debian's C runit program `name`, if installed (Debian puts most
/// in /usr/bin, and runit, runsvchdir and utmpset in /usr/sbin).
pub fn theirs(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/sbin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.exists())
}

/// Path of Debian's C runit program `name`. Panics with a hint when it is
/// missing: `tests/run` installs Debian's runit, so a differential test
/// without it would pass having compared nothing.
pub fn theirs_required(name: &str) -> PathBuf {
    theirs(name).unwrap_or_else(|| {
        panic!("Debian's runit ({name}) is not installed: `apt-get install runit` (tests/run installs it)")
    })
}

/// The C program `name` ([`theirs_required`]: panics with a hint when
/// Debian's runit is missing).
#[macro_export]
macro_rules! require_c {
    ($name:expr) => {
        $crate::theirs_required($name)
    };
}

/// The first of `paths` that exists. Panics with a hint naming the Debian
/// `package` that provides it (which `tests/run` installs) when none does.
pub fn installed(paths: &[&str], package: &str) -> PathBuf {
    paths.iter().map(PathBuf::from).find(|p| p.exists()).unwrap_or_else(|| {
        panic!("{} is not installed: `apt-get install {package}` (tests/run installs it)", paths.join(" or "))
    })
}

/// True when the tests run as root (some need it: chroot, users, namespaces).
pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Waits until `f` returns `Some`, polling every 10 ms, for at most `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `f` is true or panics with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    if wait_for(timeout, || f().then_some(())).is_none() {
        panic!("timed out after {timeout:?} waiting for {what}");
    }
}

/// A scratch directory, removed (with everything in it) on drop. Set
/// `RUNIT_RS_KEEP_TMP=1` to keep it for inspection.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates a fresh directory named after `name`.
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join("runit-rs-tests").join(unique(name));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Scratch { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(rel)`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("RUNIT_RS_KEEP_TMP").is_none() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// A directory for what a test binary makes once and keeps in a `static`
/// (where a [`Scratch`] would never be dropped, and so never removed):
/// `target/<profile>/test-shared/<name>`, emptied when asked for. Ask once per
/// process (in the `OnceLock`'s initialiser).
pub fn shared_dir(name: &str) -> PathBuf {
    let path = target_dir().join("test-shared").join(name);
    let _ = fs::remove_dir_all(&path);
    fs::create_dir_all(&path).unwrap();
    path
}

/// Writes `contents` to `path` (creating parents).
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) {
    let path = path.as_ref();
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, contents).unwrap();
}

/// Writes an executable script (mode 0755).
pub fn script(path: impl AsRef<Path>, body: &str) {
    let path = path.as_ref();
    write(path, body);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Sets the permission bits of `path`.
pub fn chmod(path: impl AsRef<Path>, mode: u32) {
    fs::set_permissions(path.as_ref(), fs::Permissions::from_mode(mode)).unwrap();
}

/// Reads a file to a string, or "" when it cannot be read.
pub fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// A running process started by a test: in its own process group, tagged,
/// and killed (with everything it started) when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Option<Child>,
    /// The child has been reaped (its pid may belong to someone else now).
    reaped: bool,
    pid: i32,
    tag: String,
    stderr_path: Option<PathBuf>,
}

impl Proc {
    /// Spawns `cmd` in a new process group, with stdin from /dev/null and
    /// stdout/stderr inherited unless the command already set them.
    pub fn spawn(cmd: &mut Command) -> Proc {
        let tag = unique("proc");
        cmd.env(TAG_VAR, &tag).process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let pid = i32::try_from(child.id()).unwrap();
        Proc { child: Some(child), reaped: false, pid, tag, stderr_path: None }
    }

    /// Spawns `cmd` with its stderr sent to `file` (readable with
    /// [`Proc::stderr`]).
    pub fn spawn_logging(cmd: &mut Command, file: impl AsRef<Path>) -> Proc {
        let f = fs::File::create(file.as_ref()).unwrap();
        cmd.stderr(Stdio::from(f));
        let mut p = Self::spawn(cmd);
        p.stderr_path = Some(file.as_ref().to_path_buf());
        p
    }

    /// The pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The tag in this process tree's environment.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// What the process wrote to stderr so far (see [`Proc::spawn_logging`]).
    pub fn stderr(&self) -> String {
        self.stderr_path.as_ref().map(read).unwrap_or_default()
    }

    /// Sends `sig` to the process.
    pub fn signal(&self, sig: i32) {
        if !self.reaped {
            // SAFETY: kill with a pid we own and have not reaped.
            unsafe { libc::kill(self.pid, sig) };
        }
    }

    /// Non-blocking: the exit status if the process has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        self.reaped |= status.is_some();
        status
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_for(timeout, || self.try_wait())
    }

    /// Pids of live processes (other than zombies) carrying this tag.
    pub fn tagged_pids(&self) -> Vec<i32> {
        tagged_pids(&self.tag)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The group is signalled only while its leader is unreaped (alive or
        // a zombie): then its pid, and so the group id, cannot have been
        // reused by someone else's process group.
        let group = (self.child.is_some() && !self.reaped).then_some(self.pid);
        kill_tagged(group, &self.tag);
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// True once `pid` (our child) has exited, without reaping it: the zombie
/// keeps its pid reserved, so its process group can still be signalled
/// safely.
fn exited_unreaped(pid: i32) -> bool {
    // SAFETY: `info` is a valid out-pointer; WNOWAIT leaves the child
    // waitable.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() == pid
    }
}

/// Kills process group `pgid` (when given: only pass a group whose leader
/// is not yet reaped) and every process whose environment carries `tag`,
/// until none is left (bounded).
pub fn kill_tagged(pgid: Option<i32>, tag: &str) {
    if let Some(pgid) = pgid {
        // SAFETY: signalling a process group we created, whose leader's pid
        // is still reserved.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    kill_found(|| tagged_pids(tag));
}

/// SIGKILLs the processes `find` names until it names none (bounded: a
/// second at most). `find` must name only processes this test started.
pub fn kill_found(find: impl Fn() -> Vec<i32>) {
    for _ in 0..100 {
        let pids = find();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: signalling a process the caller identified as its own.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Pids of live (non-zombie) processes whose environment has `TAG_VAR=tag`.
pub fn tagged_pids(tag: &str) -> Vec<i32> {
    let needle = format!("{TAG_VAR}={tag}\0");
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else { return out };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(env) = fs::read(e.path().join("environ")) else { continue };
        if env.windows(needle.len()).any(|w| w == needle.as_bytes()) && !is_zombie(pid) {
            out.push(pid);
        }
    }
    out
}

/// True when `/proc/<pid>/stat` says the process is a zombie (or is gone).
pub fn is_zombie(pid: i32) -> bool {
    proc_state(pid).is_none_or(|s| s == 'Z' || s == 'X')
}

/// The state letter of `/proc/<pid>/stat`, if the process exists.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

/// True if a process with `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    !is_zombie(pid)
}

/// The parent pid of `pid`.
pub fn ppid(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// Field `name` (e.g. `SigCgt`, `Uid`) of `/proc/<pid>/status`.
pub fn proc_status_field(pid: i32, name: &str) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
}

/// What a finished command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Exit code, or `None` if killed by a signal.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `cmd` to completion (stdin /dev/null), killing it after `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Outcome {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut p = Proc::spawn(cmd);
    let mut child = p.child.take().unwrap();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let (t_out, t_err) = (read_in_thread(out), read_in_thread(err));
    let finished = wait_for(timeout, || exited_unreaped(p.pid).then_some(())).is_some();
    // Grandchildren that outlive the command keep the pipes open: kill them
    // (and, on timeout, the command) while its pid is still reserved.
    kill_tagged(Some(p.pid), &p.tag);
    let status = child.wait().unwrap();
    if !finished {
        panic!("command {cmd:?} did not finish within {timeout:?} ({status})");
    }
    Outcome { code: status.code(), stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap() }
}

/// Reads `r` to its end in a thread of its own; the text (lossy UTF-8).
fn read_in_thread(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// Runs `cmd` to completion (stdin /dev/null) WITHOUT the kill tag: what
/// it leaves running (a daemon it starts on purpose) is the caller's to
/// stop. Its output is read until it exits and every holder of its pipes
/// is gone. `Err` if it cannot be spawned, or does not finish within
/// `timeout` (then it is killed and reaped).
pub fn run_untagged(cmd: &mut Command, timeout: Duration) -> Result<Outcome, String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("{cmd:?}: {e}"))?;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("{cmd:?}: no pipes"));
    };
    let (t_out, t_err) = (read_in_thread(out), read_in_thread(err));
    let Some(status) = wait_for(timeout, || child.try_wait().ok().flatten()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("{cmd:?} did not finish within {timeout:?}"));
    };
    let text = |t: std::thread::JoinHandle<String>| t.join().unwrap_or_default();
    Ok(Outcome { code: status.code(), stdout: text(t_out), stderr: text(t_err) })
}

/// `Command::new(program)` with `args`.
pub fn cmd<I, S>(program: impl AsRef<OsStr>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(program);
    c.args(args);
    c
}

/// A `PATH` with our binaries first (for programs that look up others, as
/// runsvdir looks up runsv).
pub fn path_with_ours() -> String {
    format!("{}:{}", target_dir().display(), std::env::var("PATH").unwrap_or_default())
}

/// A `PATH` with Debian's C runit programs first.
pub fn path_with_theirs() -> String {
    format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default())
}

/// Reads `<dir>/supervise/status` (or the log's) with the contract library.
pub fn status_of(service_dir: &Path, log: bool) -> Option<runit_core::status::Status> {
    let sup =
        if log { runit_core::supervise::Supervise::LOG } else { runit_core::supervise::Supervise::MAIN };
    runit_core::supervise::read_status(service_dir, sup).ok()
}

/// Writes control bytes into `<dir>/supervise/control` (panics if no runsv).
pub fn control(service_dir: &Path, bytes: &str) {
    runit_core::supervise::send_control(
        service_dir,
        runit_core::supervise::Supervise::MAIN,
        bytes.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("control {bytes:?} to {}: {e:?}", service_dir.display()));
}

/// True once a runsv holds `<dir>/supervise/ok`.
pub fn supervised(service_dir: &Path) -> bool {
    runit_core::supervise::probe(service_dir, runit_core::supervise::Supervise::MAIN).is_ok()
}

/// Waits until `<dir>/supervise/stat` reads exactly `line` (plus newline).
pub fn wait_stat(service_dir: &Path, line: &str, timeout: Duration) {
    let want = format!("{line}\n");
    let p = service_dir.join("supervise/stat");
    if wait_for(timeout, || (read(&p) == want).then_some(())).is_none() {
        panic!("{}: stat is {:?}, wanted {want:?}", p.display(), read(&p));
    }
}

/// Pid recorded in `<dir>/supervise/status` once the service runs.
pub fn wait_running_pid(service_dir: &Path, timeout: Duration) -> u32 {
    wait_for(timeout, || {
        status_of(service_dir, false)
            .filter(|s| s.pid != 0 && s.state == runit_core::status::State::Run)
            .map(|s| s.pid)
    })
    .unwrap_or_else(|| panic!("{} never ran", service_dir.display()))
}
