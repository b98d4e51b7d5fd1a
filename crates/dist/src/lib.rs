//! What runit-rs installs, and where: the one list the installer
//! (`crates/dist/install.sh`), the Debian package (`crates/dist/deb.sh` and
//! the cargo-deb metadata in this crate's `Cargo.toml`) and the docs
//! (`docs/man/`, `docs/completions/`) are checked against.
//!
//! The installer and the package builder are POSIX shell scripts, so that
//! installing needs no Rust toolchain for root and packagers get the
//! `PREFIX`/`DESTDIR` interface they expect (see `docs/install.md`). This
//! crate holds no install logic; its tests (`tests/layout.rs`) fail when a
//! program, man page or completion is added in one place and forgotten in
//! another, and the end-to-end tests in the workspace's `tests/install*.rs`
//! and `tests/package*.rs` run the scripts.
#![deny(missing_docs)]

/// Which of the two program directories a program goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `$BINDIR` (`$PREFIX/bin`): what users and run scripts call.
    Bin,
    /// `$SBINDIR` (`$PREFIX/sbin`): process 1 and the runlevel switch, as
    /// in Debian's runit package (`/sbin/runit`, `/usr/sbin/runsvchdir`).
    Sbin,
}

/// A program of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The installed name (also the binary's name in the cargo target dir,
    /// the man page `docs/man/<name>.8` and the completion files).
    pub name: &'static str,
    /// The workspace package that builds it.
    pub package: &'static str,
    /// Where it is installed.
    pub dir: Dir,
}

/// Every program, in the order the installer lists them.
pub const PROGRAMS: &[Program] = &[
    Program { name: "chpst", package: "chpst", dir: Dir::Bin },
    Program { name: "runsv", package: "runsv", dir: Dir::Bin },
    Program { name: "runsvdir", package: "runsvdir", dir: Dir::Bin },
    Program { name: "sv", package: "sv", dir: Dir::Bin },
    Program { name: "svlogd", package: "svlogd", dir: Dir::Bin },
    Program { name: "boot", package: "boot", dir: Dir::Bin },
    Program { name: "runsvchdir", package: "runsvdir", dir: Dir::Sbin },
    Program { name: "runit", package: "runit", dir: Dir::Sbin },
    Program { name: "runit-init", package: "runit", dir: Dir::Sbin },
];

/// chpst's daemontools names, installed as symbolic links to `chpst` in
/// `$BINDIR` unless the installer is told not to (Debian's daemontools
/// package owns the same names).
pub const CHPST_NAMES: &[&str] = &["envdir", "envuidgid", "pgrphack", "setlock", "setuidgid", "softlimit"];

/// The systemd units the Debian package ships (`crates/dist/systemd/`),
/// installed in `/usr/lib/systemd/system/` (docs/packaging.md#systemd).
pub const SYSTEMD_UNITS: &[&str] = &["runsvdir.service", "boot-runsvdir.service", "boot.service"];

/// The units the maintainer scripts enable (the others have no `[Install]`
/// section and are pulled in by these).
pub const ENABLED_UNITS: &[&str] = &["runsvdir.service", "boot.service"];

/// The shells we ship completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// bash-completion: one file per command, named like the command.
    Bash,
    /// zsh: `_<command>` files whose `#compdef` line names the commands.
    Zsh,
    /// fish: `<command>.fish`, loaded when the command is completed.
    Fish,
}

impl Shell {
    /// Every shell.
    pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

    /// The subdirectory of `docs/completions/` holding this shell's files.
    pub fn dir(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    /// The completion file for `command`, as named in `docs/completions/`
    /// and when installed.
    pub fn file(self, command: &str) -> String {
        match self {
            Shell::Bash => command.to_string(),
            Shell::Zsh => format!("_{command}"),
            Shell::Fish => format!("{command}.fish"),
        }
    }

    /// Where the file goes under the prefix (install.sh's default).
    pub fn install_dir(self) -> &'static str {
        match self {
            Shell::Bash => "share/bash-completion/completions",
            Shell::Zsh => "share/zsh/site-functions",
            Shell::Fish => "share/fish/vendor_completions.d",
        }
    }

