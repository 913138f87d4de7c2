//! P6 schedule: what a backup run did per subvolume must be what the planner model
//! (`engine::planner`) says: the kind that ran, read from every place it shows
//! (`snapshot_created kind=`, the manifest key's `/full/` or `/incremental/` segment,
//! the manifest's `kind`, the pointer's `kind`), an incremental's `parent_manifest`
//! equal to the state's previous `last_manifest`, nothing touched for a not-due
//! subvolume, and after success the state's `last_manifest` advanced.
//!
//! Runs that must change nothing (dry run, --no-s3, nothing due, empty --subvolume
//! filter) are checked by [`check_inert_run`]: a change is a P6 violation (the
//! property's "nothing is uploaded", the nearest one for CONTRACT.md 1.1); a wrong exit
//! code or a missing contract event with nothing changed is P6 at robustness severity.

use crate::engine::delta::Delta;
use crate::engine::history::{EventRecord, Invocation};
use crate::engine::judge::publish::published_manifest;
use crate::engine::judge::{signalling, BackupRun, Verdict};
use crate::engine::names::{Kind, StoreKey};
use crate::engine::planner::{RunExpectation, RunKind, SubvolPlan, SubvolumeExpectation};
use crate::oracle::finding::Property;

/// One place a run's kind shows: (subject, kind).
type KindSighting = (String, Kind);

/// Checks kinds, parents, not-due subvolumes and the state update of a backup run.
pub fn check_schedule(run: &BackupRun, expected: &RunExpectation) -> Verdict {
    let mut v = Verdict::default();
    let delta = run.delta();
    for sv in &expected.subvolumes {
        let sightings = kind_sightings(run, &delta, &sv.name);
        judge_kind(run, sv, &sightings, &mut v);
        judge_parent(run, &delta, sv, &mut v);
        judge_not_due(run, sv, &sightings, &mut v);
        if run.invocation.exit_code() == Some(0) {
            judge_state_update(run, &delta, &sv.name, &mut v);
        }
    }
    v
}

fn kind_sightings(run: &BackupRun, delta: &Delta, name: &str) -> Vec<KindSighting> {
    let mut seen = Vec::new();
    for e in run.invocation.events_named("snapshot_created").filter(|e| e.field("subvolume") == Some(name)) {
        if let Some(k) = e.field("kind").and_then(Kind::from_snapshot_suffix) {
            seen.push((e.render(), k));
        }
    }
    let prefix = run.after.store.prefix.as_str();
    for (key, m) in delta.manifests_of(prefix, name) {
        if let Some(k) = StoreKey::parse(prefix, key).and_then(|k| k.kind()) {
            seen.push((key.to_string(), k));
        }
        if let Some(k) = Kind::from_store_word(&m.kind) {
            seen.push((format!("{key}: kind"), k));
        }
    }
    if let Some((_, Some(p))) = delta.moved_pointers.get(name) {
        if let Some(k) = Kind::from_store_word(&p.kind) {
            seen.push((format!("{}: kind", run.pointer_key(name)), k));
        }
    }
    seen
}

fn judge_kind(run: &BackupRun, sv: &SubvolumeExpectation, sightings: &[KindSighting], v: &mut Verdict) {
    let expected = sv.plan.candidates().iter().map(SubvolPlan::describe).collect::<Vec<_>>().join(" or ");
    if let Some((subject, kind)) = sightings.iter().find(|(_, k)| !sv.plan.any(|p| p.kind() == Some(*k))) {
        v.find(
            run.finding(Property::Schedule, format!("{} got a {} backup", sv.name, kind.store_word()))
                .subject(subject.clone())
                .expected_seen(format!("{expected} ({})", sv.reasons.join("; ")), kind.store_word()),
        );
    } else if let (Some((_, kind)), None) = (sightings.first(), sv.plan.value()) {
        v.note(format!(
            "schedule: {} resolved to {} (the model could not decide: {})",
            sv.name,
            kind.store_word(),
            sv.reasons.join("; ")
        ));
    }
}

fn judge_parent(run: &BackupRun, delta: &Delta, sv: &SubvolumeExpectation, v: &mut Verdict) {
    let parents: Vec<&str> = sv
        .plan
        .candidates()
        .iter()
        .filter_map(|p| match p {
            SubvolPlan::Incremental { parent_manifest, .. } => Some(parent_manifest.as_str()),
            _ => None,
        })
        .collect();
    let prefix = run.after.store.prefix.as_str();
    for (key, m) in delta.manifests_of(prefix, &sv.name) {
        if Kind::from_store_word(&m.kind) != Some(Kind::Incremental) || parents.is_empty() {
            continue;
        }
        let seen = m.parent_manifest.as_deref().unwrap_or("null");
        if !parents.contains(&seen) {
            v.find(
                run.finding(Property::Schedule, format!("the incremental of {} chains to the wrong parent", sv.name))
                    .subject(format!("{key}: parent_manifest"))
                    .expected_seen(parents.join(" or "), seen),
            );
        }
    }
}

