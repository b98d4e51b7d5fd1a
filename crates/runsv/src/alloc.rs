//! runsv's memory allocator (runit-rs; docs/runsv.md "Memory").
//!
//! Every service costs one runsv, and C runit's runsv never calls `malloc`.
//! Ours allocates: a few hundred bytes that live as long as it does (the
//! service name, the boot id, mio's event buffer) and short-lived buffers
//! while it reads its files and writes its state. Under glibc's `malloc`
//! those leave two dirty heap pages behind for good: the allocator's
//! per-thread cache sits at the start of the heap and keeps freed blocks
//! that `malloc_trim` cannot give back.
//!
//! [`Arena`] serves small blocks (up to [`LARGEST`] bytes, alignment up to
//! 16) in fourteen size classes with one free list each; a freed block is
//! reused by the next request of its class. Blocks are cut, in order, from
//!
//! 1. (the program's allocator only, [`Arena::program`]) the rest of the
//!    last page of the program's own writable data, after the linker's
//!    `_end`: mapped and resident anyway, and used by nobody (the program
//!    break starts on a page of its own);
//! 2. a private anonymous mapping of [`REGION`] bytes, made when the first
//!    block does not fit in (1); its pages cost nothing until touched.
//!
//! Larger blocks are mapped and unmapped whole (`mmap`/`munmap`), so
//! nothing of them stays once freed. Should both regions be full, the C
//! library's `malloc` takes over for small blocks: slower to give memory
//! back, never wrong.
//!
//! When runsv goes idle, [`trim_program`] gives back the top of the mapped
//! region: the free blocks at its end are taken off their lists, the next
//! block is cut where they began, and their whole pages are dropped
//! (`MADV_DONTNEED`). Start-up's buffers are freed by then, and what lives
//! on (a few hundred bytes) sits mostly in the tail.
//!
//! runsv is single-threaded; a spin lock keeps the allocator sound anyway
//! (unit tests use it from several threads).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// The size classes, in bytes (multiples of 16).
const CLASSES: [usize; 14] = [16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048];
/// The largest block the arena serves.
pub const LARGEST: usize = CLASSES[CLASSES.len() - 1];
/// The greatest alignment the arena serves: every block starts on a
/// 16-byte boundary and is a multiple of 16 bytes long.
const ALIGN: usize = 16;
/// Size of the mapped region.
pub const REGION: usize = 64 * 1024;
const PAGE: usize = 4096;

#[cfg(target_os = "linux")]
unsafe extern "C" {
    /// The end of the program's `.bss`, from the linker.
    static _end: u8;
}

#[derive(Clone, Copy)]
#[repr(C)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    const EMPTY: Span = Span { start: 0, end: 0 };

    fn contains(&self, p: usize) -> bool {
        (self.start..self.end).contains(&p)
    }
}

/// `repr(C)` (as [`Arena`]): a debugger or `/proc/<pid>/mem` can read
/// the bookkeeping at fixed offsets.
#[repr(C)]
struct Inner {
    /// Use the tail of the program's data page first.
    tail_wanted: bool,
    /// The tail, once claimed, and the mapped region, once made.
    tail: Span,
    region: Span,
    /// Where the next new block is cut, and the end of its span.
    next: usize,
    limit: usize,
    /// Head of each class's free list; a free block holds the next one's
    /// address in its first bytes.
    free: [*mut u8; CLASSES.len()],
}

/// The allocator: see the module documentation.
#[repr(C)]
pub struct Arena {
    lock: AtomicBool,
    inner: UnsafeCell<Inner>,
}

// SAFETY: `inner` is only touched with `lock` held.
unsafe impl Sync for Arena {}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl Arena {
    /// An arena that cuts blocks from a mapped region only.
    pub const fn new() -> Self {
        Self::with_tail(false)
    }

    /// The program's allocator: the tail of its data page first.
    ///
    /// # Safety
    /// At most one arena made so may allocate in a process: two would
    /// hand out the same tail.
    pub const unsafe fn program() -> Self {
        Self::with_tail(true)
    }

    const fn with_tail(tail_wanted: bool) -> Self {
        Arena {
            lock: AtomicBool::new(false),
            inner: UnsafeCell::new(Inner {
                tail_wanted,
                tail: Span::EMPTY,
                region: Span::EMPTY,
                next: 0,
                limit: 0,
                free: [ptr::null_mut(); CLASSES.len()],
            }),
        }
    }

