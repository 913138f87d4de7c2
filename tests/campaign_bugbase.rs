//! The bug base, with a fake runner: a failing case gets a folder holding the plans, the
//! findings, the reports, the tool's logs, the S3 listing, the tree diff and a README
//! with the replay command; the folder reads back as the shrunk plan (replay from a
//! folder) and the seed regenerates the original plan (replay from a seed); later
//! failures on the same property are recorded but not filed again.

mod campaign_support;

use b2s3_harness::campaign::bugbase::read_bug;
use b2s3_harness::campaign::progress::Silent;
use b2s3_harness::campaign::testkit::{FakeOutcome, FakeRunner};
use b2s3_harness::campaign::verdict::Verdict;
use b2s3_harness::campaign::{run, CampaignResult};
use b2s3_harness::gen::generate;
use b2s3_harness::gen::plan::{Plan, Step};
use b2s3_harness::oracle::finding::{Finding, Property};
use campaign_support::*;

const SEED: u64 = 4242;

/// Case 3 fails on P7 while its plan still has a backup; everything else passes.
fn case_three_fails(plan: &Plan, _: u32) -> FakeOutcome {
    let backup = plan.steps.iter().any(|s| matches!(s, Step::Backup(_)));
    if plan.case == Some(3) && backup {
        let f = Finding::new(Property::LayoutAndMetadata, Some(0), "object lacks the configured server-side encryption")
            .subject("p/subvol/a/current.json")
            .expected_seen("AES256", "none");
        let tree = Finding::new(Property::RoundTrip, Some(1), "restored tree differs").subject("a/b").expected_seen("file 3 B", "missing");
        FakeOutcome::Findings(vec![f, tree])
    } else {
        FakeOutcome::pass()
    }
}

fn campaign(dir: &std::path::Path, runner: &FakeRunner, cases: u64) -> CampaignResult {
    let mut p = profile(dir, cases);
    p.workers = 1;
    run(runner, &spec(dir, p, SEED), &Silent)
}

#[test]
fn a_failing_case_gets_a_bug_folder_with_everything_needed_to_replay_it() {
    let dir = tempfile::tempdir().unwrap();
    let runner = FakeRunner::new(case_three_fails).with_logs(dir.path().join("tool-logs"));
    let result = campaign(dir.path(), &runner, 6);
    let failed: Vec<_> = result.failures().collect();
    assert_eq!(failed.len(), 1);
    let f = failed[0].failure.as_ref().unwrap();
    let bug_dir = dir.path().join("bugs").join(format!("{SEED}-3-P7"));
    assert_eq!(f.bug_dir.as_deref(), Some(bug_dir.as_path()));
    for name in [
        "README.md", "bug.json", "original-plan.json", "original-plan.txt", "shrunk-plan.json", "shrunk-plan.txt",
        "findings.txt", "findings.json", "report.json", "original-report.json", "s3-listing.txt", "tree-diff.txt",
    ] {
        assert!(bug_dir.join(name).is_file(), "{name} is in the bug folder");
    }
    let logs: Vec<_> = std::fs::read_dir(bug_dir.join("logs")).unwrap().collect();
    assert_eq!(logs.len(), 1, "the kept run's tool log was copied");
    let replay = format!("/bin/b2s3-harness --config {} replay {}", dir.path().join("h.toml").display(), bug_dir.display());
    assert_eq!(f.replay, replay);
    let readme = std::fs::read_to_string(bug_dir.join("README.md")).unwrap();
    assert!(readme.contains(&replay) && readme.contains("P7 layout-and-metadata") && readme.contains("expected: AES256"), "{readme}");
    assert!(std::fs::read_to_string(bug_dir.join("s3-listing.txt")).unwrap().contains("subvol/a/current.json"));
    let diff = std::fs::read_to_string(bug_dir.join("tree-diff.txt")).unwrap();
    assert!(diff.contains("P1 round-trip") && diff.contains("expected: file 3 B"), "{diff}");
    let kept: Vec<_> = runner.ran.lock().unwrap().iter().filter(|(_, keep)| *keep).map(|(p, _)| p.clone()).collect();
    assert_eq!(kept.len(), 1, "one kept run of the shrunk plan");
    assert_eq!(runner.discarded.lock().unwrap().len(), 1, "and it was discarded after the folder was written");
}

