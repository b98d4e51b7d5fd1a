//! Running our `runit` as process 1 of a new PID namespace, for the
//! end-to-end tests in `runit.rs` and `runit_container.rs`.
//!
//! Each boot gets a scratch tree: `etc/` (the relocated `/etc/runit`, via
//! `RUNIT_ETC`), `console` (a regular file standing in for `/dev/console`,
//! via `RUNIT_CONSOLE`, so the machine's console is never touched),
//! `service/` (what stage 2's runsvdir scans), `out/` (markers written by
//! the scripts) and `bin/` (the supervision tools the scripts find first
//! in `PATH`). The namespace is `unshare --pid --fork --mount-proc`, started
//! through `harness::Proc`, so every process of it carries the test's tag
//! and is killed when the test ends, whatever happens.
#![allow(dead_code)]

use harness::{Proc, Scratch, script, wait_for, wait_until, write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// Generous bound for anything that should take well under a second.
pub const SOON: Duration = Duration::from_secs(10);

/// The programs stage 2 and 3 use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tools {
    /// Our runsvdir, runsv, sv, svlogd and chpst.
    Ours,
    /// Debian's C runit tools from /usr/bin.
    Theirs,
    /// None: the stage scripts use only the shell.
    None,
}

/// The supervision programs linked into `bin/`.
pub const TOOLS: [&str; 5] = ["runsvdir", "runsv", "sv", "svlogd", "chpst"];

/// True when a PID namespace can be made here; says why not otherwise.
pub fn namespaces_available() -> bool {
    if !harness::is_root() {
        eprintln!("skipped: needs root for a PID namespace");
        return false;
    }
    let unshare = harness::installed(&["/usr/bin/unshare"], "util-linux");
    let ok = Command::new(unshare)
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: the kernel refused a PID namespace (unshare --pid --fork --mount-proc failed)");
    }
    ok
}

/// A scratch tree for one boot.
pub struct Tree {
    pub scratch: Scratch,
}

impl Tree {
    /// Creates the tree with `tools` in `bin/` and `nosync` set (the tests
    /// need not sync the machine's disks; one test removes it).
    pub fn new(name: &str, tools: Tools) -> Tree {
        let scratch = Scratch::new(name);
        for d in ["etc", "service", "out", "bin"] {
            std::fs::create_dir_all(scratch.join(d)).unwrap();
        }
        write(scratch.join("console"), "");
        write(scratch.join("etc/nosync"), "");
        for name in TOOLS {
            let target = match tools {
                Tools::Ours => harness::ours(name),
                Tools::Theirs => harness::theirs(name).unwrap(),
                Tools::None => continue,
            };
            std::os::unix::fs::symlink(target, scratch.join("bin").join(name)).unwrap();
        }
        Tree { scratch }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.scratch.join(rel)
    }

