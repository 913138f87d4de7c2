//! Shrinking a failing case, driven by the campaign's own loop because every candidate is
//! a real case run (privileged processes, seconds each).
//!
//! Two phases. First proptest's own shrinking of the generated plan ([`PlanTree`]:
//! `simplify` after a candidate that still fails, `complicate` after one that does not),
//! when the plan came from a seed, with at most half of the run budget. Only candidates
//! that are smaller ([`PlanWeight`]: no component bigger, one smaller) are run; the
//! others (a different chunk size, another name) count as not failing without a run, so
//! runs go to structural cuts. Then greedy plan-level cuts ([`labeled_candidates`]:
//! remove a subvolume, half of the steps, a step, fold a mutation step into the initial
//! tree, remove an initial tree or half of it, simplify
//! a fault, half of a mutation step, an operation, halve a content; every candidate of
//! `gen::shrink::candidates` is among them): the first candidate that
//! still fails becomes the new plan and the list is rebuilt, until none does.
//!
//! **The rule.** Real processes and kernels are not fully deterministic, so a candidate
//! counts as failing only if a run of it shows a failing finding with the *same
//! property id* as the original failure. A candidate is run up to `attempts` times
//! (default 2): accepted on the first run that reproduces, rejected when none does. A
//! run that ends in a harness error or finds only other properties does not reproduce.
//! Results are cached by plan, so no plan is run twice by one shrink. The shrink stops
//! when no candidate reproduces (the plan is locally minimal), when the run or time
//! budget is spent, or on Ctrl-C; the plan it returns always reproduced in a real run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::profile::ShrinkBudget;
use super::runner::CaseRunner;
use super::verdict::{reproduces, FailOn};
use crate::engine::{CaseOptions, CaseReport};
use crate::gen::plan::{Mutation, Plan, Step};
use crate::gen::render::{mutation, step_line};
use crate::gen::shrink::{halve_content, op_refs, remove_op, remove_step, remove_subvolume, simplify_fault, OpRef};
use crate::gen::{normalize, PlanTree};
use crate::oracle::finding::Property;
use crate::tool::signals;

/// The rule, as the bug README states it.
pub const SHRINK_RULE: &str = "Shrink rule: a smaller candidate counts only if a run of it shows a failing finding with \
the same property id as the original failure. Each candidate is run up to `shrink_attempts` times (default 2): \
accepted on the first run that reproduces, rejected when none does; a harness error never reproduces.";

/// What a shrink keeps failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShrinkTarget {
    pub property: Property,
    pub fail_on: FailOn,
}

/// Why a shrink stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// No one-step simplification reproduces: the plan is locally minimal.
    Minimal,
    RunBudget,
    TimeBudget,
    Interrupted,
}

impl Stop {
    pub fn describe(self) -> &'static str {
        match self {
            Stop::Minimal => "no smaller candidate reproduces (locally minimal)",
            Stop::RunBudget => "the shrink run budget was spent",
            Stop::TimeBudget => "the shrink time budget was spent",
            Stop::Interrupted => "interrupted",
        }
    }
}

/// Counts and time of one shrink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrinkStats {
    /// Case runs spent.
    pub runs: u32,
    /// Candidates that reproduced (each became the new plan).
    pub accepted: u32,
    /// Of those, accepted in the proptest phase.
    pub accepted_by_proptest: u32,
    /// Candidates that did not reproduce in any of their runs.
    pub rejected: u32,
    pub elapsed_ms: u64,
    pub stop: Stop,
}

/// A one-step simplification of the final plan that the shrinker could not make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptPart {
    pub what: String,
    pub why: String,
}

/// The result: the smallest plan that reproduced, with its last reproducing report.
#[derive(Debug, Clone)]
pub struct Shrunk {
    pub plan: Plan,
    pub report: CaseReport,
    pub stats: ShrinkStats,
    pub kept: Vec<KeptPart>,
}

