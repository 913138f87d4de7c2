//! The end of a case: restore `current.json` of every subvolume that has one (or that
//! the model says has one) and was not restored and compared since its last backup
//! (P1, and P3 after an interrupted backup), then one last observation and the
//! leftovers of P14 (incomplete uploads, orphan chunks, snapshots the state does not
//! record, spool files, a stale lock). Final restores are recorded as steps with index
//! `plan.steps.len()`; leftovers are reported with no step ("at the end of the case").

use super::case::CaseRun;
use super::restore::restore_into;
use super::{Abort, Flow};
use crate::engine::history::{ObservedAt, StepRecord};
use crate::gen::plan::{RestoreSource, RestoreStep, Step, VerifyMode};
use crate::oracle::local::{leftovers, pid_is_alive, LeftoverInput, LockObservation, State};

pub(super) fn finish(case: &mut CaseRun) -> Flow {
    let index = case.plan.steps.len();
    for (k, name) in case.configured.clone().into_iter().enumerate() {
        case.checkpoint()?;
        let has_pointer = case.last.store.pointers.contains_key(&name)
            || case.last.store.unreadable_pointers.contains_key(&name);
        let published = matches!(case.expected.current(&name).value(), Some(Some(_)));
        if case.verified.contains(&name) || !(has_pointer || published) {
            continue;
        }
        let archived = ["GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"]
            .contains(&case.tool.storage_class_chunks.as_str());
        let r = RestoreStep {
            subvolume: name.clone(),
            source: RestoreSource::Current,
            verify: VerifyMode::Full,
            wait: archived.then_some(true),
            existing_target: false,
            kill: None,
            fault: None,
            retry: false,
        };
        let mut rec = StepRecord::new(index, Step::Restore(r.clone()));
        rec.notes
            .push(format!("end of case: restore of {name}'s current.json"));
        let dir = case.area.restore_dir().join(format!("end-{k}"));
        let result = restore_into(case, &mut rec, &r, &dir);
        case.history.steps.push(rec);
        result?;
    }
    count_leftovers(case, index)
}

/// The last observation and the leftovers.
fn count_leftovers(case: &mut CaseRun, index: usize) -> Flow {
    let now = case.now_ms();
    let observed = case.observer.observe(ObservedAt::AfterStep, now, index)?;
    case.end_findings
        .extend(observed.observation.findings.iter().cloned());
    case.end_undecided.extend(observed.undecided);
    let names: Vec<String> = observed
        .observation
        .snapshots
        .values()
        .flatten()
        .cloned()
        .collect();
    let state: Option<State> = case
        .observer
        .state_text
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    let spool_dir = case.area.spool_dir();
    let spool_files: Vec<String> = match std::fs::read_dir(&spool_dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(Abort::harness(
                format!("listing {}", spool_dir.display()),
                e,
            ))
        }
    };
    let lock = LockObservation {
        path: case.area.lock_path().display().to_string(),
        content: match &observed.observation.lock {
            crate::engine::history::LockObservation::Present { content } => Some(content.clone()),
            crate::engine::history::LockObservation::Absent => None,
        },
    };
    let store = &case.observer.store;
    let input = LeftoverInput {
        uploads: &store.uploads,
        orphan_chunks: &store.orphan_chunks,
        subvolumes: &case.configured,
        snapshot_names: &names,
        state: state.as_ref(),
        spool_files: &spool_files,
        lock: &lock,
    };
    let found = leftovers(&input, &pid_is_alive);
    case.leftovers = Some((&found).into());
    case.end_findings.extend(found.to_findings(None));
    case.last = observed.observation;
    Ok(())
}
