//! Cutting standard input into runit's lines (spec svlogd.md §5): pure.
//!
//! runit reads until a newline or until `len` bytes. A line that reaches
//! `len` bytes is "cut": its first `len` bytes are matched, copied to
//! stderr and UDP (with `...`), and written to the directories; the rest up
//! to the newline (the *tail*) goes raw to the directories that selected it.
//! A line of exactly `len` bytes counts as cut too.
//!
//! We read large blocks, not a byte at a time: [`InputBuffer`] holds one
//! block plus the start of an unfinished line carried over from the previous
//! block (at most `len` bytes, since a longer one is already a cut line), and
//! [`Splitter`] walks it with `memchr`. Memory is therefore bounded by the
//! block size plus `len`, whatever the input.

use std::ops::Range;

/// The index of the first `byte` in `hay`.
///
/// glibc's `memchr` is vectorised; this keeps the newline search off a
/// byte-at-a-time loop without adding a dependency.
pub fn find_byte(byte: u8, hay: &[u8]) -> Option<usize> {
    if hay.is_empty() {
        return None;
    }
    // SAFETY: `hay` is a valid buffer of `hay.len()` bytes; memchr reads
    // within it and returns a pointer into it or null.
    let p = unsafe { libc::memchr(hay.as_ptr().cast(), i32::from(byte), hay.len()) };
    if p.is_null() { None } else { Some(p as usize - hay.as_ptr() as usize) }
}

/// `-r`/`-R`: which bytes are replaced, and by what.
#[derive(Debug, Clone)]
pub struct Replacer {
    replaced: [bool; 256],
    with: u8,
}

impl Replacer {
    /// Replaces bytes below 32 or above 126 (runit treats bytes as signed,
    /// so 128-255 are "non-printable" too) and every byte of `extra`.
    pub fn new(with: u8, extra: &[u8]) -> Self {
        let mut replaced = [false; 256];
        for (b, r) in replaced.iter_mut().enumerate() {
            *r = !(32..=126).contains(&b);
        }
        for &b in extra {
            replaced[usize::from(b)] = true;
        }
        Replacer { replaced, with }
    }

    /// Replaces in place.
    pub fn apply(&self, line: &mut [u8]) {
        for b in line {
            if self.replaced[usize::from(*b)] {
                *b = self.with;
            }
        }
    }
}

/// One block of input plus the carried start of an unfinished line.
///
/// Room for a block plus `len` bytes is reserved up front (address space
/// only), but memory is initialised, and so made resident, only as far as
/// reads actually reach: a huge `-l` costs nothing until a line that long
/// arrives.
#[derive(Debug)]
pub struct InputBuffer {
    /// Initialised bytes; `buf.len()` only grows, and never beyond the
    /// capacity reserved in [`InputBuffer::new`].
    buf: Vec<u8>,
    filled: usize,
    block: usize,
}

impl InputBuffer {
    /// A buffer that reads `block` bytes at a time and can carry a line
    /// start of up to `line_max` bytes; `None` if that much address space
    /// cannot be had (an absurd `-l`).
    pub fn new(block: usize, line_max: usize) -> Option<Self> {
        let mut buf = Vec::new();
        buf.try_reserve_exact(block.checked_add(line_max)?).ok()?;
        Some(InputBuffer { buf, filled: 0, block })
    }

    /// Where the next read goes (`block` bytes after the carried ones).
    pub fn spare(&mut self) -> &mut [u8] {
        let end = (self.filled + self.block).min(self.buf.capacity());
        if self.buf.len() < end {
            // Within the reserved capacity: no reallocation.
            self.buf.resize(end, 0);
        }
        &mut self.buf[self.filled..end]
    }

    /// Marks `n` more bytes as read.
    pub fn commit(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// The bytes read and not yet consumed.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.filled]
    }

    /// The bytes read and not yet consumed.
    pub fn data(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Drops the first `n` bytes, moving the rest (an unfinished line) to
    /// the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.filled);
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// Forgets everything (an unfinished line at end of input).
    pub fn clear(&mut self) {
        self.filled = 0;
    }
}

/// A piece of input, as byte ranges of the buffer given to
/// [`Splitter::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A line without its newline, at most `len` bytes; `cut` when it
    /// reached `len` bytes (a tail follows).
    Line {
        /// The line's bytes.
        range: Range<usize>,
        /// Reached `len` bytes without a newline.
        cut: bool,
    },
    /// Raw bytes of a cut line's tail.
    Tail(Range<usize>),
    /// The newline ending a cut line's tail.
    TailEnd,
}

/// Walks buffered input and yields [`Piece`]s; remembers across blocks
/// whether a cut line's tail is being copied.
#[derive(Debug, Clone)]
pub struct Splitter {
    line_max: usize,
    in_tail: bool,
}

impl Splitter {
    /// Lines are cut at `line_max` bytes (at least 1).
    pub fn new(line_max: usize) -> Self {
        Splitter { line_max: line_max.max(1), in_tail: false }
    }