    /// Bytes cut from the tail and from the region so far (high-water
    /// marks).
    pub fn used(&self) -> (usize, usize) {
        self.with(|i| {
            let in_region = i.region.end != 0 && (i.region.start..=i.region.end).contains(&i.next);
            if in_region {
                (i.tail.end - i.tail.start, i.next - i.region.start)
            } else {
                (i.next.saturating_sub(i.tail.start), 0)
            }
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        while self.lock.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held: no other reference to `inner` exists.
        let out = f(unsafe { &mut *self.inner.get() });
        self.lock.store(false, Ordering::Release);
        out
    }

    fn contains(&self, p: *mut u8) -> bool {
        let p = p as usize;
        self.with(|i| i.tail.contains(p) || i.region.contains(p))
    }
}

/// The program's allocator, once [`register`]ed.
static PROGRAM: AtomicPtr<Arena> = AtomicPtr::new(ptr::null_mut());

/// Makes `arena` (the program's global allocator) the one
/// [`trim_program`] trims.
pub fn register(arena: &'static Arena) {
    PROGRAM.store(ptr::from_ref(arena).cast_mut(), Ordering::Release);
}

/// Trims the registered allocator, if any ([`Arena::trim`]).
pub fn trim_program() {
    let p = PROGRAM.load(Ordering::Acquire);
    // SAFETY: only `register` stores here, from a `&'static Arena`.
    if let Some(a) = unsafe { p.as_ref() } {
        a.trim();
    }
}

impl Arena {
    /// Gives back the free end of the mapped region: see the module
    /// documentation. Returns the bytes taken back.
    pub fn trim(&self) -> usize {
        self.with(|i| {
            if i.region.end == 0 || !i.region.contains(i.next.saturating_sub(1)) {
                return 0;
            }
            // The lowest address from which everything up to `next` is
            // free blocks.
            let mut low = i.next;
            'grow: while low > i.region.start {
                for (c, &head) in i.free.iter().enumerate() {
                    let mut b = head;
                    while !b.is_null() {
                        if b as usize + CLASSES[c] == low {
                            low = b as usize;
                            continue 'grow;
                        }
                        // SAFETY: free blocks hold the next one's address.
                        b = unsafe { b.cast::<*mut u8>().read() };
                    }
                }
                break;
            }
            if low == i.next {
                return 0;
            }
            for head in i.free.iter_mut() {
                // Unlink every block at or above `low`.
                let mut link: *mut *mut u8 = head;
                // SAFETY: `link` points at a list head or at the link word
                // of a free block; blocks are read before they are dropped.
                unsafe {
                    while !(*link).is_null() {
                        let b = *link;
                        if b as usize >= low {
                            *link = b.cast::<*mut u8>().read();
                        } else {
                            link = b.cast::<*mut u8>();
                        }
                    }
                }
            }
            let taken = i.next - low;
            let (from, to) = (low.next_multiple_of(PAGE), i.next.next_multiple_of(PAGE));
            i.next = low;
            if to > from {
                // SAFETY: whole pages of our own region holding no live
                // block; they read back as zeros.
                unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED) };
            }
            taken
        })
    }
}

impl Inner {
    /// A new block of `size` bytes (a class size), or null when both
    /// spans are used up.
    fn cut(&mut self, size: usize) -> *mut u8 {
        if self.next + size > self.limit && !self.advance(size) {
            return ptr::null_mut();
        }
        let p = self.next;
        self.next += size;
        p as *mut u8
    }

    /// Moves on to the next span with room for `size`: the tail first,
    /// then the mapped region. The rest of the tail is left unused.
    fn advance(&mut self, size: usize) -> bool {
        #[cfg(target_os = "linux")]
        if std::mem::take(&mut self.tail_wanted) {
            let end = (&raw const _end) as usize;
            let start = end.next_multiple_of(ALIGN);
            let stop = end.next_multiple_of(PAGE);
            if start < stop {
                self.tail = Span { start, end: stop };
                (self.next, self.limit) = (start, stop);
                if start + size <= stop {
                    return true;
                }
            }
        }
        if self.region.end != 0 {
            return false;
        }
        // SAFETY: an anonymous private mapping, asked of the kernel.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                REGION,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return false;
        }
        let start = p as usize;
        self.region = Span { start, end: start + REGION };
        (self.next, self.limit) = (start, start + REGION);
        size <= REGION
    }
}

