//! What a path depends on: the (directory, name) lookups of its resolution.
//!
//! runit notices only changes to the scan directory's mtime. To notice at
//! once everything that changes what a path leads to, we record every name
//! looked up while resolving it, symlink by symlink, together with the
//! directory it was looked up in: a "link point". Watching each such
//! directory for changes of that name catches a symlink swapped anywhere
//! in a chain (`/etc/service -> /var/lib/boot/current -> sets/g13`), a
//! target replaced behind a symlink, and a dangling symlink whose target
//! appears later (resolution stops at the first missing name, and the
//! directory that should hold it is watched). The walk is `realpath`'s, done
//! by hand so that every step is seen; [`Lookup`] abstracts the two system
//! calls so the walk is unit-tested without a file system.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The kernel's limit on symlinks followed in one resolution.
pub const MAX_SYMLINKS: usize = 40;

/// What `lstat` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A symbolic link.
    Symlink,
    /// A directory.
    Dir,
    /// Anything else.
    Other,
}

/// The two calls the walk needs.
pub trait Lookup {
    /// `lstat(path)`, reduced to its type.
    fn lstat(&self, path: &Path) -> io::Result<Node>;
    /// `readlink(path)`.
    fn readlink(&self, path: &Path) -> io::Result<PathBuf>;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl Lookup for RealFs {
    fn lstat(&self, path: &Path) -> io::Result<Node> {
        let t = std::fs::symlink_metadata(path)?.file_type();
        Ok(if t.is_symlink() {
            Node::Symlink
        } else if t.is_dir() {
            Node::Dir
        } else {
            Node::Other
        })
    }

    fn readlink(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(path)
    }
}

/// [`RealFs`] with its answers remembered, for one scan: the entries of a
/// scan directory mostly resolve through the same directories, and a
/// change during the scan is an inotify event anyway (watch, then look).
#[derive(Debug, Default)]
pub struct CachedFs {
    nodes: RefCell<HashMap<PathBuf, Result<Node, i32>>>,
    links: RefCell<HashMap<PathBuf, Result<PathBuf, i32>>>,
}

impl CachedFs {
    /// Forgets everything (at the start of a scan).
    pub fn clear(&mut self) {
        self.nodes.get_mut().clear();
        self.links.get_mut().clear();
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

impl Lookup for CachedFs {
    fn lstat(&self, path: &Path) -> io::Result<Node> {
        let r = *self
            .nodes
            .borrow_mut()
            .entry(path.to_path_buf())
            .or_insert_with(|| RealFs.lstat(path).map_err(|e| errno(&e)));
        r.map_err(io::Error::from_raw_os_error)
    }

    fn readlink(&self, path: &Path) -> io::Result<PathBuf> {
        let mut links = self.links.borrow_mut();
        let r =
            links.entry(path.to_path_buf()).or_insert_with(|| RealFs.readlink(path).map_err(|e| errno(&e)));
        r.clone().map_err(io::Error::from_raw_os_error)
    }
}

/// A name looked up in a directory (the directory's path has no symlinks
/// after its base).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkPoint {
    /// The directory.
    pub dir: PathBuf,
    /// The name.
    pub name: OsString,
}

/// The result of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Every lookup made, in order.
    pub points: Vec<LinkPoint>,
    /// Where the path leads (without symlinks after the base), or why it
    /// does not resolve.
    pub target: Result<Place, i32>,
}

/// A directory path: a base plus the components after it, each a real
/// directory entered (so `..` may pop it; the base itself, e.g.
/// `/proc/self/fd/3`, is never popped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    path: PathBuf,
    poppable: usize,
}

/// A path being built during a walk.
type Cursor = Place;

impl Place {
    /// An opaque base: `..` from here is left to the kernel.
    pub fn at(base: &Path) -> Self {
        Place { path: base.to_path_buf(), poppable: 0 }
    }

    /// An absolute path known to contain no symlinks.
    pub fn resolved(path: &Path) -> Self {
        let n = path.components().filter(|c| matches!(c, Component::Normal(_))).count();
        Place { path: path.to_path_buf(), poppable: if path.is_absolute() { n } else { 0 } }
    }

