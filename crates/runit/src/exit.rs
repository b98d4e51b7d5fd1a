//! Exit statuses of `runit` and `runit-init`, one typed table each.
//!
//! runit itself exits only when it is not process 1 (111); process 1 never
//! exits in runit's own behaviour. Container mode (our extension) adds
//! three statuses for the end of a container's life. runit-init exits 0 after a
//! request and after its usage message (runit-init.md §4), 111 on errors.

/// Exit statuses of `runit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunitExit {
    /// Container mode: the container halts (stage 3 done, no reboot asked).
    Halt,
    /// Container mode: stage 1 crashed or exited 100, so stage 2 never
    /// ran (the same 100 that tells runit to skip stage 2); a halt after a
    /// failed boot is not a success.
    BootFailed,
    /// Not process 1, or a system error before the stages could run.
    Fatal,
    /// Container mode: the reboot flag was set (`runit-init 6`). 129 is
    /// what a runtime reports when the kernel ends a namespace's init for
    /// a reboot request (128 + SIGHUP), and it is non-zero, so restart
    /// policies such as Docker's `on-failure` start the container again.
    Reboot,
}

impl RunitExit {
    /// The numeric status.
    pub fn code(self) -> i32 {
        match self {
            RunitExit::Halt => 0,
            RunitExit::BootFailed => 100,
            RunitExit::Fatal => 111,
            RunitExit::Reboot => 129,
        }
    }
}

/// Exit statuses of `runit-init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitExit {
    /// The request was made, or the usage was printed (runit exits 0 there).
    Ok,
    /// A flag file could not be written, or runit could not be exec'd.
    Fatal,
}

impl InitExit {
    /// The numeric status.
    pub fn code(self) -> i32 {
        match self {
            InitExit::Ok => 0,
            InitExit::Fatal => 111,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(RunitExit::Halt.code(), 0);
        assert_eq!(RunitExit::BootFailed.code(), 100);
        assert_eq!(RunitExit::Fatal.code(), 111);
        assert_eq!(RunitExit::Reboot.code(), 129);
        assert_eq!(InitExit::Ok.code(), 0);
        assert_eq!(InitExit::Fatal.code(), 111);
    }
}
