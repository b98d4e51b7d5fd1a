//! End-to-end tests of the unified image, runit flavour (issue 17 item 3).
//!
//! Each test boots the image built by `crates/dist/image/build --init runit`
//! (cached under target/image/) with `crates/dist/image/instance`: an
//! overlay over the image's root tree, our runit as process 1 in new PID,
//! mount, UTS and IPC namespaces, with the stages exactly as shipped, in a
//! network namespace of its own. The fake IMDSv2 (`crates/dist/imds/
//! imds-server`) runs in a second network namespace, on 169.254.169.254,
//! reached through a veth pair: nothing listens outside the namespaces the
//! test makes, and every namespace, mount and process is removed on drop.
//!
//! The tests skip (with a message) only when the kernel refuses the
//! namespaces; a missing image, mmdebstrap or launcher is a failure.

// Test set-up failing is a test failure: unwrap is the clearest report.
#![allow(clippy::unwrap_used)]

#[path = "image_support/mod.rs"]
mod image_support;

use harness::{Outcome, Proc, Scratch, cmd, read, run, wait_for};
use image_support::{
    Net, assert_production_web_env, assert_review_page, imds_db, namespaces_available, repo,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a review box may take to become ready (PostgreSQL's initdb on
/// a loaded 2-core machine included).
const READY: Duration = Duration::from_secs(240);

fn launcher() -> PathBuf {
    repo().join("crates/dist/image/instance")
}

/// The runit flavour of the image.
fn image() -> &'static Path {
    image_support::image("runit")
}

/// One instance's state directory; `cleanup` on drop.
struct Instance {
    scratch: Scratch,
    started: Option<Instant>,
}

impl Instance {
    fn new() -> Instance {
        Instance { scratch: Scratch::new("image-instance"), started: None }
    }

    fn state(&self) -> PathBuf {
        self.scratch.join("state")
    }

    fn start(&mut self, net: &Net, hostname: &str) {
        self.start_with(net, hostname, &[]);
    }

    fn start_with(&mut self, net: &Net, hostname: &str, extra: &[&str]) {
        let state = self.state();
        let mut c = cmd(launcher(), ["start", "--rootfs"]);
        c.arg(image().join("rootfs")).arg("--state").arg(&state);
        c.args(["--hostname", hostname, "--netns", &net.inst]).args(extra);
        self.started = Some(Instant::now());
        let o = run(&mut c, Duration::from_secs(60));
        assert_eq!(o.code, Some(0), "instance start: {}{}\nconsole:\n{}", o.stdout, o.stderr, self.console());
        assert!(self.pid1() > 0);
    }

    fn pid1(&self) -> i32 {
        read(self.state().join("pid1")).trim().parse().unwrap_or(0)
    }

    fn console(&self) -> String {
        read(self.state().join("console.log"))
    }

    fn upper(&self, rel: &str) -> PathBuf {
        self.state().join("upper").join(rel)
    }

    fn exec(&self, args: &[&str]) -> Outcome {
        let mut c = cmd(launcher(), ["exec", "--state"]);
        c.arg(self.state()).arg("--").args(args);
        run(&mut c, Duration::from_secs(60))
    }

    fn stop(&self) -> Outcome {
        let mut c = cmd(launcher(), ["stop", "--state"]);
        c.arg(self.state()).args(["--timeout", "60"]);
        run(&mut c, Duration::from_secs(120))
    }

    /// Waits until the console holds `needle` at least `count` times.
    fn wait_console(&self, needle: &str, count: usize, timeout: Duration) -> Duration {
        let t0 = Instant::now();
        if wait_for(timeout, || (self.console().matches(needle).count() >= count).then_some(())).is_none() {
            panic!("no {needle:?} (x{count}) on the console after {timeout:?}:\n{}", self.console());
        }
        t0.elapsed()
    }

    /// Waits until process 1 has ended; its exit status.
    fn wait_exit(&self, timeout: Duration) -> String {
        let f = self.state().join("exit");
        wait_for(timeout, || {
            let s = read(&f);
            (!s.is_empty()).then(|| s.trim().to_string())
        })
        .unwrap_or_else(|| panic!("process 1 did not exit within {timeout:?}; console:\n{}", self.console()))
    }

    /// Host pids of processes whose root is inside this instance.
    fn processes_inside(&self) -> Vec<i32> {
        image_support::processes_rooted_in(&self.state().join("root"))
    }

    fn services(&self) -> Vec<String> {
        let o = self.exec(&["ls", "/var/lib/boot/current"]);
        assert_eq!(o.code, Some(0), "ls current: {}", o.stderr);
        o.stdout.split_whitespace().map(String::from).collect()
    }

    /// `sv status` of every service and its logger: all must run.
    fn assert_all_run(&self, services: &[&str]) {
        for s in services {
            let o = self.exec(&["sv", "status", &format!("/var/lib/boot/current/{s}")]);
            assert!(
                o.stdout.starts_with("run: ") && o.stdout.contains("; run: log: "),
                "{s}: {}{}",
                o.stdout,
                o.stderr
            );
        }
    }

    /// After a graceful stop: stage 3 ran inside the budget, boot down left
    /// a first-boot box (data and logs kept), no process is left.
    fn assert_stopped_cleanly(&self, times: usize) {
        let console = self.console();
        assert_eq!(console.matches("runit-rs image: stage 3: boot down done").count(), times, "{console}");
        assert_eq!(console.matches("runit-rs image: stage 3: no process left").count(), times, "{console}");
        assert!(!console.contains("not terminated"), "stage 2 or 3 overran the budget:\n{console}");
        assert!(!console.contains("warning: boot down exited"), "{console}");
        assert!(console.contains("- runit: exit 0: container halt."), "{console}");
        for gone in
            ["var/lib/boot/state.json", "var/lib/boot/current", "var/lib/boot/sv", "var/lib/boot/sets"]
        {
            assert!(!self.upper(gone).exists(), "boot down left {gone}");
        }
        assert!(self.processes_inside().is_empty(), "left: {:?}", self.processes_inside());
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let state = self.state();
        if state.exists() {
            let _ = cmd(launcher(), ["cleanup", "--state"]).arg(&state).status();
        }
    }
}

/// The lines of a worker log (svlogd's `current`) in the instance's upper.
fn log_of(inst: &Instance, service: &str) -> String {
    read(inst.upper(&format!("var/log/boot/{service}/current")))
}

fn no_unfinished_logs(inst: &Instance) {
    let dir = inst.upper("var/log/boot");
    for svc in std::fs::read_dir(&dir).unwrap().flatten() {
        if !svc.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(svc.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".u"), "svlogd found an unfinished log: {}", f.path().display());
        }
    }
}