    fn root() -> Self {
        Place { path: PathBuf::from("/"), poppable: 0 }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn enter(&mut self, name: &OsStr) {
        self.path.push(name);
        self.poppable += 1;
    }

    fn up(&mut self) {
        if self.poppable > 0 {
            self.path.pop();
            self.poppable -= 1;
        } else if self.path != Path::new("/") {
            self.path.push("..");
        }
    }
}

/// Resolves `path` (relative paths from the directory `base`), recording
/// every lookup.
pub fn resolve(fs: &impl Lookup, base: &Place, path: &Path) -> Chain {
    let mut queue: VecDeque<OsString> = VecDeque::new();
    let mut cur = if path.is_absolute() { Cursor::root() } else { base.clone() };
    push_front(&mut queue, path);
    let mut points = Vec::new();
    let mut links = 0;
    while let Some(name) = queue.pop_front() {
        match name.as_bytes() {
            b"" | b"." => continue,
            b".." => {
                cur.up();
                continue;
            }
            _ => {}
        }
        points.push(LinkPoint { dir: cur.path.clone(), name: name.clone() });
        let full = cur.path.join(&name);
        match fs.lstat(&full) {
            Err(e) => return Chain { points, target: Err(errno(&e)) },
            Ok(Node::Symlink) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Chain { points, target: Err(libc::ELOOP) };
                }
                let target = match fs.readlink(&full) {
                    Ok(t) => t,
                    Err(e) => return Chain { points, target: Err(errno(&e)) },
                };
                if target.is_absolute() {
                    cur = Cursor::root();
                }
                push_front(&mut queue, &target);
            }
            Ok(Node::Dir) => cur.enter(&name),
            Ok(Node::Other) => {
                if queue.iter().any(|n| !n.is_empty() && n.as_bytes() != b".") {
                    return Chain { points, target: Err(libc::ENOTDIR) };
                }
                cur.enter(&name);
            }
        }
    }
    Chain { points, target: Ok(cur) }
}

