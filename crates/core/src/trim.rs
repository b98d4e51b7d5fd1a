//! Idle trim: a supervisor drops its own read-only program pages while it
//! sleeps (runit-rs; docs/runsv.md "Memory"). runsv and runsvdir use it.
//!
//! Every service costs one runsv, so an idle runsv's resident and
//! proportional set size matter; runsvdir's is shared by no other process.
//! A Rust executable carries some 300 KiB of code, most of it the standard
//! library's panic and backtrace machinery that they never run; the
//! kernel's fault-around nevertheless maps it in 64 KiB windows around the
//! few functions start-up touches.
//!
//! So, when the loop is about to sleep without a deadline, [`Trim::idle`]
//! first waits [`GRACE`] for an event (a service being worked on, a crash
//! loop, would fault the trimmed pages straight back in), and if none
//! comes, [`Trim::idle_wait`]
//! tells the kernel it no longer needs the pages of the executable's
//! read-only segments (`madvise(MADV_DONTNEED)` on the non-writable
//! `PT_LOAD` segments of the main program) and then blocks in `poll(2)` on
//! the epoll descriptor until an event is ready. The function doing this
//! keeps its own page(s) mapped and issues both system calls directly
//! (x86-64), so no trimmed page is touched, and nothing is faulted back in,
//! before the process sleeps. The pages stay in the page cache, clean and
//! shared; the next event faults back the few it needs. Writable segments
//! are never touched: only clean file pages are unmapped, nothing is lost.
//! The one exception is the dead part of the stack, below the sleeping
//! frame, whose contents no code will read again.

use std::ffi::c_void;
use std::os::fd::RawFd;
use std::time::Duration;

const PAGE: usize = 4096;

/// How long a loop stays idle before it trims.
pub const GRACE: Duration = Duration::from_secs(1);

/// What to trim; worked out at the first idle sleep, not at start-up,
/// where it would delay the service's start.
#[derive(Debug, Default)]
pub struct Trim {
    plan: std::cell::OnceCell<Plan>,
    /// Called right before the trimmed sleep (runsv gives back its
    /// allocator's free pages).
    before_sleep: Option<fn()>,
}

/// At most this many ranges (read-only segments, each split at most once
/// around `idle_block`): fixed arrays, so that working out the plan leaves
/// nothing on the heap.
const MAX_RANGES: usize = 8;

/// Up to [`MAX_RANGES`] `(start, end or length)` pairs.
#[derive(Debug, Default, Clone, Copy)]
struct Ranges {
    list: [(usize, usize); MAX_RANGES],
    len: usize,
}

impl Ranges {
    fn push(&mut self, r: (usize, usize)) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = r;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[(usize, usize)] {
        &self.list[..self.len]
    }
}

#[derive(Debug)]
struct Plan {
    /// Page-aligned `(start, length)` ranges of the executable's
    /// read-only segments, minus the page(s) of `idle_block`.
    ranges: Ranges,
    /// The main thread's stack mapping, `[start, end)` (empty: unknown,
    /// the stack is left alone).
    stack: (usize, usize),
}

impl Plan {
    /// Finds the main program's non-writable `PT_LOAD` segments and the
    /// stack mapping.
    fn new() -> Self {
        let mut segments = Ranges::default();
        // SAFETY: the callback only reads the headers dl_iterate_phdr hands
        // it and pushes to the Ranges passed as `data`, which outlives the
        // call.
        unsafe { libc::dl_iterate_phdr(Some(collect), (&raw mut segments).cast()) };
        let keep_start = (idle_block as fn(&[(usize, usize)], (usize, usize), RawFd) as usize) & !(PAGE - 1);
        let keep_end = keep_start + 2 * PAGE;
        let mut ranges = Ranges::default();
        for &(start, end) in segments.as_slice() {
            for (s, e) in [(start, end.min(keep_start)), (start.max(keep_end), end)] {
                if e > s {
                    ranges.push((s, e - s));
                }
            }
        }
        Plan { ranges, stack: stack_mapping().unwrap_or((0, 0)) }
    }
}

