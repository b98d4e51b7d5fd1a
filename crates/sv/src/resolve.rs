//! Service name resolution (sv.md §3), including runit's trailing-slash
//! inconsistency.
//!
//! When sending (and for `status`), a plain name is looked up under
//! `SVDIR`; a name that is empty, starts with `/` or `.`, or **ends with
//! `/`** is taken relative to the current directory. The wait loop uses
//! the older rule, in which only a leading `/` or `.` means "as given", so
//! `sv -v up foo/` sends to `./foo/` and then looks for `$SVDIR/foo/` —
//! an upstream bug (2.1.2 and 2.3.0) that we reproduce because its output
//! is part of the contract.

/// Which of sv's two passes resolves the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Sending commands and printing status.
    Send,
    /// The wait loop of `-v`/`-w` and the LSB-style commands.
    Wait,
}

/// True when `name` is looked up under `SVDIR` (sv changes there first,
/// then into `name`); false when it is changed into directly.
pub fn under_svdir(name: &[u8], pass: Pass) -> bool {
    let as_given = matches!(name.first(), Some(b'/' | b'.'));
    match pass {
        Pass::Send => !name.is_empty() && !as_given && name.last() != Some(&b'/'),
        Pass::Wait => !as_given,
    }
}

/// The service's path for display (`sv -j`): `name` under `svdir` or
/// under `cwd` as [`under_svdir`] decides for the sending pass, with `.`
/// components, repeated and trailing slashes removed. `..` is kept (it
/// cannot be folded without resolving symlinks).
pub fn display_path(name: &[u8], svdir: &[u8], cwd: &[u8]) -> Vec<u8> {
    let mut full = Vec::new();
    if name.first() != Some(&b'/') {
        let base = if under_svdir(name, Pass::Send) { svdir } else { b"" };
        if base.first() != Some(&b'/') {
            full.extend_from_slice(cwd);
            full.push(b'/');
        }
        full.extend_from_slice(base);
        full.push(b'/');
    }
    full.extend_from_slice(name);
    let mut out = Vec::with_capacity(full.len());
    for part in full.split(|&b| b == b'/') {
        if part.is_empty() || part == b"." {
            continue;
        }
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sending_pass() {
        assert!(under_svdir(b"foo", Pass::Send));
        assert!(under_svdir(b"foo/bar", Pass::Send));
        assert!(!under_svdir(b"./foo", Pass::Send));
        assert!(!under_svdir(b"../foo", Pass::Send));
        assert!(!under_svdir(b".hidden", Pass::Send));
        assert!(!under_svdir(b"/srv/foo", Pass::Send));
        assert!(!under_svdir(b"foo/", Pass::Send), "trailing slash: relative to cwd");
        assert!(!under_svdir(b"", Pass::Send));
    }

    #[test]
    fn wait_pass_ignores_the_trailing_slash() {
        assert!(under_svdir(b"foo", Pass::Wait));
        assert!(under_svdir(b"foo/", Pass::Wait), "runit's bug, reproduced");
        assert!(under_svdir(b"", Pass::Wait));
        assert!(!under_svdir(b"./foo", Pass::Wait));
        assert!(!under_svdir(b"/srv/foo/", Pass::Wait));
    }

    #[test]
    fn display_paths() {
        assert_eq!(display_path(b"web", b"/service/", b"/root"), b"/service/web");
        assert_eq!(display_path(b"web", b"/etc/service", b"/root"), b"/etc/service/web");
        assert_eq!(display_path(b"web", b"svc", b"/tmp"), b"/tmp/svc/web");
        assert_eq!(display_path(b"./web", b"/service/", b"/tmp"), b"/tmp/web");
        assert_eq!(display_path(b"web/", b"/service/", b"/tmp"), b"/tmp/web");
        assert_eq!(display_path(b"/srv//web/", b"/service/", b"/tmp"), b"/srv/web");
        assert_eq!(display_path(b"../web", b"/service/", b"/tmp/x"), b"/tmp/x/../web");
        assert_eq!(display_path(b"/", b"/service/", b"/tmp"), b"/");
    }
}
