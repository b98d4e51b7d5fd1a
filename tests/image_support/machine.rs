//! Debian's systemd as process 1 of new namespaces, as systemd-nspawn
//! would start it: new PID, mount, UTS, IPC and cgroup namespaces, a
//! cgroup of its own, `/proc/sys` and `/sys` read-only, the capabilities
//! to load modules or set the clock dropped. Its network namespace is a
//! new one (only `lo`) or an existing one the caller made (`ip netns`).
//! Shared by tests/systemd_units.rs (the package's units in a scratch
//! root) and tests/image_systemd.rs (the systemd flavour of the image).

use harness::{Outcome, Proc, Scratch, cmd, run, wait_for};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Starts systemd in ROOT, as process 1 of new namespaces, in the cgroup
/// CGROUP (created here; the caller removes it), joined to the network
/// namespace NETNS (`-`: a new one), named HOST. Console output to LOG.
const LAUNCHER: &str = r#"#!/bin/sh
set -eu
root=$1 log=$2 cg=$3 netns=$4 host=$5
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
if [ "$netns" = - ]; then
    set -- unshare --net
else
    set -- nsenter "--net=/run/netns/$netns" unshare
fi
exec "$@" --cgroup --pid --mount --uts --ipc --fork sh -c '
set -eu
root=$1 log=$2 fs=$3 host=$4
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
hostname "$host"
cd "$root"
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio,-wake_alarm \
    chroot . env -i container=runit-rs-test TERM=dumb \
    /lib/systemd/systemd --system --unit=multi-user.target --log-target=journal
' sh "$root" "$log" "$fs" "$host"
"#;

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

/// Where and how a machine boots.
pub struct Boot<'a> {
    /// The root tree (made, or mounted, by the caller).
    pub root: &'a Path,
    /// An existing network namespace to join (`ip netns` name); None: a
    /// new one with only `lo`.
    pub netns: Option<&'a str>,
    pub hostname: &'a str,
    /// The console (appended to).
    pub console: &'a Path,
}

/// A running systemd in a root.
pub struct Machine {
    pub pid1: i32,
    // Dropped in this order: the launcher, then the cgroup (the launcher's
    // process group is killed first, then what is left in the cgroup).
    proc: Proc,
    _cgroup: Cgroup,
}

