//! The verdicts after a backup invocation (or the winner of a contender pair) and the
//! model's bookkeeping, in one place so single runs and pairs are judged alike:
//!
//! - always: P6 schedule (kinds, parents) against the planner's expectation;
//! - a run that completed (no fault cut it): inert runs, the lock (stale lock, lock
//!   released, P5/P14), P4/P6 publish of every due subvolume, and after exit 0 P8
//!   retention and the state file's shape;
//! - a run cut by a kill, an injected S3 error or a failure the contract prescribes
//!   for the configuration: P3 old-or-new, and for kills where the kill landed;
//! - then the model: every subvolume the run may publish gets an attempt, resolved at
//!   once by the pointer observed after the run (the tool is dead, nothing is in
//!   flight); a pointer the model cannot explain taints the subvolume, so later checks
//!   say "undecided" instead of cascading.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use super::case::CaseRun;
use super::restore::Interrupted;
use crate::engine::delta::Delta;
use crate::engine::history::{Invocation, Observation, StepRecord, TimingDecision};
use crate::engine::judge::exclusion::{
    check_lock_released, check_not_blocked_by_stale_lock, check_stale_lock,
};
use crate::engine::judge::old_or_new::{check_old_or_new, Side};
use crate::engine::judge::publish::{
    check_due_published, check_state_after_cut, published_manifest,
};
use crate::engine::judge::schedule::{check_inert_run, check_schedule};
use crate::engine::judge::BackupRun;
use crate::engine::killpoint::{classify, KillContext};
use crate::engine::names::{basename, StoreKey};
use crate::engine::planner::{plan_run, select_subvolumes, Clock, PlanInput, RunExpectation};
use crate::gen::plan::{BackupMode, BackupStep, ToolSettings};
use crate::oracle::local::{check_retention, check_state, RetentionInput, StateExpect};
use crate::s3::view::StoreView;

const FIVE_MIB: u64 = 5 * 1024 * 1024;

/// How a fault cut a backup run short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
    None,
    Killed,
    S3Error,
    /// A failure CONTRACT.md prescribes for the configuration (a spool below 5 MiB).
    Contract,
}

/// One judged backup invocation with the observations around it.
pub(super) struct Judged<'a> {
    pub step: &'a BackupStep,
    /// Its index in the step's invocations.
    pub index: usize,
    pub inv: &'a Invocation,
    pub before: &'a Observation,
    pub after: &'a Observation,
    pub cut: Cut,
    pub stale_lock: bool,
}

/// What the planner model says the run must do.
pub(super) fn expectation(
    case: &CaseRun,
    step: &BackupStep,
    before: &Observation,
    inv: &Invocation,
) -> RunExpectation {
    let dir = case.area.snapshots_dir().display().to_string();
    plan_run(&PlanInput {
        configured: &case.configured,
        snapshot_dir: &dir,
        snapshots: &before.snapshots,
        state: &before.state,
        flags: step,
        settings: &case.tool,
        clock: Clock::during(case.started_at(), inv),
    })
}

/// All verdicts and the model's bookkeeping for one backup invocation.
pub(super) fn judge_backup(case: &mut CaseRun, rec: &mut StepRecord, j: Judged) {
    let expected = expectation(case, j.step, j.before, j.inv);
    let run = BackupRun {
        step: rec.index,
        invocation: j.inv,
        before: j.before,
        after: j.after,
    };
    let cut = match (j.cut, contract_failure(&case.tool, j.inv)) {
        (Cut::None, Some(why)) => {
            rec.notes.push(why);
            Cut::Contract
        }
        (cut, _) => cut,
    };
    case.absorb(rec, check_schedule(&run, &expected));
    match cut {
        Cut::None => judge_completed(case, rec, &run, &expected, j.stale_lock),
        _ => judge_cut(case, rec, &run, &expected, cut, j.index),
    }
    update_model(case, rec, j.step, j.before, j.after, cut != Cut::None);
}

/// A run no fault cut: it must do what the planner says, fully.
pub(super) fn judge_completed(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    run: &BackupRun,
    expected: &RunExpectation,
    stale_lock: bool,
) {
    case.absorb(rec, check_inert_run(run, expected));
    let inv = run.invocation;
    if stale_lock {
        case.absorb(
            rec,
            check_stale_lock(rec.index, inv, &run.before.lock, &run.after.lock),
        );
    } else {
        case.absorb(rec, check_not_blocked_by_stale_lock(rec.index, inv, &[]));
        case.absorb(
            rec,
            check_lock_released(rec.index, std::slice::from_ref(inv), &run.after.lock),
        );
    }
    judge_publish(case, rec, run, expected);
}

/// P4/P6 publish and, after exit 0, P8 and the state's shape. A run refused by the lock
/// is P5's business only.
pub(super) fn judge_publish(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    run: &BackupRun,
    expected: &RunExpectation,
) {
    if run.invocation.event("backup_lock_failed").is_some() {
        return;
    }
    let prior = case.history.prior_failure();
    case.absorb(rec, check_due_published(run, expected, prior.as_ref()));
    if run.invocation.exit_code() == Some(0) {
        retention_and_state(case, rec, run);
    }
}