#[test]
fn issue_17_review_box_boots_stops_and_boots_again() {
    if !namespaces_available() {
        return;
    }
    image();
    let mut net = Net::new();
    net.serve(&imds_db("i-0review000000001", Some(&[("Mode", "review"), ("Team", "qa")])));
    let mut inst = Instance::new();
    inst.start(&net, "review-1");
    inst.wait_console("runit-rs image: role ready at", 1, READY);
    eprintln!("review: process 1 start to role ready: {:?}", inst.started.unwrap().elapsed());

    let mut services = inst.services();
    services.sort();
    assert_eq!(services, ["postgres", "redis", "web", "worker"]);
    inst.assert_all_run(&["postgres", "redis", "web", "worker"]);
    assert_review_page(&net);
    let host = inst.exec(&["hostname"]);
    assert_eq!(host.stdout.trim(), "review-1");

    // SIGTERM to process 1: an instance termination.
    let t0 = Instant::now();
    let o = inst.stop();
    eprintln!("review: SIGTERM to process 1 exit: {:?}", t0.elapsed());
    assert_eq!(o.code, Some(0), "stop: {}\nconsole:\n{}", o.stderr, inst.console());
    assert!(inst.console().contains("- runit: shutdown request (sigterm)..."), "{}", inst.console());
    inst.assert_stopped_cleanly(1);
    assert!(inst.upper("var/lib/boot/data/postgres/PG_VERSION").exists(), "the data was kept");
    assert!(log_of(&inst, "worker").contains("event=stop"), "worker log:\n{}", log_of(&inst, "worker"));

    // The same instance again: start-up is restartable.
    inst.start(&net, "review-1");
    inst.wait_console("runit-rs image: role ready at", 2, READY);
    eprintln!("review (restart): process 1 start to role ready: {:?}", inst.started.unwrap().elapsed());
    inst.assert_all_run(&["postgres", "redis", "web", "worker"]);
    assert_review_page(&net);
    no_unfinished_logs(&inst);

    // runit-init 0 from inside.
    let t0 = Instant::now();
    let o = inst.exec(&["runit-init", "0"]);
    assert_eq!(o.code, Some(0), "runit-init 0: {}", o.stderr);
    assert_eq!(inst.wait_exit(Duration::from_secs(60)), "0", "{}", inst.console());
    eprintln!("review: runit-init 0 to process 1 exit: {:?}", t0.elapsed());
    let o = inst.stop();
    assert_eq!(o.code, Some(0), "stop after the halt: {}", o.stderr);
    inst.assert_stopped_cleanly(2);
    no_unfinished_logs(&inst);

    // Imaging a review box that passed QA: `boot down --purge` leaves
    // nothing of the review role, its data or its logs.
    inst.start(&net, "review-1");
    inst.wait_console("runit-rs image: role ready at", 3, READY);
    let o = inst.exec(&["boot", "down", "--purge"]);
    assert_eq!(o.code, Some(0), "boot down --purge: {}{}", o.stdout, o.stderr);
    let o = inst.exec(&["boot", "status"]);
    assert_eq!(o.stdout.trim(), "clean", "{}", o.stderr);
    let ps = inst.exec(&["ps", "-eo", "comm="]);
    for gone in ["postgres", "redis-server", "sample-web", "sample-worker", "svlogd", "runsv"] {
        assert!(!ps.stdout.lines().any(|l| l.trim() == gone), "{gone} still runs:\n{}", ps.stdout);
    }
    for gone in
        ["var/lib/boot/data", "var/log/boot", "var/lib/boot/sv", "var/lib/boot/state.json", "run/boot"]
    {
        assert!(!inst.state().join("root").join(gone).exists(), "boot down --purge left {gone}");
    }
    let o = inst.stop();
    assert_eq!(o.code, Some(0), "stop: {}\n{}", o.stderr, inst.console());
    inst.assert_stopped_cleanly(3);
}