impl Trim {
    /// A trim with nothing worked out yet.
    pub fn new() -> Self {
        Trim::default()
    }

    fn plan(&self) -> &Plan {
        self.plan.get_or_init(Plan::new)
    }

    /// Also calls `hook` each time right before the trimmed sleep.
    pub fn with_hook(mut self, hook: fn()) -> Self {
        self.before_sleep = Some(hook);
        self
    }

    /// For a loop with nothing to do and no deadline: waits up to
    /// [`GRACE`] for `epoll_fd` to have an event ready (or a signal); if
    /// none came, trims and sleeps until one does ([`Trim::idle_wait`]).
    /// The events are left for `epoll_wait`, which the caller then calls
    /// without blocking.
    pub fn idle(&self, epoll_fd: RawFd) {
        let mut pfd = libc::pollfd { fd: epoll_fd, events: libc::POLLIN, revents: 0 };
        let ms = libc::c_int::try_from(GRACE.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `pfd` is one live pollfd.
        if unsafe { libc::poll(&mut pfd, 1, ms) } == 0 {
            self.idle_wait(epoll_fd);
        }
    }

    /// Unmaps the trimmed pages, then sleeps until `epoll_fd` has an event
    /// ready (or a signal arrives). The events are left for `epoll_wait`.
    pub fn idle_wait(&self, epoll_fd: RawFd) {
        // Worked out before the hook, which may give back what this
        // allocates and frees (reading /proc/self/maps).
        self.plan();
        if let Some(hook) = self.before_sleep {
            hook();
        }
        idle_block(self.plan().ranges.as_slice(), self.plan().stack, epoll_fd);
    }
}

/// The address range of the `[stack]` line of `/proc/self/maps`.
fn stack_mapping() -> Option<(usize, usize)> {
    let maps = crate::instance::read_proc("/proc/self/maps", 4096).ok()?;
    let line = maps.split(|&b| b == b'\n').find(|l| l.ends_with(b"[stack]"))?;
    let range = line.split(|&b| b == b' ').next()?;
    let mut ends =
        range.split(|&b| b == b'-').map(|h| usize::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
    Some((ends.next()??, ends.next()??))
}

/// Everything from the first `madvise` to the sleep happens in this one
/// function, whose pages are excluded from the trim.
#[inline(never)]
fn idle_block(ranges: &[(usize, usize)], stack: (usize, usize), fd: RawFd) {
    for &(start, len) in ranges {
        // SAFETY: the range lies inside read-only, file-backed mappings of
        // our own executable: dropping their pages loses nothing.
        unsafe { sys_madvise(start, len) };
    }
    // The stack below this frame is dead: start-up went deeper (file
    // reads, formatting) than the loop does between events. Drop those
    // pages; they come back as zero pages when a deeper call or a signal
    // frame needs them. The page of this frame's locals and one page below
    // it are kept for the frame itself and the two calls below. The floor
    // is the bottom of the `[stack]` mapping when the trim was set up. (A
    // thread other than the main one, as in unit tests, is not on that
    // mapping: the stack is left alone.)
    let here = 0u8;
    let top = (std::ptr::addr_of!(here) as usize & !(PAGE - 1)).saturating_sub(PAGE);
    let (floor, end) = stack;
    if floor < top && top < end {
        // SAFETY: [floor, top) is the unused part of our own stack.
        unsafe { sys_madvise(floor, top - floor) };
    }
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: `pfd` is a live pollfd.
    unsafe { sys_poll(&mut pfd) };
}

#[cfg(target_arch = "x86_64")]
unsafe fn syscall3(nr: i64, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes a valid system call and arguments; the
    // kernel clobbers rcx and r11 only.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

#[cfg(target_arch = "x86_64")]
unsafe fn sys_madvise(start: usize, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { syscall3(libc::SYS_madvise, start, len, libc::MADV_DONTNEED as usize) };
}

#[cfg(target_arch = "x86_64")]
unsafe fn sys_poll(pfd: &mut libc::pollfd) {
    // SAFETY: `pfd` is one live pollfd; timeout -1 blocks.
    unsafe { syscall3(libc::SYS_poll, (pfd as *mut libc::pollfd) as usize, 1, usize::MAX) };
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn sys_madvise(start: usize, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { libc::madvise(start as *mut c_void, len, libc::MADV_DONTNEED) };
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn sys_poll(pfd: &mut libc::pollfd) {
    // SAFETY: `pfd` is one live pollfd.
    unsafe { libc::poll(pfd, 1, -1) };
}

unsafe extern "C" fn collect(info: *mut libc::dl_phdr_info, _size: usize, data: *mut c_void) -> libc::c_int {
    // SAFETY: dl_iterate_phdr passes a valid info; `data` is our Ranges.
    let (info, segments) = unsafe { (&*info, &mut *data.cast::<Ranges>()) };
    if info.dlpi_phdr.is_null() {
        return 1;
    }
    // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    for h in headers {
        if h.p_type != libc::PT_LOAD || h.p_flags & libc::PF_W != 0 {
            continue;
        }
        let (Ok(vaddr), Ok(size)) = (usize::try_from(h.p_vaddr), usize::try_from(h.p_memsz)) else {
            continue;
        };
        let begin = (info.dlpi_addr as usize).wrapping_add(vaddr);
        // Whole pages inside the segment only.
        let start = (begin + PAGE - 1) & !(PAGE - 1);
        let end = begin.wrapping_add(size) & !(PAGE - 1);
        if end > start {
            segments.push((start, end));
        }
    }
    // The first object is the main program: stop after it.
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_read_only_segments_and_spares_its_own_page() {
        let t = Plan::new();
        assert!(t.ranges.len > 0);
        let me = idle_block as fn(&[(usize, usize)], (usize, usize), RawFd) as usize;
        for &(s, l) in t.ranges.as_slice() {
            assert_eq!(s % PAGE, 0);
            assert!(!(s..s + l).contains(&me), "idle_block's page is never trimmed");
        }
    }

    #[test]
    fn finds_the_stack_mapping() {
        let (start, end) = stack_mapping().expect("[stack] in /proc/self/maps");
        assert!(start < end && start % PAGE == 0 && end % PAGE == 0);
    }

    #[test]
    fn idle_wait_returns_when_ready_and_code_still_runs() {
        let (r, w) = crate::selfpipe::pipe(libc::O_CLOEXEC).expect("pipe");
        use std::os::fd::AsRawFd;
        crate::report::write_fd(w.as_raw_fd(), b"x");
        let t = Trim::new();
        t.idle_wait(r.as_raw_fd());
        // Trimmed code and data fault back in transparently.
        assert_eq!(format!("{}", 6 * 7), "42");
    }

    #[test]
    fn idle_returns_at_once_when_ready_and_runs_the_hook_only_to_sleep() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static HOOKED: AtomicUsize = AtomicUsize::new(0);
        fn hook() {
            HOOKED.fetch_add(1, Ordering::SeqCst);
        }
        let (r, w) = crate::selfpipe::pipe(libc::O_CLOEXEC).expect("pipe");
        use std::os::fd::AsRawFd;
        crate::report::write_fd(w.as_raw_fd(), b"x");
        let t = Trim::new().with_hook(hook);
        t.idle(r.as_raw_fd());
        assert_eq!(HOOKED.load(Ordering::SeqCst), 0, "an event was ready: no trimmed sleep");
        t.idle_wait(r.as_raw_fd());
        assert_eq!(HOOKED.load(Ordering::SeqCst), 1);
    }
}