    /// Where the Debian package puts the file (Debian's zsh reads
    /// `vendor-completions`, not `site-functions`, for packaged files).
    pub fn debian_dir(self) -> &'static str {
        match self {
            Shell::Bash => "usr/share/bash-completion/completions",
            Shell::Zsh => "usr/share/zsh/vendor-completions",
            Shell::Fish => "usr/share/fish/vendor_completions.d",
        }
    }
}

impl Dir {
    /// The directory under the prefix (install.sh's default).
    pub fn install_dir(self) -> &'static str {
        match self {
            Dir::Bin => "bin",
            Dir::Sbin => "sbin",
        }
    }

    /// Where the Debian package puts it (Debian's runit paths; `/sbin` is
    /// `/usr/sbin` on merged /usr, which Debian 12 requires).
    pub fn debian_dir(self) -> &'static str {
        match self {
            Dir::Bin => "usr/bin",
            Dir::Sbin => "usr/sbin",
        }
    }
}

/// Every file the Debian package ships, as paths relative to `/`, sorted,
/// given the names of the pages in `docs/` (`README.md` goes to
/// `/usr/share/doc/runit-rs/`, the pages to its `docs/`, so the README's
/// links work), with the systemd units, `copyright` and
/// `changelog.Debian.gz`. Directories are not listed.
pub fn debian_files(pages: &[&str]) -> Vec<String> {
    let mut v = Vec::new();
    for p in PROGRAMS {
        v.push(format!("{}/{}", p.dir.debian_dir(), p.name));
        v.push(format!("usr/share/man/man8/{}.8.gz", p.name));
        for sh in Shell::ALL {
            v.push(format!("{}/{}", sh.debian_dir(), sh.file(p.name)));
        }
    }
    v.extend(SYSTEMD_UNITS.iter().map(|u| format!("usr/lib/systemd/system/{u}")));
    v.push("usr/share/doc/runit-rs/copyright".to_string());
    v.push("usr/share/doc/runit-rs/changelog.Debian.gz".to_string());
    v.push("usr/share/doc/runit-rs/README.md".to_string());
    v.extend(pages.iter().map(|d| format!("usr/share/doc/runit-rs/docs/{d}")));
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> =
            PROGRAMS.iter().map(|p| p.name).chain(CHPST_NAMES.iter().copied()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn process_one_lives_in_sbin() {
        let runit = PROGRAMS.iter().find(|p| p.name == "runit").map(|p| p.dir);
        assert_eq!(runit, Some(Dir::Sbin));
        assert_eq!(Dir::Sbin.debian_dir(), "usr/sbin");
    }

    #[test]
    fn completion_file_names() {
        assert_eq!(Shell::Bash.file("sv"), "sv");
        assert_eq!(Shell::Zsh.file("sv"), "_sv");
        assert_eq!(Shell::Fish.file("sv"), "sv.fish");
    }

    #[test]
    fn debian_files_cover_every_program() {
        let files = debian_files(&["sv.md"]);
        assert!(files.contains(&"usr/sbin/runit".to_string()));
        assert!(files.contains(&"usr/bin/sv".to_string()));
        assert!(files.contains(&"usr/share/man/man8/boot.8.gz".to_string()));
        assert!(files.contains(&"usr/share/zsh/vendor-completions/_chpst".to_string()));
        assert!(files.contains(&"usr/share/doc/runit-rs/README.md".to_string()));
        assert!(files.contains(&"usr/share/doc/runit-rs/docs/sv.md".to_string()));
        assert!(files.contains(&"usr/lib/systemd/system/runsvdir.service".to_string()));
        assert_eq!(files.len(), PROGRAMS.len() * 5 + SYSTEMD_UNITS.len() + 4);
    }

    #[test]
    fn enabled_units_are_shipped() {
        assert!(ENABLED_UNITS.iter().all(|u| SYSTEMD_UNITS.contains(u)));
    }
}
