//! The case plan: a complete, serialisable description of one case. The same seed gives
//! the same plan, byte for byte (`serde_json::to_string_pretty`). Generators build plans,
//! the shrinker simplifies them, the engine executes them, the bug base stores them.
//!
//! This module owns only the data types and their invariants; it does no I/O and no
//! randomness. Paths inside a subvolume are relative (`a/b c/d`), `/`-separated, never
//! empty, never starting with `/`, and never containing `.` or `..` components.

use serde::{Deserialize, Serialize};

/// Version of the plan format; bump when a field changes meaning.
pub const PLAN_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    /// Provenance: the campaign seed and case number this plan was generated from
    /// (`None` for hand-written plans such as the fixed scenarios).
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub case: Option<u64>,
    /// A short name for hand-written plans (`scenario full`), empty for generated ones.
    #[serde(default)]
    pub name: String,
    pub tool: ToolSettings,
    /// One to three subvolumes, each with the operations that build its initial tree.
    pub subvolumes: Vec<SubvolumePlan>,
    pub steps: Vec<Step>,
}

/// The tool configuration of a case (CONTRACT.md section 3), the part the generator
/// varies. Paths, bucket and prefix are filled in by the engine per case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSettings {
    pub chunk_size_bytes: u64,
    pub retain: u32,
    pub storage_class_chunks: String,
    pub storage_class_manifest: String,
    pub sse: String,
    pub concurrency: u32,
    pub spool_enabled: bool,
    pub spool_size_bytes: u64,
    pub full_every_days: u32,
    pub incremental_every_days: u32,
    pub verify_mode: VerifyMode,
    pub sample_max_files: u32,
    pub wait_for_restore: bool,
    pub restore_timeout_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubvolumePlan {
    /// The subvolume's basename, which is also its name in S3 keys.
    pub name: String,
    /// Operations applied to an empty subvolume to build its initial tree.
    pub initial: Vec<Mutation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyMode {
    Full,
    Sample,
    None,
}

impl VerifyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyMode::Full => "full",
            VerifyMode::Sample => "sample",
            VerifyMode::None => "none",
        }
    }
}

/// One step of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Apply mutations to one subvolume's live tree.
    Mutate { subvolume: String, ops: Vec<Mutation> },
    Backup(BackupStep),
    Restore(RestoreStep),
    /// Antagonist: make the next backup of this subvolume a full, by setting its
    /// `last_full_at` in the state file to an old date (CONTRACT.md 1.1).
    ForceFull { subvolume: String },
    /// Antagonist: delete one of this subvolume's local snapshots.
    DeleteSnapshot { subvolume: String, which: SnapshotPick },
    /// Antagonist: delete the state file.
    DeleteState,
    /// Reconfigure the tool for the rest of the case: set `s3.chunk_size_bytes` to
    /// `total_bytes / k` of this subvolume's last published full (the full that ends
    /// the chain of its `current.json`, as observed now), `k` the largest number up to
    /// `parts` that divides `total_bytes`. A later full of the unchanged subvolume has a
    /// send stream of the same length, an exact multiple of the new chunk size
    /// (CONTRACT.md 9: no empty trailing chunk). Without such a full the settings stay
    /// as they are.
    ChunkSizeFromLastFull {
        subvolume: String,
        /// At most this many chunks per full of that size (generated: 1 to 4).
        #[serde(default = "one")]
        parts: u32,
    },
}

fn one() -> u32 {
    1
}

