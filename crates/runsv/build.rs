// Link choices that keep an idle supervisor's memory small (docs/runsv.md,
// "Memory"); runsvdir's build script includes this file. A non-PIE
// executable (no start-up relocations dirtying its read-only data),
// page-aligned segments (the writable data on one page) and the unwinder
// from the static libgcc_eh instead of the shared libgcc_s (one mapping
// less, whose pages no other process shares; the programs abort on panic
// and never unwind). Both are skipped when the toolchain does not offer
// them.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // The file itself, for runsvdir, which includes it.
    println!("cargo:rerun-if-changed=../runsv/build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux-gnu") {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    // Every segment starts on a page of its own, so that the writable data
    // (`.data` and `.bss`, under a page together) is not split across two
    // pages that both get dirtied.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,separate-loadable-segments");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(cc).arg("-print-file-name=libgcc_eh.a").output();
    let Ok(out) = out else { return };
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let lib = Path::new(&path);
    if let (true, Some(dir)) = (lib.is_absolute() && lib.exists(), lib.parent()) {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}
