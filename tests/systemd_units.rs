//! The package's systemd units under a real systemd (issue #17, item 1).
//!
//! A Debian 12 root (`crates/dist/scratch-root`) gets the package with
//! `dpkg --root`, then boots: Debian's systemd as process 1 of new PID,
//! mount, UTS, IPC, network and cgroup namespaces, in a cgroup of its own,
//! with `/proc/sys` and `/sys` read-only and the capabilities to load
//! modules or set the clock dropped (tests/image_support/machine.rs, as
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

#[path = "image_support/mod.rs"]
mod image_support;

use harness::{Outcome, Scratch, cmd, run};
use image_support::machine::{Boot, Machine, assert_role_powered_off, journal, requirements};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use image_support::repo as top;

/// The package, built once (as tests/package.rs does).
fn deb() -> &'static (PathBuf, PathBuf) {
    static DEB: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DEB.get_or_init(|| {
        let from = harness::target_dir();
        for p in ["chpst", "runsv", "runsvdir", "sv", "svlogd", "boot", "runsvchdir", "runit", "runit-init"] {
            harness::ours(p);
        }
        let s = harness::shared_dir("systemd-units-deb");
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

#[test]
fn runsvdir_unit_supervises_etc_service_and_stops_it_gracefully() {
    requirements();
    let s = Scratch::new("systemd-units-plain");
    let root = installed_root(&s);
    add_demo_service(&root);
    let console = s.join("console.log");
    let how = Boot { root: &root, netns: None, hostname: "systemd-units-test", console: &console };
    let Some(mut m) = Machine::boot(&s, &how) else { return };
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
    let j = journal(&root, Some("runsvdir.service"));
    assert!(j.contains("runsvdir.service: Deactivated successfully."), "runsvdir did not exit 0: {j}");
    assert!(!j.contains("SIGKILL") && !j.contains("timed out"), "{j}");
}

#[test]
fn boot_units_bring_the_role_up_and_down() {
    requirements();
    let s = Scratch::new("systemd-units-boot");
    let root = installed_root(&s);
    add_boot_config(&root);
    let console = s.join("console.log");
    let how = Boot { root: &root, netns: None, hostname: "systemd-units-test", console: &console };
    let Some(mut m) = Machine::boot(&s, &how) else { return };
    m.settled();
    for u in ["runsvdir.service", "boot-runsvdir.service", "boot.service"] {
        assert_eq!(m.property(u, "ActiveState"), "active", "{u}: {}", journal(&root, Some(u)));
    }
    assert!(root.join("var/lib/boot/state.json").is_file());
    assert!(m.inside("/var/lib/boot/current/sleeper").is_dir(), "boot up rendered no sleeper");
    // (supervise/ is a symlink into the machine's own /run: ask inside.)
    harness::wait_until(Duration::from_secs(30), "the sleeper to run", || {
        m.exec(&["sv", "status", "/var/lib/boot/current/sleeper"]).stdout.starts_with("run: ")
    });

    m.power_off();
    // boot down ran (while the runsvdir was still there), left a
    // first-boot state, and every unit stopped without being killed.
    assert_role_powered_off(&root, 1);
    let j = journal(&root, Some("boot.service"));
    assert!(j.contains("g000001 production ready") && j.contains("stopped: sleeper"), "{j}");
}
