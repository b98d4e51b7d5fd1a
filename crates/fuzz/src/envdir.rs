//! chpst's envdir reader (spec chpst.md §5): `chpst -e`, `-E` and
//! `envdir` turn a directory of files into environment changes. The files
//! are configuration written by operators and by boot from tag values, so
//! their contents are untrusted. Checked against the rule as the spec
//! states it: the first line, trailing blanks (space, tab) cut, NUL -> `\n`,
//! an empty file removes the variable.

use crate::input::Input;
use chpst::envdir::{self, Subdirs, VALUE_CAP};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The spec's rule for one file.
fn model(content: &[u8]) -> Option<Vec<u8>> {
    if content.is_empty() {
        return None;
    }
    let line = content.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut v = line.to_vec();
    if v.len() <= VALUE_CAP || v[VALUE_CAP..].iter().all(|&b| b == b' ' || b == b'\t') {
        while v.last().is_some_and(|&b| b == b' ' || b == b'\t') {
            v.pop();
        }
    }
    v.truncate(VALUE_CAP);
    for b in &mut v {
        if *b == 0 {
            *b = b'\n';
        }
    }
    Some(v)
}

/// Hands out its bytes in pieces of the sizes given (as a pipe or a slow
/// file system would).
struct Trickle<'a> {
    bytes: &'a [u8],
    steps: &'a [u8],
    n: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let step = usize::from(self.steps.get(self.n % self.steps.len().max(1)).copied().unwrap_or(255)) + 1;
        self.n += 1;
        let k = step.min(buf.len()).min(self.bytes.len());
        buf[..k].copy_from_slice(&self.bytes[..k]);
        self.bytes = &self.bytes[k..];
        Ok(k)
    }
}

/// Input: a mode byte; then either read sizes and one file's bytes, or a
/// directory of entries `name \x01 content` separated by `\x02`.
pub fn envdir(data: &[u8]) {
    let mut input = Input::new(data);
    if input.byte() & 1 == 0 {
        let steps = input.bytes(8);
        let content = input.rest();
        let got = envdir::first_line(Trickle { bytes: content, steps, n: 0 }).expect("reading memory");
        assert_eq!(got, model(content), "first_line of {content:?}");
        return;
    }
    let subdirs = if input.byte() & 1 == 0 { Subdirs::Skip } else { Subdirs::Fatal };
    let dir = scratch();
    let mut want = BTreeMap::new();
    let mut has_subdir = false;
    for entry in input.pieces(2, 32) {
        let (name, content) = match entry.iter().position(|&b| b == 1) {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry, &b""[..]),
        };
        if name.is_empty() || name.contains(&b'/') || name.contains(&0) || name == b"." || name == b".." {
            continue;
        }
        let path = dir.join(std::ffi::OsStr::from_bytes(name));
        if content.first() == Some(&b'/') {
            if std::fs::create_dir(&path).is_ok() && name[0] != b'.' {
                has_subdir = true;
                want.remove(name);
            }
            continue;
        }
        if path.is_dir() || std::fs::write(&path, content).is_err() {
            continue;
        }
        if name[0] != b'.' {
            want.insert(name.to_vec(), model(content));
        }
    }
    let mut skipped = Vec::new();
    let got = envdir::read(dir.as_os_str(), subdirs, &mut |n| skipped.push(n.to_vec()));
    match got {
        Ok(changes) => {
            assert!(!(has_subdir && subdirs == Subdirs::Fatal), "envdir accepted a subdirectory");
            // Entries are `name=value` or `name` (removal), as runit builds them.
            let mut got: Vec<Vec<u8>> = changes.iter().map(|c| c.entry().to_vec()).collect();
            let mut expected: Vec<Vec<u8>> = want
                .into_iter()
                .map(|(name, value)| match value {
                    Some(v) => [name, b"=".to_vec(), v].concat(),
                    None => name,
                })
                .collect();
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "envdir changes differ from the files");
        }
        Err(e) => assert!(has_subdir && subdirs == Subdirs::Fatal, "envdir failed: {e:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh directory in memory (tmpfs) for this process.
fn scratch() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" };
    let dir = PathBuf::from(format!("{base}/runit-fuzz-envdir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}
