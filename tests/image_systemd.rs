//! End-to-end tests of the unified image, systemd flavour (issue 17).
//!
//! Each test boots the image built by `crates/dist/image/build --init
//! systemd` (cached under target/image/): an overlay over the image's root
//! tree (upper and work directories in a scratch directory), Debian's
//! systemd as process 1 of new PID, mount, UTS, IPC and cgroup namespaces
//! (tests/image_support/machine.rs, as systemd-nspawn would start it),
//! joined to a network namespace of its own. The fake IMDSv2
//! (`crates/dist/imds/imds-server`) runs in a second network namespace on
//! 169.254.169.254, reached through a veth pair, as for the runit flavour
//! (tests/image.rs). Nothing of the image is changed but one file in the
//! overlay's upper directory: a systemd-networkd `.network` file for the
//! veth, which keeps the address and default route the test gave it (in
//! place of EC2's DHCP; there is no DHCP server here), so that
//! `network-online.target` is reached at once rather than after
//! systemd-networkd-wait-online's 2-minute timeout. (Giving the address in
//! the file instead, `Address=`, fails here: systemd 252's networkd gets
//! ERANGE from this host's kernel, 6.18, and the link ends `failed`.)
//!
//! What runs is the image's own: systemd-networkd, then `boot.service`
//! (`boot up` once `network-online.target` is reached) with
//! `boot-runsvdir.service` supervising the role. Powered off as an instance
//! shutdown does (SIGRTMIN+4 to process 1, what systemd-nspawn sends for a
//! power-off, or `systemctl poweroff` inside, what logind runs for the ACPI
//! power button of an EC2 stop), `boot down` runs before boot-runsvdir
//! stops, and the overlay boots again.
//!
//! Skips (with a message) only when the kernel refuses the namespaces; a
//! missing image, mmdebstrap or tool is a failure.

// Test set-up failing is a test failure: unwrap is the clearest report.
#![allow(clippy::unwrap_used)]

#[path = "image_support/mod.rs"]
mod image_support;