/// Shrinks `original` (which failed with `report`). `tree`: the proptest value tree the
/// plan was generated from, if any. `opts`: how each candidate is run (its `case_id`
/// is ignored: every run gets a fresh one).
pub fn shrink<R: CaseRunner + ?Sized>(
    runner: &R,
    original: &Plan,
    report: CaseReport,
    tree: Option<PlanTree>,
    target: &ShrinkTarget,
    budget: ShrinkBudget,
    opts: &CaseOptions,
) -> Shrunk {
    let opts = CaseOptions { case_id: None, keep_area: false, ..opts.clone() };
    let mut s = Search::new(runner, target, budget, opts, original, report);
    if let Some(tree) = tree {
        s.proptest_phase(tree, budget.max_runs / 2);
    }
    if s.stop.is_none() {
        s.greedy_phase();
    }
    s.finish()
}

struct Search<'a, R: ?Sized> {
    runner: &'a R,
    target: &'a ShrinkTarget,
    budget: ShrinkBudget,
    opts: CaseOptions,
    t0: Instant,
    stats: ShrinkStats,
    seen: HashMap<String, bool>,
    best: Plan,
    best_report: CaseReport,
    stop: Option<Stop>,
}

impl<'a, R: CaseRunner + ?Sized> Search<'a, R> {
    fn new(
        runner: &'a R,
        target: &'a ShrinkTarget,
        budget: ShrinkBudget,
        opts: CaseOptions,
        original: &Plan,
        report: CaseReport,
    ) -> Self {
        let stats =
            ShrinkStats { runs: 0, accepted: 0, accepted_by_proptest: 0, rejected: 0, elapsed_ms: 0, stop: Stop::Minimal };
        let mut seen = HashMap::new();
        seen.insert(key(original), true);
        Search {
            runner,
            target,
            budget,
            opts,
            t0: Instant::now(),
            stats,
            seen,
            best: original.clone(),
            best_report: report,
            stop: None,
        }
    }

    /// proptest's protocol: simplify while the candidate fails, complicate when not;
    /// a candidate that is not smaller than the best plan counts as not failing.
    fn proptest_phase(&mut self, mut tree: PlanTree, max_runs: u32) {
        let mut moves = 0;
        let mut more = tree.simplify();
        while more && moves < MAX_PROPTEST_MOVES && self.stats.runs < max_runs {
            moves += 1;
            let candidate = tree.current();
            let failed = if candidate == self.best {
                true
            } else if PlanWeight::of(&candidate).smaller_than(&PlanWeight::of(&self.best)) {
                let before = self.stats.accepted;
                let Some(failed) = self.test(&candidate) else { return };
                self.stats.accepted_by_proptest += self.stats.accepted - before;
                failed
            } else {
                false
            };
            more = if failed { tree.simplify() } else { tree.complicate() };
        }
    }

    /// Greedy first-improvement over the labeled one-step simplifications.
    fn greedy_phase(&mut self) {
        'rebuild: loop {
            for (_, candidate) in labeled_candidates(&self.best) {
                match self.test(&candidate) {
                    None => return,
                    Some(true) => continue 'rebuild,
                    Some(false) => {}
                }
            }
            self.stop = Some(Stop::Minimal);
            return;
        }
    }

    /// Whether `plan` reproduces the failure; `None` when the shrink must stop.
    fn test(&mut self, plan: &Plan) -> Option<bool> {
        let k = key(plan);
        if let Some(known) = self.seen.get(&k) {
            return Some(*known);
        }
        for _ in 0..self.budget.attempts.max(1) {
            if self.out_of_budget() {
                return None;
            }
            let report = self.runner.run(plan, &self.opts);
            self.stats.runs += 1;
            if report.interrupted {
                self.stop = Some(Stop::Interrupted);
                return None;
            }
            if reproduces(&report, self.target.property, &self.target.fail_on) {
                self.seen.insert(k, true);
                self.stats.accepted += 1;
                self.best = plan.clone();
                self.best_report = report;
                return Some(true);
            }
        }
        self.seen.insert(k, false);
        self.stats.rejected += 1;
        Some(false)
    }

    fn out_of_budget(&mut self) -> bool {
        let stop = if signals::interrupted() {
            Some(Stop::Interrupted)
        } else if self.stats.runs >= self.budget.max_runs {
            Some(Stop::RunBudget)
        } else if self.t0.elapsed() >= self.budget.max_time {
            Some(Stop::TimeBudget)
        } else {
            None
        };
        self.stop = self.stop.or(stop);
        stop.is_some()
    }

    fn finish(mut self) -> Shrunk {
        self.stats.stop = self.stop.unwrap_or(Stop::Minimal);
        self.stats.elapsed_ms = ms(self.t0.elapsed());
        let runs = self.budget.attempts.max(1);
        let kept = labeled_candidates(&self.best)
            .into_iter()
            .map(|(what, c)| {
                let why = match self.seen.get(&key(&c)) {
                    Some(false) => format!("without it the failure did not reproduce ({runs} run(s))"),
                    Some(true) => "reproduced, but a bigger cut was taken first".to_string(),
                    None => format!("not tried: {}", self.stats.stop.describe()),
                };
                KeptPart { what, why }
            })
            .collect();
        Shrunk { plan: self.best, report: self.best_report, stats: self.stats, kept }
    }
}

