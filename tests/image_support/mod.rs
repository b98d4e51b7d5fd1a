//! Shared pieces of the image's end-to-end tests (tests/image.rs,
//! tests/image_systemd.rs) and of tests/systemd_units.rs: the image build,
//! the namespaces check, the fake IMDSv2 in a network namespace of its own
//! reached through a veth ([`Net`]), and systemd as process 1 of new
//! namespaces ([`machine`]).
#![allow(dead_code, clippy::unwrap_used)]

pub mod machine;

use harness::{Outcome, Proc, Scratch, cmd, read, run};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when the image can be built here (root: mmdebstrap's chroot and
/// mounts); otherwise prints why the test is skipped.
pub fn can_build() -> bool {
    let root = harness::is_root();
    if !root {
        eprintln!("skipped: the kernel refuses the image build's chroot and mounts to a non-root user");
    }
    root
}

/// True when the kernel lets us make the namespaces an instance needs;
/// otherwise prints why the test is skipped.
pub fn namespaces_available() -> bool {
    if !harness::is_root() {
        eprintln!("skipped: the kernel refuses namespaces and mounts to a non-root user (run as root)");
        return false;
    }
    let ok =
        cmd("unshare", ["--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "--mount-proc", "true"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: the kernel refuses new PID, mount, UTS, IPC or network namespaces here");
    }
    ok
}

/// The image of flavour `init` ("runit" or "systemd"), built once per test
/// binary (a cache hit after the first run); its output directory.
pub fn image(init: &str) -> &'static Path {
    static RUNIT: OnceLock<PathBuf> = OnceLock::new();
    static SYSTEMD: OnceLock<PathBuf> = OnceLock::new();
    let (cell, init_file) = match init {
        "runit" => (&RUNIT, "rootfs/usr/sbin/runit"),
        "systemd" => (&SYSTEMD, "rootfs/usr/lib/systemd/systemd"),
        other => panic!("no image flavour {other}"),
    };
    cell.get_or_init(|| {
        let build = repo().join("crates/dist/image/build");
        let o = run(&mut cmd(&build, ["--init", init]), Duration::from_secs(1800));
        assert_eq!(o.code, Some(0), "image build failed:\n{}\n{}", o.stdout, o.stderr);
        let dir = PathBuf::from(o.stdout.lines().last().expect("build printed its directory"));
        for f in [init_file, "rootfs/etc/boot/boot.toml", "rootfs.tar", "disk.img"] {
            assert!(dir.join(f).exists(), "{} is missing", dir.join(f).display());
        }
        dir
    })
}