/// The chunk size `ChunkSizeFromLastFull` sets for a full of `total_bytes` bytes:
/// `total_bytes / k` for the largest `k` in `1..=parts` that divides it exactly;
/// `None` for an empty stream (no valid chunk size divides it).
pub fn chunk_size_dividing(total_bytes: u64, parts: u32) -> Option<u64> {
    if total_bytes == 0 {
        return None;
    }
    let k = (1..=u64::from(parts.max(1))).rev().find(|k| total_bytes.is_multiple_of(*k))?;
    Some(total_bytes / k)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotPick {
    Newest,
    Oldest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupStep {
    /// Milliseconds to wait before starting (sub-second to a few seconds).
    pub gap_ms: u64,
    /// `--subvolume` filters; empty means all configured subvolumes.
    #[serde(default)]
    pub subvolumes: Vec<String>,
    pub once: bool,
    pub mode: BackupMode,
    #[serde(default)]
    pub fault: Option<BackupFault>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupMode {
    Normal,
    /// `--dry-run`: must change nothing.
    DryRun,
    /// `--no-s3`: must upload nothing and create no snapshot.
    NoS3,
}

/// A fault injected into one backup invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum BackupFault {
    /// SIGKILL the tool's whole process group at this point.
    Kill { at: KillPoint },
    /// Start a second backup while the first holds the lock (`simultaneous: false`:
    /// once the first logged `snapshot_created` or a lock file exists), or both at the
    /// same instant (`simultaneous: true`). Exactly one may win.
    Contender { simultaneous: bool },
    /// Leave a stale lock file at the lock path before the backup.
    StaleLock { content: StaleLock },
    /// Make the S3 server (through the fault proxy) answer this request with an error.
    S3Error { at: RequestPoint, status: u16 },
}

/// Where a SIGKILL lands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KillPoint {
    /// A fixed delay after spawn.
    AfterDelay { ms: u64 },
    /// When the n-th (1-based) log line with `event=<event>` appears.
    OnEvent { event: String, nth: u32 },
    /// When the tool sends the n-th (1-based) matching S3 request, before it is
    /// forwarded (`before: true`) or after its response (`before: false`). Needs the
    /// fault proxy (a local S3 endpoint); on real AWS the engine falls back to a delay.
    OnRequest { at: RequestPoint, before: bool },
}

/// A class of S3 request the tool makes during a backup, counted per invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestPoint {
    pub object: ObjectClass,
    /// 1-based occurrence.
    pub nth: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    /// A chunk PUT, multipart create, upload-part or complete.
    Chunk,
    Manifest,
    Pointer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleLock {
    /// The PID of a process that has exited.
    DeadPid,
    Empty,
    Garbage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreStep {
    pub subvolume: String,
    pub source: RestoreSource,
    pub verify: VerifyMode,
    /// `Some(true)`: `--wait-restore`, `Some(false)`: `--no-wait-restore`, `None`: config.
    #[serde(default)]
    pub wait: Option<bool>,
    /// Create the target before restoring: the tool must refuse (P9).
    #[serde(default)]
    pub existing_target: bool,
    #[serde(default)]
    pub kill: Option<KillPoint>,
    /// A fault of the store seen by the first attempt only (a retry sees the store as
    /// it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<RestoreFault>,
    /// After a failed or killed attempt, run the same command again (P11).
    #[serde(default)]
    pub retry: bool,
}

/// A fault of the store during a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum RestoreFault {
    /// Serve one chunk of the chain with altered bytes (through the fault proxy): one
    /// byte of file data in a `btrfs send` write command of the `from_end`-th manifest
    /// of the chain (0 = the newest; clamped to the oldest) is changed and the command's
    /// CRC recomputed, so `btrfs receive` would accept the stream and only the
    /// manifest's SHA-256 tells. `pick` chooses the write command and the byte. The
    /// restore must fail (CONTRACT.md 12: `hash mismatch for <key>`).
    CorruptChunk { from_end: u32, pick: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum RestoreSource {
    /// `current.json` of the subvolume.
    Current,
    /// `--manifest-key` of the subvolume's published backup `back` steps before the
    /// latest (0 = latest); clamped to the oldest one published in this case.
    Manifest { back: u32 },
}

/// File content, described rather than stored, so plans stay small. The bytes are a
/// pure function of this value (see `gen::content`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub len: u64,
    pub pattern: Pattern,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pattern {
    Random { seed: u64 },
    Zeros,
    /// One random block of `block` bytes, repeated.
    Repeat { seed: u64, block: u32 },
}

/// A filesystem operation on a subvolume, applied identically to the model and to the
/// live tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    Mkdir { path: String, mode: u32 },
    /// Create or replace a regular file with this content and mode.
    Write { path: String, content: Content, mode: u32 },
    /// Create a sparse file of `len` bytes with data only in the given ranges.
    WriteSparse { path: String, len: u64, data: Vec<(u64, Content)>, mode: u32 },
    Overwrite { path: String, offset: u64, content: Content },
    Append { path: String, content: Content },
    Truncate { path: String, len: u64 },
    PunchHole { path: String, offset: u64, len: u64 },
    /// Remove a file or symlink (one link of a hardlinked file).
    Remove { path: String },
    /// Remove an empty directory.
    Rmdir { path: String },
    /// `rename(2)`: files or directories, replacing an existing target where allowed.
    Rename { from: String, to: String },
    Chmod { path: String, mode: u32 },
    Chown { path: String, uid: u32, gid: u32 },
    Symlink { path: String, target: String },
    /// Atomically point an existing symlink somewhere else.
    Retarget { path: String, target: String },
    Hardlink { existing: String, new: String },
    /// `name` includes the `user.` prefix; `value` is lowercase hex.
    SetXattr { path: String, name: String, value: String },
    RemoveXattr { path: String, name: String },
    /// Set the modification time (and access time) of a path.
    Touch { path: String, mtime_sec: i64, mtime_nsec: u32 },
    /// `cp --reflink=always`: a new file sharing extents with `from`.
    Reflink { from: String, to: String },
    /// A nested btrfs subvolume (not part of any backup of its parent).
    CreateSubvolume { path: String },
    DeleteSubvolume { path: String },
}

impl Mutation {
    /// The paths this operation reads or writes, for shrinking and validation.
    pub fn paths(&self) -> Vec<&str> {
        use Mutation::*;
        match self {
            Mkdir { path, .. }
            | Write { path, .. }
            | WriteSparse { path, .. }
            | Overwrite { path, .. }
            | Append { path, .. }
            | Truncate { path, .. }
            | PunchHole { path, .. }
            | Remove { path }
            | Rmdir { path }
            | Chmod { path, .. }
            | Chown { path, .. }
            | Symlink { path, .. }
            | Retarget { path, .. }
            | SetXattr { path, .. }
            | RemoveXattr { path, .. }
            | Touch { path, .. }
            | CreateSubvolume { path }
            | DeleteSubvolume { path } => vec![path],
            Rename { from, to } | Reflink { from, to } => vec![from, to],
            Hardlink { existing, new } => vec![existing, new],
        }
    }
}

impl Plan {
    /// Every mutation of the plan: the initial trees, then the `Mutate` steps in order.
    pub fn mutations(&self) -> impl Iterator<Item = &Mutation> + '_ {
        let initial = self.subvolumes.iter().flat_map(|s| s.initial.iter());
        let mutated = self.steps.iter().flat_map(|s| match s {
            Step::Mutate { ops, .. } => ops.as_slice(),
            _ => &[],
        });
        initial.chain(mutated)
    }

    /// Number of regular files created by the initial trees and all mutations (an upper
    /// bound on files alive at once), for shrink statistics.
    pub fn files_written(&self) -> usize {
        self.mutations()
            .filter(|m| {
                matches!(
                    m,
                    Mutation::Write { .. } | Mutation::WriteSparse { .. } | Mutation::Reflink { .. }
                )
            })
            .count()
    }

    /// Total content bytes described by the plan, for shrink statistics.
    pub fn bytes_written(&self) -> u64 {
        self.mutations()
            .map(|m| match m {
                Mutation::Write { content, .. }
                | Mutation::Overwrite { content, .. }
                | Mutation::Append { content, .. } => content.len,
                Mutation::WriteSparse { data, .. } => data.iter().map(|(_, c)| c.len).sum(),
                _ => 0,
            })
            .sum()
    }
}
