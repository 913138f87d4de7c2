//! `Restore` steps (and the final restores of `finish`): always into a new target on the
//! restore filesystem (`<case restore dir>/step-<i>/<subvolume>`; a retry uses the same
//! path), from `current.json` or `--manifest-key` of the `back`-th published manifest.
//!
//! What the restore must give comes from the model's expected backups: a tree (P1, and
//! after an interrupted backup the candidate the pointer names, never the other one or a
//! mix: P3), a failure (nothing published; archived chunks without waiting: P12), or
//! nothing the model can vouch for (the subvolume is tainted: undecided). An existing
//! target must be refused and left alone (P9); a failed or killed attempt is retried
//! when the plan says so (P11); the tool's own verification is held against the
//! tester's diff (P13).

use std::path::{Path, PathBuf};

use super::case::CaseRun;
use super::restore_fault;
use super::faults::{disarm, kill_plan};
use super::invoke::{Launch, Ran};
use super::{Abort, Flow};
use crate::engine::history::{Invocation, ObservedAt, Role, StepRecord, ToolCommand};
use crate::engine::judge::old_or_new::{check_restored_candidate, Side};
use crate::engine::judge::restore::{
    check_archive_restore, check_restore_refusal, check_restore_retry, check_restore_unpublished,
    check_self_check, persistent_restore_cause,
};
use crate::engine::judge::{finding, RestoreDiff, Verdict};
use crate::fixture::scan::scan;
use crate::fixture::tree::Tree;
use crate::gen::plan::{RestoreFault, RestoreSource, RestoreStep};
use crate::model::mask_unpredicted;
use crate::oracle::diff::diff;
use crate::oracle::finding::{Finding, Property};
use crate::s3::proxy::RuleHandle;
use crate::s3::view::StoreView;
use crate::tool::{RestoreArgs, ToolArgs};

/// Storage classes whose objects must be restored before a GET (CONTRACT.md 12).
const ARCHIVE_CLASSES: [&str; 3] = ["GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"];

/// A subvolume whose last backup was interrupted: both candidate trees and the side its
/// pointer names (P3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Interrupted {
    pub step: usize,
    pub old: Tree,
    pub new: Tree,
    pub side: Side,
}

/// What a restore must give.
#[derive(Debug, Clone)]
enum Expected {
    /// Nothing is published for the subvolume: the restore must fail.
    Unpublished,
    /// The model cannot vouch for the content.
    Unknown(String),
    Tree {
        tree: Tree,
        interrupted: Option<Interrupted>,
    },
}

/// Whether archived chunks can be read right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readable {
    /// Not archived, or every chunk already restored.
    Yes,
    No,
    /// Some restored, some not, or unknown.
    Partly,
}

/// Everything one restore step's attempts are judged against.
#[derive(Clone)]
struct Ctx {
    subvolume: String,
    target: PathBuf,
    expected: Expected,
    existing: Option<Tree>,
    archived: bool,
    wait: bool,
    readable: Readable,
    through_current: bool,
}

pub(super) fn restore_step(case: &mut CaseRun, rec: &mut StepRecord, r: &RestoreStep) -> Flow {
    let dir = case.area.restore_dir().join(format!("step-{}", rec.index));
    restore_into(case, rec, r, &dir)
}

