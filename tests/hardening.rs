//! Every program of the suite is hardened (issue 19): a position-independent
//! executable (ELF type `ET_DYN` with an interpreter, so the kernel
//! randomises where it loads) with full RELRO (a `PT_GNU_RELRO` segment and
//! `BIND_NOW`, so the relocated data and the GOT are read-only once the
//! loader is done). Checked on the RELEASE binaries, the ones that ship,
//! with a small ELF64 reader below (no tool needed).
//!
//! `tests/run` builds them (`cargo build --release --workspace --bins`)
//! before the suite; run that first when calling `cargo test` by hand.

use harness::{Scratch, target_dir};
use std::path::PathBuf;

/// The programs the workspace builds (release), shipped or not.
const PROGRAMS: &[&str] = &[
    "runsv",
    "runsvdir",
    "runsvchdir",
    "sv",
    "chpst",
    "svlogd",
    "runit",
    "runit-init",
    "boot",
    "runit-bench",
    "sample-web",
    "sample-worker",
];

const ET_DYN: u16 = 3;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_GNU_RELRO: u32 = 0x6474_e552;
const DT_NULL: u64 = 0;
const DT_FLAGS: u64 = 30;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DF_BIND_NOW: u64 = 0x8;
const DF_1_NOW: u64 = 0x1;
const DF_1_PIE: u64 = 0x0800_0000;

/// What the headers say about one executable.
#[derive(Debug, Default)]
struct Hardening {
    pie: bool,
    interp: bool,
    relro: bool,
    bind_now: bool,
    flags_1: u64,
}

fn release_dir() -> PathBuf {
    // target/<profile> -> target/release
    target_dir().parent().expect("target dir").join("release")
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn at(v: u64) -> Option<usize> {
    usize::try_from(v).ok()
}

/// Reads the ELF header, the program headers and the dynamic section of a
/// little-endian ELF64 file. `None`: not such a file, or truncated.
fn inspect(b: &[u8]) -> Option<Hardening> {
    if b.get(..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None;
    }
    let mut h = Hardening { pie: u16_at(b, 16)? == ET_DYN, ..Hardening::default() };
    let phoff = at(u64_at(b, 32)?)?;
    let phentsize = usize::from(u16_at(b, 54)?);
    let phnum = usize::from(u16_at(b, 56)?);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        match u32_at(b, ph)? {
            PT_INTERP => h.interp = true,
            PT_GNU_RELRO => h.relro = true,
            PT_DYNAMIC => {
                let (off, size) = (at(u64_at(b, ph + 8)?)?, at(u64_at(b, ph + 32)?)?);
                for entry in (off..off + size).step_by(16) {
                    let (tag, val) = (u64_at(b, entry)?, u64_at(b, entry + 8)?);
                    match tag {
                        DT_NULL => break,
                        DT_FLAGS => h.bind_now |= val & DF_BIND_NOW != 0,
                        DT_FLAGS_1 => h.flags_1 |= val,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(h)
}

#[test]
fn every_release_program_is_pie_with_full_relro() {
    let dir = release_dir();
    let mut failures = Vec::new();
    for name in PROGRAMS {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: the release binaries are not built; run \
                 `cargo build --release --workspace --bins` (tests/run does)",
                path.display()
            )
        });
        let h =
            inspect(&bytes).unwrap_or_else(|| panic!("{}: not a little-endian ELF64 file", path.display()));
        let now = h.bind_now || h.flags_1 & DF_1_NOW != 0;
        if !(h.pie && h.interp) {
            failures.push(format!("{name}: not PIE ({h:?})"));
        }
        if !h.relro {
            failures.push(format!("{name}: no PT_GNU_RELRO ({h:?})"));
        }
        if !now {
            failures.push(format!("{name}: no BIND_NOW, RELRO is partial ({h:?})"));
        }
    }
    assert!(failures.is_empty(), "binaries not hardened:\n{}", failures.join("\n"));
}

/// The reader itself: a shared library is ET_DYN without an interpreter,
/// so the interpreter check is what separates a PIE from it; and a
/// non-PIE build of a test program (the link the suite used to have)
/// fails the check.
#[test]
fn the_reader_tells_pie_from_a_fixed_address_executable() {
    let dir = Scratch::new("hardening");
    let src = dir.join("t.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("write");
    let build = |out: &str, args: &[&str]| {
        let out = dir.join(out);
        let st = std::process::Command::new("cc")
            .args(args)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .status()
            .expect("cc (gcc is needed to build Rust programs on Linux)");
        assert!(st.success(), "cc {args:?} failed");
        inspect(&std::fs::read(&out).expect("read")).expect("ELF64")
    };
    let pie = build("pie", &["-fPIE", "-pie", "-Wl,-z,relro,-z,now"]);
    assert!(pie.pie && pie.interp && pie.relro, "{pie:?}");
    assert!(pie.bind_now || pie.flags_1 & DF_1_NOW != 0, "{pie:?}");
    assert!(pie.flags_1 & DF_1_PIE != 0, "{pie:?}");
    let fixed = build("fixed", &["-fno-PIE", "-no-pie", "-Wl,-z,norelro,-z,lazy"]);
    assert!(!fixed.pie && !fixed.relro && !fixed.bind_now && fixed.flags_1 & DF_1_NOW == 0, "{fixed:?}");
}
