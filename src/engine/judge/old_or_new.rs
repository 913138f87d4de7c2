//! P3 old-or-new: after a backup killed at any moment (or failed by an injected S3
//! error, which is the same cut at a chosen request), every `current.json` either
//! still names the manifest from before the run or names the run's own manifest of
//! that subvolume, and that manifest is complete; and a restore of it yields the model
//! tree matching the pointer, never the other candidate and never a mix.
//!
//! Completeness of a manifest (every chunk present with its size and hash) is the
//! oracle's store check; it comes in as a verdict per manifest key. Tree equality is
//! the oracle's diff; it comes in as a [`RestoreDiff`] per candidate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::delta::{key_subvolume, Delta};
use crate::engine::expect::{Expect, Probe, Resolution};
use crate::engine::history::{PointerSummary, ARCHIVED_POINTER};
use crate::engine::judge::{finding, BackupRun, RestoreDiff, Verdict};
use crate::oracle::finding::Property;

/// Which backup a pointer names after an interrupted run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The manifest from before the run (or still nothing published).
    Old,
    /// The run's own new manifest.
    New,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

/// Checks every pointer after an interrupted backup. `manifest_complete` holds the
/// oracle's completeness verdict for (at least) the run's new manifests.
pub fn check_old_or_new(run: &BackupRun, manifest_complete: &BTreeMap<String, bool>) -> Verdict {
    let mut v = Verdict::default();
    let delta = run.delta();
    for (name, (old, new)) in &delta.moved_pointers {
        judge_moved_pointer(run, &delta, name, old.as_ref(), new.as_ref(), manifest_complete, &mut v);
    }
    if delta.moved_pointers.is_empty() {
        v.note("old-or-new: every pointer still names its manifest from before the run");
    }
    v
}

fn judge_moved_pointer(
    run: &BackupRun,
    delta: &Delta,
    name: &str,
    old: Option<&PointerSummary>,
    new: Option<&PointerSummary>,
    manifest_complete: &BTreeMap<String, bool>,
    v: &mut Verdict,
) {
    let subject = run.pointer_key(name);
    let expected = match old {
        Some(p) => format!("{} or this run's complete manifest", p.manifest_key),
        None => "no pointer, or this run's complete manifest".to_string(),
    };
    let fail = |msg: String, seen: String| {
        run.finding(Property::OldOrNew, msg).subject(subject.clone()).expected_seen(expected.clone(), seen)
    };
    let Some(new) = new else {
        if let Some(why) = run.after.store.unreadable_pointers.get(name) {
            if why.starts_with(ARCHIVED_POINTER) {
                let why = format!("{why}: which manifest it names cannot be read (P7 judges the class)");
                v.cannot_decide(Property::OldOrNew, run.step, subject, why);
                return;
            }
        }
        let seen = match run.after.store.unreadable_pointers.get(name) {
            Some(err) => format!("an unreadable current.json ({err})"),
            None => "no current.json".to_string(),
        };
        v.find(fail(format!("the interrupted backup left {name} without a readable pointer"), seen));
        return;
    };
    let key = &new.manifest_key;
    let prefix = run.after.store.prefix.as_str();
    if !delta.new_manifests.contains_key(key) {
        let what = if run.after.store.manifests.contains_key(key) {
            "an older manifest"
        } else {
            "a manifest that does not exist"
        };
        v.find(fail(format!("the pointer of {name} moved to {what}"), key.clone()));
    } else if key_subvolume(prefix, key).as_deref() != Some(name) {
        v.find(fail(format!("the pointer of {name} names another subvolume's manifest"), key.clone()));
    } else {
        match manifest_complete.get(key) {
            Some(true) => v.note(format!("old-or-new: {name} moved to its complete new manifest {key}")),
            Some(false) => {
                v.find(fail(format!("the pointer of {name} names this run's incomplete manifest"), key.clone()))
            }
            None => {
                v.cannot_decide(Property::OldOrNew, run.step, key.clone(), "no completeness verdict for this manifest")
            }
        }
    }
}

/// Which side a subvolume's pointer is on after the run (`None`: neither; that is
/// [`check_old_or_new`]'s finding).
pub fn pointer_side(run: &BackupRun, subvolume: &str) -> Option<Side> {
    let (before, after) = (run.before.pointer(subvolume), run.after.pointer(subvolume));
    if before == after {
        return Some(Side::Old);
    }
    let new = after?;
    run.after.store.manifests.contains_key(&new.manifest_key).then_some(())?;
    (!run.before.store.manifests.contains_key(&new.manifest_key)).then_some(Side::New)
}

/// Judges a restore of `subvolume` through its pointer after an interrupted run: the
/// restored tree must equal the model tree of the side the pointer names. `old` and
/// `new` are the oracle's diffs of the restored tree against each candidate.
pub fn check_restored_candidate(
    step: usize,
    subvolume: &str,
    side: Side,
    old: &RestoreDiff,
    new: &RestoreDiff,
) -> Verdict {
    let mut v = Verdict::default();
    let probe = |s: &Side| match if *s == Side::Old { old } else { new } {
        RestoreDiff::Clean => Probe::Matches,
        RestoreDiff::Differs { finding } => Probe::Differs(finding.to_string()),
        RestoreDiff::NotCompared { why } => Probe::Unknown(why.clone()),
    };
    let candidates = Expect::one_of(vec![Side::Old, Side::New], "a killed backup may or may not have published");
    let subject = format!("restore of {subvolume} after the interrupted backup");
    let expected = format!("the {} model tree (the pointer names the {} backup)", side.as_str(), side.as_str());
    match candidates.resolve_by(probe) {
        Resolution::Chosen(sides) if sides.contains(&&side) => {
            v.note(format!("old-or-new: restored {subvolume} equals the {} model tree", side.as_str()));
        }
        Resolution::Chosen(sides) => v.find(
            finding(Property::OldOrNew, step, format!("restoring {subvolume} gave the other backup's tree"))
                .subject(subject)
                .expected_seen(expected, format!("the {} model tree", sides[0].as_str())),
        ),
        Resolution::NoneMatch(diffs) => {
            let first = diffs.iter().find(|(s, _)| **s == side).map(|(_, d)| d.clone()).unwrap_or_default();
            v.find(
                finding(
                    Property::OldOrNew,
                    step,
                    format!("restoring {subvolume} gave neither candidate's tree: a mix"),
                )
                .subject(subject)
                .expected_seen(expected, first),
            );
        }
        Resolution::Undecided(why) => v.cannot_decide(Property::OldOrNew, step, subject, why),
    }
    v
}
