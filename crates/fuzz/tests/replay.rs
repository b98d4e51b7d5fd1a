//! Replays every committed input through its target: the seeds (so each
//! target's checks run in plain `cargo test`) and every past finding under
//! `regressions/<target>/` (so a fixed crash stays fixed).
#![allow(clippy::unwrap_used)]

use std::path::Path;

fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(kind);
    let mut n = 0;
    for (name, run) in runit_fuzz::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else { continue };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            eprintln!("{kind}/{name}/{}", f.file_name().unwrap().to_string_lossy());
            run(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn seeds() {
    assert!(replay("seeds") >= runit_fuzz::TARGETS.len(), "every target has seeds");
}

#[test]
fn regressions() {
    replay("regressions");
}

#[test]
fn empty_and_tiny_inputs() {
    for (_, run) in runit_fuzz::TARGETS {
        for data in [&b""[..], b"\0", b"\xff", b"\n\n", b"\0\0\0\0"] {
            run(data);
        }
    }
}

/// Open findings, reported to their owners and not fixed yet
/// (docs/reliability.md): each input still fails its target. Once fixed,
/// move the file to `regressions/`.
#[test]
#[ignore = "open findings: run with --ignored to see them fail"]
fn known() {
    replay("known");
}