/// Host pids of the live processes whose root is ROOT or below it: what
/// still runs inside an instance.
pub fn processes_rooted_in(root: &Path) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if std::fs::read_link(e.path().join("root")).is_ok_and(|r| r.starts_with(root))
            && !harness::is_zombie(pid)
        {
            out.push(pid);
        }
    }
    out
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Escapes `s` as a JSON string.
pub fn json_str(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The IMDS database entry for any client: `tags` None = tags not enabled.
pub fn imds_db(instance_id: &str, tags: Option<&[(&str, &str)]>) -> String {
    let tags = match tags {
        None => "null".to_string(),
        Some(t) => {
            let kv: Vec<String> =
                t.iter().map(|(k, v)| format!("{}: {}", json_str(k), json_str(v))).collect();
            format!("{{{}}}", kv.join(", "))
        }
    };
    format!("{{\"*\": {{\"instance_id\": {}, \"tags\": {tags}, \"delay_s\": 0}}}}\n", json_str(instance_id))
}

pub fn ip(args: &[&str]) {
    let o = run(&mut cmd("ip", args), Duration::from_secs(10));
    assert_eq!(o.code, Some(0), "ip {args:?}: {}", o.stderr);
}

/// Two network namespaces joined by a veth pair: the instance's
/// (10.200.0.2, default route to the other) and the metadata service's
/// (10.200.0.1 and 169.254.169.254).
pub struct Net {
    /// The instance's network namespace (`ip netns` name).
    pub inst: String,
    /// The instance's end of the veth pair (in `inst`).
    pub veth: String,
    imds: String,
    scratch: Scratch,
    server: Option<Proc>,
}

impl Net {
    pub fn new() -> Net {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let (vi, vm) = (format!("vi{pid}n{n}"), format!("vm{pid}n{n}"));
        let net = Net {
            inst: format!("rrs-img-{pid}-{n}-i"),
            imds: format!("rrs-img-{pid}-{n}-m"),
            veth: vi.clone(),
            scratch: Scratch::new("image-net"),
            server: None,
        };
        ip(&["netns", "add", &net.inst]);
        ip(&["netns", "add", &net.imds]);
        ip(&[
            "link", "add", &vi, "netns", &net.inst, "type", "veth", "peer", "name", &vm, "netns", &net.imds,
        ]);
        ip(&["-n", &net.inst, "addr", "add", "10.200.0.2/24", "dev", &vi]);
        ip(&["-n", &net.inst, "link", "set", &vi, "up"]);
        ip(&["-n", &net.inst, "route", "add", "default", "via", "10.200.0.1"]);
        ip(&["-n", &net.imds, "addr", "add", "10.200.0.1/24", "dev", &vm]);
        ip(&["-n", &net.imds, "addr", "add", "169.254.169.254/32", "dev", &vm]);
        ip(&["-n", &net.imds, "link", "set", &vm, "up"]);
        ip(&["-n", &net.imds, "link", "set", "lo", "up"]);
        net
    }

    /// Starts the fake IMDS in its namespace with `db`.
    pub fn serve(&mut self, db: &str) {
        let file = self.scratch.join("imds.json");
        std::fs::write(&file, db).unwrap();
        let server = repo().join("crates/dist/imds/imds-server");
        let log = self.scratch.join("imds.log");
        let mut c = cmd("ip", ["netns", "exec", &self.imds]);
        c.arg(&server).args(["--listen", "169.254.169.254:80", "--db"]).arg(&file);
        let p = Proc::spawn_logging(&mut c, &log);
        harness::wait_until(Duration::from_secs(20), "the fake IMDS to listen", || {
            read(&log).contains("listening on")
        });
        self.server = Some(p);
    }

    /// curl from inside the instance's network namespace.
    pub fn curl(&self, url: &str) -> Outcome {
        run(
            &mut cmd("ip", ["netns", "exec", &self.inst, "curl", "-sS", "-m", "10", url]),
            Duration::from_secs(20),
        )
    }
}

/// The review box's web page (from inside its network namespace) reads
/// both databases and shows the role from the tags Mode=review, Team=qa.
pub fn assert_review_page(net: &Net) {
    let page = net.curl("http://127.0.0.1:8080/");
    assert_eq!(page.code, Some(0), "{}", page.stderr);
    for want in ["redis: ok hits=", "postgres: ok server_version_num=", "BOOT_MODE=review", "APP_TEAM=qa"] {
        assert!(page.stdout.contains(want), "no {want:?} on the page:\n{}", page.stdout);
    }
}

/// The production web box's environment (its `/env` page) holds its role
/// from the tags Mode=production, its group's name and Team=ops.
pub fn assert_production_web_env(net: &Net) {
    let env = net.curl("http://127.0.0.1:8080/env");
    assert_eq!(env.code, Some(0), "{}", env.stderr);
    for want in ["BOOT_SERVICE=web\n", "BOOT_MODE=production\n", "APP_TEAM=ops\n"] {
        assert!(env.stdout.contains(want), "no {want:?} in the environment:\n{}", env.stdout);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.server.take();
        for ns in [&self.inst, &self.imds] {
            let _ = cmd("ip", ["netns", "del", ns.as_str()]).stderr(std::process::Stdio::null()).status();
        }
    }
}
