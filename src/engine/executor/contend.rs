//! Contender pairs (P5): two backups that meet at the lock.
//!
//! - Staggered: the plan's backup starts; once it provably holds the lock, a second
//!   identical backup starts. With the fault proxy, "provably" is exact: the first
//!   backup's first S3 write is held (a Hold rule on the case prefix) until the
//!   contender has ended, so the first cannot finish in between. Without a proxy the
//!   engine waits for the lock file. If the first ends before that (nothing to write),
//!   the two simply run one after the other and each is judged as a single backup.
//! - Simultaneous: both are released by a barrier at the same instant; either may win.
//!
//! The judge's contention check decides who won (recorded as a timing decision) and
//! whether exclusion held; the winner is then judged like a single backup.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::case::CaseRun;
use super::faults::request_matcher_any_write;
use super::invoke::{execute, Executed, Launch, Ran};
use super::verdicts::{self, expectation, judge_publish, update_model, Cut, Judged};
use super::{Abort, Flow};
use crate::engine::history::{Invocation, Observation, ObservedAt, Role, StepRecord};
use crate::engine::judge::exclusion::{check_contention, check_lock_released, ContenderPair};
use crate::engine::judge::schedule::{check_inert_run, check_schedule};
use crate::engine::judge::BackupRun;
use crate::gen::plan::BackupStep;
use crate::s3::proxy::Rule;
use crate::tool::{BackupArgs, ToolArgs};

/// How long the engine waits for the first backup to hold the lock.
const HOLDER_WAIT: Duration = Duration::from_secs(60);

enum Signal {
    /// The first backup's first S3 write is held by the proxy.
    Held,
    /// The first backup ended.
    Done,
}

/// How the wait for the first backup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Met {
    Held,
    LockSeen,
    FirstDone,
    GaveUp,
}

pub(super) fn contended(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    b: &BackupStep,
    simultaneous: bool,
) -> Flow {
    let before = case.observe(rec, ObservedAt::BeforeStep)?;
    let args = ToolArgs::Backup(BackupArgs::from_step(b));
    let (first, second) = if simultaneous {
        together(case, rec, &args)?
    } else {
        match staggered(case, rec, b, &args, &before)? {
            Some(pair) => pair,
            None => return Ok(()),
        }
    };
    let i1 = case.record_invocation(rec, &first);
    let i2 = case.record_invocation(rec, &second);
    case.stop_if_cut_short(&first)?;
    case.stop_if_cut_short(&second)?;
    let after = case.observe(rec, ObservedAt::AfterInvocation { index: i1.max(i2) })?;
    judge_pair(
        case,
        rec,
        b,
        (&first.record, &second.record),
        simultaneous,
        (&before, &after),
    );
    Ok(())
}

/// Both released at the same instant.
fn together(case: &mut CaseRun, rec: &mut StepRecord, args: &ToolArgs) -> Flow<(Ran, Ran)> {
    let a = case
        .invoker
        .prepare(rec.index, Launch::new(Role::Backup, args.clone()));
    let b = case
        .invoker
        .prepare(rec.index, Launch::new(Role::Contender, args.clone()));
    let barrier = Barrier::new(2);
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| {
            barrier.wait();
            execute(a)
        });
        let hb = s.spawn(|| {
            barrier.wait();
            execute(b)
        });
        (joined(ha.join()), joined(hb.join()))
    });
    rec.notes
        .push("contention: both backups released by a barrier at the same instant".into());
    Ok((case.invoker.record(ra)?, case.invoker.record(rb)?))
}

fn joined(r: std::thread::Result<Executed>) -> Executed {
    r.unwrap_or_else(|_| Err(Abort::Harness("a tool runner thread panicked".into())))
}

