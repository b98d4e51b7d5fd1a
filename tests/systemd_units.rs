//! The package's systemd units under a real systemd (issue #17, item 1).
//!
//! A Debian 12 root (`crates/dist/scratch-root`) gets the package with
//! `dpkg --root`, then boots: Debian's systemd as process 1 of new PID,
//! mount, UTS, IPC, network and cgroup namespaces, in a cgroup of its own,
//! with `/proc/sys` and `/sys` read-only and the capabilities to load
//! modules or set the clock dropped (what the launcher below sets up, as
//! systemd-nspawn would). It is stopped as a container or an instance is
//! powered off: SIGRTMIN+4 to that systemd.
//!
//! * Without `/etc/boot/boot.toml`: `runsvdir.service` supervises
//!   `/etc/service`; `boot.service` is enabled but skipped (its condition),
//!   not failed. At power-off runsvdir stops the service gracefully: its
//!   `./finish` runs, and what it logs after the TERM reaches its log
//!   (svlogd drained to end of input).
//! * With a boot.toml (static tags, a one-service catalogue): `boot up`
//!   brings the role up under `boot-runsvdir.service`; at power-off `boot
//!   down` runs first and leaves a first-boot state (no `current`, no
//!   `state.json`), and every unit stops without being killed.
//!
//! Needs root; skips (with a message) only when the kernel refuses the
//! namespaces.
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use harness::{Outcome, Proc, Scratch, cmd, run, wait_for};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts systemd in ROOT, as process 1 of new namespaces, in the cgroup
/// CGROUP (created here; the caller removes it). Console output to LOG.
const LAUNCHER: &str = r#"#!/bin/sh
set -eu
root=$1 log=$2 cg=$3
fs=$(stat -fc %T /sys/fs/cgroup)
if [ "$fs" = cgroup2fs ]; then
    mkdir "/sys/fs/cgroup/$cg"
    echo $$ >"/sys/fs/cgroup/$cg/cgroup.procs"
else
    mkdir "/sys/fs/cgroup/systemd/$cg"
    echo $$ >"/sys/fs/cgroup/systemd/$cg/cgroup.procs"
    # Hybrid hierarchy: systemd tracks processes in the unified one.
    if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
        mkdir "/sys/fs/cgroup/unified/$cg"
        echo $$ >"/sys/fs/cgroup/unified/$cg/cgroup.procs"
        fs=hybrid
    fi
fi
exec unshare --cgroup --pid --mount --uts --ipc --net --fork sh -c '
set -eu
root=$1 log=$2 fs=$3
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
for p in sys sysrq-trigger; do
    [ -e "$root/proc/$p" ] || continue
    mount --bind "$root/proc/$p" "$root/proc/$p"
    mount -o remount,bind,ro "$root/proc/$p"
done
mount -t sysfs -o ro sysfs "$root/sys"
if [ "$fs" = cgroup2fs ]; then
    mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"
else
    mount -t tmpfs -o mode=755 tmpfs "$root/sys/fs/cgroup"
    mkdir "$root/sys/fs/cgroup/systemd"
    mount -t cgroup -o none,name=systemd cgroup "$root/sys/fs/cgroup/systemd"
    if [ "$fs" = hybrid ]; then
        mkdir "$root/sys/fs/cgroup/unified"
        mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup/unified"
    fi
fi
mount -t tmpfs -o mode=755 tmpfs "$root/dev"
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    n=${d%%:*} r=${d#*:}
    mknod -m 666 "$root/dev/$n" c "${r%%:*}" "${r#*:}"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
touch "$root/dev/console"
mount --bind "$log" "$root/dev/console"
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
ip link set lo up 2>/dev/null || true
hostname systemd-units-test
cd "$root"
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio,-wake_alarm \
    chroot . env -i container=runit-rs-test TERM=dumb \
    /lib/systemd/systemd --system --unit=multi-user.target --log-target=journal
' sh "$root" "$log" "$fs"
"#;

/// The package, built once (as tests/package.rs does).
fn deb() -> &'static (Scratch, PathBuf) {
    static DEB: OnceLock<(Scratch, PathBuf)> = OnceLock::new();
    DEB.get_or_init(|| {
        let from = harness::target_dir();
        for p in ["chpst", "runsv", "runsvdir", "sv", "svlogd", "boot", "runsvchdir", "runit", "runit-init"] {
            harness::ours(p);
        }
        let s = Scratch::new("systemd-units-deb");
        let mut c = cmd(top().join("crates/dist/deb.sh"), ["--no-build", "-Z", "gzip"]);
        c.arg("--from").arg(&from).arg("--out").arg(s.join("out"));
        let o = run(&mut c, Duration::from_secs(300));
        assert_eq!(o.code, Some(0), "deb.sh failed: {o:?}");
        let deb = PathBuf::from(o.stdout.trim());
        (s, deb)
    })
}

