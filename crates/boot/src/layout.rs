//! Where boot keeps its files, all below one root (`--root` / `BOOT_ROOT`,
//! default `/`) so tests and dry runs are hermetic.
//!
//! ```text
//! <root>/etc/boot/boot.toml          configuration (optional; defaults embedded)
//! <root>/var/lib/boot/state.json     what is applied (generation, hashes, tags)
//! <root>/var/lib/boot/lock           flock: one boot at a time
//! <root>/var/lib/boot/sv/<name>@<hash>/   rendered service directories
//! <root>/var/lib/boot/sets/g<N>/<name> -> ../../sv/<name>@<hash>
//! <root>/var/lib/boot/current -> sets/g<N>   what runsvdir scans
//! <root>/var/lib/boot/data/<name>/   review-mode database data (kept by down)
//! <root>/run/boot/supervise/<name>@<hash>[.log]   runsv state (supervise symlinks)
//! <root>/var/log/boot/<name>/        svlogd directories (kept by down)
//! ```

use std::path::{Path, PathBuf};

/// boot's paths below a root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout below `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `abs` (an absolute path such as `/var/lib/boot`) relocated below the root.
    pub fn at(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    /// `etc/boot/boot.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.at("/etc/boot/boot.toml")
    }

    /// `var/lib/boot`.
    pub fn state_dir(&self) -> PathBuf {
        self.at("/var/lib/boot")
    }

    /// `var/lib/boot/state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.state_dir().join("state.json")
    }

    /// `var/lib/boot/lock`.
    pub fn lock_file(&self) -> PathBuf {
        self.state_dir().join("lock")
    }

    /// `var/lib/boot/sv`.
    pub fn sv_dir(&self) -> PathBuf {
        self.state_dir().join("sv")
    }

    /// `var/lib/boot/sv/<dirname>`.
    pub fn service_dir(&self, dirname: &str) -> PathBuf {
        self.sv_dir().join(dirname)
    }

    /// `var/lib/boot/sets`.
    pub fn sets_dir(&self) -> PathBuf {
        self.state_dir().join("sets")
    }

    /// `var/lib/boot/current`: the directory runsvdir scans.
    pub fn current(&self) -> PathBuf {
        self.state_dir().join("current")
    }

    /// `var/lib/boot/data`.
    pub fn data_root(&self) -> PathBuf {
        self.state_dir().join("data")
    }

    /// `run/boot`.
    pub fn run_dir(&self) -> PathBuf {
        self.at("/run/boot")
    }

    /// `run/boot/supervise`.
    pub fn supervise_root(&self) -> PathBuf {
        self.run_dir().join("supervise")
    }

    /// `var/log/boot`.
    pub fn log_root(&self) -> PathBuf {
        self.at("/var/log/boot")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocates() {
        let l = Layout::new("/tmp/r");
        assert_eq!(l.state_file(), Path::new("/tmp/r/var/lib/boot/state.json"));
        assert_eq!(l.current(), Path::new("/tmp/r/var/lib/boot/current"));
        assert_eq!(Layout::new("/").supervise_root(), Path::new("/run/boot/supervise"));
    }
}
