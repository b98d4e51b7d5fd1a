//! sv's exit statuses (sv.md §7), in one table.
//!
//! Normal mode counts problems: every `fail:`, `warning:`, `timeout:` and
//! `kill:` line adds one, and the count (capped at 99) is the exit status.
//! Usage errors and the two fatal errors exit 100. Invoked under another
//! name (LSB init-script mode) usage is 2, fatal 151, and `status` answers
//! with the LSB codes 0/3/4 as soon as its single service is printed.

/// The highest failure count sv reports.
pub const MAX_FAILURES: u32 = 99;

/// How sv ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// This many problems were reported (0: everything worked).
    Failures(u32),
    /// Bad command line: 100, or 2 in LSB mode.
    Usage,
    /// The current directory could not be opened or returned to: 100, or
    /// 151 in LSB mode.
    Fatal,
    /// LSB `status`: the service has a process (run or finish): 0.
    LsbRunning,
    /// LSB `status`: the service has no process: 3.
    LsbDown,
    /// LSB `status`: the status could not be determined: 4.
    LsbUnknown,
}

impl Exit {
    /// The process exit status; `lsb` is true in init-script mode.
    pub fn code(self, lsb: bool) -> i32 {
        match self {
            Exit::Failures(n) => n.min(MAX_FAILURES) as i32,
            Exit::Usage if lsb => 2,
            Exit::Usage => 100,
            Exit::Fatal if lsb => 151,
            Exit::Fatal => 100,
            Exit::LsbRunning => 0,
            Exit::LsbDown => 3,
            Exit::LsbUnknown => 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(Exit::Failures(0).code(false), 0);
        assert_eq!(Exit::Failures(3).code(true), 3);
        assert_eq!(Exit::Failures(99).code(false), 99);
        assert_eq!(Exit::Failures(1000).code(false), 99);
        assert_eq!(Exit::Usage.code(false), 100);
        assert_eq!(Exit::Usage.code(true), 2);
        assert_eq!(Exit::Fatal.code(false), 100);
        assert_eq!(Exit::Fatal.code(true), 151);
        assert_eq!(Exit::LsbRunning.code(true), 0);
        assert_eq!(Exit::LsbDown.code(true), 3);
        assert_eq!(Exit::LsbUnknown.code(true), 4);
    }
}
