//! Restore-side scenarios: `restore`, `chain`, `verify-modes` and `archive`. Each
//! builds a full and one or two incrementals first, so that restores have a chain to
//! follow. Restore targets are new paths under the case's directory on the separate
//! restore filesystem (`<run_dir>/mnt/restore/cases/<case>/step-<i>/<name>`, which is
//! also the tool config's `restore.target_base_dir`).

use super::shared::*;
use crate::engine::history::Role;
use crate::engine::names::Kind;
use crate::gen::plan::{RestoreStep, VerifyMode};
use crate::oracle::finding::Property;
use crate::scenario::steps::{restore as current, restore_key, seeded, Steps};
use crate::scenario::{plan, Expect, Inputs, ScenarioPlan};

/// Storage classes whose chunks need a RestoreObject before a GET (CONTRACT.md 12).
const ARCHIVE_CLASSES: [&str; 3] = ["GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"];

/// A full and `incrementals` changes each followed by `--once`; the steps so far and
/// the backup steps' indices.
fn chain_of(sv: &str, incrementals: usize) -> (Steps, Vec<usize>) {
    let mut s = Steps::new();
    let backups = s.chain(sv, incrementals, CHANGE_BYTES);
    (s, backups)
}

/// Restore `current.json` (the default), restore the full's `--manifest-key`, and
/// restore onto a target that exists: refused with `target path already exists`.
pub fn restore(i: &Inputs) -> Result<ScenarioPlan, String> {
    let sv = i.first();
    let (mut s, _) = chain_of(sv, 1);
    let by_pointer = s.restore(current(sv, VerifyMode::Full));
    let by_key = s.restore(restore_key(sv, 1, VerifyMode::Full));
    let onto_existing = s.restore(RestoreStep { existing_target: true, ..current(sv, VerifyMode::Full) });
    let expect = vec![
        no_flag(by_pointer, Role::Restore, "--manifest-key"),
        restored(by_pointer),
        flag(by_key, Role::Restore, "--manifest-key"),
        restored(by_key),
        exit(onto_existing, Role::Restore, 1, Property::RestoreRefusal),
        Expect::Error {
            step: onto_existing,
            role: Role::Restore,
            text: "target path already exists".into(),
            property: Property::RestoreRefusal,
        },
    ];
    Ok(ScenarioPlan {
        plan: plan("restore", i.settings.clone(), seeded(&[sv.into()], SEED_BYTES), s.into_steps()),
        expect,
    })
}

/// Full and two incrementals; restore the second incremental's key (a chain of
/// three) and the first's (a chain of two).
pub fn chain(i: &Inputs) -> Result<ScenarioPlan, String> {
    let sv = i.first();
    let (mut s, backups) = chain_of(sv, 2);
    let newest = s.restore(restore_key(sv, 0, VerifyMode::Full));
    let middle = s.restore(restore_key(sv, 1, VerifyMode::Full));
    let mut expect: Vec<Expect> =
        backups[1..].iter().map(|b| published(*b, sv, Kind::Incremental, Property::Schedule)).collect();
    expect.push(Expect::Chain { step: newest, links: 3, property: Property::RoundTrip });
    expect.push(Expect::Chain { step: middle, links: 2, property: Property::RoundTrip });
    Ok(ScenarioPlan {
        plan: plan("chain", i.settings.clone(), seeded(&[sv.into()], SEED_BYTES), s.into_steps()),
        expect,
    })
}

/// `sample_max_files = 4` (stated here, so that a sample is a real subset of the
/// seed layout's files); restores with `--verify full`, `sample` and `none`, and a
/// sampled restore of the full's key.
pub fn verify_modes(i: &Inputs) -> Result<ScenarioPlan, String> {
    let sv = i.first();
    let mut settings = i.settings.clone();
    settings.sample_max_files = 4;
    let (mut s, _) = chain_of(sv, 1);
    let mut expect = Vec::new();
    for mode in [VerifyMode::Full, VerifyMode::Sample, VerifyMode::None] {
        let r = s.restore(current(sv, mode));
        expect.extend([flag_value(r, Role::Restore, "--verify", mode.as_str()), restored(r), verified(r, mode)]);
    }
    let r = s.restore(restore_key(sv, 1, VerifyMode::Sample));
    expect.extend([restored(r), verified(r, VerifyMode::Sample)]);
    Ok(ScenarioPlan { plan: plan("verify-modes", settings, seeded(&[sv.into()], SEED_BYTES), s.into_steps()), expect })
}

/// Archived chunks (the class comes from `config/test_archive.toml`): a restore with
/// `--no-wait-restore` fails with exit 1 and leaves nothing; with `--wait-restore` it
/// succeeds within `restore_timeout_seconds`, through `current.json` and through the
/// full's key.
pub fn archive(i: &Inputs) -> Result<ScenarioPlan, String> {
    let class = i.settings.storage_class_chunks.as_str();
    if !ARCHIVE_CLASSES.contains(&class) {
        return Err(format!("its chunks must have an archive storage class (GLACIER or DEEP_ARCHIVE), not {class}"));
    }
    let sv = i.first();
    let (mut s, _) = chain_of(sv, 1);
    let no_wait = s.restore(RestoreStep { wait: Some(false), ..current(sv, VerifyMode::Full) });
    let wait = s.restore(RestoreStep { wait: Some(true), ..current(sv, VerifyMode::Full) });
    let by_key = s.restore(RestoreStep { wait: Some(true), ..restore_key(sv, 1, VerifyMode::Full) });
    let limit_ms = i.settings.restore_timeout_seconds.saturating_mul(1000);
    let expect = vec![
        flag(no_wait, Role::Restore, "--no-wait-restore"),
        exit(no_wait, Role::Restore, 1, Property::Archive),
        flag(wait, Role::Restore, "--wait-restore"),
        exit(wait, Role::Restore, 0, Property::Archive),
        Expect::Within { step: wait, role: Role::Restore, ms: limit_ms, property: Property::Archive },
        exit(by_key, Role::Restore, 0, Property::Archive),
    ];
    Ok(ScenarioPlan {
        plan: plan("archive", i.settings.clone(), seeded(&[sv.into()], SEED_BYTES), s.into_steps()),
        expect,
    })
}
