// Two link choices that keep an idle supervisor's private memory small
// (docs/runsv.md, "Memory"); runsvdir's build script includes this file.
// Both keep the executable PIE with full RELRO (.cargo/config.toml,
// tests/hardening.rs).
//
// * `-z separate-loadable-segments`: every segment starts on a page of its
//   own. The RELRO data (vtables and other relocated pointers, written once
//   by the loader) and the writable data are each a little over or under a
//   page or two; started mid-page they straddle one page more, and each
//   page a process writes is a private page of that process.
// * the unwinder from the static `libgcc_eh` instead of the shared
//   `libgcc_s`: one library less to map, whose relocated and writable
//   pages would be private to each process. The programs abort on panic
//   and never unwind. Skipped when the toolchain has no `libgcc_eh.a`.

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
    println!("cargo:rustc-link-arg-bins=-Wl,-z,separate-loadable-segments");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(out) = Command::new(cc).arg("-print-file-name=libgcc_eh.a").output() else { return };
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let lib = Path::new(&path);
    if let (true, Some(dir)) = (lib.is_absolute() && lib.exists(), lib.parent()) {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}