fn production(tags: &[(&str, &str)], service: &str, check: impl Fn(&Net, &Instance)) {
    let mut net = Net::new();
    net.serve(&imds_db("i-0prod0000000001", Some(tags)));
    let mut inst = Instance::new();
    inst.start(&net, "prod-1");
    inst.wait_console("runit-rs image: role ready at", 1, READY);
    eprintln!("production {service}: process 1 start to role ready: {:?}", inst.started.unwrap().elapsed());
    assert_eq!(inst.services(), [service]);
    inst.assert_all_run(&[service]);
    let ps = inst.exec(&["ps", "-eo", "comm="]);
    assert_eq!(ps.code, Some(0), "{}", ps.stderr);
    for other in ["postgres", "redis-server"] {
        assert!(!ps.stdout.lines().any(|l| l.trim() == other), "{other} runs:\n{}", ps.stdout);
    }
    check(&net, &inst);
    let t0 = Instant::now();
    let o = inst.stop();
    eprintln!("production {service}: SIGTERM to process 1 exit: {:?}", t0.elapsed());
    assert_eq!(o.code, Some(0), "stop: {}\nconsole:\n{}", o.stderr, inst.console());
    inst.assert_stopped_cleanly(1);
}

#[test]
fn issue_17_production_web_from_its_autoscaling_group() {
    if !namespaces_available() {
        return;
    }
    image();
    let tags = [("Mode", "production"), ("aws:autoscaling:groupName", "prod-web-asg"), ("Team", "ops")];
    production(&tags, "web", |net, _| assert_production_web_env(net));
}

