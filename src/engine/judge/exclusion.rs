//! P5 mutual exclusion and lock hygiene (CONTRACT.md 5).
//!
//! - [`check_contention`]: of two backups that met at the lock, exactly one wins; the
//!   loser exits 1 with `lock already held by pid <winner>`, makes no progress, and
//!   every snapshot, manifest, pointer move and chunk of the step is accounted for by
//!   the winner's own events; the state is as the winner left it. With a simultaneous
//!   start either may win; who did is returned for the case report.
//! - [`check_not_blocked_by_stale_lock`]: a backup refused by a lock whose holder is
//!   not a live backup was blocked by a stale lock (P5's last sentence).
//! - [`check_lock_released`]: a lock file left after a backup that took it and exited
//!   normally is P14 leftovers: its PID is dead, so it does not block (if it ever
//!   does, that is the P5 finding above).

use std::collections::BTreeSet;

use crate::engine::delta::Delta;
use crate::engine::history::{
    EventRecord, Invocation, LockObservation, Observation, Role, TimingDecision, ToolCommand,
};
use crate::engine::judge::{finding, Verdict};
use crate::engine::names::{basename, StoreKey};
use crate::oracle::finding::{Finding, Property};

const LOCK_HELD: &str = "lock already held by pid";

/// Two backups started so that they meet at the lock.
#[derive(Debug, Clone, Copy)]
pub struct ContenderPair<'a> {
    pub step: usize,
    /// The plan's backup.
    pub first: &'a Invocation,
    /// The contender.
    pub second: &'a Invocation,
    pub simultaneous: bool,
    /// Before the first started, and after both ended.
    pub before: &'a Observation,
    pub after: &'a Observation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contention {
    pub verdict: Verdict,
    /// The role that got the lock (`None`: neither or both).
    pub winner: Option<Role>,
    pub simultaneous: bool,
}

impl Contention {
    pub fn timing(&self) -> TimingDecision {
        TimingDecision::LockWinner { winner: self.winner, simultaneous: self.simultaneous }
    }
}

fn refusal(inv: &Invocation) -> Option<&EventRecord> {
    inv.event("backup_lock_failed")
}

/// Events that only a lock holder writes.
fn progress(inv: &Invocation) -> impl Iterator<Item = &EventRecord> {
    inv.events.iter().filter(|e| !matches!(e.name.as_str(), "command_start" | "backup_lock_failed" | "backup_dry_run"))
}

pub fn check_contention(pair: &ContenderPair) -> Contention {
    let mut v = Verdict::default();
    let winner = match (refusal(pair.first), refusal(pair.second)) {
        (Some(a), Some(b)) => {
            v.find(
                finding(Property::MutualExclusion, pair.step, "both backups were refused the lock; neither held it")
                    .subject(a.render())
                    .expected_seen("one winner", format!("the contender too: {}", b.render())),
            );
            None
        }
        (None, None) => {
            both_proceeded(pair, &mut v);
            None
        }
        (None, Some(_)) => Some((pair.first, pair.second)),
        (Some(_), None) => Some((pair.second, pair.first)),
    };
    if let Some((w, l)) = winner {
        judge_loser(pair.step, w, l, &mut v);
        judge_effects(pair, w, &mut v);
        let how = if pair.simultaneous { "simultaneous start" } else { "contender started while the backup ran" };
        v.note(format!("contention ({how}): the {:?} won the lock", w.role));
    }
    Contention { verdict: v, winner: winner.map(|(w, _)| w.role), simultaneous: pair.simultaneous }
}

/// Neither was refused: a violation if both made progress at once, otherwise the two
/// simply ran one after the other and exclusion was not exercised.
fn both_proceeded(pair: &ContenderPair, v: &mut Verdict) {
    let span = |inv| {
        let times: Vec<u64> = progress(inv).map(|e| e.at_ms).collect();
        Some((*times.iter().min()?, *times.iter().max()?))
    };
    match (span(pair.first), span(pair.second)) {
        (Some((a0, a1)), Some((b0, b1))) if a0 < b1 && b0 < a1 => v.find(
            finding(Property::MutualExclusion, pair.step, "two backups made progress at the same time")
                .subject(format!("backup events {a0}..{a1} ms, contender events {b0}..{b1} ms"))
                .expected_seen("one refused with backup_lock_failed", "both proceeded, their events interleaved"),
        ),
        _ => v.cannot_decide(
            Property::MutualExclusion,
            pair.step,
            "contender pair",
            "neither backup was refused and their progress did not overlap: they ran one after the other",
        ),
    }
}

