//! Shared pieces of boot's end-to-end tests (`tests/boot*.rs`): a scratch
//! box with its own root, a copy of the catalogue, private ports, a bin dir
//! of our binaries, and the guards that kill whatever a failed test leaves.
#![allow(dead_code, clippy::unwrap_used)]

use harness::{Outcome, Proc, Scratch, TAG_VAR, cmd};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Our binaries a box needs. `BOOT_TEST_THEIRS=svlogd,…` swaps in Debian's
/// C programs from /usr/bin (a debugging aid while a program of ours is
/// being written; the suite runs with ours).
pub const BINARIES: [&str; 7] = ["chpst", "svlogd", "sv", "runsv", "runsvdir", "sample-web", "sample-worker"];

/// `./run` of the stop tests' `stubborn` service: it ignores TERM, and so
/// does its `sleep` child (the disposition is inherited); then it sets a
/// handler that logs the stop signal, so its log shows the TERM arriving
/// before the KILL that ends it.
pub const STUBBORN: &str = "trap '' TERM; /bin/sleep 1000 & trap 'echo stubborn: got TERM' TERM; \
                            echo stubborn: started; while kill -0 $! 2>/dev/null; do wait; done";

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A test machine: `<scratch>/root` is boot's root.
pub struct BootBox {
    pub scratch: Scratch,
    pub root: PathBuf,
    pub catalogue: PathBuf,
    pub bin: PathBuf,
    pub web: u16,
    pub pg: u16,
    pub redis: u16,
    /// The env tag given to every boot invocation (and passed by boot to a
    /// runsvdir it spawns): killed on drop.
    pub tag: String,
    pub runsvdir: Option<Proc>,
}

/// Asserts what the stubborn service's log shows of its stop: the TERM
/// arrived (and was ignored) before the SIGKILL that ended `./run`, which
/// `./finish` then logged.
pub fn assert_term_then_kill(stubborn_log: &str) {
    let term = stubborn_log.find("stubborn: got TERM");
    let killed = stubborn_log.find("./run exited: code -1 status 9");
    match (term, killed) {
        (Some(t), Some(k)) => assert!(t < k, "KILL before the TERM:\n{stubborn_log}"),
        _ => panic!("expected the TERM, then ./run killed by signal 9:\n{stubborn_log}"),
    }
}

impl BootBox {
    /// A box for the stop tests, up: the worker (drains for `drain_ms` on
    /// TERM) and `stubborn`, a service that ignores TERM, has a child in
    /// its group and is stopped after 2 s; no databases.
    pub fn stop_test(name: &str, drain_ms: u32) -> BootBox {
        let mut b = BootBox::new(name, "");
        for s in ["web", "postgres", "redis"] {
            fs::remove_dir_all(b.catalogue.join(s)).unwrap();
        }
        let worker = harness::read(b.catalogue.join("worker/service.toml"))
            .replace("review = [\"redis\"]", "review = []")
            .replace(
                "\"--queue\", \"default\"]",
                &format!("\"--queue\", \"default\", \"--drain-ms\", \"{drain_ms}\"]"),
            );
        fs::write(b.catalogue.join("worker/service.toml"), worker).unwrap();
        fs::create_dir_all(b.catalogue.join("stubborn")).unwrap();
        fs::write(
            b.catalogue.join("stubborn/service.toml"),
            format!(
                "schema = 1\nname = \"stubborn\"\nkind = \"app\"\nmodes = [\"review\"]\n[process]\n\
             command = [\"/bin/sh\", \"-c\", \"{STUBBORN}\"]\n[stop]\ntimeout_s = 2\n"
            ),
        )
        .unwrap();
        b.start_runsvdir();
        b.ok(&["up"]);
        // `up` returns once the worker runs; it handles TERM (drains) only
        // from its `event=start` line on.
        harness::wait_until(Duration::from_secs(20), "the worker's start event", || {
            b.log("worker").contains("event=start")
        });
        // The stubborn shell logs the stop signal only once its handler is set.
        harness::wait_until(Duration::from_secs(20), "stubborn's start line", || {
            b.log("stubborn").contains("stubborn: started")
        });
        b
    }