/// Most simplify/complicate moves of the proptest phase (each builds a plan: CPU only).
const MAX_PROPTEST_MOVES: u32 = 20_000;

/// The size of a plan, component by component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanWeight {
    pub subvolumes: usize,
    pub steps: usize,
    pub operations: usize,
    pub files: usize,
    pub bytes: u64,
    pub faults: usize,
}

impl PlanWeight {
    pub fn of(plan: &Plan) -> PlanWeight {
        let faults = plan
            .steps
            .iter()
            .filter(|s| match s {
                Step::Backup(b) => b.fault.is_some(),
                Step::Restore(r) => r.kill.is_some(),
                _ => false,
            })
            .count();
        PlanWeight {
            subvolumes: plan.subvolumes.len(),
            steps: plan.steps.len(),
            operations: op_refs(plan).len(),
            files: plan.files_written(),
            bytes: plan.bytes_written(),
            faults,
        }
    }

    fn parts(&self) -> [u64; 6] {
        [self.subvolumes as u64, self.steps as u64, self.operations as u64, self.files as u64, self.bytes, self.faults as u64]
    }

    /// No component bigger than `other`'s and at least one smaller.
    pub fn smaller_than(&self, other: &PlanWeight) -> bool {
        let (a, b) = (self.parts(), other.parts());
        a.iter().zip(b.iter()).all(|(x, y)| x <= y) && a != b
    }
}

fn key(plan: &Plan) -> String {
    serde_json::to_string(plan).expect("plans serialise")
}

fn ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// Every one-step simplification of `plan` with what it removes, biggest cuts first:
/// subvolumes, half of the steps, steps, mutation steps folded into the initial tree,
/// initial trees (whole and halves), faults,
/// halves of mutation steps, operations, halved contents. Contains every candidate of
/// `gen::shrink::candidates`; plans equal to `plan` and repeats are left out.
pub fn labeled_candidates(plan: &Plan) -> Vec<(String, Plan)> {
    let mut out: Vec<(String, Plan)> = Vec::new();
    for (i, s) in plan.subvolumes.iter().enumerate() {
        if let Some(p) = remove_subvolume(plan, i) {
            out.push((format!("subvolume {:?}", s.name), p));
        }
    }
    out.extend(halves(plan.steps.len(), "steps").map(|(what, range)| (what, without_steps(plan, range))));
    for (i, step) in plan.steps.iter().enumerate() {
        out.push((format!("step {i}: {}", step_line(step)), remove_step(plan, i)));
    }
    out.extend(folds(plan));
    out.extend(tree_cuts(plan));
    for (i, step) in plan.steps.iter().enumerate() {
        if let Some(p) = simplify_fault(plan, i) {
            out.push((format!("the fault of step {i} ({})", step_line(step)), p));
        }
    }
    out.extend(mutate_cuts(plan));
    let ops = op_refs(plan);
    for at in &ops {
        out.push((format!("operation {}", describe_op(plan, *at)), remove_op(plan, *at)));
    }
    for at in &ops {
        if let Some(p) = halve_content(plan, *at) {
            out.push((format!("half the content of {}", describe_op(plan, *at)), p));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|(_, p)| p != plan && seen.insert(key(p)));
    out
}

/// The first and second half of `0..len` (for `len >= 2`), labeled.
fn halves(len: usize, what: &str) -> impl Iterator<Item = (String, std::ops::Range<usize>)> {
    let mid = len / 2;
    let both = len >= 2;
    let first = both.then(|| (format!("the first half of the {what} (0..{mid})"), 0..mid));
    let second = both.then(|| (format!("the second half of the {what} ({mid}..{len})"), mid..len));
    second.into_iter().chain(first)
}

fn without_steps(plan: &Plan, range: std::ops::Range<usize>) -> Plan {
    let mut p = plan.clone();
    p.steps.drain(range);
    normalize(&p)
}

/// Each `Mutate` step folded into its subvolume's initial tree (one step fewer, the
/// same operations, applied before the first backup instead).
fn folds(plan: &Plan) -> Vec<(String, Plan)> {
    let mut out = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let Step::Mutate { subvolume, ops } = step else { continue };
        let mut p = plan.clone();
        let Some(s) = p.subvolumes.iter_mut().find(|s| &s.name == subvolume) else { continue };
        s.initial.extend(ops.iter().cloned());
        p.steps.remove(i);
        out.push((format!("step {i} as part of the initial tree of {subvolume:?}"), normalize(&p)));
    }
    out
}

