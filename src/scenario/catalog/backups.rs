//! Backup-side scenarios: `full`, `incremental`, `interrupt`, `multi-chunk` (and its
//! large variant), `all-subvolumes`, `spool` and `retention`. Each builder states the
//! plan's steps and what the record must show beyond the engine's own checks.

use super::shared::*;
use crate::engine::history::Role;
use crate::engine::names::Kind;
use crate::gen::plan::{BackupFault, KillPoint, ObjectClass, RequestPoint, VerifyMode};
use crate::oracle::finding::Property;
use crate::scenario::steps::{backup, once, restore, seeded, with_fault, Steps};
use crate::scenario::{plan, Expect, Inputs, ScenarioPlan};

/// Seed, back up (a full), restore `current.json`.
pub fn full(i: &Inputs) -> Result<ScenarioPlan, String> {
    let sv = i.first();
    let mut s = Steps::new();
    let b = s.backup(backup());
    let r = s.restore(restore(sv, VerifyMode::Full));
    let expect = vec![published(b, sv, Kind::Full, Property::Schedule), restored(r)];
    Ok(ScenarioPlan {
        plan: plan("full", i.settings.clone(), seeded(&[sv.into()], SEED_BYTES), s.into_steps()),
        expect,
    })
}

/// Full, change, `--once`, change, `--once`, restore: both `--once` runs are
/// incrementals whose parent is the manifest before them.
pub fn incremental(i: &Inputs) -> Result<ScenarioPlan, String> {
    let sv = i.first();
    let mut s = Steps::new();
    let backups = s.chain(sv, 2, CHANGE_BYTES);
    let r = s.restore(restore(sv, VerifyMode::Full));
    let mut expect = vec![published(backups[0], sv, Kind::Full, Property::Schedule)];
    for &b in &backups[1..] {
        expect.push(flag(b, Role::Backup, "--once"));
        expect.push(published(b, sv, Kind::Incremental, Property::Schedule));
    }
    expect.push(restored(r));
    let subvolumes = seeded(&[sv.into()], SEED_BYTES);
    Ok(ScenarioPlan { plan: plan("incremental", i.settings.clone(), subvolumes, s.into_steps()), expect })
}

/// A first backup SIGKILLed when it sends its second chunk (its first, if the stream
/// has only one), then the same backup again, then a restore of `current.json`.
pub fn interrupt(i: &Inputs) -> Result<ScenarioPlan, String> {
    let sv = i.first();
    let nth = if 2 * i.settings.chunk_size_bytes < SEED_BYTES { 2 } else { 1 };
    let at = KillPoint::OnRequest { at: RequestPoint { object: ObjectClass::Chunk, nth }, before: true };
    let mut s = Steps::new();
    let k = s.backup(with_fault(backup(), BackupFault::Kill { at }));
    let b = s.backup(backup());
    let r = s.restore(restore(sv, VerifyMode::Full));
    let expect = vec![
        Expect::Killed { step: k },
        published(b, sv, Kind::Full, Property::Recovery),
        exit(r, Role::Restore, 0, Property::Recovery),
    ];
    Ok(ScenarioPlan {
        plan: plan("interrupt", i.settings.clone(), seeded(&[sv.into()], SEED_BYTES), s.into_steps()),
        expect,
    })
}

/// Seed a dataset of at least [`CHUNKS_AT_LEAST`] chunks, back up, restore.
pub fn multi_chunk(i: &Inputs) -> Result<ScenarioPlan, String> {
    several_chunks(i, "multi-chunk", MULTI_CHUNK_BYTES)
}

/// As `multi-chunk` with [`LARGE_BYTES`].
pub fn multi_chunk_large(i: &Inputs) -> Result<ScenarioPlan, String> {
    several_chunks(i, "multi-chunk-large", LARGE_BYTES)
}

fn several_chunks(i: &Inputs, name: &str, at_least: u64) -> Result<ScenarioPlan, String> {
    let sv = i.first();
    let bytes = at_least.max(CHUNKS_AT_LEAST.saturating_mul(i.settings.chunk_size_bytes));
    if bytes > 4 * LARGE_BYTES {
        return Err(format!(
            "chunk_size_bytes {} needs a dataset of {bytes} bytes for {CHUNKS_AT_LEAST} chunks; use a small chunk size",
            i.settings.chunk_size_bytes
        ));
    }
    let mut s = Steps::new();
    let b = s.backup(backup());
    let r = s.restore(restore(sv, VerifyMode::Full));
    let expect = vec![
        published(b, sv, Kind::Full, Property::Schedule),
        Expect::SeveralChunks { property: Property::LayoutAndMetadata },
        restored(r),
    ];
    Ok(ScenarioPlan { plan: plan(name, i.settings.clone(), seeded(&[sv.into()], bytes), s.into_steps()), expect })
}

