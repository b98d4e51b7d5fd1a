//! The runit flavour of the unified image booted as a machine, under qemu
//! (issue 17: "a raw ext4 disk image ... that qemu could take"), twice:
//! `disk.img` with the kernel given to qemu, and `machine.img`, the whole
//! disk, booted by the BIOS through GRUB as a machine or an EC2 instance
//! would.
//!
//! The kernel and initramfs come from the image itself (`rootfs/boot/`,
//! Debian's linux-image-cloud-amd64 and initramfs-tools), given to qemu or
//! found by GRUB; a scratch copy of the disk is the root on a virtio disk; qemu runs with TCG
//! (no KVM needed) and no network at all (`-nic none`). So there is no
//! metadata service: the kernel starts our runit as /sbin/init, stage 1
//! waits `wait_s` for metadata, as the shipped boot.toml says, and fails
//! closed; runit then runs stage 3 and powers off, and qemu exits by itself
//! (`-no-reboot`). qemu runs in its own process group (the harness's
//! [`Proc`]) and is killed on any failure.
//!
//! Needs root (the image build) and qemu-system-x86_64 (tests/run installs
//! it); a missing qemu or image is a failure.

// Test set-up failing is a test failure: unwrap is the clearest report.
#![allow(clippy::unwrap_used)]

#[path = "image_support/mod.rs"]
mod image_support;

use harness::{Proc, Scratch, cmd, read, run, wait_for};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the whole boot may take: the kernel under TCG on a loaded
/// 2-core machine, boot.toml's wait_s (30 s) for metadata, stage 3.
const DEADLINE: Duration = Duration::from_secs(900);

/// The one file of `dir` whose name starts with `prefix`.
fn one_file(dir: &Path, prefix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(prefix)))
        .map(|e| e.path())
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {prefix}* in {}: {found:?}", dir.display());
    found.into_iter().next().unwrap()
}

/// The console lines of a boot without metadata, in this order: the
/// kernel, our runit as /sbin/init entering stage 1 (the image's own stage
/// script), the fail-closed message, stage 3, power off.
const FAIL_CLOSED: [&str; 11] = [
    "Linux version",
    "- runit: $Id: runit-rs ",
    "- runit: enter stage: /etc/runit/1",
    "runit-rs image: stage 1: reading the instance tags (boot plan)",
    "runit-rs image: fatal: no role for this instance: no instance metadata service answered (boot exit 3).",
    "runit-rs image: fatal: no service is started; the instance halts.",
    "- runit: skipping stage 2...",
    "- runit: enter stage: /etc/runit/3",
    "runit-rs image: stage 3: no process left",
    "- runit: power off...",
    "reboot: Power down",
];

