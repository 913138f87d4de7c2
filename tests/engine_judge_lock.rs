//! P5 mutual exclusion and lock hygiene on crafted contender pairs and stale locks.

#[path = "engine_support.rs"]
mod support;

use b2s3_harness::engine::history::{Invocation, LockObservation, Observation, ObservedAt, Role, TimingDecision};
use b2s3_harness::engine::judge::exclusion::{
    check_contention, check_lock_released, check_not_blocked_by_stale_lock, check_stale_lock, ContenderPair, Contention,
};
use b2s3_harness::engine::names::Kind::{Full, Incremental};
use b2s3_harness::oracle::finding::{Property, Severity};
use support::*;

const STEP: usize = 2;

/// `data` has a full from TS1; the winner of the pair publishes an incremental at TS2.
struct Pair {
    before: Observation,
    after: Observation,
    first: Invocation,
    second: Invocation,
    simultaneous: bool,
}

fn refused_by(pid: &str, at_ms: u64) -> Invocation {
    let mut inv = backup_inv(Role::Contender, at_ms, at_ms + 20, Some(1), &[]);
    inv.pid = Some(200);
    inv.events.push(ev(at_ms + 5, "INFO", "command_start", &[("command", "backup")]));
    let error = format!("lock already held by pid {pid}");
    inv.events.push(ev(at_ms + 10, "ERROR", "backup_lock_failed", &[("error", &error)]));
    inv
}

impl Pair {
    fn first_wins() -> Pair {
        let mut before = empty(ObservedAt::BeforeStep);
        publish(&mut before, "data", Full, TS1, None);
        let mut after = before.clone();
        after.at = ObservedAt::AfterStep;
        publish(&mut after, "data", Incremental, TS2, Some(&manifest_key("data", Full, TS1)));
        let mut first = backup_inv(Role::Backup, 0, 500, Some(0), &[]);
        first.pid = Some(100);
        first.events.extend(uploaded_events(50, "data", Incremental, TS2));
        Pair { before, after, first, second: refused_by("100", 60), simultaneous: false }
    }

    fn check(&self) -> Contention {
        check_contention(&ContenderPair {
            step: STEP,
            first: &self.first,
            second: &self.second,
            simultaneous: self.simultaneous,
            before: &self.before,
            after: &self.after,
        })
    }
}

fn all_p5(c: &Contention) {
    assert!(!c.verdict.findings.is_empty(), "expected a P5 finding: {c:#?}");
    assert!(c.verdict.properties().iter().all(|p| *p == Property::MutualExclusion), "{c:#?}");
}

#[test]
fn a_contender_refused_with_the_winners_pid_while_the_winner_publishes_is_correct() {
    let c = Pair::first_wins().check();
    assert!(c.verdict.findings.is_empty() && c.verdict.undecided.is_empty(), "{c:#?}");
    assert_eq!(c.timing(), TimingDecision::LockWinner { winner: Some(Role::Backup), simultaneous: false });
}

#[test]
fn with_a_simultaneous_start_either_may_win_and_the_winner_is_recorded() {
    let mut pair = Pair::first_wins();
    pair.simultaneous = true;
    let (mut loser, mut winner) = (refused_by("200", 0), pair.first.clone());
    (loser.role, loser.pid) = (Role::Backup, Some(100));
    (winner.role, winner.pid) = (Role::Contender, Some(200));
    (pair.first, pair.second) = (loser, winner);
    let c = pair.check();
    assert!(c.verdict.findings.is_empty(), "{c:#?}");
    assert_eq!(c.winner, Some(Role::Contender));
    assert!(c.verdict.notes.iter().any(|n| n.contains("simultaneous start")), "{:?}", c.verdict.notes);
}

#[test]
fn two_refused_backups_are_a_p5_violation() {
    let mut pair = Pair::first_wins();
    pair.first = refused_by("77", 0);
    pair.after = pair.before.clone();
    let c = pair.check();
    all_p5(&c);
    assert_eq!(c.winner, None);
}

#[test]
fn two_backups_whose_progress_interleaves_are_a_p5_violation() {
    let mut pair = Pair::first_wins();
    pair.second = backup_inv(Role::Contender, 40, 200, Some(0), &[]);
    pair.second.events.push(ev(52, "INFO", "backup_not_due", &[("status", "skipped")]));
    let c = pair.check();
    all_p5(&c);
    assert!(c.verdict.findings[0].message.contains("same time"));
}

#[test]
fn two_backups_that_ran_one_after_the_other_leave_exclusion_undecided() {
    let mut pair = Pair::first_wins();
    pair.second = backup_inv(Role::Contender, 600, 700, Some(0), &[]);
    pair.second.events.push(ev(650, "INFO", "backup_not_due", &[("status", "skipped")]));
    let c = pair.check();
    assert!(c.verdict.findings.is_empty(), "{c:#?}");
    assert_eq!(c.verdict.undecided.len(), 1);
}

#[test]
fn a_refused_backup_that_exits_0_is_a_p5_violation() {
    let mut pair = Pair::first_wins();
    pair.second.termination = b2s3_harness::engine::history::Termination::Exited { code: 0 };
    let c = pair.check();
    all_p5(&c);
    assert_eq!(c.verdict.findings[0].expected.as_deref(), Some("exit 1"));
}