use harness::{Outcome, Scratch, cmd, read, run, wait_for};
use image_support::machine::{Boot, Machine, assert_role_powered_off, journal, requirements};
use image_support::{Net, assert_production_web_env, assert_review_page, imds_db, namespaces_available};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a box may take from process 1 to its role up (PostgreSQL's
/// initdb on a loaded 2-core machine included).
const READY: Duration = Duration::from_secs(240);

fn image_root() -> PathBuf {
    image_support::image("systemd").join("rootfs")
}

/// One instance: the overlay (mounted while the value lives) and, while it
/// runs, its systemd.
struct Instance {
    scratch: Scratch,
    machine: Option<Machine>,
    started: Instant,
    /// One per boot: the launcher, its log; names the machine's cgroup.
    boot_dirs: Vec<Scratch>,
}

impl Instance {
    /// Mounts a fresh overlay of the image and gives the veth of `net` its
    /// address through systemd-networkd (see the module's comment).
    fn new(net: &Net) -> Instance {
        let lower = image_root();
        let scratch = Scratch::new("image-systemd");
        for d in ["upper", "work", "root"] {
            std::fs::create_dir(scratch.join(d)).unwrap();
        }
        let inst = Instance { scratch, machine: None, started: Instant::now(), boot_dirs: Vec::new() };
        let network = inst.upper("etc/systemd/network/10-test-veth.network");
        std::fs::create_dir_all(network.parent().unwrap()).unwrap();
        std::fs::write(
            &network,
            format!(
                "# The instance's interface: its address and default route are\n\
                 # set by the test as EC2's DHCP would set them; networkd keeps them.\n\
                 [Match]\nName={}\n\n[Link]\nRequiredForOnline=routable\n\n\
                 [Network]\nKeepConfiguration=static\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n",
                net.veth
            ),
        )
        .unwrap();
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            inst.scratch.join("upper").display(),
            inst.scratch.join("work").display()
        );
        let mut c = cmd("mount", ["-t", "overlay", "overlay", "-o", &opts]);
        c.arg(inst.root());
        let o = run(&mut c, Duration::from_secs(30));
        assert_eq!(o.code, Some(0), "overlay mount: {}", o.stderr);
        inst
    }

    /// The overlay, as the instance sees its /.
    fn root(&self) -> PathBuf {
        self.scratch.join("root")
    }

    fn upper(&self, rel: &str) -> PathBuf {
        self.scratch.join("upper").join(rel)
    }

    /// Boots systemd on the overlay; false when the kernel refuses the
    /// namespaces (the test is skipped).
    fn boot(&mut self, net: &Net, hostname: &str) -> bool {
        assert!(self.machine.is_none(), "the instance runs already");
        let s = Scratch::new("image-systemd-boot");
        let root = self.root();
        let console = self.scratch.join("console.log");
        let how = Boot { root: &root, netns: Some(&net.inst), hostname, console: &console };
        self.started = Instant::now();
        let m = Machine::boot(&s, &how);
        self.boot_dirs.push(s);
        match m {
            Some(m) => {
                self.machine = Some(m);
                true
            }
            None => false,
        }
    }

    fn m(&self) -> &Machine {
        self.machine.as_ref().expect("the instance is not running")
    }

    fn exec(&self, args: &[&str]) -> Outcome {
        self.m().exec(args)
    }

    /// Waits until boot.service has run `boot up` and is `active` or
    /// `failed`; that state.
    fn wait_boot_unit(&self) -> String {
        let m = self.m();
        wait_for(READY, || {
            let s = m.try_property("boot.service", "ActiveState")?;
            (s == "active" || s == "failed").then_some(s)
        })
        .unwrap_or_else(|| {
            panic!("boot.service still starting after {READY:?}:\n{}", journal(&self.root(), None))
        })
    }

    /// Waits until boot.service is active (the role is up) and returns the
    /// time from process 1's start; fails at once if it failed.
    fn wait_role_ready(&self) -> Duration {
        let state = self.wait_boot_unit();
        let took = self.started.elapsed();
        assert_eq!(
            state,
            "active",
            "boot.service did not come up; the journal:\n{}",
            journal(&self.root(), None)
        );
        took
    }

    fn services(&self) -> Vec<String> {
        let o = self.exec(&["ls", "/var/lib/boot/current"]);
        assert_eq!(o.code, Some(0), "ls current: {}", o.stderr);
        let mut s: Vec<String> = o.stdout.split_whitespace().map(String::from).collect();
        s.sort();
        s
    }

    /// `sv status` of every service and its logger: all must run.
    fn assert_all_run(&self, services: &[&str]) {
        for s in services {
            let dir = format!("/var/lib/boot/current/{s}");
            let ok = wait_for(Duration::from_secs(30), || {
                let o = self.exec(&["sv", "status", &dir]);
                (o.stdout.starts_with("run: ") && o.stdout.contains("; run: log: ")).then_some(())
            });
            assert!(ok.is_some(), "{s}: {:?}", self.exec(&["sv", "status", &dir]));
        }
    }

    /// The units of the role are up and nothing of ours failed.
    fn assert_units_up(&self) {
        let m = self.m();
        for u in ["runsvdir.service", "boot-runsvdir.service", "boot.service", "systemd-networkd.service"] {
            assert_eq!(m.property(u, "ActiveState"), "active", "{u}: {}", journal(&self.root(), Some(u)));
        }
        for u in ["postgresql.service", "redis-server.service"] {
            assert_eq!(m.property(u, "ActiveState"), "inactive", "Debian's {u} ran");
        }
    }

    /// Commands of the processes inside (ps).
    fn ps(&self) -> String {
        let o = self.exec(&["ps", "-eo", "args="]);
        assert_eq!(o.code, Some(0), "ps: {}", o.stderr);
        o.stdout
    }

    /// Powers off with `how` (SIGRTMIN+4 or `systemctl poweroff` inside),
    /// waits for process 1 to exit; how long it took.
    fn power_off(&mut self, signal: bool) -> Duration {
        let t0 = Instant::now();
        let mut m = self.machine.take().expect("the instance is not running");
        if signal {
            m.power_off();
        } else {
            let o = m.systemctl(&["poweroff"]);
            assert_eq!(o.code, Some(0), "systemctl poweroff: {o:?}");
            m.wait_exit(Duration::from_secs(300));
        }
        let took = t0.elapsed();
        drop(m);
        took
    }

    /// After a power-off: `boot down` ran (before boot-runsvdir.service
    /// stopped) and left a first-boot box, every unit of ours stopped
    /// without being killed, no process is left.
    fn assert_powered_off_cleanly(&self, boots: usize) {
        let root = self.root();
        assert_role_powered_off(&root, boots);
        // Nothing runs with its root in the overlay.
        let left = image_support::processes_rooted_in(&root);
        assert!(left.is_empty(), "processes left: {left:?}");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // The machine first (its launcher's group, then its cgroup), then
        // the overlay.
        self.machine.take();
        let root = self.root();
        for _ in 0..50 {
            if run(cmd("mountpoint", ["-q"]).arg(&root), Duration::from_secs(10)).code != Some(0) {
                return;
            }
            let _ = run(&mut cmd("umount", [&root]), Duration::from_secs(10));
        }
        let _ = run(cmd("umount", ["-l"]).arg(&root), Duration::from_secs(10));
    }
}

/// A first boot with the metadata `db`: the network, the metadata
/// service, the overlay, systemd. None when the test is skipped (the
/// kernel refuses the namespaces).
fn boot_box(db: &str, hostname: &str) -> Option<(Net, Instance)> {
    if !namespaces_available() {
        return None;
    }
    requirements();
    image_root();
    let mut net = Net::new();
    net.serve(db);
    let mut inst = Instance::new(&net);
    inst.boot(&net, hostname).then_some((net, inst))
}

