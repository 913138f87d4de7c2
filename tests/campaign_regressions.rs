//! The regressions file. With a fake runner: a failing case's seed is appended once,
//! and the next campaign replays it before its own cases. Against the reference tool:
//! every entry of the committed `proptest-regressions/campaign.txt` replays without a
//! finding (an entry there is a regression of the reference or of the tester, and this
//! test fails with the command replaying it), and the same check, on a temp file with
//! an entry and a buggy reference, does fail with that command.

mod campaign_support;

use b2s3_harness::campaign::progress::Silent;
use b2s3_harness::campaign::regressions::{self, Entry};
use b2s3_harness::campaign::testkit::{FakeOutcome, FakeRunner};
use b2s3_harness::campaign::verdict::FailOn;
use b2s3_harness::campaign::{run, CommandLine, Job};
use b2s3_harness::config::Config;
use b2s3_harness::engine::CaseOptions;
use b2s3_harness::gen::plan::{BackupMode, Plan, Step};
use b2s3_harness::gen::{generate, GenProfile};
use b2s3_harness::oracle::finding::{Property, Severity};
use campaign_support::*;

fn fails_on_case(case: u64) -> impl Fn(&Plan, u32) -> FakeOutcome + Sync {
    move |plan: &Plan, _| match plan.case == Some(case) && !plan.steps.is_empty() {
        true => FakeOutcome::finding(Property::Recovery, "the next backup failed"),
        false => FakeOutcome::pass(),
    }
}

#[test]
fn a_failing_seed_is_appended_once_and_replayed_first_by_the_next_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("campaign.txt");
    let runner = FakeRunner::new(fails_on_case(2));
    let mut p = profile(dir.path(), 4);
    p.workers = 1;
    let result = run(&runner, &spec(dir.path(), p.clone(), 11), &Silent);
    assert!(result.failures().next().unwrap().failure.as_ref().unwrap().regression_added);
    let entries = regressions::read(&file).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].seed, entries[0].case, entries[0].profile.as_str()), (11, 2, "pr"));
    assert!(entries[0].note.starts_with("P4 recovery, "), "{}", entries[0].note);

    // The next campaign (another seed) replays the entry before its own cases.
    let next = FakeRunner::new(fails_on_case(99));
    let mut s = spec(dir.path(), p, 12);
    s.regressions =
        entries.iter().map(|e| Job { seed: e.seed, case: e.case, profile: e.profile.clone(), gen: GenProfile::pr(), regression: true }).collect();
    let second = run(&next, &s, &Silent);
    assert_eq!(next.plans()[0], generate(11, 2, &GenProfile::pr()), "the regression ran first");
    assert!(second.records[0].regression && second.records[0].seed == 11);
    assert_eq!(second.records.len(), 5);
    assert_eq!(regressions::read(&file).unwrap().len(), 1, "nothing new failed, nothing appended");
}

fn fail_on() -> FailOn {
    [Severity::Violation, Severity::Robustness].into_iter().collect()
}

fn reference_config() -> Config {
    Config::load_with_env(&repo().join("config/reference.toml"), |_| None).expect("config/reference.toml loads")
}

#[test]
fn every_entry_of_the_committed_regressions_file_replays_without_a_finding() {
    let path = repo().join("proptest-regressions/campaign.txt");
    let entries = regressions::read(&path).expect("the committed regressions file parses");
    if entries.is_empty() {
        eprintln!("{}: no entries, nothing to replay", path.display());
        return;
    }
    let (jobs, skipped) = regressions::jobs(&reference_config(), entries);
    assert!(skipped.is_empty(), "{skipped:?}");
    let world = World::new("regressions", None, "");
    let commands = CommandLine { exe: BIN.into(), ..CommandLine::current(&reference_config()) };
    let failed = regressions::replay_all(&world.engine(), &jobs, &fail_on(), &CaseOptions::default(), &commands);
    assert!(failed.is_empty(), "regressions of the reference or of the tester:\n{}", failed.join("\n"));
}

/// The first PR case (of seed 5) whose plan starts with a normal backup.
fn case_with_a_backup() -> u64 {
    (0..100)
        .find(|c| matches!(generate(5, *c, &GenProfile::pr()).steps.first(), Some(Step::Backup(b)) if b.mode == BackupMode::Normal && b.fault.is_none()))
        .expect("a PR case starts with a plain backup")
}

#[test]
fn an_entry_replayed_against_a_buggy_reference_fails_with_its_replay_command() {
    let world = World::new("regressions-bug", Some("missing-sse"), "");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("campaign.txt");
    let case = case_with_a_backup();
    regressions::append(&file, &Entry { seed: 5, case, profile: "pr".into(), note: "P7 test".into() }).unwrap();
    let (jobs, skipped) = regressions::jobs(&world.run.load(), regressions::read(&file).unwrap());
    assert!(skipped.is_empty());
    let commands = CommandLine { exe: BIN.into(), ..CommandLine::current(&world.run.load()) };
    let failed = regressions::replay_all(&world.engine(), &jobs, &fail_on(), &CaseOptions::default(), &commands);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("fails: [P7 layout-and-metadata"), "{}", failed[0]);
    assert!(failed[0].contains(&format!("replay --seed 5 --case {case} --profile pr")), "{}", failed[0]);
}