/// Runs the restore `r` with its target in `dir` (created here) and judges it.
pub(super) fn restore_into(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    r: &RestoreStep,
    dir: &Path,
) -> Flow {
    let (ctx, args) = prepare(case, rec, r, dir)?;
    case.observe(rec, ObservedAt::BeforeStep)?;
    let corruption = match &r.fault {
        Some(fault) => arm_fault(case, rec, &ctx, &args, fault),
        None => None,
    };
    let first = attempt(case, rec, &ctx, Role::Restore, &args, r, corruption)?;
    if !r.retry || succeeded(&first.record) {
        return Ok(());
    }
    let completed = completed_before_kill(rec, &ctx, &first);
    let retry_ctx = Ctx {
        existing: completed.clone().or(ctx.existing.clone()),
        ..ctx.clone()
    };
    let retry = attempt(case, rec, &retry_ctx, Role::Retry, &args, r, None)?;
    let nothing_published = matches!(ctx.expected, Expected::Unpublished);
    let archived_unreadable = ctx.archived && !ctx.wait && ctx.readable == Readable::No;
    let cause = match completed {
        Some(_) => Some(
            "the killed attempt had already put the complete tree at the target, which a retry must refuse",
        ),
        None => persistent_restore_cause(ctx.existing.is_some(), archived_unreadable, nothing_published),
    };
    case.absorb(
        rec,
        check_restore_retry(rec.index, &first.record, &retry.record, cause),
    );
    Ok(())
}

/// The judging context and the tool's arguments of a restore into `dir` (created here,
/// with the existing target planted when the plan wants one).
fn prepare(
    case: &CaseRun,
    rec: &mut StepRecord,
    r: &RestoreStep,
    dir: &Path,
) -> Flow<(Ctx, ToolArgs)> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Abort::harness(format!("creating {}", dir.display()), e))?;
    let target = dir.join(&r.subvolume);
    let (manifest_key, expected) = expected_for(case, rec, r);
    let archived = ARCHIVE_CLASSES.contains(&case.tool.storage_class_chunks.as_str());
    let wait = r.wait.unwrap_or(case.tool.wait_for_restore);
    let readable = match archived && !wait {
        true => readable_now(case, &r.subvolume, manifest_key.as_deref()),
        false => Readable::Yes,
    };
    let existing = match r.existing_target {
        true => Some(plant_target(&target)?),
        false => None,
    };
    let ctx = Ctx {
        subvolume: r.subvolume.clone(),
        target: target.clone(),
        expected,
        existing,
        archived,
        wait,
        readable,
        through_current: manifest_key.is_none(),
    };
    let args = ToolArgs::Restore(RestoreArgs {
        subvolume: r.subvolume.clone(),
        target,
        manifest_key,
        restore_timeout_seconds: None,
        wait: r.wait,
        verify: Some(r.verify),
        log_level: None,
    });
    Ok((ctx, args))
}

/// After a killed attempt: the target's scan if the attempt had already put the whole
/// expected tree there (CONTRACT.md 12 renames before it verifies, so a kill can land
/// after the restore is complete; the retry must then refuse the existing target, P9).
/// `None` when there is no target, or a partial one (the retry then shows P11).
fn completed_before_kill(rec: &mut StepRecord, ctx: &Ctx, first: &Ran) -> Option<Tree> {
    if !first.killed_by_fault()
        || ctx.existing.is_some()
        || std::fs::symlink_metadata(&ctx.target).is_err()
    {
        return None;
    }
    let Expected::Tree { tree, .. } = &ctx.expected else {
        return None;
    };
    let seen = scan(&ctx.target).ok()?;
    let same = diff(tree, &mask_unpredicted(&seen)).is_empty();
    rec.notes.push(if same {
        "the killed restore had already completed: the target holds the model's tree, so the retry must refuse it".into()
    } else {
        "the killed restore left a partial tree at the target".into()
    });
    same.then_some(seen)
}

fn succeeded(inv: &Invocation) -> bool {
    inv.exit_code() == Some(0)
}

/// Arms the restore fault when the model knows what the restore must give and the
/// chunks can be read (not archived); the rules to disarm after the first attempt.
fn arm_fault(
    case: &CaseRun,
    rec: &mut StepRecord,
    ctx: &Ctx,
    args: &ToolArgs,
    fault: &RestoreFault,
) -> Option<Vec<RuleHandle>> {
    if !matches!(ctx.expected, Expected::Tree { .. }) || ctx.existing.is_some() || ctx.archived {
        rec.notes.push(
            "restore fault skipped (the restore runs clean): nothing known to restore, an existing target or archived chunks".into(),
        );
        return None;
    }
    let ToolArgs::Restore(a) = args else {
        return None;
    };
    restore_fault::arm(case, rec, &ctx.subvolume, a.manifest_key.as_deref(), fault)
}

