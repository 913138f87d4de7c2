//! The catalog: every fixed scenario with its name, what it proves, where its settings
//! come from and its builder. The builders live by theme (`backups`, `restores`,
//! `flags`); [`shared`] holds the sizes and expectation shorthands they share.
//!
//! Builders are pure: the same [`Inputs`](super::Inputs) give the same plan, byte for
//! byte.

mod backups;
mod flags;
mod restores;
mod shared;

pub use backups::{spool_outcome, SpoolOutcome};

use super::{Scenario, SettingsFrom};

/// Every scenario, in the order `scenario all` runs them.
pub fn catalog() -> Vec<Scenario> {
    use SettingsFrom::{File, Harness};
    let s = |name, proves, settings, large, build| Scenario { name, proves, settings, large, build };
    vec![
        s("full", "a first backup is a full and restores to the source tree", Harness, false, backups::full),
        s(
            "incremental",
            "`backup --once` after a full publishes incrementals chained to the previous manifest",
            Harness,
            false,
            backups::incremental,
        ),
        s(
            "interrupt",
            "a backup SIGKILLed mid-stream leaves nothing half-published and the rerun publishes a restorable backup",
            Harness,
            false,
            backups::interrupt,
        ),
        s(
            "restore",
            "restore makes a new subvolume from current.json or --manifest-key and refuses an existing target",
            Harness,
            false,
            restores::restore,
        ),
        s(
            "chain",
            "a restore through an incremental's --manifest-key resolves the chain back to the full",
            Harness,
            false,
            restores::chain,
        ),
        s(
            "verify-modes",
            "restore --verify full, sample and none each do what they say",
            Harness,
            false,
            restores::verify_modes,
        ),
        s(
            "multi-chunk",
            "a stream larger than the chunk size is split into several chunks and restores",
            File("test_large.toml"),
            false,
            backups::multi_chunk,
        ),
        s(
            "multi-chunk-large",
            "as multi-chunk, with a 256 MiB dataset",
            File("test_large.toml"),
            true,
            backups::multi_chunk_large,
        ),
        s(
            "all-subvolumes",
            "one backup publishes every configured subvolume and each one restores",
            Harness,
            false,
            backups::all_subvolumes,
        ),
        s(
            "archive",
            "archived chunks restore when waiting, and fail cleanly without waiting",
            File("test_archive.toml"),
            false,
            restores::archive,
        ),
        s(
            "cli-flags",
            "--dry-run, --no-s3, --subvolume, --once and restore --verify have their documented effect",
            Harness,
            false,
            flags::cli_flags,
        ),
        s(
            "lock-contention",
            "a second backup while one holds the lock fails with the lock error and changes nothing",
            Harness,
            false,
            flags::lock_contention,
        ),
        s(
            "spool",
            "spooled uploads with a small spool_size_bytes end as CONTRACT.md 9 prescribes",
            File("test_spool.toml"),
            false,
            backups::spool,
        ),
        s(
            "retention",
            "with retain = 1 each backup prunes to the newest snapshot plus an incremental's parent",
            Harness,
            false,
            backups::retention,
        ),
    ]
}