/// Boots a scratch copy of the image's `file` under qemu with `boot_args`
/// (how the kernel is found) and returns the console once qemu powered
/// off by itself, after checking it for [`FAIL_CLOSED`] and for what must
/// not be there. The copy's path comes back too.
fn boot_fails_closed(file: &str, boot_args: &[&str], before: &[&str]) -> (String, PathBuf, Scratch) {
    let qemu = harness::installed(&["/usr/bin/qemu-system-x86_64"], "qemu-system-x86");
    let dir = image_support::image("runit");
    // qemu writes to a copy: the cached disk stays as built.
    let scratch = Scratch::new(&format!("image-qemu-{}", file.trim_end_matches(".img")));
    let disk = scratch.join(file);
    let o = run(cmd("cp", ["--sparse=always"]).arg(dir.join(file)).arg(&disk), Duration::from_secs(300));
    assert_eq!(o.code, Some(0), "cp {file}: {}", o.stderr);

    let console = scratch.join("console.log");
    let out = std::fs::File::create(&console).unwrap();
    let started = Instant::now();
    let mut q = Proc::spawn_logging(
        cmd(&qemu, ["-accel", "tcg", "-m", "512", "-smp", "1", "-nographic", "-no-reboot", "-nic", "none"])
            .args(boot_args)
            .arg("-drive")
            .arg(format!("file={},format=raw,if=virtio", disk.display()))
            .stdout(out),
        scratch.join("qemu.err"),
    );
    let status = q.wait_timeout(DEADLINE);
    let took = started.elapsed();
    let log = read(&console);
    let Some(status) = status else {
        panic!(
            "qemu did not exit within {DEADLINE:?} (killed on drop); console:\n{log}\nqemu stderr:\n{}",
            q.stderr()
        );
    };
    eprintln!("qemu ({file}): booted, failed closed and powered off in {:.1} s", took.as_secs_f64());
    assert!(status.success(), "qemu exited with {status}; console:\n{log}\nqemu stderr:\n{}", q.stderr());
    let mut at = 0;
    for needle in before.iter().chain(FAIL_CLOSED.iter()) {
        match log[at..].find(needle) {
            Some(i) => at += i + needle.len(),
            None => panic!("the console lacks {needle:?} (in this order); console:\n{log}"),
        }
    }
    assert!(!log.contains("enter stage: /etc/runit/2"), "stage 2 ran without a role:\n{log}");
    assert!(!log.contains("Kernel panic"), "{log}");
    assert!(!log.contains("cannot remount / read-only"), "{log}");
    assert!(wait_for(Duration::from_secs(5), || q.tagged_pids().is_empty().then_some(())).is_some());
    (log, disk, scratch)
}

#[test]
fn issue_17_disk_img_boots_under_qemu_and_fails_closed_without_metadata() {
    if !image_support::can_build() {
        return;
    }
    let boot = image_support::image("runit").join("rootfs/boot");
    let kernel = one_file(&boot, "vmlinuz-");
    let initrd = one_file(&boot, "initrd.img-");
    let (kernel, initrd) = (kernel.to_str().unwrap(), initrd.to_str().unwrap());
    let args = ["-kernel", kernel, "-initrd", initrd, "-append", "root=/dev/vda rw console=ttyS0"];
    let (_log, disk, _scratch) = boot_fails_closed("disk.img", &args, &[]);
    // Stage 3 left the root file system clean: read-only, then power off.
    let o = run(cmd("e2fsck", ["-n", "-f"]).arg(&disk), Duration::from_secs(300));
    assert_eq!(o.code, Some(0), "e2fsck after the boot:\n{}{}", o.stdout, o.stderr);
    // Nothing of a role was written to the disk.
    let o = run(cmd("debugfs", ["-R", "ls -l /var/lib/boot"]).arg(&disk), Duration::from_secs(60));
    assert!(!o.stdout.contains("state.json") && !o.stdout.contains("current"), "{}", o.stdout);
}

#[test]
fn issue_17_machine_img_boots_from_its_own_disk_under_bios_and_grub() {
    // The whole disk as a machine (or EC2, after import-snapshot) sees it:
    // the BIOS loads GRUB from the MBR, GRUB the kernel and initramfs from
    // the partition, which the initramfs mounts by label.
    if !image_support::can_build() {
        return;
    }
    let (log, disk, _scratch) = boot_fails_closed("machine.img", &[], &["GRUB loading"]);
    let cmdline = "Command line: BOOT_IMAGE=/vmlinuz root=LABEL=runit-rs-root ro console=tty0 console=ttyS0";
    assert!(log.contains(cmdline), "GRUB's built-in configuration:\n{log}");
    assert!(log.contains("EXT4-fs (vda1): mounted filesystem"), "the root is the partition:\n{log}");
    // The partition table is one bootable Linux partition from 1 MiB.
    let o = run(cmd("/usr/sbin/sfdisk", ["--dump"]).arg(&disk), Duration::from_secs(60));
    let line = o.stdout.lines().find(|l| l.contains(" : start=")).unwrap_or_default().to_string();
    assert!(
        line.contains("start=        2048") && line.contains("type=83") && line.contains("bootable"),
        "{}",
        o.stdout
    );
}
