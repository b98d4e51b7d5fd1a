//! The exit codes of runsvdir and runsvchdir, as runit has them.

/// runsvdir's exit codes (runsvdir.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsvdirExit {
    /// SIGTERM (at once, or after a graceful shutdown, our extension).
    Term,
    /// Bad command line.
    Usage,
    /// The current directory cannot be opened at start-up; also what a
    /// forked child exits with when `runsv` cannot be executed.
    Fatal,
    /// SIGHUP: every runsv was sent SIGTERM.
    Hup,
}

impl RunsvdirExit {
    /// The process exit status.
    pub fn code(self) -> i32 {
        match self {
            RunsvdirExit::Term => 0,
            RunsvdirExit::Usage => 1,
            RunsvdirExit::Fatal => 100,
            RunsvdirExit::Hup => 111,
        }
    }
}

/// runsvchdir's exit codes (runit-init.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsvchdirExit {
    /// `current` points at `dir` (already, or now).
    Ok,
    /// No operand.
    Usage,
    /// Any failure.
    Fatal,
}

impl RunsvchdirExit {
    /// The process exit status.
    pub fn code(self) -> i32 {
        match self {
            RunsvchdirExit::Ok => 0,
            RunsvchdirExit::Usage => 1,
            RunsvchdirExit::Fatal => 111,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(RunsvdirExit::Term.code(), 0);
        assert_eq!(RunsvdirExit::Usage.code(), 1);
        assert_eq!(RunsvdirExit::Fatal.code(), 100);
        assert_eq!(RunsvdirExit::Hup.code(), 111);
        assert_eq!(RunsvchdirExit::Ok.code(), 0);
        assert_eq!(RunsvchdirExit::Usage.code(), 1);
        assert_eq!(RunsvchdirExit::Fatal.code(), 111);
    }
}
