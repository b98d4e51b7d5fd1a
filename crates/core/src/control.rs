//! The command bytes clients write into `supervise/control` (supervise.md §8).
//!
//! runsv reads one byte at a time and silently ignores any byte not listed
//! here (a trailing newline from `echo d > control` is harmless).

/// One command understood by runsv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlByte {
    /// `u`: want up; start if down.
    Up,
    /// `d`: want down; stop if running.
    Down,
    /// `o`: run once: want down, start if down.
    Once,
    /// `x`: stop and let runsv exit (ignored on the log's FIFO).
    Exit,
    /// `t`: SIGTERM.
    Term,
    /// `k`: SIGKILL.
    Kill,
    /// `p`: SIGSTOP and set the paused flag.
    Pause,
    /// `c`: SIGCONT and clear the paused flag.
    Cont,
    /// `h`: SIGHUP.
    Hup,
    /// `a`: SIGALRM.
    Alarm,
    /// `i`: SIGINT.
    Interrupt,
    /// `q`: SIGQUIT.
    Quit,
    /// `1`: SIGUSR1.
    Usr1,
    /// `2`: SIGUSR2.
    Usr2,
}

impl ControlByte {
    /// Every command, in runit's documentation order.
    pub const ALL: [ControlByte; 14] = [
        ControlByte::Up,
        ControlByte::Down,
        ControlByte::Once,
        ControlByte::Pause,
        ControlByte::Cont,
        ControlByte::Hup,
        ControlByte::Alarm,
        ControlByte::Interrupt,
        ControlByte::Quit,
        ControlByte::Usr1,
        ControlByte::Usr2,
        ControlByte::Term,
        ControlByte::Kill,
        ControlByte::Exit,
    ];

    /// Decodes a byte; `None` for bytes runsv ignores.
    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.byte() == b)
    }

    /// The byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            ControlByte::Up => b'u',
            ControlByte::Down => b'd',
            ControlByte::Once => b'o',
            ControlByte::Exit => b'x',
            ControlByte::Term => b't',
            ControlByte::Kill => b'k',
            ControlByte::Pause => b'p',
            ControlByte::Cont => b'c',
            ControlByte::Hup => b'h',
            ControlByte::Alarm => b'a',
            ControlByte::Interrupt => b'i',
            ControlByte::Quit => b'q',
            ControlByte::Usr1 => b'1',
            ControlByte::Usr2 => b'2',
        }
    }

    /// The signal the command sends to a running process, if it is a plain
    /// signal command (`d`, `x` and `t` use the stop procedure instead).
    pub fn signal(self) -> Option<i32> {
        Some(match self {
            ControlByte::Term => libc::SIGTERM,
            ControlByte::Kill => libc::SIGKILL,
            ControlByte::Pause => libc::SIGSTOP,
            ControlByte::Cont => libc::SIGCONT,
            ControlByte::Hup => libc::SIGHUP,
            ControlByte::Alarm => libc::SIGALRM,
            ControlByte::Interrupt => libc::SIGINT,
            ControlByte::Quit => libc::SIGQUIT,
            ControlByte::Usr1 => libc::SIGUSR1,
            ControlByte::Usr2 => libc::SIGUSR2,
            ControlByte::Up | ControlByte::Down | ControlByte::Once | ControlByte::Exit => {
                return None;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        for c in ControlByte::ALL {
            assert_eq!(ControlByte::from_byte(c.byte()), Some(c));
        }
        assert_eq!(ControlByte::ALL.iter().map(|c| c.byte()).collect::<Vec<_>>(), b"udopchaiq12tkx".to_vec());
    }

    #[test]
    fn unknown_bytes_are_ignored() {
        for b in [b'e', b'w', b's', b'U', b'\n', 0, 0xff] {
            assert_eq!(ControlByte::from_byte(b), None);
        }
    }

    #[test]
    fn signals() {
        assert_eq!(ControlByte::Usr1.signal(), Some(libc::SIGUSR1));
        assert_eq!(ControlByte::Down.signal(), None);
    }
}
