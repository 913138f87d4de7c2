//! Antagonist steps: what an operator (or bad luck) does to the tool's local state
//! between runs. `ForceFull` sets a subvolume's `last_full_at` in the state file to
//! `2000-01-01T00:00:00Z` (CONTRACT.md 1.1), `DeleteSnapshot` deletes the newest or
//! oldest of a subvolume's snapshots, `DeleteState` deletes the state file. Each records
//! what it did (or why there was nothing to do) in the step's notes; the next backup's
//! planner expectation reads the result from its observation.

use std::io::ErrorKind;

use serde_json::Value;

use super::case::CaseRun;
use super::observe::list_snapshots;
use super::{Abort, Flow};
use crate::engine::history::StepRecord;
use crate::engine::names::SnapshotName;
use crate::fixture::btrfs;
use crate::gen::plan::SnapshotPick;

/// The old date `ForceFull` writes.
pub(super) const FORCED_LAST_FULL_AT: &str = "2000-01-01T00:00:00Z";

pub(super) fn force_full(case: &mut CaseRun, rec: &mut StepRecord, subvolume: &str) -> Flow {
    let path = case.area.state_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            rec.notes
                .push("force full: there is no state file; nothing to change".into());
            return Ok(());
        }
        Err(e) => return Err(Abort::harness(format!("reading {}", path.display()), e)),
    };
    let mut value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            rec.notes.push(format!(
                "force full: the state file is not JSON ({e}); left as it is"
            ));
            return Ok(());
        }
    };
    let Some(entry) = value
        .get_mut("subvolumes")
        .and_then(|s| s.get_mut(subvolume))
        .and_then(Value::as_object_mut)
    else {
        rec.notes.push(format!(
            "force full: the state has no entry for {subvolume}; nothing to change"
        ));
        return Ok(());
    };
    entry.insert(
        "last_full_at".into(),
        Value::String(FORCED_LAST_FULL_AT.into()),
    );
    let tmp = path.with_extension("json.harness-tmp");
    let body = serde_json::to_string_pretty(&value).expect("a JSON value serialises");
    std::fs::write(&tmp, body)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Abort::harness(format!("rewriting {}", path.display()), e))?;
    rec.notes.push(format!(
        "force full: {subvolume}'s last_full_at set to {FORCED_LAST_FULL_AT}"
    ));
    Ok(())
}

pub(super) fn delete_snapshot(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    subvolume: &str,
    which: SnapshotPick,
) -> Flow {
    let dir = case.area.snapshots_dir();
    let names = list_snapshots(&dir)?.remove(subvolume).unwrap_or_default();
    let mut dated: Vec<_> = names
        .iter()
        .filter_map(|n| SnapshotName::parse(n).map(|s| (s.taken_at, n.clone())))
        .collect();
    dated.sort();
    let pick = match which {
        SnapshotPick::Newest => dated.last(),
        SnapshotPick::Oldest => dated.first(),
    };
    let Some((_, name)) = pick else {
        rec.notes.push(format!(
            "delete snapshot: {subvolume} has no snapshot; nothing to delete"
        ));
        return Ok(());
    };
    btrfs::delete_subvolume(&dir.join(name))
        .map_err(|e| Abort::harness(format!("deleting snapshot {name}"), e))?;
    rec.notes
        .push(format!("delete snapshot: deleted {name} ({which:?})"));
    Ok(())
}

pub(super) fn delete_state(case: &mut CaseRun, rec: &mut StepRecord) -> Flow {
    let path = case.area.state_path();
    match std::fs::remove_file(&path) {
        Ok(()) => rec.notes.push("delete state: state file deleted".into()),
        Err(e) if e.kind() == ErrorKind::NotFound => rec
            .notes
            .push("delete state: there was no state file".into()),
        Err(e) => return Err(Abort::harness(format!("deleting {}", path.display()), e)),
    }
    Ok(())
}
