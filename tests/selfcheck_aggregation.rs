//! The self-check's hunting and scoring without btrfs: hunts over the fake runner stop at
//! the first confirmed finding, run the whole budget on a clean tool, and the summary's
//! found count, median, table, JSON and exit code follow from the hunts.

use std::time::Duration;

use b2s3_harness::campaign::profile::Base;
use b2s3_harness::campaign::selfcheck::expected::EXPECTED;
use b2s3_harness::campaign::selfcheck::{hunt, Hunt, HuntSpec, Machine, Selfcheck, VariantRow};
use b2s3_harness::campaign::testkit::{FakeOutcome, FakeRunner};
use b2s3_harness::campaign::CampaignProfile;
use b2s3_harness::gen::plan::Plan;
use b2s3_harness::oracle::finding::Property;

fn spec(cases: u64, workers: usize, stop_at_first: bool) -> HuntSpec {
    let mut profile = CampaignProfile::builtin("pr", Base::Pr);
    profile.cases = cases;
    profile.workers = workers;
    profile.time_budget = Duration::from_secs(600);
    profile.shrink.max_runs = 10;
    HuntSpec { profile, seeds: vec![1, 2, 3], stop_at_first }
}

fn machine() -> Machine {
    Machine { date: "2026-11-21T00:00:00Z".into(), nproc: 2, kernel: "6.1.0".into() }
}

/// Fails with P5 from hunt case 4 on (seed 2, case 1) onwards.
fn lock_bug(plan: &Plan, _: u32) -> FakeOutcome {
    match (plan.seed, plan.case) {
        (Some(2), Some(c)) if c >= 1 => FakeOutcome::finding(Property::MutualExclusion, "second backup exited 0"),
        (Some(_), Some(c)) if c >= 2 => FakeOutcome::finding(Property::MutualExclusion, "second backup exited 0"),
        _ => FakeOutcome::pass(),
    }
}

fn found_after(variant: &str, secs: f64) -> VariantRow {
    let runner = FakeRunner::new(lock_bug);
    let mut h = hunt(&runner, &spec(20, 1, true));
    h.found.as_mut().expect("found").secs_until = secs;
    VariantRow::new(variant, h)
}

fn clean(cases: u64) -> Hunt {
    hunt(&FakeRunner::new(|_, _| FakeOutcome::pass()), &spec(cases, 2, false))
}

#[test]
fn a_variant_hunt_stops_at_its_first_confirmed_finding_and_counts_the_cases_until_it() {
    let runner = FakeRunner::new(lock_bug);
    let h = hunt(&runner, &spec(20, 1, true));
    let f = h.found.as_ref().expect("the lock bug is found");
    assert_eq!((f.failure.property, f.failure.seed, f.failure.case), (Property::MutualExclusion, 2, 1));
    assert_eq!(f.cases_until, 5, "cases run until the finding: seeds 1,2,3 case 0, then seeds 1,2 case 1");
    assert_eq!(h.cases, 5, "no case after the finding");
    assert!(f.shrunk.steps <= f.original.steps && f.shrink_runs > 0);
    let hunt_cases = runner.plans().iter().filter(|p| p.seed.is_some() && p.case.is_some()).count();
    assert!(runner.runs() as usize > hunt_cases.min(5), "the shrink and the confirmation ran the plan again");
}

#[test]
fn a_finding_that_does_not_reproduce_is_not_confirmed_and_the_hunt_goes_on() {
    // Only the very first run of anything fails: the shrink and the confirmation never reproduce.
    let runner = FakeRunner::new(|_, n| if n == 0 { FakeOutcome::finding(Property::Retention, "flaky") } else { FakeOutcome::pass() });
    let h = hunt(&runner, &spec(6, 1, true));
    assert!(h.found.is_none());
    assert_eq!((h.unconfirmed, h.cases, h.failures.len()), (1, 6, 1));
}

#[test]
fn the_correct_tool_runs_the_whole_budget_on_every_worker_and_counts_its_findings() {
    let h = clean(7);
    assert_eq!((h.cases, h.failures.len()), (7, 0));
    let alarms = hunt(&FakeRunner::new(lock_bug), &spec(9, 2, false));
    assert_eq!(alarms.cases, 9, "a false alarm does not stop the correct tool's hunt");
    assert!(alarms.found.is_none() && alarms.failures.len() == 4);
}