#[test]
fn a_refusal_naming_another_pid_than_the_winner_is_a_p5_violation() {
    let mut pair = Pair::first_wins();
    pair.second = refused_by("4242", 60);
    let c = pair.check();
    all_p5(&c);
    assert_eq!(c.verdict.findings[0].seen.as_deref(), Some("pid 4242"));
}

#[test]
fn a_loser_that_read_the_lock_before_the_winner_wrote_its_pid_is_still_correctly_refused() {
    let mut pair = Pair::first_wins();
    pair.second = refused_by("", 60);
    let c = pair.check();
    assert!(c.verdict.findings.is_empty(), "{c:#?}");
    assert!(c.verdict.notes.iter().any(|n| n.contains("before the winner wrote its pid")), "{:?}", c.verdict.notes);
}

#[test]
fn a_refused_backup_that_took_a_snapshot_anyway_is_a_p5_violation() {
    let mut pair = Pair::first_wins();
    let path = format!("{SNAP_DIR}/{}", snapshot_name("data", TS3, Incremental));
    pair.second.events.push(ev(
        75,
        "INFO",
        "snapshot_created",
        &[("subvolume", "data"), ("path", &path), ("kind", "inc")],
    ));
    add_snapshot(&mut pair.after, "data", TS3, Incremental);
    let c = pair.check();
    all_p5(&c);
    assert_eq!(c.verdict.findings.len(), 2, "progress and an unaccounted snapshot: {c:#?}");
}

#[test]
fn a_manifest_and_pointer_move_the_winner_did_not_log_are_p5_violations() {
    let mut pair = Pair::first_wins();
    publish(&mut pair.after, "logs", Full, TS3, None);
    let c = pair.check();
    all_p5(&c);
    let subjects: Vec<&str> = c.verdict.findings.iter().filter_map(|f| f.subject.as_deref()).collect();
    assert!(subjects.contains(&manifest_key("logs", Full, TS3).as_str()), "{subjects:?}");
    assert!(subjects.contains(&"pointer of logs"), "{subjects:?}");
}

#[test]
fn a_state_file_not_as_the_winner_left_it_is_a_p5_violation() {
    let mut pair = Pair::first_wins();
    pair.after.state = pair.before.state.clone();
    let c = pair.check();
    all_p5(&c);
    assert_eq!(c.verdict.findings[0].subject.as_deref(), Some("state: subvolumes.data.last_manifest"));
}

// ---- stale locks and leftovers ----

fn stale(content: &str) -> LockObservation {
    LockObservation::Present { content: content.into() }
}

#[test]
fn a_backup_refused_by_a_dead_pid_was_blocked_by_a_stale_lock() {
    let inv = refused_by("31337", 0);
    let v = check_not_blocked_by_stale_lock(STEP, &inv, &[100]);
    assert_eq!(v.properties(), [Property::MutualExclusion]);
    let v = check_stale_lock(STEP, &inv, &stale(""), &stale(""));
    assert_eq!(v.properties(), [Property::MutualExclusion]);
}

#[test]
fn a_backup_refused_by_a_running_contender_was_not_blocked_by_a_stale_lock() {
    assert!(check_not_blocked_by_stale_lock(STEP, &refused_by("100", 0), &[100]).findings.is_empty());
}

#[test]
fn a_backup_over_a_stale_lock_that_proceeds_and_removes_it_is_correct() {
    let mut inv = backup_inv(Role::Backup, 0, 100, Some(0), &[]);
    inv.events.extend(uploaded_events(10, "data", Full, TS1));
    let v = check_stale_lock(STEP, &inv, &stale("garbage!"), &LockObservation::Absent);
    assert!(v.findings.is_empty() && v.undecided.is_empty(), "{v:#?}");
}

#[test]
fn a_stale_lock_that_was_never_planted_leaves_the_check_undecided() {
    let inv = backup_inv(Role::Backup, 0, 100, Some(0), &[]);
    let v = check_stale_lock(STEP, &inv, &LockObservation::Absent, &LockObservation::Absent);
    assert_eq!(v.undecided.len(), 1, "{v:#?}");
}

#[test]
fn a_lock_left_by_a_backup_that_exited_normally_is_p14_hygiene() {
    let inv = backup_inv(Role::Backup, 0, 100, Some(0), &[]);
    let v = check_lock_released(STEP, std::slice::from_ref(&inv), &stale("1234"));
    assert_eq!(v.properties(), [Property::Leftovers]);
    assert_eq!(v.findings[0].severity, Severity::Hygiene);
}

#[test]
fn a_lock_left_by_a_killed_backup_or_held_by_someone_else_is_not_a_leftover() {
    let killed = backup_inv(Role::Backup, 0, 100, None, &[]);
    assert!(check_lock_released(STEP, &[killed], &stale("1234")).findings.is_empty());
    let refused = refused_by("99", 0);
    assert!(check_lock_released(STEP, &[refused], &stale("99")).findings.is_empty());
    let dry = backup_inv(Role::Backup, 0, 100, Some(0), &["--dry-run"]);
    assert!(check_lock_released(STEP, &[dry], &stale("99")).findings.is_empty());
}