fn judge_not_due(run: &BackupRun, sv: &SubvolumeExpectation, sightings: &[KindSighting], v: &mut Verdict) {
    if sv.plan.value() != Some(&SubvolPlan::NotDue) || !sightings.is_empty() || run.invocation.exit_code() != Some(0) {
        return;
    }
    if run.invocation.event_with("backup_not_due", "subvolume", &sv.name).is_none() {
        v.find(signalling(
            run.finding(
                Property::Schedule,
                format!("{} was not due and left alone, but the tool did not say so", sv.name),
            )
            .subject(run.invocation.argv.join(" "))
            .expected_seen(
                format!("event=backup_not_due subvolume={} reason=incremental_not_due", sv.name),
                "no such line",
            ),
        ));
    }
}

fn judge_state_update(run: &BackupRun, delta: &Delta, name: &str, v: &mut Verdict) {
    let Some(key) = published_manifest(delta, name) else { return };
    let seen = run.after.state.subvolume(name).and_then(|s| s.last_manifest.as_deref());
    if seen != Some(key) {
        v.find(
            run.finding(
                Property::Schedule,
                format!(
                    "the state does not record {name}'s published backup; the next incremental would chain wrongly"
                ),
            )
            .subject(format!("state: subvolumes.{name}.last_manifest"))
            .expected_seen(key, seen.unwrap_or("absent")),
        );
    }
}

/// The event (name, status) each inert run kind must log.
fn inert_event(kind: RunKind) -> Option<(&'static str, &'static str)> {
    match kind {
        RunKind::DryRun => Some(("backup_dry_run", "skipped")),
        RunKind::FilterMatchedNothing => Some(("backup_no_subvolumes", "failed")),
        RunKind::NoS3 => Some(("backup_no_s3", "skipped")),
        RunKind::NothingDue => Some(("backup_not_due", "skipped")),
        RunKind::Backup => None,
    }
}

/// Checks a run that must change nothing: its exit code, its event, and that store,
/// snapshots and state are as before (for "nothing due" the state's subvolume entries;
/// whether `last_run_at` is rewritten is not in the contract). Runs that may back
/// something up are left to the other checks.
pub fn check_inert_run(run: &BackupRun, expected: &RunExpectation) -> Verdict {
    let mut v = Verdict::default();
    let kinds = expected.kind.candidates();
    if kinds.iter().any(|k| !k.changes_nothing()) {
        return v;
    }
    if run.invocation.was_signalled() {
        v.note("inert run: killed, exit code and events not judged");
    }
    let names = kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(" or ");
    judge_inert_changes(run, kinds, &names, &mut v);
    if run.invocation.was_signalled() {
        return v;
    }
    let codes: Vec<i32> = kinds.iter().map(|k| k.exit_code()).collect();
    if !run.invocation.exit_code().is_some_and(|c| codes.contains(&c)) {
        v.find(signalling(
            run.finding(Property::Schedule, format!("a {names} run ended with the wrong code"))
                .subject(run.invocation.argv.join(" "))
                .expected_seen(format!("exit {}", join_codes(&codes)), run.invocation.describe_end()),
        ));
    }
    judge_inert_event(run, expected, &names, &mut v);
    v
}

fn join_codes(codes: &[i32]) -> String {
    codes.iter().map(i32::to_string).collect::<Vec<_>>().join(" or ")
}

fn judge_inert_changes(run: &BackupRun, kinds: &[RunKind], names: &str, v: &mut Verdict) {
    let mut delta = run.delta();
    if kinds == [RunKind::NothingDue] {
        let entries = |o: &crate::engine::history::Observation| o.state.parsed().map(|s| s.subvolumes.clone());
        delta.state_changed = entries(run.before) != entries(run.after);
    }
    if let Some((subject, what)) = delta.first_change() {
        v.find(
            run.finding(Property::Schedule, format!("a {names} run changed something: {what}"))
                .subject(subject)
                .expected_seen("store, snapshots and state unchanged", what),
        );
    }
}

fn judge_inert_event(run: &BackupRun, expected: &RunExpectation, names: &str, v: &mut Verdict) {
    let mut wanted: Vec<(&str, &str)> = expected.kind.candidates().iter().filter_map(|k| inert_event(*k)).collect();
    let may_be_nothing_due = expected.subvolumes.iter().all(|s| s.plan.admits(&SubvolPlan::NotDue));
    if expected.kind.admits(&RunKind::NoS3) && may_be_nothing_due {
        // The contract does not order "nothing due" and --no-s3 after planning.
        wanted.push(("backup_not_due", "skipped"));
    }
    let logged = |inv: &Invocation| wanted.iter().any(|(n, s)| inv.event_with(n, "status", s).is_some());
    if !logged(run.invocation) {
        let want = wanted.iter().map(|(n, s)| format!("event={n} status={s}")).collect::<Vec<_>>().join(" or ");
        let seen = run.invocation.events.last().map_or("no event".to_string(), EventRecord::render);
        v.find(signalling(
            run.finding(Property::Schedule, format!("a {names} run did not log its contract event"))
                .subject(run.invocation.argv.join(" "))
                .expected_seen(want, seen),
        ));
    }
}