fn ok(c: &mut std::process::Command, timeout: Duration) -> Outcome {
    let o = run(c, timeout);
    assert_eq!(o.code, Some(0), "{c:?}: {o:?}");
    o
}

/// The scratch root with the package installed.
fn installed_root(s: &Scratch) -> PathBuf {
    let o =
        ok(&mut cmd(top().join("crates/dist/scratch-root"), Vec::<&str>::new()), Duration::from_secs(1800));
    let tar = PathBuf::from(o.stdout.lines().last().unwrap_or_default());
    let root = s.join("root");
    fs::create_dir_all(&root).unwrap();
    let mut c = cmd("tar", ["--numeric-owner", "-xf"]);
    c.arg(&tar).arg("-C").arg(&root);
    ok(&mut c, Duration::from_secs(300));
    let mut c = cmd("dpkg", ["--root"]);
    c.arg(&root).arg("-i").arg(&deb().1);
    ok(&mut c, Duration::from_secs(300));
    root
}

fn write_exec(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    harness::script(path, body);
}

/// A service in /etc/service that logs through our svlogd, takes a moment
/// to stop on TERM, and logs that it did.
fn add_demo_service(root: &Path) {
    let dir = root.join("etc/service/demo");
    write_exec(
        &dir.join("run"),
        "#!/bin/sh\nexec 2>&1\necho demo started\n\
         trap 'echo demo got TERM; sleep 1; echo demo stopped cleanly; exit 0' TERM\n\
         while :; do sleep 1 & wait $!; done\n",
    );
    write_exec(&dir.join("finish"), "#!/bin/sh\necho \"finish $1 $2\" >>/var/log/demo-finish\n");
    write_exec(&dir.join("log/run"), "#!/bin/sh\nexec svlogd /var/log/demo\n");
    fs::create_dir_all(root.join("var/log/demo")).unwrap();
}

/// boot's configuration: static tags, a catalogue of one service.
fn add_boot_config(root: &Path) {
    let cat = root.join("usr/share/boot/sv-templates");
    fs::create_dir_all(cat.join("env/common")).unwrap();
    fs::create_dir_all(cat.join("sleeper")).unwrap();
    fs::write(
        cat.join("sleeper/service.toml"),
        "schema = 1\nname = \"sleeper\"\nkind = \"app\"\nmodes = [\"production\"]\n\n\
         [process]\nuser = \"nobody\"\ncommand = [\"/bin/sleep\", \"100000\"]\n",
    )
    .unwrap();
    fs::create_dir_all(root.join("etc/boot")).unwrap();
    fs::write(
        root.join("etc/boot/tags.toml"),
        "instance_id = \"i-0123456789abcdef0\"\n\n[tags]\nMode = \"production\"\nService = \"sleeper\"\n",
    )
    .unwrap();
    fs::write(
        root.join("etc/boot/boot.toml"),
        "catalogue = \"/usr/share/boot/sv-templates\"\nsources = [\"static:/etc/boot/tags.toml\"]\n",
    )
    .unwrap();
}

/// The machine's cgroups (one per hierarchy): whatever is left in them is
/// killed, and they are removed, on drop.
struct Cgroup(Vec<PathBuf>);