/// The first starts; the contender starts once the first holds the lock. `None` when
/// the first ended before that and both were judged as single runs here.
fn staggered(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    b: &BackupStep,
    args: &ToolArgs,
    before: &Observation,
) -> Flow<Option<(Ran, Ran)>> {
    let first = case
        .invoker
        .prepare(rec.index, Launch::new(Role::Backup, args.clone()));
    let (tx, rx) = mpsc::channel::<Signal>();
    let held_tx = tx.clone();
    let hold = match case.engine.proxy() {
        Some(proxy) => {
            let matcher = request_matcher_any_write(&case.prefix)?;
            let rule = Rule::hold(matcher, 1).on_fire(move |_| {
                let _ = held_tx.send(Signal::Held);
            });
            Some(proxy.arm(rule))
        }
        None => None,
    };
    let lock_path = case.area.lock_path();
    let (first, second, met) = std::thread::scope(|s| {
        let handle = s.spawn(move || {
            let r = execute(first);
            let _ = tx.send(Signal::Done);
            r
        });
        let met = wait_for_holder(&rx, hold.is_some(), &lock_path);
        let second = (met != Met::FirstDone).then(|| {
            let p = case
                .invoker
                .prepare(rec.index, Launch::new(Role::Contender, args.clone()));
            execute(p)
        });
        if let (Some(proxy), Some(h)) = (case.engine.proxy(), &hold) {
            proxy.disarm(h);
        }
        (joined(handle.join()), second, met)
    });
    rec.notes.push(format!(
        "contention: the contender started when {}",
        describe(met)
    ));
    let first = case.invoker.record(first)?;
    match second {
        Some(second) => Ok(Some((first, case.invoker.record(second)?))),
        None => {
            one_after_the_other(case, rec, b, first, before)?;
            Ok(None)
        }
    }
}

fn describe(met: Met) -> &'static str {
    match met {
        Met::Held => "the first backup's first S3 write was held by the proxy (it held the lock)",
        Met::LockSeen => "the lock file appeared",
        Met::FirstDone => {
            "the first backup had already ended (it wrote nothing); they ran one after the other"
        }
        Met::GaveUp => {
            "the first backup had neither written nor locked within the wait; started anyway"
        }
    }
}

fn wait_for_holder(rx: &Receiver<Signal>, proxy: bool, lock_path: &std::path::Path) -> Met {
    let deadline = Instant::now() + HOLDER_WAIT;
    while Instant::now() < deadline && !crate::tool::signals::interrupted() {
        match rx.recv_timeout(Duration::from_millis(2)) {
            Ok(Signal::Held) => return Met::Held,
            Ok(Signal::Done) => return Met::FirstDone,
            Err(RecvTimeoutError::Disconnected) => return Met::FirstDone,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if !proxy && lock_path.exists() {
            return Met::LockSeen;
        }
    }
    Met::GaveUp
}

/// The first ended before the contender could meet it: judge it alone, then run the
/// contender as the next backup of the step and judge that alone too.
fn one_after_the_other(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    b: &BackupStep,
    first: Ran,
    before: &Observation,
) -> Flow {
    let i1 = case.record_invocation(rec, &first);
    case.stop_if_cut_short(&first)?;
    let mid = case.observe(rec, ObservedAt::AfterInvocation { index: i1 })?;
    let j = Judged {
        step: b,
        index: i1,
        inv: &first.record,
        before,
        after: &mid,
        cut: Cut::None,
        stale_lock: false,
    };
    verdicts::judge_backup(case, rec, j);
    let second = case.invoker.run(
        rec.index,
        Launch::new(Role::Contender, ToolArgs::Backup(BackupArgs::from_step(b))),
    )?;
    let i2 = case.record_invocation(rec, &second);
    case.stop_if_cut_short(&second)?;
    let after = case.observe(rec, ObservedAt::AfterInvocation { index: i2 })?;
    let j = Judged {
        step: b,
        index: i2,
        inv: &second.record,
        before: &mid,
        after: &after,
        cut: Cut::None,
        stale_lock: false,
    };
    verdicts::judge_backup(case, rec, j);
    Ok(())
}

/// P5 on the pair, then the winner as a single backup, then the model.
fn judge_pair(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    b: &BackupStep,
    (first, second): (&Invocation, &Invocation),
    simultaneous: bool,
    (before, after): (&Observation, &Observation),
) {
    let pair = ContenderPair {
        step: rec.index,
        first,
        second,
        simultaneous,
        before,
        after,
    };
    let contention = check_contention(&pair);
    rec.timing.push(contention.timing());
    let winner = contention.winner;
    case.absorb(rec, contention.verdict);
    case.absorb(
        rec,
        check_lock_released(rec.index, &[first.clone(), second.clone()], &after.lock),
    );
    match winner.map(|role| if role == first.role { first } else { second }) {
        Some(w) => {
            let expected = expectation(case, b, before, w);
            let run = BackupRun {
                step: rec.index,
                invocation: w,
                before,
                after,
            };
            case.absorb(rec, check_schedule(&run, &expected));
            case.absorb(rec, check_inert_run(&run, &expected));
            judge_publish(case, rec, &run, &expected);
        }
        None => rec.notes.push(
            "contention: no single winner, so no schedule or publish checks on the pair".into(),
        ),
    }
    update_model(case, rec, b, before, after, false);
}
