//! `sv`'s command line (spec sv.md §1-§3): runit's getopt rules, the
//! command table, `SVDIR`/`SVWAIT`, LSB mode by program name. Any argv
//! must give an invocation or a usage error, and a usage error renders as
//! runit's usage text.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Input: NUL-separated words; the first two are `SVDIR` and `SVWAIT`
/// (empty: unset), the rest is argv.
pub fn sv_args(data: &[u8]) {
    let mut words = data.split(|&b| b == 0).map(|w| OsString::from_vec(w.to_vec()));
    let svdir = words.next().filter(|w| !w.is_empty());
    let svwait = words.next().filter(|w| !w.is_empty());
    let argv: Vec<OsString> = words.take(64).collect();
    let env = sv::cli::Env { svdir, svwait };
    match sv::cli::parse(&argv, &env) {
        Ok(inv) => {
            assert!(!inv.services.is_empty(), "an invocation without a service");
            assert_eq!(inv.lsb, inv.prog != b"sv");
            if inv.lsb {
                assert_eq!(inv.services.len(), 1);
                assert_eq!(inv.services[0].as_bytes(), &inv.prog[..]);
            }
        }
        Err(usage) => {
            let text = usage.render();
            assert!(text.ends_with(b"\n\n"), "usage text {:?}", String::from_utf8_lossy(&text));
            let prog = &usage.prog;
            let mut want = b"usage: ".to_vec();
            want.extend_from_slice(prog);
            assert!(text.windows(want.len()).any(|w| w == want.as_slice()));
        }
    }
    // The command word alone, both modes.
    if let Some(word) = argv.get(1) {
        let _ = sv::command::parse(word.as_bytes(), false);
        let _ = sv::command::parse(word.as_bytes(), true);
    }
}