impl Drop for Cgroup {
    fn drop(&mut self) {
        for top in &self.0 {
            let top = top.to_str().unwrap();
            for _ in 0..50 {
                let mut procs = String::new();
                let o = run(&mut cmd("find", [top, "-name", "cgroup.procs"]), Duration::from_secs(10));
                for f in o.stdout.lines() {
                    procs.push_str(&fs::read_to_string(f).unwrap_or_default());
                }
                let pids: Vec<i32> = procs.split_whitespace().filter_map(|p| p.parse().ok()).collect();
                if pids.is_empty() {
                    break;
                }
                for p in pids {
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(p, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let find = ["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"];
            let mut c = cmd("find", [top]);
            c.args(find);
            let _ = run(&mut c, Duration::from_secs(10));
        }
    }
}

/// A running systemd in a root.
struct Machine {
    pid1: i32,
    // Dropped in this order: the launcher, then the cgroup (the launcher's
    // process group is killed first, then what is left in the cgroup).
    proc: Proc,
    _cgroup: Cgroup,
}

impl Machine {
    /// Boots ROOT; `None` when the kernel refuses the namespaces.
    fn boot(s: &Scratch, root: &Path) -> Option<Machine> {
        let launcher = s.join("launch");
        harness::script(&launcher, LAUNCHER);
        // Unique: the scratch directory's name holds our pid and a counter.
        let name = format!("runit-rs-{}", s.path().file_name().unwrap().to_string_lossy());
        let cgroup = Cgroup(
            ["/sys/fs/cgroup", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]
                .iter()
                .map(|h| Path::new(h).join(&name))
                .collect(),
        );
        let console = s.join("console.log");
        fs::write(&console, "").unwrap();
        let mut c = cmd(&launcher, Vec::<&str>::new());
        c.arg(root).arg(&console).arg(&name).stdin(Stdio::null());
        let mut proc = Proc::spawn_logging(&mut c, s.join("launcher.log"));
        // Process 1 of the namespace: the launcher's child, running systemd.
        let pid1 = wait_for(Duration::from_secs(30), || {
            if let Some(st) = proc.try_wait() {
                let log = fs::read_to_string(s.join("launcher.log")).unwrap_or_default();
                return Some(Err(format!("launcher exited {st}: {log}")));
            }
            let kids =
                fs::read_to_string(format!("/proc/{}/task/{}/children", proc.pid(), proc.pid())).ok()?;
            let kid: i32 = kids.split_whitespace().next()?.parse().ok()?;
            let exe = fs::read_link(format!("/proc/{kid}/exe")).ok()?;
            exe.to_string_lossy().ends_with("/systemd").then_some(Ok(kid))
        });
        let machine = |pid1| Machine { pid1, proc, _cgroup: cgroup };
        match pid1 {
            Some(Ok(pid)) => Some(machine(pid)),
            Some(Err(e)) if e.contains("unshare: ") && e.contains("Operation not permitted") => {
                eprintln!("skipped: the kernel refuses the namespaces: {e}");
                None
            }
            Some(Err(e)) => panic!("{e}"),
            None => panic!("systemd did not start within 30 s"),
        }
    }

    /// `ARGS` run inside the machine.
    fn exec(&self, args: &[&str]) -> Outcome {
        let mut c = cmd("nsenter", ["-t", &self.pid1.to_string(), "-m", "-p", "-u", "-i", "-n", "-r", "-w"]);
        c.args(args);
        run(&mut c, Duration::from_secs(60))
    }

    /// `systemctl ARGS` inside.
    fn systemctl(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["systemctl", "--no-pager"];
        all.extend_from_slice(args);
        self.exec(&all)
    }

    fn property(&self, unit: &str, name: &str) -> String {
        let o = self.systemctl(&["show", "-p", name, "--value", unit]);
        assert_eq!(o.code, Some(0), "systemctl show {unit}: {o:?}");
        o.stdout.trim().to_string()
    }

    /// PATH as seen inside the machine (its own /run, for one).
    fn inside(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/{}", self.pid1, path.trim_start_matches('/')))
    }

    /// Waits for the boot to finish: `is-system-running` says `running`
    /// or `degraded` (some unit failed).
    fn settled(&self) -> String {
        wait_for(Duration::from_secs(120), || {
            let state = self.systemctl(&["is-system-running"]).stdout.trim().to_string();
            (state == "running" || state == "degraded").then_some(state)
        })
        .expect("systemd did not finish starting within 120 s")
    }

    /// Powers off (SIGRTMIN+4, as systemd-nspawn and machinectl do) and
    /// waits for process 1 to exit.
    fn power_off(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.pid1, libc::SIGRTMIN() + 4) };
        let st = self.proc.wait_timeout(Duration::from_secs(300));
        assert!(st.is_some(), "systemd did not power off within 300 s");
    }
}

/// The journal the machine wrote (persistent, in the root's /var/log/journal).
fn journal(root: &Path, unit: &str) -> String {
    let mut c = cmd("journalctl", ["--no-pager", "-o", "short"]);
    c.arg(format!("--directory={}", root.join("var/log/journal").display())).args(["-u", unit]);
    run(&mut c, Duration::from_secs(60)).stdout
}

/// The machine's whole journal, in order.
fn journal_all(root: &Path) -> String {
    let mut c = cmd("journalctl", ["--no-pager", "-o", "short"]);
    c.arg(format!("--directory={}", root.join("var/log/journal").display()));
    run(&mut c, Duration::from_secs(60)).stdout
}

fn requirements() {
    assert!(harness::is_root(), "needs root (dpkg --root, namespaces, cgroups)");
    for tool in ["/usr/bin/nsenter", "/usr/bin/unshare", "/usr/bin/setpriv", "/usr/bin/journalctl"] {
        assert!(Path::new(tool).exists(), "{tool} is missing (tests/run installs util-linux and systemd)");
    }
}

#[test]
fn runsvdir_unit_supervises_etc_service_and_stops_it_gracefully() {
    requirements();
    let s = Scratch::new("systemd-units-plain");
    let root = installed_root(&s);
    add_demo_service(&root);
    let Some(mut m) = Machine::boot(&s, &root) else { return };
    m.settled();
    assert_eq!(m.property("runsvdir.service", "ActiveState"), "active");
    // Enabled, but skipped without boot.toml: not failed.
    assert_eq!(m.property("boot.service", "UnitFileState"), "enabled");
    assert_eq!(m.property("boot.service", "ConditionResult"), "no");
    assert_eq!(m.property("boot.service", "ActiveState"), "inactive");
    let failed = m.systemctl(&["list-units", "--failed", "--plain", "--no-legend"]).stdout;
    assert!(!failed.contains("boot") && !failed.contains("runsvdir"), "{failed}");
    let log = root.join("var/log/demo/current");
    harness::wait_until(Duration::from_secs(30), "the demo service to log", || {
        fs::read_to_string(&log).unwrap_or_default().contains("demo started")
    });

    m.power_off();
    let logged = harness::read(&log);
    assert!(logged.contains("demo got TERM\n") && logged.contains("demo stopped cleanly\n"), "{logged}");
    let finish = harness::read(root.join("var/log/demo-finish"));
    assert_eq!(finish, "finish 0 0\n", "./finish ran once, after a clean exit");
    let j = journal(&root, "runsvdir.service");
    assert!(j.contains("runsvdir.service: Deactivated successfully."), "runsvdir did not exit 0: {j}");
    assert!(!j.contains("SIGKILL") && !j.contains("timed out"), "{j}");
}

#[test]
fn boot_units_bring_the_role_up_and_down() {
    requirements();
    let s = Scratch::new("systemd-units-boot");
    let root = installed_root(&s);
    add_boot_config(&root);
    let Some(mut m) = Machine::boot(&s, &root) else { return };
    m.settled();
    for u in ["runsvdir.service", "boot-runsvdir.service", "boot.service"] {
        assert_eq!(m.property(u, "ActiveState"), "active", "{u}: {}", journal(&root, u));
    }
    assert!(root.join("var/lib/boot/state.json").is_file());
    assert!(m.inside("/var/lib/boot/current/sleeper").is_dir(), "boot up rendered no sleeper");
    // (supervise/ is a symlink into the machine's own /run: ask inside.)
    harness::wait_until(Duration::from_secs(30), "the sleeper to run", || {
        m.exec(&["sv", "status", "/var/lib/boot/current/sleeper"]).stdout.starts_with("run: ")
    });

    m.power_off();
    // boot down ran (while the runsvdir was still there) and left a
    // first-boot state.
    assert!(!root.join("var/lib/boot/state.json").exists(), "state.json left: boot down did not run");
    assert!(fs::symlink_metadata(root.join("var/lib/boot/current")).is_err(), "current left");
    assert!(!root.join("var/lib/boot/sv").exists(), "service directories left");
    let j = journal(&root, "boot.service");
    assert!(j.contains("g000001 production ready") && j.contains("stopped: sleeper"), "{j}");
    assert!(j.contains("killed: -"), "boot down had to kill: {j}");
    for u in ["boot.service", "boot-runsvdir.service", "runsvdir.service"] {
        let j = journal(&root, u);
        assert!(j.contains(&format!("{u}: Deactivated successfully.")), "{u}: {j}");
        assert!(
            !j.contains("SIGKILL") && !j.contains("timed out") && !j.contains("Failed with result"),
            "{u}: {j}"
        );
    }
    // boot-runsvdir.service was stopped only once boot.service had
    // finished `boot down` (ordered after it, it stops before it).
    let all = journal_all(&root);
    let down = all.find("boot.service: Deactivated successfully.").unwrap();
    let stop = all
        .find("Stopping boot-runsvdir.service")
        .or_else(|| all.find("Stopping runit supervision of the services boot"));
    let stop = stop.unwrap_or_else(|| panic!("boot-runsvdir.service was not stopped:\n{all}"));
    assert!(down < stop, "boot-runsvdir.service stopped before boot down finished:\n{all}");
}