#[test]
fn a_bug_folder_reads_back_as_its_shrunk_plan_and_its_seed_regenerates_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let runner = FakeRunner::new(case_three_fails);
    let result = campaign(dir.path(), &runner, 4);
    let bug_dir = result.failures().next().unwrap().failure.as_ref().unwrap().bug_dir.clone().unwrap();
    let bug = read_bug(&bug_dir).unwrap();
    assert_eq!(bug.meta.property, Some(Property::LayoutAndMetadata));
    assert_eq!((bug.meta.seed, bug.meta.case, bug.meta.profile.as_str()), (Some(SEED), Some(3), "pr"));
    assert_eq!(bug.plan.steps.len(), 1, "shrunk to the one backup the fake needs");
    assert!(bug.meta.last_run_reproduced);
    let original: Plan = serde_json::from_str(&std::fs::read_to_string(bug_dir.join("original-plan.json")).unwrap()).unwrap();
    assert_eq!(original, generate(SEED, 3, &profile(dir.path(), 4).gen), "replay --seed regenerates the original plan");
    assert!(bug.meta.replay_seed.unwrap().ends_with(&format!("replay --seed {SEED} --case 3 --profile pr")));
}

#[test]
fn a_shrunk_plan_above_four_steps_says_what_the_shrinker_could_not_remove() {
    let dir = tempfile::tempdir().unwrap();
    let runner = FakeRunner::new(|plan: &Plan, _| match plan.steps.len() >= 6 {
        true => FakeOutcome::finding(Property::Schedule, "needs six steps"),
        false => FakeOutcome::pass(),
    });
    let mut p = profile(dir.path(), 40);
    p.gen.steps_min = 7;
    p.workers = 1;
    let result = run(&runner, &spec(dir.path(), p, SEED), &Silent);
    let f = result.failures().next().expect("a case fails").failure.clone().unwrap();
    assert_eq!(f.shrunk.unwrap().steps, 6);
    let readme = std::fs::read_to_string(f.bug_dir.unwrap().join("README.md")).unwrap();
    assert!(readme.contains("## Why it is not smaller"), "{readme}");
    assert!(readme.contains("did not reproduce"), "{readme}");
}

#[test]
fn later_failures_on_the_same_property_are_recorded_but_not_filed_again() {
    let dir = tempfile::tempdir().unwrap();
    let runner = FakeRunner::new(|plan: &Plan, _| match plan.steps.iter().any(|s| matches!(s, Step::Backup(_))) {
        true => FakeOutcome::finding(Property::LayoutAndMetadata, "always"),
        false => FakeOutcome::pass(),
    });
    let result = campaign(dir.path(), &runner, 5);
    let failures: Vec<_> = result.failures().map(|r| r.failure.clone().unwrap()).collect();
    assert!(failures.len() >= 2);
    assert_eq!(failures.iter().filter(|f| f.bug_dir.is_some()).count(), 1, "one bug folder per property");
    for dup in failures.iter().filter(|f| f.bug_dir.is_none()) {
        assert!(dup.duplicate_of.is_some() && dup.replay.contains("replay --seed"));
    }
    assert_eq!(std::fs::read_dir(dir.path().join("bugs")).unwrap().count(), 1);
    assert!(result.records.iter().all(|r| r.verdict != Verdict::Interrupted));
}

#[test]
fn a_harness_error_is_filed_as_such_and_never_shrunk() {
    let dir = tempfile::tempdir().unwrap();
    let runner = FakeRunner::new(|plan: &Plan, _| match plan.case {
        Some(1) => FakeOutcome::HarnessError("mount vanished".into()),
        _ => FakeOutcome::pass(),
    });
    let result = campaign(dir.path(), &runner, 3);
    let r = result.records.iter().find(|r| r.case == 1).unwrap();
    assert_eq!(r.verdict, Verdict::HarnessError("mount vanished".into()));
    let f = r.failure.as_ref().unwrap();
    assert!(f.property.is_none() && f.shrink.is_none());
    let bug_dir = f.bug_dir.clone().unwrap();
    assert!(bug_dir.ends_with(format!("{SEED}-1-harness-error")));
    assert!(std::fs::read_to_string(bug_dir.join("README.md")).unwrap().contains("harness error"));
    assert_eq!(runner.runs(), 3, "no shrink run, no kept run");
    assert!(!dir.path().join("campaign.txt").exists(), "harness errors are not regressions of the tool");
}
