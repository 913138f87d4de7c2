//! Shrink helpers the campaign can use beyond proptest's own shrinking: each returns a
//! smaller plan, already [`normalize`]d (so it is valid: no operation on a path that no
//! longer exists). [`candidates`] lists every one-step simplification of a plan, the
//! biggest cuts first; a shrinker tries them in order and keeps the first that still
//! fails.

use super::normalize::normalize;
use super::plan::{BackupFault, KillPoint, Mutation, Plan, Step};

/// Where an operation sits in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpRef {
    /// `plan.subvolumes[subvolume].initial[index]`.
    Initial { subvolume: usize, index: usize },
    /// `ops[index]` of the `Mutate` step `plan.steps[step]`.
    Step { step: usize, index: usize },
}

/// The plan without step `step`.
pub fn remove_step(plan: &Plan, step: usize) -> Plan {
    let mut p = plan.clone();
    if step < p.steps.len() {
        p.steps.remove(step);
    }
    normalize(&p)
}

/// The plan without subvolume `index` and its steps; `None` for the last subvolume.
pub fn remove_subvolume(plan: &Plan, index: usize) -> Option<Plan> {
    if plan.subvolumes.len() < 2 || index >= plan.subvolumes.len() {
        return None;
    }
    let mut p = plan.clone();
    p.subvolumes.remove(index);
    Some(normalize(&p))
}

fn op_mut(plan: &mut Plan, at: OpRef) -> Option<&mut Vec<Mutation>> {
    match at {
        OpRef::Initial { subvolume, .. } => {
            plan.subvolumes.get_mut(subvolume).map(|s| &mut s.initial)
        }
        OpRef::Step { step, .. } => match plan.steps.get_mut(step) {
            Some(Step::Mutate { ops, .. }) => Some(ops),
            _ => None,
        },
    }
}

fn index_of(at: OpRef) -> usize {
    match at {
        OpRef::Initial { index, .. } | OpRef::Step { index, .. } => index,
    }
}

/// The plan without one operation (and whatever depended on it).
pub fn remove_op(plan: &Plan, at: OpRef) -> Plan {
    let mut p = plan.clone();
    if let Some(ops) = op_mut(&mut p, at) {
        if index_of(at) < ops.len() {
            ops.remove(index_of(at));
        }
    }
    normalize(&p)
}

/// The plan without any operation that names `path` in subvolume `subvolume`: the file
/// (or directory, or link) is never made, and what depended on it goes too.
pub fn remove_path(plan: &Plan, subvolume: &str, path: &str) -> Plan {
    let mut p = plan.clone();
    let keep = |m: &Mutation| !m.paths().contains(&path);
    for s in p.subvolumes.iter_mut().filter(|s| s.name == subvolume) {
        s.initial.retain(keep);
    }
    for step in &mut p.steps {
        if let Step::Mutate { subvolume: name, ops } = step {
            if name == subvolume {
                ops.retain(keep);
            }
        }
    }
    normalize(&p)
}

/// The plan with the content of one operation halved (a sparse file's length halved
/// and its data clipped); `None` if the operation carries no content to halve.
pub fn halve_content(plan: &Plan, at: OpRef) -> Option<Plan> {
    let mut p = plan.clone();
    let op = op_mut(&mut p, at)?.get_mut(index_of(at))?;
    match op {
        Mutation::Write { content, .. }
        | Mutation::Overwrite { content, .. }
        | Mutation::Append { content, .. }
            if content.len > 0 =>
        {
            content.len /= 2
        }
        Mutation::WriteSparse { len, data, .. } if *len > 0 => {
            *len /= 2;
            let len = *len;
            data.retain(|(offset, _)| *offset < len);
            for (offset, c) in data.iter_mut() {
                c.len = c.len.min(len - *offset);
            }
        }
        _ => return None,
    }
    Some(normalize(&p))
}

/// The plan with the fault of step `step` one notch simpler: a kill or S3 error at the
/// n-th event or request moves to the (n-1)-th, a simultaneous contender becomes a
/// sequential one, anything else is removed (a restore's kill and retry included);
/// `None` if the step has no fault.
pub fn simplify_fault(plan: &Plan, step: usize) -> Option<Plan> {
    let mut p = plan.clone();
    match p.steps.get_mut(step)? {
        Step::Backup(b) => b.fault = Some(simpler_fault(b.fault.as_ref()?)).flatten(),
        Step::Restore(r) if r.kill.is_some() || r.fault.is_some() => {
            r.kill = None;
            r.fault = None;
            r.retry = false;
        }
        _ => return None,
    }
    Some(normalize(&p))
}

fn simpler_fault(f: &BackupFault) -> Option<BackupFault> {
    match f {
        BackupFault::Kill { at: KillPoint::OnEvent { event, nth } } if *nth > 1 => {
            Some(BackupFault::Kill {
                at: KillPoint::OnEvent { event: event.clone(), nth: nth - 1 },
            })
        }
        BackupFault::Kill { at: KillPoint::OnRequest { at, before } } if at.nth > 1 => {
            let mut at = at.clone();
            at.nth -= 1;
            Some(BackupFault::Kill { at: KillPoint::OnRequest { at, before: *before } })
        }
        BackupFault::S3Error { at, status } if at.nth > 1 => {
            let mut at = at.clone();
            at.nth -= 1;
            Some(BackupFault::S3Error { at, status: *status })
        }
        BackupFault::Contender { simultaneous: true } => {
            Some(BackupFault::Contender { simultaneous: false })
        }
        _ => None,
    }
}

/// Every one-step simplification of `plan`, biggest cuts first: remove a subvolume,
/// remove a step, simplify a fault, remove an operation, halve a content. Plans equal
/// to `plan` are left out.
pub fn candidates(plan: &Plan) -> Vec<Plan> {
    let mut out = Vec::new();
    out.extend((0..plan.subvolumes.len()).filter_map(|i| remove_subvolume(plan, i)));
    out.extend((0..plan.steps.len()).map(|i| remove_step(plan, i)));
    out.extend((0..plan.steps.len()).filter_map(|i| simplify_fault(plan, i)));
    let ops = op_refs(plan);
    out.extend(ops.iter().map(|at| remove_op(plan, *at)));
    out.extend(ops.iter().filter_map(|at| halve_content(plan, *at)));
    out.retain(|p| p != plan);
    out
}

/// Every operation of the plan.
pub fn op_refs(plan: &Plan) -> Vec<OpRef> {
    let initial = plan.subvolumes.iter().enumerate().flat_map(|(subvolume, s)| {
        (0..s.initial.len()).map(move |index| OpRef::Initial { subvolume, index })
    });
    let steps = plan.steps.iter().enumerate().flat_map(|(step, s)| {
        let n = if let Step::Mutate { ops, .. } = s { ops.len() } else { 0 };
        (0..n).map(move |index| OpRef::Step { step, index })
    });
    initial.chain(steps).collect()
}
