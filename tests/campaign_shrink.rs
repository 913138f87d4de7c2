//! Shrinking with a fake runner: it converges to a minimal plan for a synthetic failure,
//! it never accepts a candidate that does not reproduce the same property, it retries
//! a candidate before rejecting it, and it respects its run budget.

mod campaign_support;

use std::time::Duration;

use b2s3_harness::campaign::profile::ShrinkBudget;
use b2s3_harness::campaign::shrink::{shrink, Stop, ShrinkTarget};
use b2s3_harness::campaign::testkit::{FakeOutcome, FakeRunner};
use b2s3_harness::campaign::verdict::FailOn;
use b2s3_harness::campaign::CaseRunner;
use b2s3_harness::engine::CaseOptions;
use b2s3_harness::gen::plan::Plan;
use b2s3_harness::gen::{GenProfile, PlanTree};
use b2s3_harness::oracle::finding::{Property, Severity};
use campaign_support::*;

const SEED: u64 = 77;

fn fail_on() -> FailOn {
    [Severity::Violation, Severity::Robustness].into_iter().collect()
}

fn target(property: Property) -> ShrinkTarget {
    ShrinkTarget { property, fail_on: fail_on() }
}

fn budget(max_runs: u32) -> ShrinkBudget {
    ShrinkBudget { max_runs, max_time: Duration::from_secs(600), attempts: 2 }
}

/// The first case of `gen` whose plan fails synthetically, with its value tree.
fn failing_case(gen: &GenProfile) -> (u64, PlanTree) {
    (0..500)
        .map(|case| (case, PlanTree::new(SEED, case, gen)))
        .find(|(_, tree)| synthetic_failure(&tree.current()) && tree.current().steps.len() >= 4)
        .expect("some generated case has a killed backup and a file of at least 1 MiB")
}

fn synthetic_runner() -> FakeRunner {
    FakeRunner::new(|plan: &Plan, _| {
        if synthetic_failure(plan) {
            FakeOutcome::finding(Property::OldOrNew, "killed backup with a big file")
        } else {
            FakeOutcome::pass()
        }
    })
}

#[test]
fn shrinking_converges_to_one_killed_backup_and_one_file_of_at_least_one_mib() {
    let gen = big_kill_profile();
    let (case, tree) = failing_case(&gen);
    let original = tree.current();
    let runner = synthetic_runner();
    let report = runner.run(&original, &CaseOptions::default());
    let out = shrink(&runner, &original, report, Some(tree), &target(Property::OldOrNew), budget(400), &CaseOptions::default());
    let p = &out.plan;
    assert_eq!(out.stats.stop, Stop::Minimal, "case {case}: {:?}", out.stats);
    assert!(synthetic_failure(p), "the shrunk plan still fails");
    assert_eq!(p.steps.len(), 1, "only the killed backup is left:\n{}", b2s3_harness::gen::render(p));
    assert!(has_killed_backup(p));
    assert_eq!(p.subvolumes.len(), 1);
    assert_eq!(p.files_written(), 1, "one file is left:\n{}", b2s3_harness::gen::render(p));
    assert!((MIB..2 * MIB).contains(&largest_file(p)), "halving stopped between 1 and 2 MiB: {}", largest_file(p));
    assert!(out.stats.accepted >= 2 && out.stats.runs <= 400);
    assert!(out.kept.iter().all(|k| k.why.contains("did not reproduce")), "every remaining cut was tried and failed");
}

#[test]
fn a_candidate_failing_on_another_property_is_never_accepted() {
    let gen = big_kill_profile();
    let (_, tree) = failing_case(&gen);
    let original = tree.current();
    let first = original.clone();
    // The original fails on P3; every smaller plan fails too, but on P7.
    let runner = FakeRunner::new(move |plan: &Plan, _| {
        let property = if *plan == first { Property::OldOrNew } else { Property::LayoutAndMetadata };
        FakeOutcome::finding(property, "fails")
    });
    let report = runner.run(&original, &CaseOptions::default());
    let out = shrink(&runner, &original, report, Some(tree), &target(Property::OldOrNew), budget(30), &CaseOptions::default());
    assert_eq!(out.plan, original, "no candidate reproduced P3, so nothing was accepted");
    assert_eq!(out.stats.accepted, 0);
    assert!(out.stats.rejected > 0);
    assert_eq!(out.report.findings[0].property, Property::OldOrNew, "the kept report is one that reproduced");
}

#[test]
fn a_candidate_is_accepted_when_its_second_run_reproduces_and_rejected_after_two_misses() {
    let gen = big_kill_profile();
    let (_, tree) = failing_case(&gen);
    let original = tree.current();
    // Flaky: a smaller failing plan reproduces only on odd-numbered runs.
    let runner = FakeRunner::new(|plan: &Plan, n| match synthetic_failure(plan) && n % 2 == 1 {
        true => FakeOutcome::finding(Property::OldOrNew, "flaky"),
        false => FakeOutcome::pass(),
    });
    let report = FakeRunner::new(|_, _| FakeOutcome::finding(Property::OldOrNew, "x")).run(&original, &CaseOptions::default());
    let out = shrink(&runner, &original, report, None, &target(Property::OldOrNew), budget(400), &CaseOptions::default());
    assert!(out.stats.accepted > 0, "flaky candidates were accepted on their second run");
    assert!(out.plan.steps.len() < original.steps.len());
    assert!(synthetic_failure(&out.plan));
    let plans = runner.plans();
    for p in plans.iter().filter(|p| !synthetic_failure(p)) {
        assert_eq!(plans.iter().filter(|q| *q == p).count(), 2, "a non-failing candidate is run exactly twice, then rejected");
    }
}

#[test]
fn a_harness_error_never_counts_as_reproducing() {
    let gen = big_kill_profile();
    let (_, tree) = failing_case(&gen);
    let original = tree.current();
    let runner = FakeRunner::new(|_, _| FakeOutcome::HarnessError("loop device vanished".into()));
    let report = FakeRunner::new(|_, _| FakeOutcome::finding(Property::OldOrNew, "x")).run(&original, &CaseOptions::default());
    let out = shrink(&runner, &original, report, Some(tree), &target(Property::OldOrNew), budget(10), &CaseOptions::default());
    assert_eq!(out.plan, original);
    assert_eq!(out.stats.accepted, 0);
}

#[test]
fn the_shrink_stops_at_its_run_budget_with_a_plan_that_reproduced() {
    let gen = big_kill_profile();
    let (_, tree) = failing_case(&gen);
    let original = tree.current();
    let runner = synthetic_runner();
    let report = runner.run(&original, &CaseOptions::default());
    let before = runner.runs();
    let out = shrink(&runner, &original, report, Some(tree), &target(Property::OldOrNew), budget(3), &CaseOptions::default());
    assert_eq!(out.stats.stop, Stop::RunBudget);
    assert_eq!(runner.runs() - before, 3);
    assert!(synthetic_failure(&out.plan));
    assert!(out.kept.iter().any(|k| k.why.starts_with("not tried")));
}