fn judge_cut(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    run: &BackupRun,
    expected: &RunExpectation,
    cut: Cut,
    index: usize,
) {
    let delta = run.delta();
    let complete = manifest_complete(case, &delta);
    case.absorb(rec, check_old_or_new(run, &complete));
    case.absorb(rec, check_state_after_cut(run));
    if cut == Cut::Killed {
        classify_kill(case, rec, run, expected, index);
    }
}

/// A failure the contract prescribes for this configuration, with why.
fn contract_failure(settings: &ToolSettings, inv: &Invocation) -> Option<String> {
    let small_spool = settings.spool_enabled
        && settings.spool_size_bytes < FIVE_MIB
        && settings.chunk_size_bytes > FIVE_MIB;
    let error = inv.first_error()?.field("error")?;
    (small_spool && inv.exit_code() == Some(1) && error.contains("spool_size_bytes must be >= 5 MiB")).then(|| {
        format!(
            "the backup failed as CONTRACT.md 9 prescribes: spool_size_bytes {} is below 5 MiB and a chunk exceeded 5 MiB",
            settings.spool_size_bytes
        )
    })
}

/// Per new manifest: are all its chunks there with their size and hash? Manifests
/// whose chunks could not all be hashed (archived) are left out: undecided.
fn manifest_complete(case: &CaseRun, delta: &Delta) -> BTreeMap<String, bool> {
    let verdicts = &case.observer.store.chunk_verdicts;
    delta
        .new_manifests
        .keys()
        .filter_map(|key| {
            let v = verdicts.get(key)?;
            match (v.problems.is_empty(), v.unverified.is_empty()) {
                (false, _) => Some((key.clone(), false)),
                (true, true) => Some((key.clone(), true)),
                (true, false) => None,
            }
        })
        .collect()
}

/// P8 for every subvolume the run published, and the state file's shape (P6).
fn retention_and_state(case: &mut CaseRun, rec: &mut StepRecord, run: &BackupRun) {
    let delta = run.delta();
    let dir = case.area.snapshots_dir().display().to_string();
    let names: Vec<String> = run.after.snapshots.values().flatten().cloned().collect();
    let published: Vec<String> = case
        .configured
        .iter()
        .filter(|n| published_manifest(&delta, n).is_some())
        .cloned()
        .collect();
    let read_only = |path: &str| -> Option<bool> {
        std::fs::symlink_metadata(path).ok()?;
        Some(crate::fixture::btrfs::is_read_only(std::path::Path::new(path)).unwrap_or(false))
    };
    for name in &published {
        let key = published_manifest(&delta, name).unwrap_or_default();
        let incremental = delta
            .new_manifests
            .get(key)
            .is_some_and(|m| m.kind == "incremental");
        let parent = run
            .before
            .state
            .subvolume(name)
            .and_then(|s| s.last_snapshot.clone())
            .filter(|_| incremental);
        let last = run
            .after
            .state
            .subvolume(name)
            .and_then(|s| s.last_snapshot.clone());
        let input = RetentionInput {
            subvolume: name,
            snapshots_dir: &dir,
            snapshot_names: &names,
            retain: case.tool.retain,
            incremental_parent: parent.as_deref().map(basename),
            last_snapshot: last.as_deref(),
        };
        let findings = check_retention(&input, &read_only, Some(rec.index));
        case.add_findings(rec, findings);
    }
    if let Some(text) = case.observer.state_text.clone() {
        let expect = StateExpect {
            prefix: case.prefix.clone(),
            snapshots_dir: dir,
            fresh: published,
        };
        let path = case.area.state_path().display().to_string();
        let check = check_state(text.as_bytes(), &path, &expect, Some(rec.index));
        case.add_findings(rec, check.findings);
    }
}

/// Where the kill landed: recorded in the invocation, the step's timing and the case's
/// phase counts.
fn classify_kill(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    run: &BackupRun,
    expected: &RunExpectation,
    index: usize,
) {
    let subvolumes: Vec<String> = expected
        .may_be_due()
        .into_iter()
        .map(str::to_string)
        .collect();
    let delta = run.delta();
    let streams: BTreeMap<String, bool> = subvolumes
        .iter()
        .filter_map(|n| full_stream_verdict(case, &delta, n).map(|ok| (n.clone(), ok)))
        .collect();
    let landing = classify(&KillContext {
        before: run.before,
        after: run.after,
        events: &run.invocation.events,
        subvolumes: &subvolumes,
        chunk_size: case.tool.chunk_size_bytes,
        stream_complete: &streams,
    });
    case.kill_phases.record(&landing);
    rec.notes.extend(
        landing
            .anomalies
            .iter()
            .map(|a| format!("kill landing anomaly: {a}")),
    );
    let at_ms = run
        .invocation
        .kill
        .as_ref()
        .map_or(run.invocation.end_ms, |k| k.at_ms);
    rec.timing.push(TimingDecision::KillLanded {
        role: run.invocation.role,
        at_ms,
        landed: landing.clone(),
    });
    if let Some(kill) = rec.invocations.get_mut(index).and_then(|i| i.kill.as_mut()) {
        kill.landed = Some(landing);
    }
}