impl Machine {
    /// Boots; `None` when the kernel refuses the namespaces. `s` holds the
    /// launcher and its log, and names the machine's cgroup.
    pub fn boot(s: &Scratch, how: &Boot) -> Option<Machine> {
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
        fs::OpenOptions::new().create(true).append(true).open(how.console).unwrap();
        let mut c = cmd(&launcher, Vec::<&str>::new());
        c.arg(how.root).arg(how.console).arg(&name).arg(how.netns.unwrap_or("-")).arg(how.hostname);
        c.stdin(Stdio::null());
        let log = s.join("launcher.log");
        let mut proc = Proc::spawn_logging(&mut c, &log);
        // Process 1 of the namespace: the launcher's child, running systemd.
        let pid1 = wait_for(Duration::from_secs(30), || {
            if let Some(st) = proc.try_wait() {
                let log = fs::read_to_string(&log).unwrap_or_default();
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
    pub fn exec(&self, args: &[&str]) -> Outcome {
        let mut c = cmd("nsenter", ["-t", &self.pid1.to_string(), "-m", "-p", "-u", "-i", "-n", "-r", "-w"]);
        c.args(args);
        run(&mut c, Duration::from_secs(60))
    }

    /// `systemctl ARGS` inside.
    pub fn systemctl(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["systemctl", "--no-pager"];
        all.extend_from_slice(args);
        self.exec(&all)
    }

    pub fn property(&self, unit: &str, name: &str) -> String {
        let o = self.systemctl(&["show", "-p", name, "--value", unit]);
        assert_eq!(o.code, Some(0), "systemctl show {unit}: {o:?}");
        o.stdout.trim().to_string()
    }

    /// A property of a unit; None while systemd does not answer yet.
    pub fn try_property(&self, unit: &str, name: &str) -> Option<String> {
        let o = self.systemctl(&["show", "-p", name, "--value", unit]);
        (o.code == Some(0)).then(|| o.stdout.trim().to_string())
    }

    /// PATH as seen inside the machine (its own /run, for one).
    pub fn inside(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/{}", self.pid1, path.trim_start_matches('/')))
    }

    /// Waits (up to `timeout`) for the boot to finish: `is-system-running`
    /// says `running` or `degraded` (some unit failed).
    pub fn settled_within(&self, timeout: Duration) -> String {
        wait_for(timeout, || {
            let state = self.systemctl(&["is-system-running"]).stdout.trim().to_string();
            (state == "running" || state == "degraded").then_some(state)
        })
        .unwrap_or_else(|| panic!("systemd did not finish starting within {timeout:?}"))
    }

    pub fn settled(&self) -> String {
        self.settled_within(Duration::from_secs(120))
    }

    /// Powers off as a container or an instance shutdown does (SIGRTMIN+4,
    /// what systemd-nspawn and machinectl send) and waits for process 1.
    pub fn power_off(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.pid1, libc::SIGRTMIN() + 4) };
        self.wait_exit(Duration::from_secs(300));
    }

    /// Waits for process 1 (and so the launcher) to exit.
    pub fn wait_exit(&mut self, timeout: Duration) {
        let st = self.proc.wait_timeout(timeout);
        assert!(st.is_some(), "systemd did not power off within {timeout:?}");
    }
}

/// The journal a machine wrote in ROOT's /var/log/journal (persistent),
/// in order; only UNIT's lines when given.
pub fn journal(root: &Path, unit: Option<&str>) -> String {
    let mut c = cmd("journalctl", ["--no-pager", "-o", "short"]);
    c.arg(format!("--directory={}", root.join("var/log/journal").display()));
    if let Some(u) = unit {
        c.args(["-u", u]);
    }
    run(&mut c, Duration::from_secs(60)).stdout
}

/// After the `boots`-th power-off of a machine with a role in ROOT:
/// `boot down` ran each time and left a first-boot box (no `state.json`,
/// `current`, service directories or sets), without having to kill; each
/// of our units stopped without being killed or timing out; and the last
/// time, boot-runsvdir.service was stopped only once boot.service had
/// finished `boot down` (it is ordered after it, so it stops before it).
pub fn assert_role_powered_off(root: &Path, boots: usize) {
    for gone in ["var/lib/boot/state.json", "var/lib/boot/current", "var/lib/boot/sv", "var/lib/boot/sets"] {
        assert!(fs::symlink_metadata(root.join(gone)).is_err(), "boot down left {gone}");
    }
    let j = journal(root, Some("boot.service"));
    assert_eq!(j.matches("killed: -").count(), boots, "boot down had to kill: {j}");
    for u in ["boot.service", "boot-runsvdir.service", "runsvdir.service"] {
        let j = journal(root, Some(u));
        assert_eq!(j.matches(&format!("{u}: Deactivated successfully.")).count(), boots, "{u}: {j}");
        // (boot's own lines may name SIGKILL: "waiting up to 5 s before SIGKILL".)
        assert!(
            !j.contains("Killing process") && !j.contains("timed out") && !j.contains("Failed with result"),
            "{u}: {j}"
        );
    }
    let all = journal(root, None);
    let down = all.rfind("boot.service: Deactivated successfully.").unwrap();
    let stop = all
        .rfind("Stopping boot-runsvdir.service")
        .or_else(|| all.rfind("Stopping runit supervision of the services boot"))
        .unwrap_or_else(|| panic!("boot-runsvdir.service was not stopped:\n{all}"));
    assert!(down < stop, "boot-runsvdir.service stopped before boot down finished:\n{all}");
}

/// Fails unless root and the tools a machine needs are here.
pub fn requirements() {
    assert!(harness::is_root(), "needs root (namespaces, cgroups, mounts)");
    for tool in ["/usr/bin/nsenter", "/usr/bin/unshare", "/usr/bin/setpriv", "/usr/bin/journalctl"] {
        assert!(Path::new(tool).exists(), "{tool} is missing (tests/run installs util-linux and systemd)");
    }
}
