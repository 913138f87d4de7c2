//! [`GenProfile`]: every weight and size limit of the generator. A campaign profile holds
//! one as the TOML table `[profile.<name>.gen]`; any key left out keeps the value of the
//! base profile ([`GenProfile::pr`] unless the caller picks another base), so a profile
//! only names what it changes. Unknown keys are errors that name the key.
//!
//! Rates are probabilities in `[0, 1]`; weights are relative (a weight of 0 disables
//! that choice, and at least one weight per table must be non-zero). Sizes are bytes.
//! The defaults documented on each field are those of [`GenProfile::pr`]; see
//! [`GenProfile::nightly`] for the larger profile.

use serde::{Deserialize, Serialize};
use thiserror::Error;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// The generator's knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenProfile {
    /// Fewest steps in a plan, counting the leading backup and the final restore. PR: 3.
    pub steps_min: u32,
    /// Most steps in a plan. PR: 8. A chunk-size pattern (see
    /// [`StepWeights::chunk_size_from_last_full`]) counts as one and expands into three
    /// to five.
    pub steps_max: u32,
    /// Most subvolumes (1 to 3). PR: 2.
    pub subvolumes_max: u32,
    /// Fewest builder operations per initial tree (a builder makes one entry, or several
    /// for chains, fan-outs and many-small-files). PR: 2.
    pub initial_ops_min: u32,
    /// Most builder operations per initial tree. PR: 8.
    pub initial_ops_max: u32,
    /// Fewest mutations in one `Mutate` step. PR: 1.
    pub mutate_ops_min: u32,
    /// Most mutations in one `Mutate` step. PR: 6.
    pub mutate_ops_max: u32,
    /// Most entries made by one fan-out or many-small-files builder. PR: 12.
    pub fan_out_max: u32,
    /// Deepest directory chain. PR: 8.
    pub depth_max: u32,
    /// Largest regular file. PR: 6 MiB (room for files around the 5 MiB PUT threshold).
    pub max_file_size: u64,
    /// Upper bound of the `small` size class. PR: 64 KiB.
    pub small_file_max: u64,
    /// Upper bound of the `medium` size class. PR: 1 MiB.
    pub medium_file_max: u64,
    /// Longest relative path generated, bytes (at most 3072). PR: 1024.
    pub max_path_bytes: u32,
    /// Longest user xattr value generated, bytes. PR: 128.
    pub xattr_value_max: u32,
    /// Chance that a new name is a stress name (spaces, unicode, leading dash, dots,
    /// 255 bytes, near-collision with a sibling, odd characters). PR: 0.3.
    pub stress_name_rate: f64,
    /// Chance that a mode is unusual (000, 777, setuid, setgid, sticky). PR: 0.15.
    pub odd_mode_rate: f64,
    /// Chance that the plan starts with a full backup of every subvolume. PR: 0.95.
    pub first_backup_rate: f64,
    /// Chance that the plan ends with a restore through `current.json`. PR: 0.9.
    pub final_restore_rate: f64,
    /// Chance that a later backup passes `--once` (otherwise nothing is due). PR: 0.85.
    pub once_rate: f64,
    /// Chance that a backup has `--subvolume` filters. PR: 0.15.
    pub filter_rate: f64,
    /// Chance that a backup is `--dry-run`. PR: 0.03.
    pub dry_run_rate: f64,
    /// Chance that a backup is `--no-s3`. PR: 0.03.
    pub no_s3_rate: f64,
    /// Chance that a (normal) backup carries a fault. PR: 0.25.
    pub fault_rate: f64,
    /// Chance that a backup with a kill or an S3 error is followed at once by the same
    /// backup with `--once` and no fault: "the next backup, with no manual cleanup"
    /// (P4 recovery). Without it a failed run is rarely followed by a backup of the same
    /// subvolume, and a failure that leaves the next incremental broken goes unseen.
    /// Added only while the plan stays within `steps_max`. PR: 0.8.
    pub backup_retry_rate: f64,
    /// Shortest ordinary gap before a backup, ms. PR: 1000 (snapshot names have
    /// one-second resolution).
    pub gap_ms_min: u64,
    /// Longest gap before a backup, ms. PR: 2500.
    pub gap_ms_max: u64,
    /// Chance of a sub-second gap instead (0 to 999 ms). PR: 0.1.
    pub short_gap_rate: f64,
    /// Smallest chunk size of the `small` chunk class. PR: 64 KiB.
    pub chunk_size_min: u64,
    /// Largest chunk size of the `small` chunk class. PR: 1 MiB.
    pub chunk_size_max: u64,
    /// Chance that the chunk size is at or around the 5 MiB single-PUT threshold
    /// (5 MiB - 4097 to 5 MiB + 4097). PR: 0.15.
    pub chunk_near_put_rate: f64,
    /// Largest `retain` (1 to 3). PR: 3.
    pub retain_max: u32,
    /// Largest upload concurrency. PR: 4.
    pub concurrency_max: u32,
    /// Chance that chunks use an archive class (GLACIER or DEEP_ARCHIVE). PR: 0.1.
    pub archive_rate: f64,
    /// Chance that `wait_for_restore` is false in the config. PR: 0.05.
    pub no_wait_rate: f64,
    /// Chance that the spool is enabled. PR: 0.2.
    pub spool_rate: f64,
    /// Chance, when the spool is on, that its size is below 5 MiB. PR: 0.1.
    pub small_spool_rate: f64,
    /// Chance that a restore names an earlier manifest (`--manifest-key`). PR: 0.3.
    pub restore_back_rate: f64,
    /// Chance that a restore overrides `--wait-restore`. PR: 0.1.
    pub restore_wait_override_rate: f64,
    /// Chance that a restore's target already exists. PR: 0.05.
    pub restore_existing_target_rate: f64,
    /// Chance that a restore is killed. PR: 0.05.
    pub restore_kill_rate: f64,
    /// Chance that a killed restore is retried. PR: 0.7.
    pub restore_retry_rate: f64,
    /// Chance that a restore's first attempt is served a corrupted chunk (always
    /// retried). PR: 0.25.
    pub restore_corrupt_rate: f64,
    /// File size classes.
    pub sizes: SizeWeights,
    /// Content patterns.
    pub patterns: PatternWeights,
    /// Builders of the initial trees.
    pub initial: InitialWeights,
    /// Mutations of `Mutate` steps.
    pub mutations: MutationWeights,
    /// Step kinds after the leading backup.
    pub steps: StepWeights,
    /// Fault kinds, once a backup has a fault.
    pub faults: FaultWeights,
    /// Verify modes, in the config and in restore steps.
    pub verify: VerifyWeights,
}