    /// True while the tail of a cut line is being copied.
    pub fn in_tail(&self) -> bool {
        self.in_tail
    }

    /// The next piece of `data[pos..]` and the position after it, or
    /// `None` when the rest is an unfinished line start (to carry over).
    pub fn next(&mut self, data: &[u8], pos: usize) -> Option<(Piece, usize)> {
        let rest = data.get(pos..).filter(|r| !r.is_empty())?;
        if self.in_tail {
            return Some(match find_byte(b'\n', rest) {
                Some(0) => {
                    self.in_tail = false;
                    (Piece::TailEnd, pos + 1)
                }
                Some(i) => (Piece::Tail(pos..pos + i), pos + i),
                None => (Piece::Tail(pos..data.len()), data.len()),
            });
        }
        let window = &rest[..rest.len().min(self.line_max)];
        match find_byte(b'\n', window) {
            Some(i) => Some((Piece::Line { range: pos..pos + i, cut: false }, pos + i + 1)),
            None if window.len() == self.line_max => {
                self.in_tail = true;
                let end = pos + self.line_max;
                Some((Piece::Line { range: pos..end, cut: true }, end))
            }
            None => None,
        }
    }

    /// End of input: a tail being copied is ended (runit appends the
    /// newline); an unfinished line start is the caller's to drop.
    pub fn finish(&mut self) -> Option<Piece> {
        std::mem::take(&mut self.in_tail).then_some(Piece::TailEnd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(s: &mut Splitter, data: &[u8]) -> (Vec<Piece>, usize) {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some((p, next)) = s.next(data, pos) {
            out.push(p);
            pos = next;
        }
        (out, pos)
    }

    #[test]
    fn find_byte_works() {
        assert_eq!(find_byte(b'\n', b""), None);
        assert_eq!(find_byte(b'\n', b"abc"), None);
        assert_eq!(find_byte(b'\n', b"ab\nc\n"), Some(2));
        let big: Vec<u8> = (0..10_000).map(|i| if i == 9_999 { b'\n' } else { b'x' }).collect();
        assert_eq!(find_byte(b'\n', &big), Some(9_999));
    }

    #[test]
    fn short_lines_and_carry() {
        let mut s = Splitter::new(10);
        let (p, pos) = pieces(&mut s, b"one\ntwo\npart");
        assert_eq!(p, vec![Piece::Line { range: 0..3, cut: false }, Piece::Line { range: 4..7, cut: false }]);
        assert_eq!(pos, 8);
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn long_line_is_cut_and_tail_follows() {
        let mut s = Splitter::new(5);
        let (p, pos) = pieces(&mut s, b"abcdefgh\nxy\n");
        assert_eq!(
            p,
            vec![
                Piece::Line { range: 0..5, cut: true },
                Piece::Tail(5..8),
                Piece::TailEnd,
                Piece::Line { range: 9..11, cut: false },
            ]
        );
        assert_eq!(pos, 12);
    }

    #[test]
    fn exactly_len_is_cut_with_empty_tail() {
        let mut s = Splitter::new(3);
        let (p, _) = pieces(&mut s, b"abc\n");
        assert_eq!(p, vec![Piece::Line { range: 0..3, cut: true }, Piece::TailEnd]);
    }

    #[test]
    fn tail_spans_blocks_and_ends_at_eof() {
        let mut s = Splitter::new(3);
        let (p, pos) = pieces(&mut s, b"abcdef");
        assert_eq!(p, vec![Piece::Line { range: 0..3, cut: true }, Piece::Tail(3..6)]);
        assert_eq!(pos, 6);
        assert!(s.in_tail());
        let (p, _) = pieces(&mut s, b"gh");
        assert_eq!(p, vec![Piece::Tail(0..2)]);
        assert_eq!(s.finish(), Some(Piece::TailEnd));
        assert!(!s.in_tail());
    }

    #[test]
    fn input_buffer_carries() {
        let mut b = InputBuffer::new(8, 4).expect("buffer");
        assert!(InputBuffer::new(usize::MAX, 2).is_none());
        // A huge -l reserves address space only.
        let mut big = InputBuffer::new(8, 1 << 32).expect("reserve");
        assert_eq!(big.spare().len(), 8);
        b.spare()[..6].copy_from_slice(b"ab\ncd!");
        b.commit(6);
        assert_eq!(b.data(), b"ab\ncd!");
        b.consume(3);
        assert_eq!(b.data(), b"cd!");
        assert_eq!(b.spare().len(), 8);
        b.clear();
        assert!(b.data().is_empty());
    }

    #[test]
    fn replacer() {
        let r = Replacer::new(b':', b"fb");
        let mut l = b"foo\tbar\x01\xe9\x7f~ z".to_vec();
        r.apply(&mut l);
        assert_eq!(l, b":oo::ar:::~ z");
        let r = Replacer::new(b'_', b"");
        let mut l = b"a b".to_vec();
        r.apply(&mut l);
        assert_eq!(l, b"a b");
    }
}