/// Puts the components of `p` at the front of `queue`, in order.
fn push_front(queue: &mut VecDeque<OsString>, p: &Path) {
    let names: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    for n in names.into_iter().rev() {
        queue.push_front(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fake file system: directories and symlinks by absolute path.
    #[derive(Default)]
    struct Fake {
        nodes: HashMap<PathBuf, (Node, Option<PathBuf>)>,
    }

    impl Fake {
        fn dir(mut self, p: &str) -> Self {
            self.nodes.insert(p.into(), (Node::Dir, None));
            self
        }
        fn link(mut self, p: &str, to: &str) -> Self {
            self.nodes.insert(p.into(), (Node::Symlink, Some(to.into())));
            self
        }
        fn file(mut self, p: &str) -> Self {
            self.nodes.insert(p.into(), (Node::Other, None));
            self
        }
    }

    /// Normalises `a/b/../c` for the fake's lookups.
    fn norm(p: &Path) -> PathBuf {
        let mut out = PathBuf::from("/");
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(n) => out.push(n),
                _ => {}
            }
        }
        out
    }

    impl Lookup for Fake {
        fn lstat(&self, path: &Path) -> io::Result<Node> {
            self.nodes.get(&norm(path)).map(|n| n.0).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
        }
        fn readlink(&self, path: &Path) -> io::Result<PathBuf> {
            self.nodes
                .get(&norm(path))
                .and_then(|n| n.1.clone())
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
        }
    }

    fn pt(dir: &str, name: &str) -> LinkPoint {
        LinkPoint { dir: dir.into(), name: name.into() }
    }

    #[test]
    fn plain_directory() {
        let fs = Fake::default().dir("/etc").dir("/etc/service");
        let c = resolve(&fs, &Place::resolved(Path::new("/")), Path::new("/etc/service"));
        assert_eq!(c.points, vec![pt("/", "etc"), pt("/etc", "service")]);
        assert_eq!(c.target.map(|p| p.path).as_deref(), Ok(Path::new("/etc/service")));
    }

    #[test]
    fn boot_chain_of_symlinks() {
        let fs = Fake::default()
            .dir("/etc")
            .link("/etc/service", "/var/lib/boot/current")
            .dir("/var")
            .dir("/var/lib")
            .dir("/var/lib/boot")
            .link("/var/lib/boot/current", "sets/g13")
            .dir("/var/lib/boot/sets")
            .dir("/var/lib/boot/sets/g13");
        let c = resolve(&fs, &Place::resolved(Path::new("/")), Path::new("/etc/service"));
        assert_eq!(c.target.map(|p| p.path).as_deref(), Ok(Path::new("/var/lib/boot/sets/g13")));
        assert!(c.points.contains(&pt("/etc", "service")));
        assert!(c.points.contains(&pt("/var/lib/boot", "current")), "the swap happens here");
        assert!(c.points.contains(&pt("/var/lib/boot/sets", "g13")));
    }

    #[test]
    fn relative_link_with_dotdot() {
        let fs = Fake::default()
            .dir("/b")
            .dir("/b/sets")
            .dir("/b/sets/g1")
            .link("/b/sets/g1/web", "../../sv/web@1")
            .dir("/b/sv")
            .dir("/b/sv/web@1");
        let c = resolve(&fs, &Place::resolved(Path::new("/b/sets/g1")), Path::new("web"));
        assert_eq!(c.target.map(|p| p.path).as_deref(), Ok(Path::new("/b/sv/web@1")));
        assert_eq!(c.points, vec![pt("/b/sets/g1", "web"), pt("/b", "sv"), pt("/b/sv", "web@1")]);
    }

    #[test]
    fn dangling_link_points_at_the_missing_name() {
        let fs = Fake::default().dir("/s").link("/s/x", "/opt/x/y").dir("/opt");
        let c = resolve(&fs, &Place::resolved(Path::new("/s")), Path::new("x"));
        assert_eq!(c.target.map(|p| p.path), Err(libc::ENOENT));
        assert_eq!(c.points.last(), Some(&pt("/opt", "x")), "creating /opt/x is noticed");
    }

    #[test]
    fn loops_end() {
        let fs = Fake::default().dir("/s").link("/s/a", "b").link("/s/b", "a");
        let c = resolve(&fs, &Place::resolved(Path::new("/s")), Path::new("a"));
        assert_eq!(c.target.map(|p| p.path), Err(libc::ELOOP));
    }

    #[test]
    fn file_in_the_middle_is_not_a_directory() {
        let fs = Fake::default().dir("/s").file("/s/f");
        assert_eq!(
            resolve(&fs, &Place::resolved(Path::new("/")), Path::new("/s/f/x")).target,
            Err(libc::ENOTDIR)
        );
        assert_eq!(
            resolve(&fs, &Place::resolved(Path::new("/")), Path::new("/s/f"))
                .target
                .map(|p| p.path)
                .as_deref(),
            Ok(Path::new("/s/f"))
        );
    }

    #[test]
    fn dotdot_above_the_base_is_kept() {
        let fs = Fake::default().dir("/a").dir("/a/b");
        let c = resolve(&fs, &Place::at(Path::new("/proc/self/fd/3")), Path::new("../x"));
        assert_eq!(c.points, vec![pt("/proc/self/fd/3/..", "x")]);
    }

    #[test]
    fn cached_lookups_agree_with_the_file_system() {
        let tmp = std::env::temp_dir().join(format!("runsvdir-cached-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("sv/web")).expect("mkdir");
        std::os::unix::fs::symlink("sv/web", tmp.join("link")).expect("symlink");
        let mut fs = CachedFs::default();
        let base = Place::resolved(&tmp);
        let a = resolve(&fs, &base, Path::new("link"));
        assert_eq!(a, resolve(&RealFs, &base, Path::new("link")));
        assert_eq!(a, resolve(&fs, &base, Path::new("link")), "same answer from the cache");
        std::fs::remove_file(tmp.join("link")).expect("rm");
        assert_eq!(a, resolve(&fs, &base, Path::new("link")), "stale until cleared");
        fs.clear();
        assert_eq!(resolve(&fs, &base, Path::new("link")).target.map(|p| p.path), Err(libc::ENOENT));
        std::fs::remove_dir_all(&tmp).expect("cleanup");
    }

    #[test]
    fn real_file_system() {
        let tmp = std::env::temp_dir().join(format!("runsvdir-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("sv/web")).expect("mkdir");
        std::os::unix::fs::symlink("sv/web", tmp.join("link")).expect("symlink");
        let c = resolve(&RealFs, &Place::resolved(&tmp), Path::new("link"));
        assert_eq!(c.target.map(|p| p.path), Ok(tmp.join("sv/web")));
        assert_eq!(c.points.len(), 3);
        std::fs::remove_dir_all(&tmp).expect("cleanup");
    }
}