#[test]
fn all_variants_found_and_no_false_alarm_passes_with_the_median_time_to_find() {
    let rows = vec![found_after("no-lock", 30.0), found_after("missing-sse", 10.0), found_after("prune-parent", 50.0), found_after("x", 20.0)];
    let check = Selfcheck::new(machine(), "pr", vec![1, 2, 3], clean(3), rows);
    assert_eq!((check.found, check.false_alarms, check.passed, check.exit_code()), (4, 0, true, 0));
    assert_eq!(check.median_secs_to_find, Some(25.0));
    assert_eq!(check.variants[0].property_expected, Some(true), "P5 is what no-lock breaks");
    assert_eq!(check.variants[1].property_expected, Some(false), "missing-sse breaks P7, not P5");
    assert_eq!(check.variants[3].property_expected, None, "x is not a documented variant");
}

#[test]
fn a_missed_variant_or_a_false_alarm_fails_the_selfcheck_with_exit_1() {
    let missed = VariantRow::new("restore-skip-hash", clean(4));
    let check = Selfcheck::new(machine(), "pr", vec![1], clean(2), vec![found_after("no-lock", 12.0), missed]);
    assert_eq!((check.found, check.passed, check.exit_code()), (1, false, 1));
    assert_eq!(check.median_secs_to_find, Some(12.0), "the median covers found variants only");
    let alarm = hunt(&FakeRunner::new(lock_bug), &spec(9, 1, false));
    let check = Selfcheck::new(machine(), "pr", vec![1], alarm, vec![found_after("no-lock", 12.0)]);
    assert_eq!((check.false_alarms, check.exit_code()), (4, 1));
    let skipped = Selfcheck::new(machine(), "pr", vec![1], clean(0), vec![found_after("no-lock", 12.0)]);
    assert_eq!(skipped.exit_code(), 1, "a correct tool that ran no case proves nothing");
}

#[test]
fn the_table_and_the_json_show_each_variant_with_its_property_cases_and_shrunk_size() {
    let missed = VariantRow::new("restore-skip-hash", clean(4));
    let check = Selfcheck::new(machine(), "pr", vec![1, 2, 3], clean(3), vec![found_after("no-lock", 42.0), missed]);
    let table = check.table();
    let no_lock = table.lines().find(|l| l.starts_with("| no-lock |")).expect("no-lock row");
    assert!(no_lock.starts_with("| no-lock | yes | P5 | yes | 5 | 42 |"), "{no_lock}");
    assert!(table.contains("| restore-skip-hash | no | - | - | 4 |"), "{table}");
    assert!(table.contains("| correct | 0 finding(s) | - | - | 3 |"), "{table}");
    assert!(table.contains("found 1 of 2 variants; median time to first finding 42 s") && table.contains("FAIL"), "{table}");
    assert!(table.starts_with("selfcheck: profile pr, seeds 1,2,3, 2026-11-21T00:00:00Z, nproc 2, kernel 6.1.0"));
    let json: serde_json::Value = serde_json::to_value(&check).unwrap();
    assert_eq!(json["variants"][0]["hunt"]["found"]["failure"]["property"], "P5");
    assert_eq!(json["variants"][0]["hunt"]["found"]["cases_until"], 5);
    assert!(json["variants"][0]["hunt"]["found"]["shrunk"]["bytes"].is_u64());
    assert_eq!(json["variants"][1]["found"], false);
    assert_eq!((json["machine"]["nproc"].as_u64(), json["passed"].as_bool()), (Some(2), Some(false)));
}

#[test]
fn the_expected_properties_are_the_breaks_column_of_the_reference_readme() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/reference/README.md")).unwrap();
    let section = readme.split("## Bug variants").nth(1).and_then(|s| s.split("\n## ").next()).expect("a Bug variants section");
    let rows: Vec<(String, Vec<String>)> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_string(), cells[3].split(',').map(|p| p.trim().to_string()).collect())
        })
        .collect();
    let ours: Vec<(String, Vec<String>)> = EXPECTED.iter().map(|(v, ps)| (v.to_string(), ps.iter().map(|p| p.to_string()).collect())).collect();
    assert_eq!(rows, ours);
}
