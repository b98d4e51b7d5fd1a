//! `chpst -e DIR -n 0 true`: the cost a run script pays to load its
//! environment directory (20 variables) and exec the service.
//!
//! The figure is the wall time from spawning chpst to reaping it (chpst
//! execs `true`, found through `PATH`, so the time includes that exec and
//! `true` itself, the same for both columns). Before timing, each chpst
//! runs `env` instead of `true` once, and all 20 variables must arrive.

use super::{Ctx, Results, alternate, ms, participants};
use crate::spawn::{self, Scratch};
use crate::table::{Better, Figure, Impl, Target, Unit};
use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The number of variables in the envdir.
pub const VARS: usize = 20;

/// `chpst -e DIR -n 0 true`.
pub fn envdir(ctx: &Ctx, res: &mut Results) {
    let key = "chpst";
    res.figure(Figure {
        key,
        title: format!("chpst -e DIR ({VARS} vars) -n 0 true"),
        unit: Unit::Millis,
        better: Better::Lower,
        target: Target::Parity,
    });
    let mut active = participants(ctx, res, &[key], &[Impl::Ours, Impl::Runit], |_| vec!["chpst"]);
    let scratch = match Scratch::new("chpst") {
        Ok(s) => s,
        Err(e) => {
            active.iter().for_each(|imp| res.fail(key, *imp, &e));
            return;
        }
    };
    let env = scratch.join("env");
    let setup = fs::create_dir(&env).and_then(|()| {
        (0..VARS).try_for_each(|i| fs::write(env.join(format!("VAR{i:02}")), format!("value-{i:02}\n")))
    });
    if let Err(e) = setup {
        active.iter().for_each(|imp| res.fail(key, *imp, &format!("envdir: {e}")));
        return;
    }
    let command = |imp: Impl, prog: &str| -> Result<Command, String> {
        let suite = ctx.suite(imp).ok_or("no suite")?;
        let mut c = Command::new(suite.need("chpst")?);
        c.arg("-e").arg(&env).args(["-n", "0", prog]);
        c.env_clear().env("PATH", "/usr/bin:/bin").stdin(Stdio::null()).stderr(Stdio::null());
        Ok(c)
    };
    active.retain(|imp| {
        let check = || -> Result<(), String> {
            let out = scratch.join("env.out");
            let file = fs::File::create(&out).map_err(|e| format!("create: {e}"))?;
            let mut c = command(*imp, "env")?;
            c.stdout(file);
            let (_, exit) = spawn::run_timed(&mut c, "chpst env", Duration::from_secs(10))?;
            let text = fs::read_to_string(&out).unwrap_or_default();
            let found =
                (0..VARS).filter(|i| text.lines().any(|l| l == format!("VAR{i:02}=value-{i:02}"))).count();
            if exit.code() != Some(0) || found != VARS {
                return Err(format!("chpst -e: {}, {found} of {VARS} variables arrived", exit.describe()));
            }
            Ok(())
        };
        match check() {
            Ok(()) => true,
            Err(e) => {
                res.fail(key, *imp, &e);
                false
            }
        }
    });
    alternate(res, &[key], active, ctx.reps(300, 50), |imp, _| {
        let mut c = command(imp, "true")?;
        c.stdout(Stdio::null());
        let (took, exit) = spawn::run_timed(&mut c, "chpst", Duration::from_secs(10))?;
        if exit.code() != Some(0) {
            return Err(format!("chpst: {}", exit.describe()));
        }
        Ok(vec![ms(took)])
    });
}