/// One attempt: run (killed as planned on the first attempt; served the armed
/// corruption, whose rules are disarmed before anything else), observe, judge.
fn attempt(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    ctx: &Ctx,
    role: Role,
    args: &ToolArgs,
    r: &RestoreStep,
    corruption: Option<Vec<RuleHandle>>,
) -> Flow<Ran> {
    let mut launch = Launch::new(role, args.clone());
    let mut rule = None;
    if let (Role::Restore, Some(point)) = (role, &r.kill) {
        let plan = kill_plan(case.engine, &case.prefix, point, ToolCommand::Restore)?;
        launch.kill = plan.trigger;
        launch.switch = plan.switch;
        launch.aimed = Some(point.clone());
        rule = plan.rule;
        rec.notes.extend(plan.notes);
    }
    let ran = case.invoker.run(rec.index, launch);
    disarm(case.engine, rule);
    let corrupted = corruption.is_some();
    for handle in corruption.into_iter().flatten() {
        if let Some(status) = disarm(case.engine, Some(handle)) {
            if status.fired == 0 {
                rec.notes.push("restore fault: the corrupted chunk was never read".into());
            }
        }
    }
    let ran = ran?;
    let index = case.record_invocation(rec, &ran);
    case.stop_if_cut_short(&ran)?;
    case.observe(rec, ObservedAt::AfterInvocation { index })?;
    if ran.killed_by_fault() {
        rec.notes.push(format!(
            "restore killed as planned at {} ms",
            ran.record.kill.as_ref().map_or(0, |k| k.at_ms)
        ));
    } else if corrupted {
        judge_corrupted(case, rec, ctx, &ran.record)?;
    } else {
        judge_attempt(case, rec, ctx, &ran.record, role)?;
    }
    Ok(ran)
}

/// An attempt that was served a corrupted chunk must fail (CONTRACT.md 12); what it
/// leaves is judged by the retry (P11). One that succeeds did not check the chunk's
/// SHA-256: its tree is judged as usual, where the changed byte shows (P1).
fn judge_corrupted(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    ctx: &Ctx,
    inv: &Invocation,
) -> Flow {
    if succeeded(inv) {
        rec.notes.push(
            "the restore succeeded although a chunk it read did not match its manifest's SHA-256 \
             (CONTRACT.md 12: `hash mismatch for <key>`); judging the restored tree"
                .into(),
        );
        return judge_attempt(case, rec, ctx, inv, Role::Restore);
    }
    let left = match std::fs::symlink_metadata(&ctx.target) {
        Ok(_) => "and left something at its target",
        Err(_) => "and left nothing at its target",
    };
    rec.notes.push(format!(
        "the restore served a corrupted chunk failed, as it must ({}), {left}",
        inv.describe_end()
    ));
    Ok(())
}

/// The `--manifest-key` to pass (none: through `current.json`) and what must come out.
fn expected_for(
    case: &CaseRun,
    rec: &mut StepRecord,
    r: &RestoreStep,
) -> (Option<String>, Expected) {
    let name = r.subvolume.as_str();
    if let RestoreSource::Manifest { back } = r.source {
        if let Some(e) = case.expected.manifest_back(name, back) {
            let tree = Expected::Tree {
                tree: e.tree.clone(),
                interrupted: None,
            };
            return (e.manifest_key.clone(), tree);
        }
        rec.notes.push(format!(
            "restore: nothing of {name} is published, so no --manifest-key; restoring current.json"
        ));
    }
    if let Some(why) = case.tainted.get(name) {
        return (
            None,
            Expected::Unknown(format!("the model lost track of {name}'s backups ({why})")),
        );
    }
    match case.expected.current(name).value() {
        Some(None) => (None, Expected::Unpublished),
        Some(Some(e)) => (
            None,
            Expected::Tree {
                tree: e.tree.clone(),
                interrupted: case.interrupted.get(name).cloned(),
            },
        ),
        None => (
            None,
            Expected::Unknown(format!("a backup attempt of {name} is unresolved")),
        ),
    }
}