#[test]
fn issue_17_production_worker_runs_its_component_alone() {
    if !namespaces_available() {
        return;
    }
    image();
    let tags = [("Mode", "production"), ("Service", "worker"), ("Component", "critical")];
    production(&tags, "worker", |_, inst| {
        let ps = inst.exec(&["ps", "-eo", "args="]);
        assert!(ps.stdout.contains("sample-worker --queue critical"), "{}", ps.stdout);
    });
}

#[test]
fn issue_17_machine_mode_runs_a_machines_stages() {
    if !namespaces_available() {
        return;
    }
    image();
    let mut net = Net::new();
    net.serve(&imds_db("i-0machine00000001", Some(&[("Mode", "production"), ("Service", "worker")])));
    let mut inst = Instance::new();
    // No container mode: process 1 as a kernel starts it.
    inst.start_with(&net, "machine-1", &["--machine"]);
    inst.wait_console("runit-rs image: role ready at", 1, READY);
    assert_eq!(inst.services(), ["worker"]);
    // Stage 1 set the machine's name from /etc/hostname.
    assert_eq!(inst.exec(&["hostname"]).stdout.trim(), "localhost");
    // `stop` runs runit-init 0 inside: stage 3, then runit's reboot(2)
    // ends the PID namespace as a halt.
    let o = inst.stop();
    assert_eq!(o.code, Some(0), "stop: {}\nconsole:\n{}", o.stderr, inst.console());
    assert_eq!(read(inst.state().join("exit")).trim(), "130");
    let console = inst.console();
    for line in [
        "runit-rs image: stage 3: boot down done",
        "runit-rs image: stage 3: no process left",
        "- runit: power off...",
    ] {
        assert!(console.contains(line), "no {line:?}:\n{console}");
    }
    assert!(!console.contains("warning: cannot remount"), "{console}");
    assert!(!console.contains("container halt"), "{console}");
    assert!(!inst.upper("var/lib/boot/state.json").exists());
    assert!(inst.processes_inside().is_empty());
}

/// Boots with `db` (None: no metadata service at all) and expects stage 1
/// to refuse: `why` on the console, process 1 halts with 100, nothing ran
/// and nothing of a role was written.
fn fails_closed(db: Option<&str>, why: &str) {
    let mut net = Net::new();
    if let Some(db) = db {
        net.serve(db);
    }
    let mut inst = Instance::new();
    inst.start(&net, "bad-1");
    let status = inst.wait_exit(Duration::from_secs(180));
    let console = inst.console();
    assert_eq!(status, "100", "{console}");
    assert!(console.contains("runit-rs image: fatal: no role for this instance"), "{console}");
    assert!(console.contains(why), "wanted {why:?} on the console:\n{console}");
    assert!(console.contains("- runit: skipping stage 2..."), "{console}");
    assert!(!console.contains("enter stage: /etc/runit/2"), "{console}");
    assert!(console.contains("runit-rs image: stage 3: no process left"), "{console}");
    for never in
        ["var/lib/boot/state.json", "var/lib/boot/current", "var/lib/boot/sv", "var/log/boot", "run/boot"]
    {
        assert!(!inst.upper(never).exists(), "a half role: {never} was written");
    }
    let o = inst.stop();
    assert_eq!(o.code, Some(1), "stop reports the failed start: {}", o.stderr);
    assert!(o.stderr.contains("status 100"), "{}", o.stderr);
    assert!(inst.processes_inside().is_empty());
}

