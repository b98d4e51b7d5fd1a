//! Helpers shared by the svlogd end-to-end and differential tests
//! (`tests/svlogd.rs`, `tests/svlogd_diff.rs`): run an svlogd on some
//! input, stream input into a running one, and describe a log directory
//! with timestamps masked so that ours and Debian's can be compared.
#![allow(dead_code)]

use harness::{Proc, wait_for};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long a test waits for svlogd to do something.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// What a finished svlogd did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard error.
    pub stderr: String,
    /// Standard output.
    pub stdout: Vec<u8>,
}

/// Runs `bin args…` in `cwd` with `input` as standard input, to the end.
pub fn feed(bin: &Path, args: &[&str], cwd: &Path, input: &[u8]) -> Run {
    let tag = format!("{}-{}", std::process::id(), fastrand());
    let inp = std::env::temp_dir().join(format!("svlogd-input-{tag}"));
    let out = std::env::temp_dir().join(format!("svlogd-stdout-{tag}"));
    let err = std::env::temp_dir().join(format!("svlogd-stderr-{tag}"));
    fs::write(&inp, input).unwrap();
    let mut cmd = Command::new(bin);
    // Both svlogds name themselves `svlogd` in their usage line.
    cmd.arg0("svlogd")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::from(fs::File::open(&inp).unwrap()))
        .stdout(Stdio::from(fs::File::create(&out).unwrap()));
    let mut p = Proc::spawn_logging(&mut cmd, &err);
    let status = p.wait_timeout(DEADLINE).unwrap_or_else(|| panic!("{bin:?} {args:?} did not finish"));
    let run = Run { code: status.code(), stderr: p.stderr(), stdout: fs::read(&out).unwrap_or_default() };
    for f in [inp, out, err] {
        let _ = fs::remove_file(f);
    }
    run
}

fn fastrand() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// A running svlogd whose standard input is a pipe the test writes to.
pub struct Live {
    pub proc: Proc,
    input: Option<fs::File>,
    stderr_file: PathBuf,
}

impl Live {
    /// Starts `bin args…` in `cwd`; stderr goes to a file next to `cwd`.
    pub fn start(bin: &Path, args: &[&str], cwd: &Path) -> Live {
        Self::start_with(bin, args, cwd, |_| {})
    }

    /// As [`Live::start`], letting the caller adjust the command.
    pub fn start_with(bin: &Path, args: &[&str], cwd: &Path, adjust: impl FnOnce(&mut Command)) -> Live {
        let (r, w) = harness::runit_core::selfpipe::pipe(libc::O_CLOEXEC).unwrap();
        let stderr_file = cwd.join(format!(".stderr-{}", fastrand()));
        let mut cmd = Command::new(bin);
        cmd.args(args).current_dir(cwd).stdin(Stdio::from(r)).stdout(Stdio::null());
        adjust(&mut cmd);
        let proc = Proc::spawn_logging(&mut cmd, &stderr_file);
        Live { proc, input: Some(fs::File::from(w)), stderr_file }
    }

    /// Writes to svlogd's standard input.
    pub fn write(&mut self, bytes: &[u8]) {
        self.input.as_mut().expect("input open").write_all(bytes).unwrap();
    }

    /// Takes the write end of svlogd's standard input (e.g. for a writer
    /// thread).
    pub fn take_input(&mut self) -> fs::File {
        self.input.take().expect("input open")
    }

    /// Closes standard input (end of input for svlogd).
    pub fn close_input(&mut self) {
        self.input = None;
    }

    /// Sends a signal.
    pub fn signal(&self, sig: i32) {
        self.proc.signal(sig);
    }

    /// Waits for the exit code.
    pub fn wait(&mut self) -> Option<i32> {
        self.wait_within(DEADLINE)
    }

    /// Waits up to `timeout` for the exit code.
    pub fn wait_within(&mut self, timeout: Duration) -> Option<i32> {
        self.proc.wait_timeout(timeout).expect("svlogd did not exit").code()
    }

    /// Standard error so far.
    pub fn stderr(&self) -> String {
        harness::read(&self.stderr_file)
    }
}

/// Makes `root/name` with an optional config and returns its path.
pub fn logdir(root: &Path, name: &str, config: Option<&str>) -> PathBuf {
    let d = root.join(name);
    fs::create_dir_all(&d).unwrap();
    if let Some(c) = config {
        fs::write(d.join("config"), c).unwrap();
    }
    d
}

/// Names in `dir` that look like rotated files (`@` + 27 bytes), sorted.
pub fn old_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 27 && n.starts_with('@'))
        .collect();
    v.sort();
    v
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Waits until `dir` has at least `n` old files.
pub fn wait_old_files(dir: &Path, n: usize) -> Vec<String> {
    wait_for(DEADLINE, || {
        let v = old_files(dir);
        (v.len() >= n).then_some(v)
    })
    .unwrap_or_else(|| panic!("{}: fewer than {n} rotated files: {:?}", dir.display(), old_files(dir)))
}

/// Masks timestamps: `@` + 24 hex + space, runit's `YYYY-MM-DD_HH:MM:SS.xxxxx `
/// (either separator) and the 24 hex digits of rotated file names.
pub fn mask(text: &[u8]) -> String {
    let s = String::from_utf8_lossy(text).into_owned();
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'@' && i + 25 <= b.len() && b[i + 1..i + 25].iter().all(u8::is_ascii_hexdigit) {
            out.push_str("@<tai64n>");
            i += 25;
        } else if is_runit_date(&b[i..]) {
            out.push_str("<date>");
            i += 25;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_runit_date(b: &[u8]) -> bool {
    let shape = b"dddd-dd-dd?dd:dd:dd.ddddd";
    b.len() >= shape.len()
        && shape.iter().zip(b).all(|(&s, &c)| match s {
            b'd' => c.is_ascii_digit(),
            b'?' => c == b'_' || c == b'T',
            _ => s == c,
        })
}

/// A log directory as text: each file's masked name, mode and masked
/// contents (rotated files in order). `lock`, `config` and test files
/// (starting with `.`) are left out.
pub fn describe(dir: &Path) -> String {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "config" && !n.starts_with('.'))
        .collect();
    names.sort();
    let mut out = String::new();
    for n in names {
        let p = dir.join(&n);
        let body = if n == "lock" { String::new() } else { mask(&fs::read(&p).unwrap_or_default()) };
        out.push_str(&format!("== {} {:o}\n{}", mask(n.as_bytes()), mode(&p), body));
    }
    out
}