fn judge_loser(step: usize, winner: &Invocation, loser: &Invocation, v: &mut Verdict) {
    let refused = refusal(loser).expect("the loser was refused");
    let fail = |msg: &str, expected: String, seen: String| {
        finding(Property::MutualExclusion, step, format!("the backup refused the lock {msg}"))
            .subject(refused.render())
            .expected_seen(expected, seen)
    };
    if loser.exit_code() != Some(1) {
        v.find(fail("did not exit 1", "exit 1".into(), loser.describe_end()));
    }
    let error = refused.field("error").unwrap_or("");
    match (error.split(LOCK_HELD).nth(1).map(str::trim), winner.pid) {
        (None, _) => v.find(fail("did not say who held it", format!("error={LOCK_HELD} <PID>"), error.into())),
        (Some(pid), Some(w)) if pid.parse::<u32>().is_ok_and(|p| p != w) => {
            v.find(fail("named a holder other than the winner", format!("pid {w}"), format!("pid {pid}")))
        }
        (Some(pid), Some(_)) if pid.parse::<u32>().is_err() => v.note(format!(
            "contention: the loser read the lock as {pid:?}, before the winner wrote its pid; it still refused"
        )),
        _ => {}
    }
    if let Some(e) = progress(loser).next() {
        v.find(fail("made progress anyway", "no progress event".into(), e.render()));
    }
}

/// Everything that changed in the step must be the winner's doing.
fn judge_effects(pair: &ContenderPair, winner: &Invocation, v: &mut Verdict) {
    let delta = Delta::between(pair.before, pair.after);
    let snapshots: BTreeSet<&str> =
        winner.events_named("snapshot_created").filter_map(|e| e.field("path")).map(basename).collect();
    let manifests: BTreeSet<&str> =
        winner.events_named("backup_uploaded").filter_map(|e| e.field("manifest_key")).collect();
    let fail = |subject: &str, what: &str| -> Finding {
        finding(Property::MutualExclusion, pair.step, format!("{what} that the winning backup did not make"))
            .subject(subject.to_string())
            .expected_seen("only the winner's effects", what.to_string())
    };
    if let Some(s) = delta.new_snapshots.values().flatten().find(|s| !snapshots.contains(s.as_str())) {
        v.find(fail(s, "a new snapshot"));
    }
    if let Some(k) = delta.new_manifests.keys().find(|k| !manifests.contains(k.as_str())) {
        v.find(fail(k, "a new manifest"));
    }
    if let Some((n, _)) = delta
        .moved_pointers
        .iter()
        .find(|(_, (_, a))| !a.as_ref().is_some_and(|p| manifests.contains(p.manifest_key.as_str())))
    {
        v.find(fail(&format!("pointer of {n}"), "a pointer move"));
    }
    if winner.exit_code() == Some(0) {
        let prefix = pair.after.store.prefix.as_str();
        let run_ts: BTreeSet<String> =
            manifests.iter().filter_map(|k| StoreKey::parse(prefix, k)?.ts().map(str::to_string)).collect();
        let stray = delta
            .new_chunks
            .keys()
            .find(|k| !StoreKey::parse(prefix, k).and_then(|c| c.ts().map(|t| run_ts.contains(t))).unwrap_or(false));
        if let Some(k) = stray {
            v.find(fail(k, "a chunk"));
        }
    }
    judge_state(pair, winner, &manifests, v);
}