#[test]
fn issue_17_no_role_fails_closed() {
    if !namespaces_available() {
        return;
    }
    image();
    // No tags at all.
    fails_closed(Some(&imds_db("i-0bad00000000001", Some(&[]))), "the tags or the catalogue are invalid");
    // Tags not enabled in the metadata options.
    fails_closed(Some(&imds_db("i-0bad00000000002", None)), "instance tags are not enabled");
    // Hostile values.
    fails_closed(
        Some(&imds_db("i-0bad00000000003", Some(&[("Mode", "production"), ("Service", "../../etc")]))),
        "the tags or the catalogue are invalid",
    );
    fails_closed(
        Some(&imds_db("i-0bad00000000004", Some(&[("Mode", "review'; reboot; '")]))),
        "the tags or the catalogue are invalid",
    );
}

#[test]
fn issue_17_no_metadata_service_fails_closed() {
    if !namespaces_available() {
        return;
    }
    image();
    fails_closed(None, "no instance metadata service answered");
}

#[test]
fn issue_17_launcher_refuses_bad_input() {
    let scratch = Scratch::new("image-launcher");
    let state = scratch.join("state");
    let l = launcher();
    let o = run(&mut cmd(&l, ["bogus"]), Duration::from_secs(10));
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    let mut c = cmd(&l, ["start", "--rootfs", "/nonexistent", "--state"]);
    c.arg(&state).args(["--hostname", "bad host", "--netns", "x"]);
    let o = run(&mut c, Duration::from_secs(10));
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("bad hostname"), "{}", o.stderr);
    assert!(!state.exists(), "a refused start created {}", state.display());
    let o =
        run(&mut cmd(&l, ["exec", "--state", "/nonexistent-state", "--", "true"]), Duration::from_secs(10));
    assert_ne!(o.code, Some(0));
}

/// What both flavours must hold: the catalogue, boot.toml and the sample
/// apps as shipped, Debian's PostgreSQL and Redis disabled, no default
/// cluster, a box that never booted.
fn assert_provisioned(root: &Path) {
    let same = |inside: &str, ours: &Path| {
        assert_eq!(
            std::fs::read(root.join(inside)).unwrap_or_else(|e| panic!("{inside}: {e}")),
            std::fs::read(ours).unwrap(),
            "{inside} differs from {}",
            ours.display()
        );
    };
    same("etc/boot/boot.toml", &repo().join("crates/dist/container/boot.toml"));
    for f in ["web/service.toml", "worker/service.toml", "postgres/service.toml", "redis/service.toml"] {
        same(&format!("usr/share/boot/sv-templates/{f}"), &repo().join("sv-templates").join(f));
    }
    for b in ["boot", "runsvdir", "runsv", "sv", "svlogd", "chpst", "sample-web", "sample-worker"] {
        assert!(root.join("usr/bin").join(b).is_file(), "/usr/bin/{b} is missing");
    }
    for unit in ["postgresql.service", "redis-server.service"] {
        let l = root.join("etc/systemd/system/multi-user.target.wants").join(unit);
        assert!(l.symlink_metadata().is_err(), "{unit} is still enabled");
    }
    for rc in ["rc2.d", "rc3.d", "rc4.d", "rc5.d"] {
        if let Ok(dir) = std::fs::read_dir(root.join("etc").join(rc)) {
            for e in dir.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                assert!(
                    !(n.starts_with('S') && (n.contains("postgresql") || n.contains("redis"))),
                    "SysV start link {rc}/{n}"
                );
            }
        }
    }
    let clusters: Vec<_> =
        std::fs::read_dir(root.join("etc/postgresql")).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(clusters.is_empty(), "a default PostgreSQL cluster was made: {clusters:?}");
    for never in ["var/lib/boot/state.json", "var/lib/boot/current", "var/lib/boot/sv"] {
        assert!(!root.join(never).exists(), "the image holds {never}");
    }
    assert_eq!(read(root.join("etc/machine-id")), "", "the image has a machine id");
    assert_eq!(read(root.join("etc/hostname")), "localhost\n", "the build host's name is in the image");
    assert!(
        !read(root.join("etc/resolv.conf")).contains("nameserver"),
        "the build host's resolver is in the image"
    );
}

