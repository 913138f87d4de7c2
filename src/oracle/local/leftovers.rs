//! P14 leftovers: what failed or killed runs leave behind that costs money or space
//! (incomplete multipart uploads, chunk objects no manifest references, snapshots the
//! state does not record, spool files, stale lock files), as counts plus the names.
//! Also the lock-file rule after a clean exit: the lock must be gone, unless a live
//! process (a contender) holds it. A lock left behind is judged P14 (hygiene): the next
//! backup removes a stale lock by itself (CONTRACT.md section 5), so nothing is lost and
//! no manual cleanup is needed; if it ever did block a backup, P4/P5/P11 report that.
//!
//! Pure, except [`pid_is_alive`], which asks the kernel with signal 0 (sends nothing).

use serde::Serialize;

use super::retention::snapshots_of;
use super::state::State;
use crate::oracle::finding::{Finding, Property};
use crate::oracle::manifest::parse_snapshot_name;
use crate::s3::view::UploadInfo;

/// The lock path and its content (`None`: no file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockObservation {
    pub path: String,
    pub content: Option<String>,
}

impl LockObservation {
    /// The PID the file names, if it holds a decimal number.
    pub fn pid(&self) -> Option<i32> {
        self.content
            .as_deref()
            .and_then(|c| c.trim().parse().ok())
            .filter(|p| *p > 0)
    }

    /// A lock file whose holder is not a live process (or that names none) is stale.
    pub fn is_stale(&self, is_alive: &dyn Fn(i32) -> bool) -> bool {
        self.content.is_some() && !self.pid().is_some_and(is_alive)
    }
}

/// Whether a process with this PID exists (`kill(pid, 0)`; EPERM still means it exists).
pub fn pid_is_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == Errno::EPERM,
    }
}

/// After a backup or `--dry-run` that exited by itself (not killed): the lock file must
/// not remain, unless a live process holds it (a contender that won the lock).
pub fn check_lock_after_exit(
    lock: &LockObservation,
    clean_exit: bool,
    is_alive: &dyn Fn(i32) -> bool,
    step: Option<usize>,
) -> Option<Finding> {
    if !clean_exit || !lock.is_stale(is_alive) {
        return None;
    }
    let content = lock.content.clone().unwrap_or_default();
    let message = format!(
        "lock file {} left behind after a clean exit (holder not running)",
        lock.path
    );
    Some(
        Finding::new(Property::Leftovers, step, message)
            .subject(lock.path.clone())
            .expected_seen(
                "no lock file",
                format!("lock file containing {:?}", content.trim()),
            ),
    )
}

/// Everything observed that leftovers are counted from.
#[derive(Debug, Clone)]
pub struct LeftoverInput<'a> {
    /// Incomplete multipart uploads under the case prefix.
    pub uploads: &'a [UploadInfo],
    /// Chunk objects no manifest references (`StoreSnapshot::orphan_chunks`).
    pub orphan_chunks: &'a [String],
    pub subvolumes: &'a [String],
    /// Names of the entries of `snapshots.base_dir`.
    pub snapshot_names: &'a [String],
    pub state: Option<&'a State>,
    /// Files found in `global.spool_dir`.
    pub spool_files: &'a [String],
    pub lock: &'a LockObservation,
}

/// Leftovers by kind, with names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Leftovers {
    /// `key (upload id)` of each incomplete multipart upload.
    pub incomplete_uploads: Vec<String>,
    pub orphan_chunks: Vec<String>,
    /// Snapshots newer than their subvolume's `last_snapshot` in the state (or of a
    /// subvolume the state does not know): made by runs that never recorded them.
    pub unrecorded_snapshots: Vec<String>,
    pub spool_files: Vec<String>,
    /// The stale lock file's path and content.
    pub stale_lock: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LeftoverCounts {
    pub incomplete_uploads: usize,
    pub orphan_chunks: usize,
    pub unrecorded_snapshots: usize,
    pub spool_files: usize,
    pub stale_locks: usize,
}

/// Counts leftovers.
pub fn leftovers(input: &LeftoverInput, is_alive: &dyn Fn(i32) -> bool) -> Leftovers {
    Leftovers {
        incomplete_uploads: input
            .uploads
            .iter()
            .map(|u| format!("{} ({})", u.key, u.upload_id))
            .collect(),
        orphan_chunks: input.orphan_chunks.to_vec(),
        unrecorded_snapshots: unrecorded_snapshots(input),
        spool_files: input.spool_files.to_vec(),
        stale_lock: input.lock.is_stale(is_alive).then(|| {
            format!(
                "{} ({:?})",
                input.lock.path,
                input.lock.content.as_deref().unwrap_or("").trim()
            )
        }),
    }
}

fn unrecorded_snapshots(input: &LeftoverInput) -> Vec<String> {
    let mut out = Vec::new();
    for subvolume in input.subvolumes {
        let recorded = input
            .state
            .and_then(|s| s.subvolumes.get(subvolume))
            .map(|e| e.last_snapshot.rsplit('/').next().unwrap_or("").to_string());
        let recorded_ts = recorded
            .as_deref()
            .and_then(parse_snapshot_name)
            .map(|(_, ts, _)| ts.to_string());
        for (ts, name) in snapshots_of(input.snapshot_names, subvolume) {
            let newer = match (&recorded, &recorded_ts) {
                (None, _) => true,
                (Some(r), Some(rts)) => (ts, name) > (rts.as_str(), r.as_str()),
                (Some(r), None) => name != r,
            };
            if newer {
                out.push(name.to_string());
            }
        }
    }
    out
}

impl Leftovers {
    pub fn counts(&self) -> LeftoverCounts {
        LeftoverCounts {
            incomplete_uploads: self.incomplete_uploads.len(),
            orphan_chunks: self.orphan_chunks.len(),
            unrecorded_snapshots: self.unrecorded_snapshots.len(),
            spool_files: self.spool_files.len(),
            stale_locks: usize::from(self.stale_lock.is_some()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts() == LeftoverCounts::default()
    }

    /// One P14 finding per non-empty kind, naming the first item.
    pub fn to_findings(&self, step: Option<usize>) -> Vec<Finding> {
        let kinds: [(&str, Vec<String>); 5] = [
            (
                "incomplete multipart upload(s) under the prefix",
                self.incomplete_uploads.clone(),
            ),
            (
                "chunk object(s) that no manifest references",
                self.orphan_chunks.clone(),
            ),
            (
                "snapshot(s) not recorded in the state",
                self.unrecorded_snapshots.clone(),
            ),
            (
                "file(s) left in the spool directory",
                self.spool_files.clone(),
            ),
            (
                "stale lock file(s)",
                self.stale_lock.iter().cloned().collect(),
            ),
        ];
        kinds
            .into_iter()
            .filter_map(|(what, items)| {
                let first = items.first()?.clone();
                let message = format!("{} {what}; first: {first}", items.len());
                Some(Finding::new(Property::Leftovers, step, message).subject(first))
            })
            .collect()
    }
}
