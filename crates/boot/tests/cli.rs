//! The command-line surface of `boot`: usage text, exit codes, bad
//! arguments, and the read-only commands on a clean root.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn boot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_boot")).args(args).env_remove("BOOT_ROOT").output().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("boot-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(p: &Path, s: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, s).unwrap();
}

#[test]
fn usage_errors_exit_100_with_runit_style_usage() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["up", "--purge"],
        &["render"],
        &["up", "--root"],
        &["up", "--nope"],
        &["up", "x"],
    ] {
        let o = boot(args);
        assert_eq!(o.status.code(), Some(100), "{args:?}");
        let err = text(&o.stderr);
        assert!(err.starts_with("boot: "), "{err}");
        assert!(err.contains("\nusage: boot [--root dir]"), "{err}");
        assert!(err.ends_with("\n\n"), "usage is followed by an empty line: {err:?}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn clean_root_status_and_down() {
    let d = scratch("clean");
    let root = d.join("root");
    let o = boot(&["--root", root.to_str().unwrap(), "status"]);
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), "clean\n".to_string()));
    let o = boot(&["--root", root.to_str().unwrap(), "status", "--json"]);
    assert_eq!(text(&o.stdout), "{\"state\":\"clean\"}\n");
    let o = boot(&["--root", root.to_str().unwrap(), "down"]);
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), "clean\n".to_string()));
    assert!(!root.exists(), "down on a clean box creates nothing");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn invalid_inputs_exit_2_and_system_errors_111() {
    let d = scratch("invalid");
    let root = d.join("root");
    let r = root.to_str().unwrap();
    let o = boot(&["--root", r, "--source", "gopher", "tags"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).starts_with("boot: fatal: unknown tag source"), "{}", text(&o.stderr));
    write(&root.join("etc/boot/boot.toml"), "no_such_setting = 1\n");
    let o = boot(&["--root", r, "status"]);
    assert_eq!(o.status.code(), Some(2));
    let conf = root.join("etc/boot/boot.toml");
    let want = format!(
        "boot: fatal: invalid configuration {}, line 1: unknown field `no_such_setting`",
        conf.display()
    );
    assert!(text(&o.stderr).starts_with(&want), "{}", text(&o.stderr));
    std::fs::remove_file(&conf).unwrap();
    // A file named with --config must exist; the default one may not.
    let o = boot(&["--root", r, "--config", d.join("typo.toml").to_str().unwrap(), "status"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("typo.toml (--config) does not exist"), "{}", text(&o.stderr));
    assert!(!root.join("var").exists(), "{}", text(&o.stderr));
    let o = boot(&["--root", r, "--catalogue", d.join("missing").to_str().unwrap(), "plan"]);
    assert_eq!(o.status.code(), Some(111), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("unable to read catalogue"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn tags_plan_and_render_write_nothing_under_the_root() {
    let d = scratch("render");
    let root = d.join("root");
    let cat = d.join("cat");
    write(
        &cat.join("hello/service.toml"),
        "schema = 1\nname = \"hello\"\nkind = \"app\"\nmodes = [\"review\"]\n[process]\ncommand = [\"/bin/echo\", \"hi\"]\n",
    );
    write(&cat.join("env/common/GREETING"), "hi\n");
    write(&cat.join("tags.toml"), "[tags]\nMode = \"review\"\n");
    let base = ["--root", root.to_str().unwrap(), "--catalogue", cat.to_str().unwrap(), "--source", "static"];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        boot(&args)
    };
    let o = run(&["tags"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("\"Mode\"\t\"review\"\tstatic:"), "{}", text(&o.stdout));
    let o = run(&["plan"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("added: hello\n"), "{}", text(&o.stdout));
    let out = d.join("out");
    let o = run(&["render", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let dir = PathBuf::from(text(&o.stdout).trim());
    assert!(dir.file_name().unwrap().to_string_lossy().starts_with("hello@"));
    assert_eq!(std::fs::read(dir.join("env/GREETING")).unwrap(), b"hi\n");
    assert!(std::fs::read_to_string(dir.join("run")).unwrap().contains("'/bin/echo' 'hi'"));
    assert!(!root.exists(), "tags, plan and render write nothing under the root");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn help_and_version_on_stdout_exit_0() {
    let o = boot(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stderr.is_empty());
    let all = text(&o.stdout);
    for c in ["plan", "up", "down", "status", "tags", "render", "help"] {
        assert!(all.contains(&format!("\n  {c} ")), "{c} missing: {all}");
    }
    assert!(all.contains("--wait SECONDS") && all.contains("-v, -vv") && all.contains("-q"), "{all}");
    assert_eq!(text(&boot(&["help"]).stdout), all);
    for c in ["plan", "up", "down", "status", "tags", "render", "help"] {
        let o = boot(&["help", c]);
        assert_eq!(o.status.code(), Some(0), "help {c}");
        assert!(text(&o.stdout).starts_with(&format!("usage: boot [options] {c}")), "{}", text(&o.stdout));
        assert_eq!(boot(&[c, "--help"]).stdout, o.stdout);
    }
    let o = boot(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o.stdout), format!("boot (runit-rs) {}\n", env!("CARGO_PKG_VERSION")));
    let o = boot(&["help", "frobnicate"]);
    assert_eq!(o.status.code(), Some(100));
    assert!(text(&o.stderr).starts_with("boot: unknown command frobnicate\n"), "{}", text(&o.stderr));
}

#[test]
fn bad_wait_and_bad_config_write_nothing() {
    let d = scratch("badwait");
    let root = d.join("root");
    let r = root.to_str().unwrap();
    for bad in ["abc", "-5", "1.5", "999999"] {
        let o = boot(&["--root", r, "up", "--wait", bad]);
        assert_eq!(o.status.code(), Some(100), "{bad}");
        assert!(text(&o.stderr).starts_with("boot: --wait needs whole seconds"), "{}", text(&o.stderr));
        assert!(o.stdout.is_empty());
    }
    let o = boot(&["--root", r, "up", "--frobnicate"]);
    assert_eq!(o.status.code(), Some(100));
    assert!(text(&o.stderr).starts_with("boot: unknown option --frobnicate\n"));
    assert!(!root.exists(), "bad command lines write nothing");
    write(&root.join("etc/boot/boot.toml"), "wait_s = 5\nwiat_s = 5\n");
    let before = std::fs::read_dir(&root).unwrap().count();
    let o = boot(&["--root", r, "up"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("invalid configuration ")
            && text(&o.stderr).contains("line 2: unknown field `wiat_s`"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), before);
    assert!(!root.join("var").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

/// Fail closed: with no boot.toml, the catalogue's sample `tags.toml`
/// (Mode = "review") is never read; the only source is `imds`.
#[test]
fn no_config_reads_imds_only() {
    let d = scratch("failclosed");
    let root = d.join("root");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sv-templates");
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = Command::new(env!("CARGO_BIN_EXE_boot"))
        .args(["--root", root.to_str().unwrap(), "--catalogue", repo.to_str().unwrap(), "plan"])
        .env_remove("BOOT_ROOT")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("http://127.0.0.1:{dead}"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("no instance metadata service"), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty(), "no mode was guessed: {}", text(&o.stdout));
    // The review box's command line (crates/boot/review-box) names the
    // static source, and gets the review set from it.
    let o = boot(&[
        "--root",
        root.to_str().unwrap(),
        "--catalogue",
        repo.to_str().unwrap(),
        "--source",
        "static",
        "tags",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("\"Mode\"\t\"review\"\tstatic:"), "{}", text(&o.stdout));
    let script = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("review-box")).unwrap();
    assert!(
        script.contains("\"$libexec/boot\" --catalogue sv-templates --source static up --spawn-runsvdir"),
        "review-box must name its source"
    );
    assert!(!root.exists());
    std::fs::remove_dir_all(&d).unwrap();
}

/// `-v` adds debug lines, `-q` removes the info ones, `RUST_LOG` applies
/// without either; logs go to stderr, the result to stdout.
#[test]
fn verbosity_flags_and_rust_log() {
    let d = scratch("verbosity");
    let root = d.join("root");
    let cat = d.join("cat");
    write(&cat.join("tags.toml"), "[tags]\nMode = \"review\"\n");
    let base = [
        "--root",
        root.to_str().unwrap(),
        "--catalogue",
        cat.to_str().unwrap(),
        "--source",
        "static",
        "tags",
    ];
    let run = |extra: &[&str], rust_log: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_boot"));
        c.args(extra).args(base).env_remove("BOOT_ROOT").env_remove("RUST_LOG");
        if let Some(l) = rust_log {
            c.env("RUST_LOG", l);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains("\"Mode\"\t\"review\""));
        text(&o.stderr)
    };
    assert!(!run(&[], None).contains("debug:"));
    let v = run(&["-v"], None);
    assert!(v.contains("boot: debug: reading tags from static:"), "{v}");
    assert!(run(&[], Some("debug")).contains("boot: debug: reading tags from static:"));
    assert!(!run(&["-q"], Some("debug")).contains("debug:"), "-q wins over RUST_LOG");
    assert!(run(&["-vv"], None).contains("boot: debug: "));
    std::fs::remove_dir_all(&d).unwrap();
}

/// A result that cannot be written (a full disk) is exit 111 with a
/// message, never exit 0 with half the output: `boot status --prometheus
/// >"$t" && mv "$t" …` must not publish a truncated file.
#[test]
fn unwritable_output_is_a_system_error() {
    let d = scratch("full");
    let root = d.join("root");
    for args in [&["status", "--prometheus"][..], &["--help"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let o = Command::new(env!("CARGO_BIN_EXE_boot"))
            .arg("--root")
            .arg(&root)
            .args(args)
            .env_remove("BOOT_ROOT")
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(111), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).starts_with("boot: fatal: unable to write the output: "),
            "{}",
            text(&o.stderr)
        );
    }
    std::fs::remove_dir_all(&d).unwrap();
}