#[test]
fn issue_17_runit_flavour_ships_the_container_stages_and_a_disk() {
    if !image_support::can_build() {
        return;
    }
    let dir = image();
    let root = dir.join("rootfs");
    assert_provisioned(&root);
    assert_eq!(std::fs::read_link(root.join("usr/sbin/init")).unwrap(), Path::new("runit-init"));
    for s in ["1", "2", "3", "ctrlaltdel"] {
        assert_eq!(
            std::fs::read(root.join("etc/runit").join(s)).unwrap(),
            std::fs::read(repo().join("crates/dist/container/runit").join(s)).unwrap(),
            "/etc/runit/{s} is not crates/dist/container/runit/{s}"
        );
    }
    assert!(read(root.join("etc/runit-rs-image")).contains("flavour=runit"));
    // The disk holds the same tree.
    let o =
        run(cmd("debugfs", ["-R", "cat /etc/runit/1"]).arg(dir.join("disk.img")), Duration::from_secs(30));
    assert_eq!(o.stdout, read(repo().join("crates/dist/container/runit/1")), "{}", o.stderr);
    // A disk too small is refused, and the image is left as it was.
    let before = std::fs::metadata(dir.join("disk.img")).unwrap().modified().unwrap();
    let build = repo().join("crates/dist/image/build");
    let o = run(&mut cmd(&build, ["--init", "runit", "--size", "64M"]), Duration::from_secs(600));
    assert_eq!(o.code, Some(2), "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("is too small"), "{}", o.stderr);
    assert_eq!(std::fs::metadata(dir.join("disk.img")).unwrap().modified().unwrap(), before);
    let o = run(&mut cmd(&build, ["--init", "runit", "--size", "lots"]), Duration::from_secs(60));
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    let o = run(&mut cmd(&build, ["--init", "openrc"]), Duration::from_secs(60));
    assert_eq!(o.code, Some(2), "{}", o.stderr);
}

#[test]
fn issue_17_systemd_flavour_runs_the_packages_units() {
    if !image_support::can_build() {
        return;
    }
    let root = image_support::image("systemd").join("rootfs");
    assert_provisioned(&root);
    let init = std::fs::read_link(root.join("usr/sbin/init")).unwrap();
    assert!(init.to_string_lossy().ends_with("systemd"), "/sbin/init -> {}", init.display());
    assert!(!root.join("etc/runit/1").exists(), "the systemd flavour has runit stages");
    for (unit, want) in [
        ("boot.service", "enabled"),
        ("runsvdir.service", "enabled"),
        ("systemd-networkd.service", "enabled"),
        ("postgresql.service", "disabled"),
        ("redis-server.service", "disabled"),
    ] {
        let mut c = cmd("systemctl", ["is-enabled"]);
        c.arg(format!("--root={}", root.display())).arg(unit);
        let o = run(&mut c, Duration::from_secs(30));
        assert_eq!(o.stdout.trim(), want, "{unit}: {}", o.stderr);
    }
    assert!(read(root.join("etc/runit-rs-image")).contains("flavour=systemd"));
}

#[test]
fn issue_17_fake_imds_enforces_imdsv2() {
    let scratch = Scratch::new("image-imds");
    let db = scratch.join("db.json");
    std::fs::write(
        &db,
        r#"{"*": {"instance_id": "i-0abc", "tags": {"Mode": "review", "Two words": "x y"}},
            "127.0.0.2": {"instance_id": "i-0def", "tags": null, "delay_s": 1}}"#,
    )
    .unwrap();
    let log = scratch.join("log");
    let mut c = cmd(repo().join("crates/dist/imds/imds-server"), ["--listen", "127.0.0.1:0", "--db"]);
    c.arg(&db);
    let _server = Proc::spawn_logging(&mut c, &log);
    let port = wait_for(Duration::from_secs(20), || {
        read(&log)
            .lines()
            .find_map(|l| l.strip_prefix("imds-server: listening on 127.0.0.1:")?.parse::<u16>().ok())
    })
    .expect("imds-server did not listen");
    // curl -w prints the status after the body.
    let curl2 = |args: &[&[&str]]| -> (String, String) {
        let args: Vec<&str> = args.concat();
        let o =
            run(cmd("curl", ["-sS", "-m", "10", "-w", " %{http_code}"]).args(&args), Duration::from_secs(20));
        assert_eq!(o.code, Some(0), "curl {args:?}: {}", o.stderr);
        let (body, code) = o.stdout.rsplit_once(' ').unwrap();
        (body.to_string(), code.to_string())
    };
    let curl = |args: &[&str]| curl2(&[args]);
    let url = |host: &str, path: &str| format!("http://{host}:{port}{path}");
    let ttl = |s: &str| format!("X-aws-ec2-metadata-token-ttl-seconds: {s}");
    let token_url = url("127.0.0.1", "/latest/api/token");
    for bad in ["0", "21601", "soon"] {
        assert_eq!(curl(&["-X", "PUT", "-H", &ttl(bad), &token_url]).1, "400", "ttl {bad}");
    }
    assert_eq!(curl(&["-X", "PUT", &token_url]).1, "400", "no ttl");
    let (token, code) = curl(&["-X", "PUT", "-H", &ttl("60"), &token_url]);
    assert_eq!(code, "200");
    let auth = format!("X-aws-ec2-metadata-token: {token}");
    let id = url("127.0.0.1", "/latest/meta-data/instance-id");
    assert_eq!(curl(&[&id]).1, "401", "IMDSv1 must be refused");
    assert_eq!(curl(&["-H", "X-aws-ec2-metadata-token: forged", &id]).1, "401");
    assert_eq!(curl(&["-H", &auth, &id]), ("i-0abc".to_string(), "200".to_string()));
    let tags = url("127.0.0.1", "/latest/meta-data/tags/instance");
    assert_eq!(curl(&["-H", &auth, &tags]), ("Mode\nTwo words".to_string(), "200".to_string()));
    let two = url("127.0.0.1", "/latest/meta-data/tags/instance/Two%20words");
    assert_eq!(curl(&["-H", &auth, &two]), ("x y".to_string(), "200".to_string()));
    let doc = curl(&["-H", &auth, &url("127.0.0.1", "/latest/dynamic/instance-identity/document")]);
    assert!(doc.0.contains("\"instanceId\": \"i-0abc\""), "{}", doc.0);
    // From 127.0.0.2: held back for a second (503), then its own instance,
    // with tags not enabled (404).
    let from2: &[&str] = &["--interface", "127.0.0.2"];
    assert_eq!(curl2(&[from2, &["-X", "PUT", "-H", &ttl("60"), &token_url]]).1, "503");
    let (token2, _) = wait_for(Duration::from_secs(10), || {
        let r = curl2(&[from2, &["-X", "PUT", "-H", &ttl("60"), &token_url]]);
        (r.1 == "200").then_some(r)
    })
    .expect("127.0.0.2 never got a token");
    let auth2 = format!("X-aws-ec2-metadata-token: {token2}");
    assert_eq!(curl2(&[from2, &["-H", &auth2, &id]]).0, "i-0def");
    assert_eq!(curl2(&[from2, &["-H", &auth2, &tags]]).1, "404");
}