/// Every configured subvolume seeded, one backup without `--subvolume`, then a restore
/// and full verification of each.
pub fn all_subvolumes(i: &Inputs) -> Result<ScenarioPlan, String> {
    let mut s = Steps::new();
    let b = s.backup(backup());
    let mut expect =
        vec![Expect::PublishedOnly { step: b, subvolumes: i.subvolumes.clone(), property: Property::Schedule }];
    for sv in &i.subvolumes {
        expect.push(published(b, sv, Kind::Full, Property::Schedule));
    }
    for sv in &i.subvolumes {
        let r = s.restore(restore(sv, VerifyMode::Full));
        expect.push(restored(r));
    }
    let subvolumes = seeded(&i.subvolumes, SEED_BYTES);
    Ok(ScenarioPlan { plan: plan("all-subvolumes", i.settings.clone(), subvolumes, s.into_steps()), expect })
}

/// What the spool scenario expects of its settings (CONTRACT.md 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolOutcome {
    /// `spool_size_bytes` below 5 MiB and chunks over 5 MiB: the first chunk fails with
    /// `spool_size_bytes must be >= 5 MiB`, exit 1, nothing published, no state.
    Fails,
    /// Otherwise the spooled backup publishes and restores like any other.
    Passes,
}

pub fn spool_outcome(settings: &crate::gen::plan::ToolSettings) -> SpoolOutcome {
    match settings.spool_size_bytes < FIVE_MIB && settings.chunk_size_bytes > FIVE_MIB {
        true => SpoolOutcome::Fails,
        false => SpoolOutcome::Passes,
    }
}

/// Spooling on; a dataset of one chunk plus 2 MiB. The expected outcome follows from
/// the settings ([`spool_outcome`]); with `config/test_spool.toml` (1 MiB spool, 8 MiB
/// chunks) the backup must fail as CONTRACT.md 9 says, twice, and a restore must find
/// nothing to restore.
pub fn spool(i: &Inputs) -> Result<ScenarioPlan, String> {
    if !i.settings.spool_enabled {
        return Err("its settings must have spool_enabled = true (see config/test_spool.toml)".into());
    }
    let sv = i.first();
    let bytes = i.settings.chunk_size_bytes.min(LARGE_BYTES) + (2 << 20);
    let mut s = Steps::new();
    let b0 = s.backup(backup());
    let b1 = s.backup(once());
    let r = s.restore(restore(sv, VerifyMode::Full));
    let expect = match spool_outcome(&i.settings) {
        SpoolOutcome::Fails => {
            let mut e = Vec::new();
            for b in [b0, b1] {
                e.push(exit(b, Role::Backup, 1, Property::CleanFailure));
                let text = "spool_size_bytes must be >= 5 MiB".to_string();
                e.push(Expect::Error { step: b, role: Role::Backup, text, property: Property::CleanFailure });
                e.push(Expect::NothingPublished { step: b, property: Property::NoPartialPublish });
                e.push(Expect::NoState { step: b, property: Property::Recovery });
            }
            e.push(exit(r, Role::Restore, 1, Property::NoPartialPublish));
            e
        }
        SpoolOutcome::Passes => vec![published(b0, sv, Kind::Full, Property::Schedule), restored(r)],
    };
    Ok(ScenarioPlan { plan: plan("spool", i.settings.clone(), seeded(&[sv.into()], bytes), s.into_steps()), expect })
}

/// `retain = 1` (stated here, whatever the config says): full, `--once`, `--once`,
/// a forced full; after each the snapshot count is the newest one plus an
/// incremental's parent.
pub fn retention(i: &Inputs) -> Result<ScenarioPlan, String> {
    let sv = i.first();
    let mut settings = i.settings.clone();
    settings.retain = 1;
    let mut s = Steps::new();
    let b = s.chain(sv, 2, CHANGE_BYTES);
    s.force_full(sv);
    let b3 = s.backup(backup());
    let expect = vec![
        snapshots(b[0], sv, 1),
        published(b[1], sv, Kind::Incremental, Property::Schedule),
        snapshots(b[1], sv, 2),
        snapshots(b[2], sv, 2),
        published(b3, sv, Kind::Full, Property::Schedule),
        snapshots(b3, sv, 1),
    ];
    Ok(ScenarioPlan { plan: plan("retention", settings, seeded(&[sv.into()], SEED_BYTES), s.into_steps()), expect })
}
