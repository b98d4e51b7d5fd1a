//! Shell text for generated scripts: the one audited place where bytes
//! become `/bin/sh` words.
//!
//! Every value that appears in a generated `run`, `finish`, `check`,
//! `control/t` or `log/run` goes through [`quote`]: the bytes are wrapped in
//! single quotes, inside which `/bin/sh` interprets nothing, and each single
//! quote in the value becomes `'\''` (close, escaped quote, reopen). Tag
//! values never get here at all (they reach services only as env-file data,
//! see `envdir.rs`); this is for catalogue argv, paths and user names, which
//! are trusted but still quoted so that a space or `$` in them cannot change
//! a script's meaning.

/// Single-quotes `word` for `/bin/sh`.
pub fn quote(word: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(word.len() + 2);
    out.push(b'\'');
    for &b in word {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// Quotes each word and joins them with spaces.
pub fn words<I, W>(words: I) -> Vec<u8>
where
    I: IntoIterator<Item = W>,
    W: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for (i, w) in words.into_iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(&quote(w.as_ref()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn quotes() {
        assert_eq!(quote(b"abc"), b"'abc'");
        assert_eq!(quote(b""), b"''");
        assert_eq!(quote(b"a'b"), b"'a'\\''b'");
        assert_eq!(words([&b"a b"[..], b"$x"]), b"'a b' '$x'");
    }

    /// The shell gives back exactly the bytes we quoted, whatever they are.
    #[test]
    fn sh_round_trip() {
        let hostile: [&[u8]; 8] =
            [b"$(id)", b"`id`", b"a'b\"c", b"; rm -rf /", b"line1\nline2", b"\\n\\", b"*?[a]", b"-e"];
        for w in hostile {
            let mut script = b"printf '%s' ".to_vec();
            script.extend_from_slice(&quote(w));
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(std::ffi::OsStr::new(std::str::from_utf8(&script).unwrap_or("")))
                .output();
            let Ok(out) = out else { continue };
            assert_eq!(out.stdout, w, "round trip of {:?}", String::from_utf8_lossy(w));
        }
    }
}
