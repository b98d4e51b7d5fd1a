//! Per-event work on a crowded machine: `term`, `respawn` and `crash`
//! again, ours and C runit side by side, with [`CROWD`] idle processes on
//! the machine.
//!
//! A supervisor's work for one death should not depend on how many
//! processes the machine runs. Work that walks `/proc` (to find what is
//! left of a service's process group, say) does: it is invisible on a quiet
//! machine and dominates on a busy one. So the crowd is [`CROWD`] `sleep`
//! processes, started by one `sh` in a process group of its own (tagged,
//! like everything the benchmark starts) before the three figures and
//! killed after them, also when a figure fails or the run is interrupted
//! (the group is dropped). The figures are measured exactly as on a quiet
//! machine (see `control` and `idle`), into their own rows.

use super::{Ctx, Results, control, idle};
use crate::procfs;
use crate::spawn::{self, Group, Scratch};
use crate::table::{Better, Cell, Figure, Impl, Target, Unit};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How many idle processes the crowd has.
pub const CROWD: usize = 5000;

/// The rows this scenario fills.
const KEYS: [&str; 3] = ["term5000", "respawn5000", "crash5000"];

/// The idle processes, killed (with their `sh`) when dropped.
struct Crowd {
    group: Group,
    _scratch: Scratch,
}

impl Crowd {
    /// Starts `n` `sleep`s and waits until all of them exist.
    fn start(n: usize) -> Result<Crowd, String> {
        let scratch = Scratch::new("crowd")?;
        let ready = scratch.join("ready");
        // The `sleep`s are the shell's children, in its process group; the
        // shell says when it has forked the last one, then waits.
        let script =
            "i=0; while [ \"$i\" -lt \"$1\" ]; do /bin/sleep 100000 & i=$((i+1)); done; : >\"$2\"; wait";
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script).arg("crowd").arg(n.to_string()).arg(&ready);
        cmd.env_clear().env("PATH", "/usr/bin:/bin").stdin(Stdio::null()).stdout(Stdio::null());
        let group = Group::spawn(&mut cmd, "the crowd")?;
        let crowd = Crowd { group, _scratch: scratch };
        spawn::poll(Duration::from_secs(300), Duration::from_millis(50), "the crowd started", || {
            ready.exists().then_some(())
        })?;
        let members = crowd.members();
        if members < n {
            return Err(format!("the crowd has {members} live processes of {n}"));
        }
        Ok(crowd)
    }

    /// Live processes in the crowd's group other than the shell: its
    /// `sleep`s.
    fn members(&self) -> usize {
        let pgid = self.group.pid();
        procfs::pids()
            .into_iter()
            .filter(|p| *p != pgid)
            .filter_map(procfs::stat)
            .filter(|st| st.pgrp == pgid && !st.is_zombie())
            .count()
    }
}

/// `term`, `respawn` and `crash` with the crowd on the machine.
pub fn crowd(ctx: &Ctx, res: &mut Results) {
    let n = CROWD;
    let titles = [
        format!("control byte t until a new pid, {n} idle processes on the machine"),
        format!("respawn after a kill, {n} idle processes on the machine"),
        format!("supervisor CPU of a crash-looping service over 10 s, {n} idle processes"),
    ];
    eprintln!("  starting {n} idle processes");
    let crowd = match Crowd::start(n) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("  crowd: FAILED: {e}");
            for (key, title) in KEYS.iter().zip(&titles) {
                res.figure(Figure {
                    key,
                    title: title.clone(),
                    unit: Unit::Millis,
                    better: Better::Lower,
                    target: Target::Parity,
                });
                for imp in [Impl::Ours, Impl::Runit] {
                    res.set(key, imp, Cell::Failed(format!("the crowd: {e}")));
                }
            }
            return;
        }
    };
    eprintln!("  {} processes on the machine", procfs::pids().len());
    let both = [Impl::Ours, Impl::Runit];
    control::term_row(ctx, res, KEYS[0], &titles[0], Target::Parity);
    control::respawn_row(ctx, res, KEYS[1], &titles[1], &both, Target::Parity);
    idle::crash_row(ctx, res, KEYS[2], &titles[2], &both, Target::Parity);
    let alive = crowd.members();
    if alive < n {
        eprintln!("runit-bench: warning: only {alive} of the {n} idle processes were left at the end");
    }
    let mut group = crowd.group;
    if let Err(e) = group.stop() {
        eprintln!("runit-bench: warning: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crowd_starts_complete_and_goes_with_its_group() {
        let crowd = Crowd::start(20).expect("crowd");
        assert_eq!(crowd.members(), 20);
        let pgid = crowd.group.pid();
        drop(crowd);
        // (Without spawn::init the orphaned zombies are init's to reap.)
        let left = procfs::pids()
            .into_iter()
            .filter_map(procfs::stat)
            .filter(|st| st.pgrp == pgid && !st.is_zombie())
            .count();
        assert_eq!(left, 0, "the group is killed on drop");
    }
}