    /// `p` as shell text (the scratch paths have no quotes or spaces).
    pub fn sh(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    /// Writes stage script `name` (`1`, `2`, `3`, `ctrlaltdel`).
    pub fn stage(&self, name: &str, body: &str) {
        script(self.path(&format!("etc/{name}")), &format!("#!/bin/sh\n{body}\n"));
    }

    /// Stage 2 as usual: record the start, then exec runsvdir.
    pub fn stage2_runsvdir(&self) {
        self.stage(
            "2",
            &format!(
                "echo 2 >> {o}/stages\nexec runsvdir -P {s}",
                o = self.sh("out"),
                s = self.sh("service")
            ),
        );
    }

    /// Stage 3 as in runit's example, waiting for the runsvs to exit so
    /// the loggers close their files before runit's final SIGKILL.
    pub fn stage3_sv(&self) {
        self.stage(
            "3",
            &format!(
                "exec 2>&1\necho 3 >> {o}/stages\nsv -w196 force-stop {s}/*\nsv -w10 -v exit {s}/*",
                o = self.sh("out"),
                s = self.sh("service")
            ),
        );
    }

    /// A service `name` with a `log/` service running svlogd on
    /// `log/main`; `finish` records its arguments in `out/<name>.finish`.
    pub fn service(&self, name: &str, run: &str) {
        let dir = format!("service/{name}");
        script(self.path(&format!("{dir}/run")), &format!("#!/bin/sh\nexec 2>&1\n{run}\n"));
        script(
            self.path(&format!("{dir}/finish")),
            &format!("#!/bin/sh\necho \"$@\" >> {o}/{name}.finish\n", o = self.sh("out")),
        );
        std::fs::create_dir_all(self.path(&format!("{dir}/log/main"))).unwrap();
        script(self.path(&format!("{dir}/log/run")), "#!/bin/sh\nexec svlogd -tt ./main\n");
    }

    /// A `control/t` for `name` that records its run and exits `code`
    /// (0: runsv sends no TERM itself, so the script does).
    pub fn control_t(&self, name: &str, code: i32) {
        let term = if code == 0 { "kill -TERM \"$(cat supervise/pid)\"\n" } else { "" };
        script(
            self.path(&format!("service/{name}/control/t")),
            &format!("#!/bin/sh\necho t >> {o}/{name}.t\n{term}exit {code}\n", o = self.sh("out")),
        );
    }

    /// Starts `runit` as process 1 of a new PID namespace, with `env`
    /// added to the relocation variables.
    pub fn boot(self, env: &[(&str, &str)]) -> Pid1 {
        self.boot_with(&[], env)
    }

    /// As [`Tree::boot`], with `wrapper` exec'ing runit inside the
    /// namespace (e.g. `setpriv` dropping a capability).
    pub fn boot_with(self, wrapper: &[&str], env: &[(&str, &str)]) -> Pid1 {
        let path = format!("{}:/usr/bin:/bin:/usr/sbin:/sbin", self.sh("bin"));
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc"])
            .args(wrapper)
            .arg(harness::ours("runit"))
            .env("RUNIT_ETC", self.path("etc"))
            .env("RUNIT_CONSOLE", self.path("console"))
            .env("PATH", path)
            .env_remove("RUNIT_CONTAINER")
            .env_remove("RUNIT_SHUTDOWN_TIMEOUT");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut proc = Proc::spawn_logging(&mut cmd, self.path("unshare.stderr"));
        let unshare = proc.pid();
        // A quick boot can be over before its process 1 is seen: then
        // there is no pid to know (0), and nothing to signal.
        let pid1 = wait_for(SOON, || {
            let children = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
                .unwrap_or_default();
            match children.split_whitespace().next().and_then(|p| p.parse::<i32>().ok()) {
                Some(pid) => Some(pid),
                None => proc.try_wait().map(|_| 0),
            }
        })
        .expect("the namespace's process 1");
        Pid1 { tree: self, proc, pid1 }
    }
}

/// Services a, b, c with loggers: a's control/t signals the service itself
/// and exits 0 (like boot's generated one), b's exits 1 so runsv sends the
/// TERM, c leaves an orphan behind for process 1 to reap.
pub fn services(t: &Tree) {
    let o = t.sh("out");
    t.service("a", "echo a started\nexec sleep 1000");
    t.control_t("a", 0);
    t.service("b", "echo b started\ntrap 'echo b got TERM; exit 0' TERM\nwhile :; do sleep 0.1; done");
    t.control_t("b", 1);
    // The subshell exits at once, so its child is reparented to process 1;
    // it records its new parent and exits, leaving a zombie for runit.
    t.service(
        "c",
        &format!(
            "echo c started\n( sh -c 'sleep 0.3; read -r _ _ _ pp _ < /proc/self/stat; echo $pp > {o}/orphan.ppid' & )\n\
             exec sleep 1000"
        ),
    );
}

/// runit running as process 1 of a PID namespace.
pub struct Pid1 {
    pub tree: Tree,
    pub proc: Proc,
    /// Process 1's pid as seen from the test (outside the namespace); 0
    /// when the boot ended before it was seen.
    pub pid1: i32,
}

impl Pid1 {
    /// Waits until each service of [`services`] has logged its first line
    /// (so runsvdir, runsv and svlogd all run).
    pub fn wait_services_logging(&self) {
        for svc in ["a", "b", "c"] {
            let current = self.tree.path(&format!("service/{svc}/log/main/current"));
            wait_until(SOON, &format!("{svc}'s log line"), || {
                harness::read(&current).contains(&format!("{svc} started"))
            });
        }
    }

    /// After a shutdown of [`services`]: every service was stopped
    /// through `control/t` and ran `./finish`, every logger saw EOF and
    /// closed `current` cleanly (mode 0744), and nothing is left running.
    pub fn assert_services_stopped_cleanly(&self) {
        let read = |rel: &str| harness::read(self.tree.path(rel));
        assert_eq!(read("out/a.t"), "t\n");
        assert_eq!(read("out/b.t"), "t\n");
        assert_eq!(read("out/a.finish"), "-1 15\n", "a was TERMed by its control/t");
        assert_eq!(read("out/b.finish"), "0 0\n", "b trapped runsv's TERM");
        assert_eq!(read("out/c.finish"), "-1 15\n");
        for svc in ["a", "b", "c"] {
            let current = self.tree.path(&format!("service/{svc}/log/main/current"));
            assert_eq!(mode(&current), 0o744, "{svc}: svlogd did not finish `current`");
        }
        assert!(read("service/b/log/main/current").contains("b got TERM"));
        assert_eq!(self.leftovers(), Vec::<i32>::new());
    }

    /// What runit printed on its console so far.
    pub fn console(&self) -> String {
        harness::read(self.tree.path("console"))
    }

    /// The console lines, in order.
    pub fn console_lines(&self) -> Vec<String> {
        self.console().lines().map(str::to_string).collect()
    }

    /// Waits until the console has a line equal to `line`.
    pub fn wait_console(&self, line: &str, timeout: Duration) {
        if wait_for(timeout, || self.console().lines().any(|l| l == line).then_some(())).is_none() {
            panic!("console never showed {line:?}; it has:\n{}", self.console());
        }
    }