/// Creates the target as a directory with a marker file; returns its scan.
fn plant_target(target: &Path) -> Flow<Tree> {
    std::fs::create_dir(target)
        .and_then(|()| {
            std::fs::write(
                target.join("marker-planted-by-b2s3-harness"),
                b"do not replace me\n",
            )
        })
        .map_err(|e| {
            Abort::harness(
                format!("creating the existing target {}", target.display()),
                e,
            )
        })?;
    scan(target).map_err(|e| Abort::harness("scanning the existing target", e))
}

/// Whether the chunks of the chain to be restored are readable now (archive classes).
fn readable_now(case: &CaseRun, subvolume: &str, manifest_key: Option<&str>) -> Readable {
    let store = &case.observer.store;
    let start = manifest_key.map(str::to_string).or_else(|| {
        store
            .pointers
            .get(subvolume)
            .map(|p| p.manifest_key.clone())
    });
    let Some(mut key) = start else {
        return Readable::No;
    };
    let (mut restored, mut archived) = (0usize, 0usize);
    for _ in 0..1000 {
        let Some(m) = store.manifests.get(&key) else {
            return Readable::Partly;
        };
        for chunk in &m.chunks {
            match case
                .engine
                .client()
                .head(&chunk.key)
                .ok()
                .and_then(|i| i.restore)
            {
                Some(h) if h.contains("ongoing-request=\"false\"") => restored += 1,
                _ => archived += 1,
            }
        }
        match &m.parent_manifest {
            Some(parent) => key = parent.clone(),
            None => break,
        }
    }
    match (restored, archived) {
        (_, 0) => Readable::Yes,
        (0, _) => Readable::No,
        _ => Readable::Partly,
    }
}

/// Judges one attempt that ran to its end.
fn judge_attempt(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    ctx: &Ctx,
    inv: &Invocation,
    role: Role,
) -> Flow {
    let step = rec.index;
    if let Some(before) = &ctx.existing {
        let now =
            scan(&ctx.target).map_err(|e| Abort::harness("scanning the existing target", e))?;
        case.absorb(rec, check_restore_refusal(step, inv, Some(&now == before)));
        return Ok(());
    }
    let tree = match &ctx.expected {
        Expected::Unpublished => {
            case.absorb(rec, check_restore_unpublished(step, &ctx.subvolume, inv));
            return Ok(());
        }
        Expected::Unknown(why) => {
            let mut v = Verdict::default();
            v.cannot_decide(
                Property::RoundTrip,
                step,
                ctx.target.display().to_string(),
                why.clone(),
            );
            case.absorb(rec, v);
            return Ok(());
        }
        Expected::Tree { tree, .. } => tree,
    };
    if ctx.archived && !judge_archive(case, rec, ctx, inv) {
        return Ok(());
    }
    if ctx.through_current {
        case.verified.insert(ctx.subvolume.clone());
    }
    if role == Role::Retry && !succeeded(inv) && inv.event("restore_verify_failed").is_none() {
        rec.notes
            .push("the retry failed; judged by P11 (retry after failure)".into());
        return Ok(());
    }
    judge_content(case, rec, ctx, inv, tree);
    Ok(())
}

/// P12; false when the content need not (or cannot) be compared.
fn judge_archive(case: &mut CaseRun, rec: &mut StepRecord, ctx: &Ctx, inv: &Invocation) -> bool {
    let step = rec.index;
    match (ctx.wait, ctx.readable) {
        (true, _) => {
            case.absorb(rec, check_archive_restore(step, inv, true, None));
            succeeded(inv)
        }
        (false, Readable::No) => {
            let exists = std::fs::symlink_metadata(&ctx.target).is_ok();
            case.absorb(rec, check_archive_restore(step, inv, false, Some(exists)));
            false
        }
        (false, Readable::Yes) => {
            rec.notes.push("archive: every chunk was already restored, so a restore without waiting must succeed".into());
            true
        }
        (false, Readable::Partly) => {
            let mut v = Verdict::default();
            let why = "some chunks of the chain are restored and some are not";
            v.cannot_decide(
                Property::Archive,
                step,
                ctx.target.display().to_string(),
                why,
            );
            case.absorb(rec, v);
            succeeded(inv)
        }
    }
}

