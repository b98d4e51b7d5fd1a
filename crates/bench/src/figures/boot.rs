//! `boot up` of the review sample stack, and a no-op re-run.

use super::{Ctx, Results};
use crate::table::{Better, Cell, Figure, Impl, Target, Unit};

/// `boot up` until every check passes; no-op re-run.
pub fn up(ctx: &Ctx, res: &mut Results) {
    let keys = ["boot-up", "boot-noop"];
    res.figure(Figure {
        key: keys[0],
        title: "boot up of the review stack until every check passes".into(),
        unit: Unit::Millis,
        better: Better::Lower,
        target: Target::Report,
    });
    res.figure(Figure {
        key: keys[1],
        title: "boot up, no-op re-run".into(),
        unit: Unit::Millis,
        better: Better::Lower,
        target: Target::Below(100.0),
    });
    let built = ctx.suite(Impl::Ours).is_some_and(|s| s.has(&["boot"]));
    for k in keys {
        let cell = if built { Cell::Failed("boot scenario not written yet".into()) } else { Cell::NotBuilt };
        res.set(k, Impl::Ours, cell);
    }
}