/// Weights of file size classes. Sizes are clamped to `max_file_size`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SizeWeights {
    /// 0 bytes. PR: 3.
    pub zero: u32,
    /// 1 byte. PR: 2.
    pub one: u32,
    /// 2 to 64 bytes. PR: 10.
    pub tiny: u32,
    /// 65 bytes to `small_file_max`. PR: 10.
    pub small: u32,
    /// Above `small_file_max` up to `medium_file_max`. PR: 3.
    pub medium: u32,
    /// 5 MiB plus one of -4097, -4096, -1, 0, 1, 4096, 4097. PR: 1.
    pub near_put: u32,
    /// 1 to 3 chunk sizes, plus -1, 0 or 1. PR: 2.
    pub chunk_multiple: u32,
    /// 2 to 4 chunk sizes plus a remainder. PR: 1.
    pub several_chunks: u32,
}

/// Weights of content patterns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatternWeights {
    /// Incompressible bytes. PR: 6.
    pub random: u32,
    /// All zeros. PR: 2.
    pub zeros: u32,
    /// One random block repeated (blocks of 1, 3, 512, 4096, 4097, 64 KiB, 1 MiB). PR: 2.
    pub repeat: u32,
}

/// Weights of the builders of initial trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitialWeights {
    /// A regular file. PR: 10.
    pub file: u32,
    /// An empty directory. PR: 3.
    pub empty_dir: u32,
    /// A chain of nested directories up to `depth_max`. PR: 1.
    pub deep_chain: u32,
    /// A directory with up to `fan_out_max` entries (files and empty directories). PR: 1.
    pub fan_out: u32,
    /// A directory with up to `fan_out_max` files of at most 4 KiB. PR: 1.
    pub many_small: u32,
    /// A sparse file with holes. PR: 2.
    pub sparse: u32,
    /// A symlink (relative, absolute, dangling, to a directory, odd targets). PR: 3.
    pub symlink: u32,
    /// A hardlink to an existing file, in any directory. PR: 2.
    pub hardlink: u32,
    /// A user xattr on a file or directory. PR: 2.
    pub xattr: u32,
    /// A mode change. PR: 1.
    pub chmod: u32,
    /// An owner change. PR: 1.
    pub chown: u32,
    /// An explicit mtime. PR: 2.
    pub touch: u32,
    /// A reflinked copy of a file. PR: 1.
    pub reflink: u32,
    /// A nested subvolume (needs btrfs). PR: 1.
    pub subvolume: u32,
}

