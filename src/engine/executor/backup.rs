//! A `Backup` step without a contender: the gap, the fault (a kill plan, an injected S3
//! error, or a planted stale lock), one invocation between two observations, then the
//! verdicts (`verdicts`) and the model's bookkeeping. Contender pairs are in `contend`.

use super::case::CaseRun;
use super::faults::{
    arm_s3_error, describe_request, disarm, kill_plan, log_mark, plant_stale_lock, settle,
};
use super::invoke::{Launch, Ran};
use super::verdicts::{self, Cut, Judged};
use super::Flow;
use crate::engine::history::{ObservedAt, Role, StepRecord, ToolCommand};
use crate::gen::plan::{BackupFault, BackupStep};
use crate::s3::proxy::{RuleHandle, RuleStatus};
use crate::tool::{BackupArgs, ToolArgs};

pub(super) fn backup_step(case: &mut CaseRun, rec: &mut StepRecord, b: &BackupStep) -> Flow {
    case.pause(b.gap_ms)?;
    match &b.fault {
        Some(BackupFault::Contender { simultaneous }) => {
            super::contend::contended(case, rec, b, *simultaneous)
        }
        fault => single(case, rec, b, fault.as_ref()),
    }
}

/// The armed faults of one invocation.
#[derive(Default)]
struct Armed {
    kill_rule: Option<RuleHandle>,
    error_rule: Option<RuleHandle>,
}

fn single(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    b: &BackupStep,
    fault: Option<&BackupFault>,
) -> Flow {
    let stale_lock = match fault {
        Some(BackupFault::StaleLock { content }) => {
            let text = plant_stale_lock(&case.area.lock_path(), *content)?;
            rec.notes
                .push(format!("stale lock planted ({content:?}): {text:?}"));
            true
        }
        _ => false,
    };
    let before = case.observe(rec, ObservedAt::BeforeStep)?;
    let mut launch = Launch::new(Role::Backup, ToolArgs::Backup(BackupArgs::from_step(b)));
    let armed = arm(case, rec, fault, &mut launch)?;
    let mark = log_mark(case.engine, &case.prefix);
    let ran = case.invoker.run(rec.index, launch);
    let kill_status = disarm(case.engine, armed.kill_rule);
    let error_status = disarm(case.engine, armed.error_rule);
    let ran = ran?;
    let cut = cut_of(
        &ran,
        fault,
        kill_status.as_ref(),
        error_status.as_ref(),
        rec,
    );
    if cut != Cut::None {
        settle(case.engine, &case.prefix, mark);
    }
    let index = case.record_invocation(rec, &ran);
    case.stop_if_cut_short(&ran)?;
    let after = case.observe(rec, ObservedAt::AfterInvocation { index })?;
    let inv = ran.record.clone();
    verdicts::judge_backup(
        case,
        rec,
        Judged {
            step: b,
            index,
            inv: &inv,
            before: &before,
            after: &after,
            cut,
            stale_lock,
        },
    );
    Ok(())
}

/// Arms the fault of the invocation (kill plan or S3 error).
fn arm(
    case: &CaseRun,
    rec: &mut StepRecord,
    fault: Option<&BackupFault>,
    launch: &mut Launch,
) -> Flow<Armed> {
    let mut armed = Armed::default();
    match fault {
        Some(BackupFault::Kill { at }) => {
            let plan = kill_plan(case.engine, &case.prefix, at, ToolCommand::Backup)?;
            launch.kill = plan.trigger;
            launch.switch = plan.switch;
            launch.aimed = Some(at.clone());
            armed.kill_rule = plan.rule;
            rec.notes.extend(plan.notes);
        }
        Some(BackupFault::S3Error { at, status }) => {
            armed.error_rule =
                arm_s3_error(case.engine, &case.prefix, at, *status, &mut rec.notes)?;
        }
        _ => {}
    }
    Ok(armed)
}

/// How the fault cut the run, if it did; notes a fault that never came into play.
fn cut_of(
    ran: &Ran,
    fault: Option<&BackupFault>,
    kill: Option<&RuleStatus>,
    error: Option<&RuleStatus>,
    rec: &mut StepRecord,
) -> Cut {
    match fault {
        Some(BackupFault::Kill { .. }) if ran.killed_by_fault() => {
            if let Some(status) = kill {
                rec.notes.push(format!(
                    "kill fired on request {:?}",
                    status.first_fired.as_ref().map(|f| &f.request.key)
                ));
            }
            Cut::Killed
        }
        Some(BackupFault::Kill { at }) => {
            rec.notes.push(format!(
                "kill point {at:?} was not reached: the backup ended on its own"
            ));
            Cut::None
        }
        Some(BackupFault::S3Error { at, status }) => match error {
            Some(s) if s.fired > 0 => {
                rec.notes.push(format!(
                    "S3 error {status} injected {} ({} request(s) failed)",
                    describe_request(at, true),
                    s.fired
                ));
                Cut::S3Error
            }
            Some(_) => {
                rec.notes.push(format!(
                    "S3 error {status} {} never fired: no such request",
                    describe_request(at, true)
                ));
                Cut::None
            }
            None => Cut::None,
        },
        _ => Cut::None,
    }
}
