//! [`normalize`]: makes any plan (hand-edited, shrunk, or from an older harness) valid
//! by replaying it on the model. It drops mutations the model refuses (and `Mutate`
//! steps left empty), subvolumes with an invalid or repeated name, and steps that name
//! a subvolume the plan does not have. It changes nothing else: tool settings, faults
//! and a restore before any backup are legitimate test input, not invalid plans. On a
//! generated plan it is the identity.

use std::collections::BTreeMap;

use super::plan::{Mutation, Plan, Step, SubvolumePlan};
use crate::model::ModelTree;

/// A subvolume name the tool can use as a path basename.
pub fn valid_subvolume_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

/// The valid part of `plan`.
pub fn normalize(plan: &Plan) -> Plan {
    let mut models: BTreeMap<String, ModelTree> = BTreeMap::new();
    let mut subvolumes = Vec::new();
    for s in &plan.subvolumes {
        if !valid_subvolume_name(&s.name) || models.contains_key(&s.name) {
            continue;
        }
        let mut model = ModelTree::new();
        let initial = replay(&s.initial, &mut model);
        models.insert(s.name.clone(), model);
        subvolumes.push(SubvolumePlan { name: s.name.clone(), initial });
    }
    let steps = plan.steps.iter().filter_map(|s| normalize_step(s, &mut models)).collect();
    Plan { subvolumes, steps, ..plan.clone() }
}

/// The operations the model accepts, applied to it in order.
fn replay(ops: &[Mutation], model: &mut ModelTree) -> Vec<Mutation> {
    ops.iter().filter(|m| model.apply(m).is_ok()).cloned().collect()
}

fn normalize_step(step: &Step, models: &mut BTreeMap<String, ModelTree>) -> Option<Step> {
    let known = |name: &String| models.contains_key(name);
    match step {
        Step::Mutate { subvolume, ops } => {
            let ops = replay(ops, models.get_mut(subvolume)?);
            (!ops.is_empty()).then(|| Step::Mutate { subvolume: subvolume.clone(), ops })
        }
        Step::Backup(b) => b.subvolumes.iter().all(known).then(|| step.clone()),
        Step::Restore(r) => known(&r.subvolume).then(|| step.clone()),
        Step::ForceFull { subvolume }
        | Step::DeleteSnapshot { subvolume, .. }
        | Step::ChunkSizeFromLastFull { subvolume, .. } => {
            known(subvolume).then(|| step.clone())
        }
        Step::DeleteState => Some(step.clone()),
    }
}

/// Replays a normalized plan and returns each subvolume's final model, in plan order.
pub fn final_models(plan: &Plan) -> Vec<(String, ModelTree)> {
    let mut models: Vec<(String, ModelTree)> =
        plan.subvolumes.iter().map(|s| (s.name.clone(), ModelTree::new())).collect();
    for (s, (_, model)) in plan.subvolumes.iter().zip(models.iter_mut()) {
        replay(&s.initial, model);
    }
    for step in &plan.steps {
        if let Step::Mutate { subvolume, ops } = step {
            if let Some((_, model)) = models.iter_mut().find(|(n, _)| n == subvolume) {
                replay(ops, model);
            }
        }
    }
    models
}
