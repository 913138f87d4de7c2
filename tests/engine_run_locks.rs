//! Lock faults over the correct reference tool: a contender started while the first
//! backup holds the lock (held at its first S3 write by the proxy), two backups started
//! at the same instant, and stale lock files (dead PID, empty, garbage) planted before a
//! backup. Exactly one backup of a pair wins and the winner is recorded; a stale lock
//! never blocks; nothing is found.

mod engine_run_support;

use b2s3_harness::engine::history::{Role, TimingDecision};
use b2s3_harness::engine::CaseReport;
use b2s3_harness::gen::plan::*;
use engine_run_support::*;

fn lock_winner(report: &CaseReport, index: usize) -> Option<Option<Role>> {
    step(report, index).timing.iter().find_map(|t| match t {
        TimingDecision::LockWinner { winner, .. } => Some(*winner),
        _ => None,
    })
}

fn contender(simultaneous: bool) -> Option<BackupFault> {
    Some(BackupFault::Contender { simultaneous })
}

#[test]
fn a_contender_started_while_the_first_backup_holds_the_lock_is_refused_and_the_first_wins() {
    let world = World::new("contender");
    let engine = world.engine();
    let plan = plan(
        "contender",
        vec![subvolume("data")],
        vec![
            backup(false, contender(false)),
            mutate("data", 5),
            backup(true, contender(false)),
        ],
    );
    let report = run(&engine, &plan);
    assert_clean(&report);
    for index in [0, 2] {
        assert_eq!(
            roles(step(&report, index)),
            vec![Role::Backup, Role::Contender]
        );
        assert_eq!(
            lock_winner(&report, index),
            Some(Some(Role::Backup)),
            "{}",
            report.render()
        );
        let loser = &step(&report, index).invocations[1];
        assert_eq!(loser.exit_code(), Some(1));
        assert!(loser.event("backup_lock_failed").is_some());
    }
}

#[test]
fn of_two_backups_started_at_the_same_instant_exactly_one_wins_and_it_is_recorded() {
    let world = World::new("simultaneous");
    let engine = world.engine();
    let plan = plan(
        "simultaneous",
        vec![subvolume("data"), subvolume("home")],
        vec![
            backup(false, contender(true)),
            mutate("home", 9),
            backup(true, contender(true)),
        ],
    );
    let report = run(&engine, &plan);
    assert_clean(&report);
    for index in [0, 2] {
        let winner = lock_winner(&report, index).expect("a lock decision is recorded");
        assert!(
            matches!(winner, Some(Role::Backup | Role::Contender)),
            "{}",
            report.render()
        );
    }
}

#[test]
fn a_stale_lock_of_any_kind_never_blocks_the_next_backup() {
    let world = World::new("stalelock");
    let engine = world.engine();
    for content in [StaleLock::DeadPid, StaleLock::Empty, StaleLock::Garbage] {
        let stale = Some(BackupFault::StaleLock { content });
        let plan = plan(
            &format!("stale lock {content:?}"),
            vec![subvolume("data")],
            vec![
                backup(false, stale.clone()),
                mutate("data", 4),
                backup(true, stale),
            ],
        );
        let report = run(&engine, &plan);
        assert_clean(&report);
        for index in [0, 2] {
            let rec = step(&report, index);
            assert_eq!(
                rec.invocations[0].exit_code(),
                Some(0),
                "{content:?}: {}",
                report.render()
            );
            assert!(
                rec.observations[0].lock.is_present(),
                "the lock was planted before the backup"
            );
            assert!(
                !rec.observations[1].lock.is_present(),
                "the backup removed it"
            );
        }
    }
}