/// Weights of mutation kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MutationWeights {
    /// Create a new file. PR: 6.
    pub create: u32,
    /// Replace an existing file with new content (a new inode). PR: 2.
    pub rewrite: u32,
    /// Overwrite a range. PR: 4.
    pub overwrite: u32,
    /// Append. PR: 3.
    pub append: u32,
    /// Truncate to a shorter length. PR: 2.
    pub truncate_down: u32,
    /// Truncate to a longer length (a hole at the end). PR: 1.
    pub truncate_up: u32,
    /// Punch a hole. PR: 2.
    pub punch_hole: u32,
    /// Create a sparse file. PR: 1.
    pub sparse: u32,
    /// Remove a file or symlink. PR: 3.
    pub remove: u32,
    /// Rename a file or symlink, sometimes over an existing one. PR: 3.
    pub rename_file: u32,
    /// Rename a directory, sometimes over an empty one. PR: 1.
    pub rename_dir: u32,
    /// Make a directory. PR: 2.
    pub mkdir: u32,
    /// Remove an empty directory. PR: 1.
    pub rmdir: u32,
    /// Change a mode. PR: 1.
    pub chmod: u32,
    /// Change an owner. PR: 1.
    pub chown: u32,
    /// Create a symlink. PR: 1.
    pub symlink: u32,
    /// Point a symlink elsewhere. PR: 1.
    pub retarget: u32,
    /// Add a hardlink. PR: 1.
    pub hardlink: u32,
    /// Remove one link of a hardlinked file. PR: 1.
    pub unlink_link: u32,
    /// Set a user xattr. PR: 1.
    pub setxattr: u32,
    /// Remove a user xattr. PR: 1.
    pub removexattr: u32,
    /// Set an explicit mtime. PR: 1.
    pub touch: u32,
    /// Make a reflinked copy. PR: 1.
    pub reflink: u32,
    /// Create a nested subvolume (needs btrfs). PR: 1.
    pub subvolume_create: u32,
    /// Delete a nested subvolume (needs btrfs). PR: 1.
    pub subvolume_delete: u32,
}

/// Weights of step kinds after the leading backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepWeights {
    /// PR: 5.
    pub mutate: u32,
    /// PR: 4.
    pub backup: u32,
    /// PR: 2.
    pub restore: u32,
    /// Antagonist: make the next backup a full. PR: 1.
    pub force_full: u32,
    /// Antagonist: delete a local snapshot. PR: 1.
    pub delete_snapshot: u32,
    /// Antagonist: delete the state file. PR: 1.
    pub delete_state: u32,
    /// Reconfiguration pattern: set the chunk size to a divisor of the subvolume's
    /// last full's `total_bytes` (`chunk_size_from_last_full`), force a full and back
    /// that subvolume up, so the new full's stream is an exact multiple of the chunk
    /// size (CONTRACT.md 9). Preceded by a forced full backup when the subvolume changed
    /// since its last known full. PR: 1.
    pub chunk_size_from_last_full: u32,
}

