//! The per-service timer table: why, and until when, a start is held back
//! (supervise.md §9 and runit-rs extensions). A start is due once the
//! latest hold has passed; [`crate::supervisor::Supervisor::next_deadline`]
//! is the earliest such release over both services, so the driver's wait
//! is one expression and an idle runsv has no deadline at all.

use std::time::Instant;

/// The kinds of hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// runit's one full second after a `./run` that lived less than that.
    Throttle,
    /// Five seconds after a failed `fork` (runit's "unable to fork,
    /// sleeping").
    ForkRetry,
    /// The restart policy's back-off (extension, docs/health.md).
    Backoff,
}

impl Hold {
    const COUNT: usize = 3;

    fn index(self) -> usize {
        match self {
            Hold::Throttle => 0,
            Hold::ForkRetry => 1,
            Hold::Backoff => 2,
        }
    }
}

/// One service's holds, indexed by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holds {
    until: [Option<Instant>; Hold::COUNT],
}

impl Holds {
    /// Sets (or with `None` cancels) the hold of `kind`.
    pub fn set(&mut self, kind: Hold, until: Option<Instant>) {
        if let Some(slot) = self.until.get_mut(kind.index()) {
            *slot = until;
        }
    }

    /// The hold of `kind`, if any (possibly already passed).
    pub fn get(&self, kind: Hold) -> Option<Instant> {
        self.until.get(kind.index()).copied().flatten()
    }

    /// When the last hold ends (`None`: nothing holds the start).
    pub fn release(&self) -> Option<Instant> {
        self.until.iter().flatten().max().copied()
    }

    /// True while some hold has not passed at `now`.
    pub fn holding(&self, now: Instant) -> bool {
        self.release().is_some_and(|t| now < t)
    }

    /// Cancels every hold (the service was started).
    pub fn clear(&mut self) {
        *self = Holds::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_latest_hold_releases() {
        let t0 = Instant::now();
        let mut h = Holds::default();
        assert_eq!(h.release(), None);
        assert!(!h.holding(t0));
        h.set(Hold::Throttle, Some(t0 + Duration::from_secs(1)));
        h.set(Hold::Backoff, Some(t0 + Duration::from_secs(8)));
        assert_eq!(h.release(), Some(t0 + Duration::from_secs(8)));
        assert!(h.holding(t0 + Duration::from_secs(7)));
        assert!(!h.holding(t0 + Duration::from_secs(8)));
        h.set(Hold::Backoff, None);
        assert_eq!((h.release(), h.get(Hold::Backoff)), (Some(t0 + Duration::from_secs(1)), None));
        h.clear();
        assert_eq!(h, Holds::default());
    }
}
