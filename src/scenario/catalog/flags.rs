//! Command-line scenarios: `cli-flags` (each backup flag and `restore --verify` with
//! its documented effect) and `lock-contention` (a second backup against a held lock,
//! then a backup past a stale one).

use super::shared::*;
use crate::engine::history::Role;
use crate::engine::names::Kind;
use crate::gen::plan::{BackupFault, BackupMode, BackupStep, StaleLock, VerifyMode};
use crate::oracle::finding::Property;
use crate::scenario::steps::{backup, once, restore, seeded, with_fault, Steps};
use crate::scenario::{plan, Expect, Inputs, ScenarioPlan};

/// Runs that must change nothing: `--dry-run` and `--no-s3` before any backup.
fn inert_runs(s: &mut Steps, sv: &str, expect: &mut Vec<Expect>) {
    for (mode, flag_word, event) in
        [(BackupMode::DryRun, "--dry-run", "backup_dry_run"), (BackupMode::NoS3, "--no-s3", "backup_no_s3")]
    {
        let b = s.backup(BackupStep { mode, ..backup() });
        expect.extend([
            flag(b, Role::Backup, flag_word),
            exit(b, Role::Backup, 0, Property::Schedule),
            Expect::event(b, Role::Backup, event, &[("status", "skipped")], Property::Schedule),
            Expect::NothingPublished { step: b, property: Property::Schedule },
            Expect::NoState { step: b, property: Property::Schedule },
            Expect::Snapshots { step: b, subvolume: sv.to_string(), count: 0, property: Property::Schedule },
        ]);
    }
}

/// With the first two configured subvolumes A and B (or A alone): `--dry-run` and
/// `--no-s3` change nothing; `--subvolume A` backs up A only; a plain backup then finds
/// A not due (and backs up B); `--once --subvolume A` and `--once` give incrementals
/// of A; `restore --verify sample` and `--verify none` verify as asked.
pub fn cli_flags(i: &Inputs) -> Result<ScenarioPlan, String> {
    let names: Vec<String> = i.subvolumes.iter().take(2).cloned().collect();
    let a = names[0].as_str();
    let others: Vec<String> = names[1..].to_vec();
    let mut s = Steps::new();
    let mut expect = Vec::new();
    inert_runs(&mut s, a, &mut expect);
    let only_a = s.backup(BackupStep { subvolumes: vec![a.into()], ..backup() });
    expect.extend([
        flag_value(only_a, Role::Backup, "--subvolume", a),
        Expect::PublishedOnly { step: only_a, subvolumes: vec![a.into()], property: Property::Schedule },
        published(only_a, a, Kind::Full, Property::Schedule),
    ]);
    let plain = s.backup(backup());
    expect.extend([
        Expect::event(plain, Role::Backup, "backup_not_due", &[("subvolume", a)], Property::Schedule),
        Expect::PublishedOnly { step: plain, subvolumes: others, property: Property::Schedule },
    ]);
    s.change(a, CHANGE_BYTES);
    let once_a = s.backup(BackupStep { subvolumes: vec![a.into()], ..once() });
    expect.extend([flag(once_a, Role::Backup, "--once"), published(once_a, a, Kind::Incremental, Property::Schedule)]);
    s.change(a, CHANGE_BYTES);
    let once_all = s.backup(once());
    expect.push(published(once_all, a, Kind::Incremental, Property::Schedule));
    let sample = s.restore(restore(a, VerifyMode::Sample));
    let none = s.restore(restore(names.last().expect("one name at least"), VerifyMode::None));
    expect.extend([
        restored(sample),
        verified(sample, VerifyMode::Sample),
        restored(none),
        verified(none, VerifyMode::None),
    ]);
    Ok(ScenarioPlan { plan: plan("cli-flags", i.settings.clone(), seeded(&names, SEED_BYTES), s.into_steps()), expect })
}

/// A backup whose first S3 write is held while a second, identical backup starts: the
/// second must exit 1 with `lock already held by pid` and change nothing, the first
/// publishes. Then, after a change, a `--once` backup with a dead PID's lock file left
/// at the lock path must take over the stale lock and publish.
pub fn lock_contention(i: &Inputs) -> Result<ScenarioPlan, String> {
    let sv = i.first();
    let mut s = Steps::new();
    let pair = s.backup(with_fault(backup(), BackupFault::Contender { simultaneous: false }));
    s.change(sv, CHANGE_BYTES);
    let stale = s.backup(with_fault(once(), BackupFault::StaleLock { content: StaleLock::DeadPid }));
    let expect = vec![
        exit(pair, Role::Contender, 1, Property::MutualExclusion),
        Expect::Error {
            step: pair,
            role: Role::Contender,
            text: "lock already held by pid".into(),
            property: Property::MutualExclusion,
        },
        published(pair, sv, Kind::Full, Property::MutualExclusion),
        exit(stale, Role::Backup, 0, Property::MutualExclusion),
        published(stale, sv, Kind::Incremental, Property::MutualExclusion),
    ];
    let subvolumes = seeded(&[sv.into()], SEED_BYTES);
    Ok(ScenarioPlan { plan: plan("lock-contention", i.settings.clone(), subvolumes, s.into_steps()), expect })
}