/// The class serving `layout`, if the arena serves it.
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN {
        return None;
    }
    CLASSES.iter().position(|&c| c >= layout.size())
}

/// Whole pages for a large block.
fn pages(size: usize) -> usize {
    size.div_ceil(PAGE).max(1) * PAGE
}

// SAFETY: blocks never overlap (each arena block is handed out once until
// freed; mapped blocks are the kernel's), are at least `layout.size()`
// long and aligned as asked (arena: 16, mapped: a page, the C library's
// for anything else).
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(c) = class(layout) {
            let p = self.with(|i| {
                let head = i.free[c];
                if head.is_null() {
                    return i.cut(CLASSES[c]);
                }
                // SAFETY: a free block of this class holds the next free
                // block's address; blocks are 16-byte aligned.
                i.free[c] = unsafe { head.cast::<*mut u8>().read() };
                head
            });
            if !p.is_null() {
                return p;
            }
            // Both spans are full.
            // SAFETY: plain malloc; glibc aligns to 16.
            return unsafe { libc::malloc(layout.size().max(1)) }.cast();
        }
        if layout.align() > PAGE {
            let mut p = ptr::null_mut();
            // SAFETY: plain posix_memalign with a power-of-two alignment.
            let r = unsafe { libc::posix_memalign(&mut p, layout.align(), layout.size().max(1)) };
            return if r == 0 { p.cast() } else { ptr::null_mut() };
        }
        // SAFETY: an anonymous private mapping, asked of the kernel.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                pages(layout.size()),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED { ptr::null_mut() } else { p.cast() }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        match class(layout) {
            Some(c) if self.contains(p) => self.with(|i| {
                // SAFETY: the block is ours and now free: its first bytes
                // hold the list's link.
                unsafe { p.cast::<*mut u8>().write(i.free[c]) };
                i.free[c] = p;
            }),
            // SAFETY: it came from malloc (spans full).
            Some(_) => unsafe { libc::free(p.cast()) },
            // SAFETY: it came from posix_memalign.
            None if layout.align() > PAGE => unsafe { libc::free(p.cast()) },
            // SAFETY: it came from mmap with this length.
            None => unsafe {
                libc::munmap(p.cast(), pages(layout.size()));
            },
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a valid layout's alignment.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let same = match (class(layout), class(new)) {
            (Some(a), Some(b)) => a == b && self.contains(p),
            (None, None) => layout.align() <= PAGE && pages(layout.size()) == pages(new_size),
            _ => false,
        };
        if same {
            return p;
        }
        // SAFETY: as GlobalAlloc's contract for realloc.
        unsafe {
            let q = self.alloc(new);
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
            q
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(p: *mut u8, len: usize, v: u8) {
        // SAFETY: `p` is a live block of at least `len` bytes.
        unsafe { ptr::write_bytes(p, v, len) };
    }

    fn check(p: *mut u8, len: usize, v: u8) -> bool {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(p, len) }.iter().all(|&b| b == v)
    }

    #[test]
    fn small_blocks_are_disjoint_aligned_and_reused() {
        let a = Arena::new();
        let mut live = Vec::new();
        for (n, size) in
            [1usize, 7, 16, 17, 33, 100, 500, 1000, 2048, 24, 8, 700, 1500].into_iter().enumerate()
        {
            let l = Layout::from_size_align(size, 8).expect("layout");
            // SAFETY: a valid non-zero layout.
            let p = unsafe { a.alloc(l) };
            assert!(a.contains(p) && (p as usize).is_multiple_of(16));
            fill(p, size, n as u8);
            live.push((p, l, n as u8));
        }
        for &(p, l, v) in &live {
            assert!(check(p, l.size(), v), "block of {} overwritten", l.size());
        }
        let used = a.used();
        // Freed blocks come back for their class; nothing new is cut.
        for _ in 0..1000 {
            for &(p, l, _) in &live {
                // SAFETY: freeing and re-allocating the same layout.
                unsafe { a.dealloc(p, l) };
            }
            for (p, l, v) in live.iter_mut() {
                // SAFETY: as above.
                *p = unsafe { a.alloc(*l) };
                fill(*p, l.size(), *v);
            }
        }
        assert_eq!(a.used(), used);
        for &(p, l, v) in &live {
            assert!(check(p, l.size(), v));
        }
    }

    #[test]
    fn large_and_over_aligned_blocks_bypass_the_arena() {
        let a = Arena::new();
        for (size, align) in [(2049, 8), (4096, 8), (100_000, 16), (64, 32), (10, 8192)] {
            let l = Layout::from_size_align(size, align).expect("layout");
            // SAFETY: a valid non-zero layout.
            let p = unsafe { a.alloc(l) };
            assert!(!p.is_null() && !a.contains(p) && (p as usize).is_multiple_of(align));
            fill(p, size, 0xa5);
            assert!(check(p, size, 0xa5));
            // SAFETY: freeing what was allocated with this layout.
            unsafe { a.dealloc(p, l) };
        }
        assert_eq!(a.used(), (0, 0));
    }

    #[test]
    fn realloc_keeps_contents_across_classes_and_paths() {
        let a = Arena::new();
        let mut l = Layout::from_size_align(5, 1).expect("layout");
        // SAFETY: valid layouts throughout; each pointer is the live one.
        unsafe {
            let mut p = a.alloc(l);
            fill(p, 5, 7);
            for size in [12, 16, 40, 300, 2048, 5000, 9000, 100, 3] {
                let q = a.realloc(p, l, size);
                assert!(check(q, l.size().min(size), 7), "after realloc to {size}");
                fill(q, size, 7);
                p = q;
                l = Layout::from_size_align(size, 1).expect("layout");
            }
            a.dealloc(p, l);
        }
    }

    #[test]
    fn a_full_region_hands_over_to_malloc() {
        let a = Arena::new();
        let l = Layout::from_size_align(LARGEST, 16).expect("layout");
        // SAFETY: valid layouts; every block is freed with its layout.
        unsafe {
            let blocks: Vec<*mut u8> = (0..REGION / LARGEST + 3).map(|_| a.alloc(l)).collect();
            assert_eq!(a.used(), (0, REGION));
            assert!(blocks.iter().all(|p| !p.is_null()));
            assert_eq!(blocks.iter().filter(|p| !a.contains(**p)).count(), 3);
            for (n, &p) in blocks.iter().enumerate() {
                fill(p, LARGEST, n as u8);
            }
            for (n, &p) in blocks.iter().enumerate() {
                assert!(check(p, LARGEST, n as u8));
                a.dealloc(p, l);
            }
        }
    }

    #[test]
    fn trim_takes_back_the_free_top_only() {
        let a = Arena::new();
        let l = |n| Layout::from_size_align(n, 8).expect("layout");
        // SAFETY: valid layouts; each block freed once with its layout.
        unsafe {
            let keep = a.alloc(l(100));
            fill(keep, 100, 1);
            let big: Vec<*mut u8> = (0..6).map(|_| a.alloc(l(2000))).collect();
            let small = a.alloc(l(20));
            assert_eq!(a.used().1, 128 + 6 * 2048 + 32);
            // A live block on top: nothing to take back.
            for &b in &big {
                a.dealloc(b, l(2000));
            }
            assert_eq!(a.trim(), 0);
            a.dealloc(small, l(20));
            assert_eq!(a.trim(), 6 * 2048 + 32);
            assert_eq!(a.used().1, 128);
            assert!(check(keep, 100, 1), "the live block is untouched");
            // The lists hold no block above the new top: new blocks are
            // cut afresh, none overlaps `keep`, and all can be written.
            let again: Vec<*mut u8> = (0..8).map(|_| a.alloc(l(2000))).collect();
            for &b in &again {
                assert!(b as usize >= keep as usize + 128);
                fill(b, 2000, 9);
            }
            assert!(check(keep, 100, 1));
            for b in again {
                a.dealloc(b, l(2000));
            }
            a.dealloc(keep, l(100));
            assert_eq!(a.trim(), 128 + 8 * 2048);
            assert_eq!(a.used().1, 0);
        }
    }

    #[test]
    fn threads_share_it_safely() {
        let a: &'static Arena = Box::leak(Box::new(Arena::new()));
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                std::thread::spawn(move || {
                    let l = Layout::from_size_align(48, 8).expect("layout");
                    for _ in 0..2000 {
                        // SAFETY: a valid layout; freed with it.
                        unsafe {
                            let p = a.alloc(l);
                            fill(p, 48, t);
                            std::thread::yield_now();
                            assert!(check(p, 48, t));
                            a.dealloc(p, l);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        assert!(a.used().1 <= 4 * 48);
    }
}