/// A production box: boots with `tags`, checks that `service` alone runs
/// (and `check`), powers off with `signal` (SIGRTMIN+4) or `systemctl
/// poweroff`, then boots the same overlay again (it comes back up) and
/// powers off once more.
fn production(tags: &[(&str, &str)], service: &str, signal: bool, check: impl Fn(&Net, &Instance)) {
    let Some((net, mut inst)) = boot_box(&imds_db("i-0sdprod000000001", Some(tags)), "prod-1") else {
        return;
    };
    let how = if signal { "SIGRTMIN+4" } else { "systemctl poweroff" };
    for boot in 1..=2 {
        if boot == 2 {
            assert!(inst.boot(&net, "prod-1"), "the namespaces were refused the second time");
        }
        let ready = inst.wait_role_ready();
        eprintln!("systemd production {service} (boot {boot}): process 1 start to role ready: {ready:?}");
        assert_eq!(inst.services(), [service]);
        inst.assert_units_up();
        inst.assert_all_run(&[service]);
        let ps = inst.ps();
        let app = format!("sample-{service}");
        for other in ["postgres", "redis-server", "sample-web", "sample-worker"] {
            assert!(other == app || !ps.contains(other), "{other} runs on a {service} box:\n{ps}");
        }
        check(&net, &inst);
        let took = inst.power_off(signal);
        eprintln!("systemd production {service} (boot {boot}): {how} to process 1 exit: {took:?}");
        inst.assert_powered_off_cleanly(boot);
    }
    let j = journal(&inst.root(), Some("boot.service"));
    assert_eq!(j.matches("production ready").count(), 2, "{j}");
}

#[test]
fn issue_17_systemd_production_web_from_its_autoscaling_group() {
    let tags = [("Mode", "production"), ("aws:autoscaling:groupName", "prod-web-asg"), ("Team", "ops")];
    production(&tags, "web", true, |net, _| assert_production_web_env(net));
}

#[test]
fn issue_17_systemd_production_worker_powers_off_from_inside() {
    let tags = [("Mode", "production"), ("Service", "worker"), ("Component", "critical")];
    production(&tags, "worker", false, |_, inst| {
        assert!(inst.ps().contains("sample-worker --queue critical"), "{}", inst.ps());
    });
}

#[test]
fn issue_17_systemd_review_box_runs_the_whole_stack() {
    let db = imds_db("i-0sdreview0000001", Some(&[("Mode", "review"), ("Team", "qa")]));
    let Some((net, mut inst)) = boot_box(&db, "review-1") else { return };
    let ready = inst.wait_role_ready();
    eprintln!("systemd review: process 1 start to role ready: {ready:?}");
    assert_eq!(inst.services(), ["postgres", "redis", "web", "worker"]);
    inst.assert_units_up();
    inst.assert_all_run(&["postgres", "redis", "web", "worker"]);
    assert_review_page(&net);
    // systemd names the box from /etc/hostname, as a machine does (on EC2
    // DHCP renames it), not from the name the launcher gave its namespace.
    assert_eq!(inst.exec(&["hostname"]).stdout.trim(), "localhost");
    let took = inst.power_off(true);
    eprintln!("systemd review: SIGRTMIN+4 to process 1 exit: {took:?}");
    inst.assert_powered_off_cleanly(1);
    assert!(inst.upper("var/lib/boot/data/postgres/PG_VERSION").exists(), "the data was kept");
    let worker = read(inst.upper("var/log/boot/worker/current"));
    assert!(worker.contains("event=stop"), "the worker's last words were not logged:\n{worker}");
}

#[test]
fn issue_17_systemd_no_role_fails_closed() {
    // Tags not enabled in the instance's metadata options.
    let Some((_net, mut inst)) = boot_box(&imds_db("i-0sdbad000000001", None), "bad-1") else { return };
    let state = inst.wait_boot_unit();
    let j = journal(&inst.root(), Some("boot.service"));
    assert_eq!(state, "failed", "{j}");
    // (The unit writes to the journal and the console; journald forwards
    // only to a terminal, and the console here is a file: the journal it is.)
    assert!(j.contains("instance tags are not enabled"), "no reason in the journal:\n{j}");
    assert!(j.contains("status=4/"), "boot up did not exit 4 (tags not enabled):\n{j}");
    // No half role: nothing generated, nothing of the catalogue runs.
    for never in ["var/lib/boot/state.json", "var/lib/boot/current", "var/lib/boot/sv", "var/log/boot"] {
        assert!(std::fs::symlink_metadata(inst.root().join(never)).is_err(), "a half role: {never}");
    }
    let ps = inst.ps();
    for app in ["postgres", "redis-server", "sample-web", "sample-worker"] {
        assert!(!ps.contains(app), "{app} runs without a role:\n{ps}");
    }
    inst.power_off(true);
    assert!(image_support::processes_rooted_in(&inst.root()).is_empty());
}