    /// A box with a copy of sv-templates and `extra` appended to boot.toml.
    pub fn new(name: &str, extra: &str) -> BootBox {
        let scratch = Scratch::new(name);
        let root = scratch.join("root");
        let catalogue = scratch.join("catalogue");
        let bin = scratch.join("bin");
        fs::create_dir_all(root.join("etc/boot")).unwrap();
        fs::create_dir_all(&bin).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let st =
            Command::new("cp").arg("-a").arg(repo.join("sv-templates")).arg(&catalogue).status().unwrap();
        assert!(st.success());
        let theirs = std::env::var("BOOT_TEST_THEIRS").unwrap_or_default();
        for b in BINARIES {
            let target = if theirs.split(',').any(|t| t == b) {
                PathBuf::from("/usr/bin").join(b)
            } else {
                harness::ours(b)
            };
            std::os::unix::fs::symlink(target, bin.join(b)).unwrap();
        }
        let (web, pg, redis) = (free_port(), free_port(), free_port());
        let tag = format!("boot-{name}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
        let b = BootBox { scratch, root, catalogue, bin, web, pg, redis, tag, runsvdir: None };
        b.write_config(extra);
        b
    }

    /// Rewrites boot.toml (ports, catalogue, bin dir, `sources = ["static"]`
    /// unless `extra` names sources, `extra`).
    pub fn write_config(&self, extra: &str) {
        let text = format!(
            "catalogue = {:?}\nbin_dir = {:?}\npass_env = [{TAG_VAR:?}]\n{}{}{extra}\n[ports]\nweb = {}\npostgres = {}\nredis = {}\n",
            self.catalogue.display().to_string(),
            self.bin.display().to_string(),
            if extra.contains("start_timeout_s") { "" } else { "start_timeout_s = 20\n" },
            // boot's own default is `imds` alone (fail closed); these boxes
            // take the catalogue's static tags unless the test says otherwise.
            if extra.contains("sources") { "" } else { "sources = [\"static\"]\n" },
            self.web,
            self.pg,
            self.redis
        );
        fs::write(self.root.join("etc/boot/boot.toml"), text).unwrap();
    }

    /// `<root>/var/lib/boot/current`.
    pub fn current(&self) -> PathBuf {
        self.root.join("var/lib/boot/current")
    }

    /// The active service directory of `name`.
    pub fn svc(&self, name: &str) -> PathBuf {
        self.current().join(name)
    }

    /// Starts our runsvdir on `current` (the image-init case).
    pub fn start_runsvdir(&mut self) {
        let mut c = cmd(self.bin.join("runsvdir"), ["-P".as_ref(), self.current().as_os_str()]);
        c.env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display()));
        let err = self.scratch.join("runsvdir.stderr");
        self.runsvdir = Some(Proc::spawn_logging(&mut c, &err));
        // Like an init's runsvdir, it has looked at the (still missing)
        // directory once before boot runs.
        if !self.current().exists() {
            harness::wait_until(Duration::from_secs(5), "runsvdir's first scan", || {
                harness::read(&err).contains("unable to stat")
            });
        }
    }

    /// Runs boot with `args` and extra environment; never kills what boot
    /// leaves running (a runsvdir it spawns), the tag guard does that.
    pub fn boot_env(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut c = Command::new(harness::ours("boot"));
        c.arg("--root").arg(&self.root).args(args).env(TAG_VAR, &self.tag);
        for (k, v) in env {
            c.env(k, v);
        }
        let o = harness::run_untagged(&mut c, Duration::from_secs(180))
            .unwrap_or_else(|e| panic!("boot {args:?}: {e}"));
        eprintln!("boot {args:?} -> {:?}\n{}{}", o.code, o.stdout, o.stderr);
        o
    }

    /// Runs boot with `args`.
    pub fn boot(&self, args: &[&str]) -> Outcome {
        self.boot_env(args, &[])
    }

    /// Runs boot and asserts exit 0.
    pub fn ok(&self, args: &[&str]) -> Outcome {
        let o = self.boot(args);
        assert_eq!(o.code, Some(0), "boot {args:?} failed: {}", o.stderr);
        o
    }

    /// The running pid of service `name` (main), once `./run` and chpst
    /// have exec'd the service program (so its argv and environ are final).
    pub fn pid(&self, name: &str) -> u32 {
        let dir = self.svc(name);
        let mut pid = 0;
        // Not runsv's child before its exec, not `sh ./run`, not chpst: the
        // program itself (by its executable: argv can be rewritten, as
        // redis-server does with its process title).
        let exec_done = |pid: u32| {
            let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            let exe = exe.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let argv = cmdline(pid);
            !exe.is_empty()
                && !["runsv", "chpst"].contains(&exe.as_str())
                && !argv.is_empty()
                && !argv[0].ends_with("/chpst")
                && !argv.iter().any(|a| a == "./run")
        };
        harness::wait_until(Duration::from_secs(20), &format!("{name} to run its program"), || {
            pid = harness::wait_running_pid(&dir, Duration::from_secs(20));
            exec_done(pid)
        });
        pid
    }

    /// Every file under `var/lib/boot/sv` with (inode, mtime ns, size).
    pub fn files(&self) -> BTreeMap<PathBuf, (u64, i64, u64)> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.root.join("var/lib/boot/sv")];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let m = fs::symlink_metadata(e.path()).unwrap();
                if m.is_dir() {
                    stack.push(e.path());
                }
                out.insert(e.path(), (m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec(), m.size()));
            }
        }
        out
    }

    /// Paths below the root that boot writes (for "nothing was written"):
    /// the contents of runsv's supervise directories and of svlogd's log
    /// directories belong to the running services and are left out.
    pub fn tree(&self) -> Vec<PathBuf> {
        let (supervise, logs) = (self.root.join("run/boot/supervise"), self.root.join("var/log/boot"));
        let theirs =
            |p: &Path| p.parent().and_then(Path::parent).is_some_and(|g| g == supervise || g == logs);
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                if theirs(&e.path()) {
                    continue;
                }
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                }
                out.push(e.path());
            }
        }
        out.sort();
        out
    }

    /// Processes whose cwd or exe is below the root.
    pub fn processes_inside(&self) -> Vec<String> {
        pids_under(&self.root)
            .into_iter()
            .map(|p| {
                format!("{p} cwd {}", fs::read_link(format!("/proc/{p}/cwd")).unwrap_or_default().display())
            })
            .collect()
    }

    /// True when something accepts connections on 127.0.0.1:`port`.
    pub fn listening(port: u16) -> bool {
        std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
            .is_ok()
    }

    /// Asserts the first-boot state after `down`.
    pub fn assert_clean(&self) {
        assert!(self.processes_inside().is_empty(), "leftover processes: {:?}", self.processes_inside());
        for p in [self.web, self.pg, self.redis] {
            assert!(!Self::listening(p), "port {p} still listening");
        }
        assert!(!self.root.join("run/boot").exists(), "run/boot left");
        let state = self.root.join("var/lib/boot");
        let left: Vec<String> = fs::read_dir(&state)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "data")
            .collect();
        assert!(left.is_empty(), "var/lib/boot still holds {left:?}");
        let st = self.ok(&["status"]);
        assert_eq!(st.stdout, "clean\n");
    }

    /// The log of service `name` (svlogd's `current`).
    pub fn log(&self, name: &str) -> String {
        harness::read(self.root.join("var/log/boot").join(name).join("current"))
    }

    /// GET `path` from the web service.
    pub fn http(&self, path: &str) -> (u16, String) {
        sample_get(self.web, path)
    }
}