/// Whole initial trees, then halves of them.
fn tree_cuts(plan: &Plan) -> Vec<(String, Plan)> {
    let mut out = Vec::new();
    for (i, s) in plan.subvolumes.iter().enumerate().filter(|(_, s)| !s.initial.is_empty()) {
        let mut p = plan.clone();
        p.subvolumes[i].initial.clear();
        out.push((format!("the whole initial tree of {:?}", s.name), normalize(&p)));
        for (what, range) in halves(s.initial.len(), &format!("initial operations of {:?}", s.name)) {
            let mut p = plan.clone();
            p.subvolumes[i].initial.drain(range);
            out.push((what, normalize(&p)));
        }
    }
    out
}

/// Halves of every `Mutate` step's operations.
fn mutate_cuts(plan: &Plan) -> Vec<(String, Plan)> {
    let mut out = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let Step::Mutate { ops, .. } = step else { continue };
        for (what, range) in halves(ops.len(), &format!("operations of step {i}")) {
            let mut p = plan.clone();
            if let Step::Mutate { ops, .. } = &mut p.steps[i] {
                ops.drain(range);
            }
            out.push((what, normalize(&p)));
        }
    }
    out
}

fn describe_op(plan: &Plan, at: OpRef) -> String {
    let (place, op): (String, Option<&Mutation>) = match at {
        OpRef::Initial { subvolume, index } => {
            let s = &plan.subvolumes[subvolume];
            (format!("initial tree of {:?}", s.name), s.initial.get(index))
        }
        OpRef::Step { step, index } => match &plan.steps[step] {
            Step::Mutate { ops, .. } => (format!("step {step}"), ops.get(index)),
            _ => (format!("step {step}"), None),
        },
    };
    match op {
        Some(m) => format!("`{}` ({place})", mutation(m)),
        None => format!("? ({place})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{generate, shrink::candidates, GenProfile};

    #[test]
    fn labeled_candidates_hold_every_gen_shrink_candidate_and_never_the_plan_itself() {
        for case in 0..12 {
            let plan = generate(5, case, &GenProfile::pr());
            let labeled: Vec<Plan> = labeled_candidates(&plan).into_iter().map(|(_, p)| p).collect();
            for c in candidates(&plan) {
                assert!(labeled.contains(&c), "case {case}: a gen::shrink candidate is missing");
            }
            assert!(labeled.iter().all(|p| *p != plan));
        }
    }

    #[test]
    fn a_plan_weight_is_smaller_only_when_no_part_grows() {
        let plan = generate(5, 1, &GenProfile::pr());
        let w = PlanWeight::of(&plan);
        assert!(!w.smaller_than(&w));
        let fewer = PlanWeight { steps: w.steps - 1, ..w };
        assert!(fewer.smaller_than(&w));
        assert!(!PlanWeight { files: w.files + 1, ..fewer }.smaller_than(&w));
    }
}
