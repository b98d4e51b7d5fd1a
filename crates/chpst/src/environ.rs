//! The environment the program gets: pending changes applied to a copy.
//!
//! spec/chpst.md §5 "Application": chpst collects changes (from the envdir,
//! then `-U`'s `UID`/`GID`) and applies them only when it executes the
//! program. For each change the first existing variable of that name is
//! removed, by moving the last entry into its slot, and the new
//! `name=value` entry is appended unless the change is a removal. We do
//! exactly that, so the program sees the same variables in the same order
//! as under runit's chpst.
//!
//! A change is kept as runit keeps it: the raw entry bytes. The variable's
//! name is the part before the first `=`, and an entry without `=` removes
//! the variable. So an envdir file named `X=Y` holding `v` yields the entry
//! `X=Y=v` (variable `X`, value `Y=v`), and an empty file `Z=W` sets `Z` to
//! `W` instead of removing anything, as runit does.

use std::ffi::{CStr, CString, c_char};

/// One pending change of the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvChange {
    entry: Vec<u8>,
}

impl EnvChange {
    /// Set `name` to `value` (the entry `name=value`).
    pub fn set(name: &[u8], value: &[u8]) -> Self {
        let mut entry = Vec::with_capacity(name.len() + 1 + value.len());
        entry.extend_from_slice(name);
        entry.push(b'=');
        entry.extend_from_slice(value);
        EnvChange { entry }
    }

    /// Remove `name` (the entry `name`; a name containing `=` sets instead,
    /// see the module doc).
    pub fn unset(name: &[u8]) -> Self {
        EnvChange { entry: name.to_vec() }
    }

    /// The raw entry.
    pub fn entry(&self) -> &[u8] {
        &self.entry
    }

    /// The variable this change affects: the entry up to the first `=`.
    pub fn key(&self) -> &[u8] {
        key_of(&self.entry)
    }

    /// True when the change removes the variable.
    pub fn is_removal(&self) -> bool {
        !self.entry.contains(&b'=')
    }
}

fn key_of(entry: &[u8]) -> &[u8] {
    match entry.iter().position(|&b| b == b'=') {
        Some(i) => &entry[..i],
        None => entry,
    }
}

/// True when the environment entry `entry` defines variable `key`.
fn defines(entry: &[u8], key: &[u8]) -> bool {
    entry.len() > key.len() && entry.starts_with(key) && entry[key.len()] == b'='
}

/// An environment entry as bytes (without the terminating NUL).
pub trait Entry {
    /// The bytes `name=value` (or `name` for a removal).
    fn bytes(&self) -> &[u8];
}

impl Entry for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl Entry for CString {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Applies `changes` in order to `env` (entries `name=value`).
pub fn apply<T: Entry>(env: &mut Vec<T>, changes: impl IntoIterator<Item = T>) {
    for change in changes {
        let entry = change.bytes();
        let key = key_of(entry);
        if let Some(j) = env.iter().position(|e| defines(e.bytes(), key)) {
            env.swap_remove(j);
        }
        if entry.contains(&b'=') {
            env.push(change);
        }
    }
}

/// The environment to execute the program with: the current environment
/// with `changes` applied. `None` when there are no changes (the program
/// then inherits the environment as it is).
pub fn build(changes: &[EnvChange]) -> Option<Vec<CString>> {
    if changes.is_empty() {
        return None;
    }
    let mut env = current();
    // Entries never contain NUL: envdir values have NULs turned into
    // newlines and file names cannot hold one; skip defensively anyway.
    apply(&mut env, changes.iter().filter_map(|c| CString::new(c.entry()).ok()));
    Some(env)
}

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// A copy of this process's environment, entry by entry, as `environ`
/// holds it (chpst never changes its own environment).
fn current() -> Vec<CString> {
    let mut out = Vec::new();
    // SAFETY: chpst is single-threaded and never modifies its environment,
    // so `environ` is a valid NULL-terminated array of C strings while we
    // read it; it may itself be NULL (execve with an empty envp).
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return out;
        }
        while !(*p).is_null() {
            out.push(CStr::from_ptr(*p).to_owned());
            p = p.add(1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn changes(v: &[EnvChange]) -> Vec<Vec<u8>> {
        v.iter().map(|c| c.entry().to_vec()).collect()
    }

    #[test]
    fn runit_order_swap_with_last() {
        // Observed with Debian's chpst: env A=1 B=2 C=3 X=9, readdir order
        // E, D, B, A (A empty) gives B=b2 D=d C=3 X=9 E=e.
        let mut e = env(&["A=1", "B=2", "C=3", "X=9"]);
        let c = [
            EnvChange::set(b"E", b"e"),
            EnvChange::set(b"D", b"d"),
            EnvChange::set(b"B", b"b2"),
            EnvChange::unset(b"A"),
        ];
        apply(&mut e, changes(&c));
        assert_eq!(e, env(&["B=b2", "D=d", "C=3", "X=9", "E=e"]));
    }

    #[test]
    fn names_with_equals() {
        let c = EnvChange::set(b"X=Y", b"v");
        assert_eq!(c.key(), b"X");
        assert!(!c.is_removal());
        let mut e = env(&["X=old"]);
        apply(&mut e, changes(&[c]));
        assert_eq!(e, env(&["X=Y=v"]));

        let c = EnvChange::unset(b"Z=W");
        assert!(!c.is_removal());
        let mut e = env(&["Z=1"]);
        apply(&mut e, changes(&[c]));
        assert_eq!(e, env(&["Z=W"]));
    }

    #[test]
    fn removal_only_first_occurrence_and_exact_name() {
        let mut e = env(&["AB=1", "A=2", "A=3", "A"]);
        apply(&mut e, changes(&[EnvChange::unset(b"A")]));
        assert_eq!(e, env(&["AB=1", "A", "A=3"]));
    }

    #[test]
    fn later_changes_win() {
        let mut e = env(&["PATH=/bin"]);
        apply(
            &mut e,
            changes(&[
                EnvChange::set(b"UID", b"5"),
                EnvChange::set(b"UID", b"65534"),
                EnvChange::set(b"DEBUG", b"1"),
                EnvChange::unset(b"DEBUG"),
            ]),
        );
        assert_eq!(e, env(&["PATH=/bin", "UID=65534"]));
    }

    #[test]
    fn empty_value_is_kept() {
        let mut e = env(&[]);
        apply(&mut e, changes(&[EnvChange::set(b"E", b"")]));
        assert_eq!(e, env(&["E="]));
    }

    #[test]
    fn build_copies_the_environment() {
        assert!(build(&[]).is_none());
        let got = build(&[EnvChange::set(b"CHPST_UNIT_TEST_VAR", b"x")]).expect("env");
        assert_eq!(got.last().map(|c| c.as_bytes()), Some(&b"CHPST_UNIT_TEST_VAR=x"[..]));
        assert!(got.len() >= std::env::vars_os().count());
    }
}