/// P1 (and P3 after an interrupted backup) on the restored tree, P13 on the tool's
/// own verification.
fn judge_content(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    ctx: &Ctx,
    inv: &Invocation,
    tree: &Tree,
) {
    let step = rec.index;
    if let Some(f) = nothing_restored(step, ctx, inv) {
        case.add_findings(rec, vec![f]);
        return;
    }
    let context = format!("restore of {} into {}", ctx.subvolume, ctx.target.display());
    match (&ctx.expected, ctx.through_current) {
        (
            Expected::Tree {
                interrupted: Some(i),
                ..
            },
            true,
        ) => judge_candidates(case, rec, ctx, inv, i, &context),
        _ => {
            let d = compare(&ctx.target, tree, step, &context);
            let mut v = check_self_check(step, inv, &d);
            if let RestoreDiff::NotCompared { why } = &d {
                let subject = ctx.target.display().to_string();
                v.cannot_decide(Property::RoundTrip, step, subject, why.clone());
            }
            case.absorb(rec, v);
        }
    }
}

/// P1 when a published backup did not come back at all: the restore failed (other
/// than by its own verification, which P13 judges on the tree), or left no target.
fn nothing_restored(step: usize, ctx: &Ctx, inv: &Invocation) -> Option<Finding> {
    let subject = ctx.target.display().to_string();
    let verify_failed = inv.event("restore_verify_failed").is_some();
    if !succeeded(inv) && !verify_failed {
        let message = format!(
            "a published backup of {} could not be restored",
            ctx.subvolume
        );
        let f = finding(Property::RoundTrip, step, message).subject(subject);
        return Some(f.expected_seen(
            "exit 0 with the model's tree at the target",
            inv.describe_end(),
        ));
    }
    if std::fs::symlink_metadata(&ctx.target).is_err() {
        let message = format!(
            "the restore of {} left nothing at its target",
            ctx.subvolume
        );
        let seen = format!("no such path after {}", inv.describe_end());
        let f = finding(Property::RoundTrip, step, message).subject(subject);
        return Some(f.expected_seen("the restored subvolume", seen));
    }
    None
}

/// P3 after an interrupted backup: the tree of the side the pointer names, never the
/// other one or a mix; then P13 against the matching side.
fn judge_candidates(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    ctx: &Ctx,
    inv: &Invocation,
    i: &Interrupted,
    context: &str,
) {
    let step = rec.index;
    let old = compare(&ctx.target, &i.old, step, context);
    let new = compare(&ctx.target, &i.new, step, context);
    let v = check_restored_candidate(step, &ctx.subvolume, i.side, &old, &new);
    rec.notes.push(format!(
        "restore after the backup interrupted at step {}: the pointer names the {} side",
        i.step,
        i.side.as_str()
    ));
    let clean = v.findings.is_empty();
    case.absorb(rec, v);
    if clean {
        let matched = if i.side == Side::Old { old } else { new };
        case.absorb(rec, check_self_check(step, inv, &matched));
    }
}

/// The oracle's diff of the target against a model tree.
fn compare(target: &Path, expected: &Tree, step: usize, context: &str) -> RestoreDiff {
    match scan(target) {
        Err(e) => RestoreDiff::NotCompared {
            why: format!("the restored target could not be scanned: {e}"),
        },
        Ok(seen) => {
            match diff(expected, &mask_unpredicted(&seen)).to_finding(Some(step), context) {
                None => RestoreDiff::Clean,
                Some(finding) => RestoreDiff::Differs { finding },
            }
        }
    }
}
