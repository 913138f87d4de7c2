//! Initial trees and `Mutate` steps: every operation is applied to the model first and
//! then to the live subvolume (`model::exec::apply`); after each batch a scan of the
//! live subvolume, with the fields the model does not predict masked, must equal the
//! model. A refused operation or a mismatch is a harness error: the tester is wrong,
//! never the tool.

use std::path::Path;

use super::case::CaseRun;
use super::{Abort, Flow};
use crate::engine::history::StepRecord;
use crate::fixture::scan::scan;
use crate::gen::plan::Mutation;
use crate::model::{exec, mask_unpredicted, ModelTree};
use crate::oracle::diff::diff;

/// Builds every subvolume's initial tree on the model and the live subvolume.
pub(super) fn build_initial_trees(case: &mut CaseRun) -> Flow {
    for s in &case.plan.subvolumes {
        let root = case
            .area
            .subvolume_path(&s.name)
            .ok_or_else(|| Abort::Harness(format!("the case area has no subvolume {}", s.name)))?
            .to_path_buf();
        let mut model = ModelTree::new();
        apply_all(&mut model, &root, &s.initial, &s.name)?;
        in_step(&model, &root, &s.name, "building the initial tree")?;
        case.models.insert(s.name.clone(), model);
    }
    Ok(())
}

/// A `Mutate` step.
pub(super) fn mutate(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    subvolume: &str,
    ops: &[Mutation],
) -> Flow {
    let root = case
        .area
        .subvolume_path(subvolume)
        .ok_or_else(|| {
            Abort::Harness(format!(
                "step {} mutates {subvolume}, which the plan does not have",
                rec.index
            ))
        })?
        .to_path_buf();
    let model = case
        .models
        .get_mut(subvolume)
        .ok_or_else(|| Abort::Harness(format!("no model of subvolume {subvolume}")))?;
    apply_all(model, &root, ops, subvolume)?;
    in_step(model, &root, subvolume, &format!("step {}", rec.index))?;
    rec.notes.push(format!(
        "{} operation(s) applied to {subvolume}; the live tree equals the model",
        ops.len()
    ));
    Ok(())
}

fn apply_all(model: &mut ModelTree, root: &Path, ops: &[Mutation], name: &str) -> Flow {
    for (i, op) in ops.iter().enumerate() {
        model.apply(op).map_err(|e| {
            Abort::Harness(format!(
                "the model refuses operation {i} on {name} ({e}); the plan is invalid: pass it through gen::normalize"
            ))
        })?;
        exec::apply(root, op)
            .map_err(|e| Abort::harness(format!("applying operation {i} to {name}"), e))?;
    }
    Ok(())
}

/// The live subvolume must equal the model.
fn in_step(model: &ModelTree, root: &Path, name: &str, when: &str) -> Flow {
    let seen =
        scan(root).map_err(|e| Abort::harness(format!("scanning {name} after {when}"), e))?;
    let d = diff(&model.to_tree(), &mask_unpredicted(&seen));
    match d.first() {
        None => Ok(()),
        Some(first) => Err(Abort::Harness(format!(
            "after {when} the live subvolume {name} differs from the model: {}; first: {} {}: expected {}, seen {}",
            d.summary(),
            first.category.as_str(),
            first.path,
            first.expected,
            first.seen
        ))),
    }
}