    /// Waits until the file `rel` (under the tree) has content.
    pub fn wait_file(&self, rel: &str, timeout: Duration) -> String {
        let p = self.tree.path(rel);
        wait_for(timeout, || Some(harness::read(&p)).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| panic!("{} never written; console:\n{}", p.display(), self.console()))
    }

    /// Waits until `out/stages` (the stage scripts' markers) starts with
    /// `want`: those stages have run (later ones may have started too).
    pub fn wait_stages(&self, want: &str, timeout: Duration) {
        let p = self.tree.path("out/stages");
        if wait_for(timeout, || harness::read(&p).starts_with(want).then_some(())).is_none() {
            panic!("stages {:?}, wanted {want:?}; console:\n{}", harness::read(&p), self.console());
        }
    }

    /// Sends `sig` to process 1 from outside the namespace (as `docker
    /// stop` does).
    pub fn signal(&self, sig: i32) {
        assert!(self.pid1 > 0, "process 1 ended before it could be signalled");
        // SAFETY: signalling the process 1 this test started.
        unsafe { libc::kill(self.pid1, sig) };
    }

    /// Runs `runit-init <arg>` inside the namespace. It must succeed
    /// silently; on a loaded machine the shutdown it starts can finish
    /// (final `kill(-1, SIGKILL)`, or the namespace's end) before
    /// runit-init has exited, so a SIGKILL death (`nsenter` passes it on)
    /// counts as success too. Its exit code proper is checked in
    /// crates/runit/tests/cli.rs against a stand-in process 1.
    pub fn runit_init(&self, arg: &str) {
        assert!(self.pid1 > 0, "process 1 ended before runit-init could run");
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.pid1.to_string())
            .args(["-p", "--"])
            .arg(harness::ours("runit-init"))
            .arg(arg)
            .env("RUNIT_ETC", self.tree.path("etc"));
        let o = harness::run(&mut cmd, SOON);
        assert!(o.code == Some(0) || o.code.is_none(), "runit-init {arg}: {o:?}");
        assert_eq!(o.stderr, "", "runit-init {arg}");
    }

    /// The stopit protocol by hand: `chmod 100 stopit; kill -CONT 1`.
    pub fn stopit(&self) {
        let p = self.tree.path("etc/stopit");
        if !p.exists() {
            write(&p, "");
        }
        harness::chmod(&p, 0o100);
        self.signal(libc::SIGCONT);
    }

    /// Waits for the namespace to end: `unshare` reports process 1's end
    /// (a signal death is passed on as the same signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        match self.proc.wait_timeout(timeout) {
            Some(s) => s,
            None => panic!("process 1 still running after {timeout:?}; console:\n{}", self.console()),
        }
    }

    /// Processes of this boot still alive, other than `unshare` and
    /// process 1 itself.
    pub fn leftovers(&self) -> Vec<i32> {
        self.proc.tagged_pids().into_iter().filter(|&p| p != self.proc.pid() && p != self.pid1).collect()
    }

    /// Zombie children of process 1.
    pub fn zombies(&self) -> Vec<i32> {
        assert!(self.pid1 > 0, "process 1 ended early");
        let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&p| harness::ppid(p) == Some(self.pid1) && harness::proc_state(p) == Some('Z'))
            .collect()
    }

    /// A bit of process 1's `SigBlk`/`SigCgt` mask.
    pub fn sigmask_has(&self, field: &str, sig: i32) -> bool {
        let hex = harness::proc_status_field(self.pid1, field).unwrap_or_default();
        let mask = u64::from_str_radix(&hex, 16).unwrap_or(0);
        (mask >> (sig - 1)) & 1 == 1
    }

    /// After the final halt: either the kernel ended the namespace
    /// (`reboot(2)` with CAP_SYS_BOOT terminates its init with SIGINT for
    /// a halt, SIGHUP for a reboot) or, without that capability, process 1
    /// pauses forever as runit does, alone in its namespace.
    pub fn expect_halted(&mut self, kernel_signal: i32) {
        match self.proc.wait_timeout(Duration::from_secs(5)) {
            Some(status) => {
                assert_eq!(status.signal(), Some(kernel_signal), "{status}; console:\n{}", self.console())
            }
            None => {
                assert!(harness::alive(self.pid1), "process 1 vanished without a status");
                eprintln!("note: reboot(2) refused here; process 1 pauses, as runit does");
            }
        }
        wait_until(SOON, "no process left but process 1", || self.leftovers().is_empty());
    }
}

/// Index of the first console line equal to `line`.
pub fn position(lines: &[String], line: &str) -> Option<usize> {
    lines.iter().position(|l| l == line)
}

/// Asserts that `want` appear in this order (other lines may come between).
pub fn assert_in_order(lines: &[String], want: &[&str]) {
    let mut from = 0;
    for w in want {
        match lines[from..].iter().position(|l| l == w) {
            Some(i) => from += i + 1,
            None => panic!("console lacks {w:?} (in order); it has:\n{}", lines.join("\n")),
        }
    }
}

/// The mode bits of `p`.
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o7777)
}
