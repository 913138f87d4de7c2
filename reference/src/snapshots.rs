//! Local snapshots of CONTRACT.md section 8: the name `<name>__<YYYYMMDDTHHMMSSZ>__<full|inc>`,
//! listing a subvolume's snapshots in `snapshots.base_dir`, creating a read-only snapshot
//! (never overwriting an existing entry), and retention: keep the newest `retain` plus the
//! parent of an incremental, delete the rest. This module must not read the state file or
//! talk to S3; it only sees directory entries and asks `btrfs` to act.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::{btrfs, bugs, timefmt};

/// One of a subvolume's snapshots in the base directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub path: PathBuf,
    /// Compact UTC timestamp from the name.
    pub ts: String,
    /// `full` or `inc`.
    pub kind: String,
}

impl Snapshot {
    /// The instant in the name.
    pub fn taken_at(&self) -> Option<DateTime<Utc>> {
        timefmt::parse_compact(&self.ts)
    }
}

/// The snapshot basename for `subvolume` taken at `ts` of `kind` (`full` or `inc`).
pub fn name(subvolume: &str, ts: &str, kind: &str) -> String {
    format!("{subvolume}__{ts}__{kind}")
}

/// Parses a basename of this subvolume's snapshots; None for anything else.
pub fn parse_name(subvolume: &str, file_name: &str) -> Option<(String, String)> {
    let rest = file_name.strip_prefix(subvolume)?.strip_prefix("__")?;
    let (ts, kind) = rest.split_once("__")?;
    if (kind == "full" || kind == "inc") && timefmt::parse_compact(ts).is_some() {
        Some((ts.to_string(), kind.to_string()))
    } else {
        None
    }
}

/// This subvolume's snapshots in `base_dir`, oldest first (by name timestamp).
pub fn list(base_dir: &Path, subvolume: &str) -> Result<Vec<Snapshot>, String> {
    let entries = match std::fs::read_dir(base_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot list snapshots in {}: {e}", base_dir.display())),
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some((ts, kind)) = parse_name(subvolume, &file_name) {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                found.push(Snapshot { path: entry.path(), ts, kind });
            }
        }
    }
    found.sort_by(|a, b| (&a.ts, &a.path).cmp(&(&b.ts, &b.path)));
    Ok(found)
}

/// Creates `<base_dir>/<name>__<ts>__<kind>` as a read-only snapshot of `source`, with
/// `ts` taken from the clock. If that name exists already (a leftover of a killed run in
/// the same second), waits for the next second rather than touching the leftover.
pub fn create(base_dir: &Path, source: &Path, subvolume: &str, kind: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(base_dir)
        .map_err(|e| format!("cannot create snapshot directory {}: {e}", base_dir.display()))?;
    for _ in 0..5 {
        let ts = timefmt::compact(Utc::now());
        let path = base_dir.join(name(subvolume, &ts, kind));
        if std::fs::symlink_metadata(&path).is_ok() {
            wait_for_next_second();
            continue;
        }
        btrfs::snapshot_readonly(source, &path)?;
        return Ok(path);
    }
    Err(format!("cannot find a free snapshot name for {subvolume} in {}", base_dir.display()))
}

/// Sleeps until the wall clock enters the next whole second.
pub fn wait_for_next_second() {
    let now = Utc::now();
    let into = now.timestamp_subsec_nanos().min(999_999_999) as u64;
    std::thread::sleep(std::time::Duration::from_nanos(1_000_000_000 - into + 1_000_000));
}

/// Sleeps until the wall clock is past the whole second `second` (Unix time).
pub fn wait_until_after(second: i64) {
    while Utc::now().timestamp() <= second {
        wait_for_next_second();
    }
}

/// Which snapshots retention deletes: all but the newest `retain` and `keep_parent`.
pub fn to_prune(snapshots: &[Snapshot], retain: u64, keep_parent: Option<&Path>) -> Vec<Snapshot> {
    let mut ordered = snapshots.to_vec();
    ordered.sort_by(|a, b| b.ts.cmp(&a.ts));
    if bugs::on(bugs::Bug::PruneParent) {
        // Defect: the sort is the wrong way round, so the oldest survive.
        ordered.reverse();
    }
    ordered
        .into_iter()
        .skip(retain as usize)
        .filter(|s| keep_parent != Some(s.path.as_path()))
        .collect()
}

/// Applies retention; returns the snapshots that could not be deleted, with the reason.
pub fn prune(base_dir: &Path, subvolume: &str, retain: u64, keep_parent: Option<&Path>) -> Vec<(PathBuf, String)> {
    let snapshots = match list(base_dir, subvolume) {
        Ok(s) => s,
        Err(e) => return vec![(base_dir.to_path_buf(), e)],
    };
    let mut failures = Vec::new();
    for snapshot in to_prune(&snapshots, retain, keep_parent) {
        if let Err(e) = btrfs::delete_subvolume(&snapshot.path) {
            failures.push((snapshot.path, e));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(ts: &str, kind: &str) -> Snapshot {
        Snapshot { path: PathBuf::from(format!("/s/{}", name("data", ts, kind))), ts: ts.into(), kind: kind.into() }
    }

    #[test]
    fn names_parse_only_for_their_own_subvolume() {
        assert_eq!(parse_name("data", "data__20260101T020001Z__full"), Some(("20260101T020001Z".into(), "full".into())));
        assert_eq!(parse_name("data", "data__20260101T020001Z__incremental"), None);
        assert_eq!(parse_name("dat", "data__20260101T020001Z__full"), None);
        assert_eq!(parse_name("data", "data__junk__inc"), None);
    }

    #[test]
    fn retention_keeps_the_newest_and_the_incremental_parent() {
        let all = vec![snap("20260101T000000Z", "full"), snap("20260102T000000Z", "inc"), snap("20260103T000000Z", "inc")];
        let pruned = to_prune(&all, 1, Some(all[1].path.as_path()));
        assert_eq!(pruned, vec![all[0].clone()]);
        assert_eq!(to_prune(&all, 2, None), vec![all[0].clone()]);
        assert!(to_prune(&all, 5, None).is_empty());
    }
}