/// Whether `btrfs receive --dump` accepts the run's chunks of `name`, asked only when
/// they look complete but end exactly on a chunk boundary (the classifier cannot tell
/// otherwise). `None` when not needed or not decidable.
fn full_stream_verdict(case: &CaseRun, delta: &Delta, name: &str) -> Option<bool> {
    let prefix = case.prefix.as_str();
    if !delta.manifests_of(prefix, name).is_empty() {
        return None;
    }
    let mut chunks: Vec<(String, u64, String, u64)> = delta
        .new_chunks
        .iter()
        .filter_map(|(key, size)| match StoreKey::parse(prefix, key)? {
            StoreKey::Chunk {
                subvolume,
                ts,
                index,
                ..
            } if subvolume == name => Some((ts, index, key.clone(), *size)),
            _ => None,
        })
        .collect();
    let latest = chunks.iter().map(|c| c.0.clone()).max()?;
    chunks.retain(|c| c.0 == latest);
    chunks.sort_by_key(|c| c.1);
    let contiguous = chunks.iter().enumerate().all(|(i, c)| c.1 == i as u64);
    if !contiguous || chunks.last()?.3 != case.tool.chunk_size_bytes {
        return None;
    }
    let keys: Vec<&str> = chunks.iter().map(|c| c.2.as_str()).collect();
    dump_accepts(case.engine.client(), &keys)
}

/// Streams the objects into `btrfs receive --dump`; its verdict, `None` on an I/O error.
fn dump_accepts(store: &dyn StoreView, keys: &[&str]) -> Option<bool> {
    let mut child = Command::new("btrfs")
        .args(["receive", "--dump"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let fed = keys.iter().try_for_each(|k| {
        let body = store.get(k).map_err(|_| ())?;
        stdin.write_all(&body).map_err(|_| ())
    });
    drop(stdin);
    let status = child.wait().ok()?;
    match fed {
        Ok(()) => Some(status.success()),
        Err(()) => None,
    }
}

/// Keeps the expected backups in step with what the run published (see the module
/// docs); also forgets verified restores and interrupted-run candidates that a moved
/// pointer made stale.
pub(super) fn update_model(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    step: &BackupStep,
    before: &Observation,
    after: &Observation,
    cut: bool,
) {
    let may_publish = if step.mode == BackupMode::Normal {
        select_subvolumes(&case.configured, &step.subvolumes)
    } else {
        Vec::new()
    };
    for name in case.configured.clone() {
        let (old, new) = (before.pointer(&name), after.pointer(&name));
        let moved = old != new || after.store.unreadable_pointers.contains_key(&name);
        if moved {
            case.verified.remove(&name);
            case.interrupted.remove(&name);
        }
        if case.tainted.contains_key(&name) {
            continue;
        }
        if !may_publish.contains(&name) {
            if moved {
                case.taint(
                    &name,
                    format!(
                        "step {}: its pointer moved in a run that was not to back it up",
                        rec.index
                    ),
                );
            }
            continue;
        }
        resolve_attempt(case, rec, &name, new.map(|p| p.manifest_key.clone()), cut);
    }
}

/// One subvolume's attempt, resolved by the pointer seen after the run.
fn resolve_attempt(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    name: &str,
    pointer: Option<String>,
    cut: bool,
) {
    let old_tree = case
        .expected
        .published_of(name)
        .last()
        .map(|e| e.tree.clone());
    let count = case.expected.published_of(name).len();
    let tree = case.backup_view(name);
    if let Err(e) = case.expected.attempt(name, rec.index, tree.clone()) {
        case.taint(name, format!("step {}: {e}", rec.index));
        return;
    }
    if let Err(e) = case.expected.observe_pointer(name, pointer.as_deref()) {
        case.expected.not_published(name);
        case.taint(name, format!("step {}: {e}", rec.index));
        return;
    }
    let published = case.expected.published_of(name).len() > count;
    if cut {
        let chosen = match (&pointer, published) {
            (Some(key), true) => format!("published {key}"),
            _ => "not published".to_string(),
        };
        rec.timing.push(TimingDecision::Resolved {
            subject: format!("the interrupted backup of {name}"),
            chosen,
        });
        let side = if published { Side::New } else { Side::Old };
        match old_tree {
            Some(old) => {
                case.interrupted.insert(
                    name.to_string(),
                    Interrupted {
                        step: rec.index,
                        old,
                        new: tree,
                        side,
                    },
                );
            }
            None => {
                case.interrupted.remove(name);
            }
        }
    }
}
