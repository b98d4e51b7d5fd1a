//! runsvdir's process tree, read from `/proc`, for the last resort of the
//! graceful shutdown: SIGKILL to everything below runsvdir.
//!
//! As PID 1 of a PID namespace `kill(-1, sig)` reaches every other process
//! of the namespace; elsewhere we walk parent links in `/proc`. A child
//! subreaper (graceful mode makes runsvdir one) also adopts the orphans of
//! its services, so they are part of the tree.

use std::collections::HashMap;
use std::fs;

/// The parent pid from the text of `/proc/<pid>/stat`, unless the process
/// is a zombie.
fn live_parent(stat: &str) -> Option<i32> {
    let mut f = stat.rsplit_once(')')?.1.split_whitespace();
    let state = f.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    f.next()?.parse().ok()
}

/// True if `/proc` shows our own PID namespace (a container started
/// without its own `/proc` would show the host's pids, which must not be
/// signalled by number).
fn proc_is_ours() -> bool {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse::<i32>().ok()))
        == Some(me)
}

/// Live processes by parent, from `/proc` (empty if `/proc` is not ours).
fn children_map() -> HashMap<i32, Vec<i32>> {
    let mut map: HashMap<i32, Vec<i32>> = HashMap::new();
    if !proc_is_ours() {
        return map;
    }
    let Ok(dir) = fs::read_dir("/proc") else { return map };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(stat) = fs::read_to_string(e.path().join("stat")) else { continue };
        if let Some(ppid) = live_parent(&stat) {
            map.entry(ppid).or_default().push(pid);
        }
    }
    map
}

/// Every live descendant of `root`.
pub fn descendants(root: i32) -> Vec<i32> {
    let map = children_map();
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for &c in map.get(&p).map(Vec::as_slice).unwrap_or_default() {
            if c != root && !out.contains(&c) {
                out.push(c);
                stack.push(c);
            }
        }
    }
    out
}

/// Direct live children of `root`.
pub fn children(root: i32) -> Vec<i32> {
    children_map().remove(&root).unwrap_or_default()
}

/// Sends `sig` to every process below runsvdir; returns how many were
/// signalled (an estimate when runsvdir is PID 1).
pub fn signal_all_below(sig: i32) -> usize {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    if me == 1 {
        // SAFETY: kill(-1) from PID 1 signals every other process of the
        // namespace, which is what we want here.
        let r = unsafe { libc::kill(-1, sig) };
        return usize::from(r == 0);
    }
    let pids = descendants(me);
    for &p in &pids {
        // SAFETY: signalling a process of our own tree.
        unsafe { libc::kill(p, sig) };
    }
    pids.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_shows_this_namespace() {
        assert!(proc_is_ours());
    }

    #[test]
    fn parses_parent_and_skips_zombies() {
        assert_eq!(live_parent("42 (sh (x)) S 7 42 42"), Some(7));
        assert_eq!(live_parent("42 (sh) Z 7 42 42"), None);
        assert_eq!(live_parent("garbage"), None);
    }

    #[test]
    fn finds_a_grandchild() {
        let mut child =
            std::process::Command::new("sh").args(["-c", "sleep 30 & wait"]).spawn().expect("spawn");
        let me = i32::try_from(std::process::id()).expect("pid");
        let pid = i32::try_from(child.id()).expect("pid");
        let mut below = Vec::new();
        for _ in 0..500 {
            below = descendants(pid);
            if !below.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(below.len(), 1, "the sleep below sh: {below:?}");
        let mine = descendants(me);
        assert!(mine.contains(&pid) && mine.contains(&below[0]), "{mine:?}");
        // SAFETY: killing the sleep we started.
        unsafe { libc::kill(below[0], libc::SIGKILL) };
        let _ = child.wait();
    }
}