/// Weights of fault kinds on a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultWeights {
    /// SIGKILL after a delay: up to 100 ms, 500 ms or 3 s (a third each), so that
    /// fast and slow tools alike are killed mid-run, not only after they exited. PR: 2.
    pub kill_delay: u32,
    /// SIGKILL on a log event (command_start, snapshot_created, backup_metrics,
    /// backup_uploaded). PR: 3.
    pub kill_event: u32,
    /// SIGKILL before or after a chunk, manifest or pointer request. PR: 3.
    pub kill_request: u32,
    /// A second backup while the first runs. PR: 2.
    pub contender: u32,
    /// A stale lock file. PR: 1.
    pub stale_lock: u32,
    /// A persistent S3 error on the n-th chunk, manifest or pointer request and every
    /// one after it (so the tool's retries fail too): the run fails after its
    /// snapshot. PR: 3.
    pub s3_error: u32,
}

/// Weights of verify modes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyWeights {
    /// PR: 8.
    pub full: u32,
    /// PR: 2.
    pub sample: u32,
    /// PR: 1.
    pub none: u32,
}

/// A profile that cannot be used, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProfileError {
    #[error("generator profile: {message}")]
    Parse { message: String },
    #[error("generator profile: `{key}` {reason}")]
    Invalid { key: String, reason: String },
}

impl Default for GenProfile {
    fn default() -> Self {
        GenProfile::pr()
    }
}

impl Default for SizeWeights {
    fn default() -> Self {
        SizeWeights {
            zero: 3,
            one: 2,
            tiny: 10,
            small: 10,
            medium: 3,
            near_put: 1,
            chunk_multiple: 2,
            several_chunks: 1,
        }
    }
}

impl Default for PatternWeights {
    fn default() -> Self {
        PatternWeights { random: 6, zeros: 2, repeat: 2 }
    }
}

impl Default for InitialWeights {
    fn default() -> Self {
        InitialWeights {
            file: 10,
            empty_dir: 3,
            deep_chain: 1,
            fan_out: 1,
            many_small: 1,
            sparse: 2,
            symlink: 3,
            hardlink: 2,
            xattr: 2,
            chmod: 1,
            chown: 1,
            touch: 2,
            reflink: 1,
            subvolume: 1,
        }
    }
}

impl Default for MutationWeights {
    fn default() -> Self {
        MutationWeights {
            create: 6,
            rewrite: 2,
            overwrite: 4,
            append: 3,
            truncate_down: 2,
            truncate_up: 1,
            punch_hole: 2,
            sparse: 1,
            remove: 3,
            rename_file: 3,
            rename_dir: 1,
            mkdir: 2,
            rmdir: 1,
            chmod: 1,
            chown: 1,
            symlink: 1,
            retarget: 1,
            hardlink: 1,
            unlink_link: 1,
            setxattr: 1,
            removexattr: 1,
            touch: 1,
            reflink: 1,
            subvolume_create: 1,
            subvolume_delete: 1,
        }
    }
}

impl Default for StepWeights {
    fn default() -> Self {
        StepWeights {
            mutate: 5,
            backup: 4,
            restore: 2,
            force_full: 1,
            delete_snapshot: 1,
            delete_state: 1,
            chunk_size_from_last_full: 1,
        }
    }
}

impl Default for FaultWeights {
    fn default() -> Self {
        FaultWeights {
            kill_delay: 2,
            kill_event: 3,
            kill_request: 3,
            contender: 2,
            stale_lock: 1,
            s3_error: 3,
        }
    }
}

impl Default for VerifyWeights {
    fn default() -> Self {
        VerifyWeights { full: 8, sample: 2, none: 1 }
    }
}

mod load;
