//! A fault-free backup must finish and publish every due subvolume: exit 0, and for
//! each subvolume the planner says is due, `current.json` moved to a manifest this run
//! wrote. After a killed or failed backup this is P4 recovery (no manual cleanup may be
//! needed); without a preceding failure it is P6 schedule (the subvolume was due and
//! got no backup). Whether P1 holds for what was published is the oracle's diff.
//!
//! A subvolume the planner could not decide between "due" and "not due" passes either
//! way, as long as the tool either published it or logged it as not due.

use crate::engine::delta::Delta;
use crate::engine::history::ARCHIVED_POINTER;
use crate::engine::judge::{BackupRun, Verdict};
use crate::engine::planner::{RunExpectation, RunKind, SubvolPlan, SubvolumeExpectation};
use crate::oracle::finding::Property;

/// The failure this backup is recovering from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorFailure {
    pub step: usize,
    /// How it ended, e.g. `killed at between_manifest_and_pointer` or `exit 1`.
    pub how: String,
}

/// Checks that a fault-free, non-killed backup published every due subvolume.
pub fn check_due_published(run: &BackupRun, expected: &RunExpectation, prior: Option<&PriorFailure>) -> Verdict {
    let mut v = Verdict::default();
    if !expected.kind.admits(&RunKind::Backup) {
        let kinds: Vec<&str> = expected.kind.candidates().iter().map(|k| k.as_str()).collect();
        v.note(format!("publish: a {} run publishes nothing", kinds.join(" or ")));
        return v;
    }
    let (property, context) = match prior {
        Some(p) => (Property::Recovery, format!(" after the failure at step {} ({})", p.step, p.how)),
        None => (Property::Schedule, String::new()),
    };
    if run.invocation.exit_code() != Some(0) {
        let subject = run.invocation.first_error().map_or_else(|| run.invocation.argv.join(" "), |e| e.render());
        v.find(
            run.finding(property, format!("a fault-free backup{context} did not succeed"))
                .subject(subject)
                .expected_seen("exit 0", run.invocation.describe_end()),
        );
        return v;
    }
    let delta = run.delta();
    for sv in expected.subvolumes.iter().filter(|s| s.plan.any(SubvolPlan::is_due)) {
        judge_subvolume(run, &delta, sv, property, &context, &mut v);
    }
    v
}

fn judge_subvolume(
    run: &BackupRun,
    delta: &Delta,
    sv: &SubvolumeExpectation,
    property: Property,
    context: &str,
    v: &mut Verdict,
) {
    let name = sv.name.as_str();
    if let Some(key) = published_manifest(delta, name) {
        v.note(format!("publish: {name} published {key}"));
        return;
    }
    if sv.plan.admits(&SubvolPlan::NotDue) && run.invocation.event_with("backup_not_due", "subvolume", name).is_some() {
        v.note(format!("publish: {name} was not due (resolved by the tool's backup_not_due)"));
        return;
    }
    if let Some(why) = run.after.store.unreadable_pointers.get(name) {
        if why.starts_with(ARCHIVED_POINTER) {
            let why = format!("{why}: whether this run published {name} cannot be read (P7 judges the class)");
            v.cannot_decide(property, run.step, run.pointer_key(name), why);
            return;
        }
    }
    let seen = match run.after.pointer(name) {
        Some(p) => format!("pointer still names {}", p.manifest_key),
        None => "no pointer".to_string(),
    };
    let plan = sv.plan.candidates().iter().map(SubvolPlan::describe).collect::<Vec<_>>().join(" or ");
    v.find(
        run.finding(property, format!("{name} was due ({plan}) but a fault-free backup{context} did not publish it"))
            .subject(run.pointer_key(name))
            .expected_seen("the pointer names a manifest written by this run", seen),
    );
}

/// P4 after a killed or failed backup: a state entry the run changed must name a
/// manifest that exists. The state is written only after a fully successful run
/// (CONTRACT.md 6 and 9), so a changed entry naming a manifest that was never uploaded
/// means the next `--once` will chain an incremental to nothing.
pub fn check_state_after_cut(run: &BackupRun) -> Verdict {
    let mut v = Verdict::default();
    let Some(after) = run.after.state.parsed() else { return v };
    for (name, entry) in &after.subvolumes {
        let Some(key) = entry.last_manifest.as_deref() else { continue };
        let before = run.before.state.subvolume(name).and_then(|s| s.last_manifest.as_deref());
        if before == Some(key) || run.after.store.manifests.contains_key(key) {
            continue;
        }
        v.find(
            run.finding(
                Property::Recovery,
                format!("a backup cut short left the state naming a manifest of {name} that does not exist; the next backup would chain to it"),
            )
            .subject(format!("state: subvolumes.{name}.last_manifest"))
            .expected_seen("the previous value or a manifest in the store", key.to_string()),
        );
    }
    v
}

/// The manifest key the subvolume's pointer moved to in this run, if it is one the
/// run wrote.
pub fn published_manifest<'d>(delta: &'d Delta, subvolume: &str) -> Option<&'d str> {
    let (_, after) = delta.moved_pointers.get(subvolume)?;
    let key = after.as_ref()?.manifest_key.as_str();
    delta.new_manifests.contains_key(key).then_some(key)
}