impl Drop for BootBox {
    fn drop(&mut self) {
        harness::kill_tagged(None, &self.tag);
        self.runsvdir.take();
        // The services themselves run with the environment boot gives them,
        // without the tag, each in a session of its own: once a failed test
        // has killed their runsv, they are found by their working directory,
        // which lies inside this box's root (service and data directories).
        kill_under(&self.root);
    }
}

/// Kills (bounded) every process whose working directory or program lies
/// inside `dir`.
pub fn kill_under(dir: &Path) {
    harness::kill_found(|| pids_under(dir));
}

/// Pids of the live processes (not this one) whose working directory or
/// program lies inside `dir`, also once it has been removed (" (deleted)").
fn pids_under(dir: &Path) -> Vec<i32> {
    let inside = |link: PathBuf| {
        fs::read_link(link).is_ok_and(|l| {
            let l = l.to_string_lossy();
            Path::new(l.strip_suffix(" (deleted)").unwrap_or(&l)).starts_with(dir)
        })
    };
    let me = std::process::id();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if u32::try_from(pid).is_ok_and(|p| p == me) || harness::is_zombie(pid) {
            continue;
        }
        if inside(e.path().join("cwd")) || inside(e.path().join("exe")) {
            out.push(pid);
        }
    }
    out
}

/// A tiny HTTP GET (the sample web speaks `Connection: close`).
pub fn sample_get(port: u16, path: &str) -> (u16, String) {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), body.to_string())
}

/// `NAME=value` pairs of `/proc/<pid>/environ`, as bytes.
pub fn environ(pid: u32) -> BTreeMap<String, Vec<u8>> {
    let raw = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let i = kv.iter().position(|b| *b == b'=')?;
            Some((String::from_utf8_lossy(&kv[..i]).into_owned(), kv[i + 1..].to_vec()))
        })
        .collect()
}

/// The argv of `pid`.
pub fn cmdline(pid: u32) -> Vec<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The `t=` of the first `event=<what>` line in a log.
pub fn event_time(log: &str, what: &str) -> Option<u128> {
    let needle = format!("event={what} t=");
    log.lines()
        .find_map(|l| l.split_once(&needle).and_then(|(_, r)| r.split_whitespace().next()?.parse().ok()))
}