/// The state after the pair: the winner's published manifests recorded, every other
/// entry as before; unchanged altogether if the winner did not succeed.
fn judge_state(pair: &ContenderPair, winner: &Invocation, published: &BTreeSet<&str>, v: &mut Verdict) {
    let (before, after) = (&pair.before.state, &pair.after.state);
    let fail = |subject: String, expected: String, seen: String| {
        finding(Property::MutualExclusion, pair.step, "the state file is not as the winning backup left it")
            .subject(subject)
            .expected_seen(expected, seen)
    };
    if winner.exit_code() != Some(0) {
        if before != after {
            v.find(fail("state file".into(), format!("{before:?}"), format!("{after:?}")));
        }
        return;
    }
    let names: BTreeSet<&String> =
        before.parsed().into_iter().chain(after.parsed()).flat_map(|s| s.subvolumes.keys()).collect();
    for name in names {
        let uploaded = winner.event_with("backup_uploaded", "subvolume", name).and_then(|e| e.field("manifest_key"));
        let seen = after.subvolume(name).and_then(|s| s.last_manifest.as_deref());
        let expected = match uploaded.filter(|k| published.contains(k)) {
            Some(k) => Some(k),
            None => before.subvolume(name).and_then(|s| s.last_manifest.as_deref()),
        };
        if seen != expected {
            let show = |o: Option<&str>| o.unwrap_or("absent").to_string();
            v.find(fail(format!("state: subvolumes.{name}.last_manifest"), show(expected), show(seen)));
            return;
        }
    }
}

/// A backup refused by a lock whose holder is none of `live_pids` (the backups of this
/// step that were running) was blocked by a stale lock. Not for contender pairs: a
/// loser may read the winner's lock before the pid is written ([`check_contention`]).
pub fn check_not_blocked_by_stale_lock(step: usize, inv: &Invocation, live_pids: &[u32]) -> Verdict {
    let mut v = Verdict::default();
    let Some(e) = refusal(inv) else { return v };
    let holder = e.field("error").unwrap_or("").split(LOCK_HELD).nth(1).map(str::trim).unwrap_or("");
    if holder.parse::<u32>().is_ok_and(|pid| live_pids.contains(&pid)) {
        return v;
    }
    v.find(
        finding(Property::MutualExclusion, step, "a stale lock blocked a backup").subject(e.render()).expected_seen(
            "a dead, empty or garbage lock is removed and the backup proceeds",
            format!("refused, holder {holder:?} is not a running backup"),
        ),
    );
    v
}

/// Whether the invocation took the lock and then ended in a way that must release it
/// (exit 0, or exit 1 with a handled `ERROR` event).
fn took_and_released(inv: &Invocation) -> bool {
    let handled = match inv.exit_code() {
        Some(0) => true,
        Some(1) => inv.first_error().is_some(),
        _ => false,
    };
    inv.command == ToolCommand::Backup && handled && refusal(inv).is_none() && !inv.has_flag("--dry-run")
}

/// After all of a step's backups ended: a lock file is left only by a SIGKILL.
pub fn check_lock_released(step: usize, invocations: &[Invocation], after: &LockObservation) -> Verdict {
    let mut v = Verdict::default();
    if invocations.iter().any(Invocation::was_signalled) {
        v.note("lock: a killed backup may leave its lock (CONTRACT.md 5)");
        return v;
    }
    let LockObservation::Present { content } = after else { return v };
    if let Some(inv) = invocations.iter().find(|i| took_and_released(i)) {
        v.find(
            finding(Property::Leftovers, step, "a lock file was left behind by a backup that exited normally")
                .subject(format!("lock file containing {content:?}"))
                .expected_seen("no lock file", format!("lock file after {}", inv.describe_end())),
        );
    }
    v
}

/// A backup started over a planted stale lock (dead PID, empty, garbage): it must not
/// be refused, and must leave no lock file when it exits normally.
pub fn check_stale_lock(step: usize, inv: &Invocation, before: &LockObservation, after: &LockObservation) -> Verdict {
    let mut v = Verdict::default();
    if !before.is_present() {
        v.cannot_decide(Property::MutualExclusion, step, "stale lock", "no lock file was in place before the backup");
        return v;
    }
    v.merge(check_not_blocked_by_stale_lock(step, inv, &[]));
    v.merge(check_lock_released(step, std::slice::from_ref(inv), after));
    v
}
