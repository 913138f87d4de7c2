//! The tester's planner model against CONTRACT.md 7, on crafted states and clocks.

use std::collections::BTreeMap;

use b2s3_harness::engine::expect::Expect;
use b2s3_harness::engine::names::parse_compact;
use b2s3_harness::engine::planner::{plan_run, Clock, PlanInput, RunExpectation, RunKind, SubvolPlan};
use b2s3_harness::engine::state::StateObservation;
use b2s3_harness::gen::plan::{BackupMode, BackupStep, ToolSettings, VerifyMode};
use chrono::{DateTime, TimeDelta, Utc};

const SNAP_DIR: &str = "/mnt/case/snapshots";
const DATA_MANIFEST: &str = "p/subvol/data/full/manifest-20260101T020000Z.json";
const DATA_SNAPSHOT: &str = "data__20260101T020001Z__full";

fn settings() -> ToolSettings {
    ToolSettings {
        chunk_size_bytes: 1 << 20,
        retain: 2,
        storage_class_chunks: "STANDARD".into(),
        storage_class_manifest: "STANDARD".into(),
        sse: "AES256".into(),
        concurrency: 1,
        spool_enabled: false,
        spool_size_bytes: 1 << 30,
        full_every_days: 180,
        incremental_every_days: 7,
        verify_mode: VerifyMode::Full,
        sample_max_files: 1000,
        wait_for_restore: true,
        restore_timeout_seconds: 60,
    }
}

fn backup(once: bool, mode: BackupMode, filters: &[&str]) -> BackupStep {
    BackupStep { gap_ms: 0, subvolumes: filters.iter().map(|s| s.to_string()).collect(), once, mode, fault: None }
}

fn t(compact: &str) -> DateTime<Utc> {
    parse_compact(compact).unwrap()
}

/// A state where `data` had a full at 2026-01-01 02:00 with its snapshot one second later.
fn state_with_data(last_full_at: &str) -> StateObservation {
    let text = format!(
        r#"{{"last_run_at": "20260101T020000Z", "subvolumes": {{"data": {{
            "last_full_at": "{last_full_at}", "last_manifest": "{DATA_MANIFEST}",
            "last_snapshot": "{SNAP_DIR}/{DATA_SNAPSHOT}"}}}}}}"#
    );
    let state = StateObservation::from_contents(Some(&text));
    assert!(state.parsed().is_some(), "crafted state must parse: {state:?}");
    state
}

fn snapshots(names: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in names {
        m.entry(n.split("__").next().unwrap().to_string()).or_default().push(n.to_string());
    }
    m
}

struct Case {
    configured: Vec<String>,
    snapshots: BTreeMap<String, Vec<String>>,
    state: StateObservation,
    flags: BackupStep,
    settings: ToolSettings,
    clock: Clock,
}

impl Case {
    fn new(state: StateObservation, clock: Clock) -> Case {
        Case {
            configured: vec!["data".into(), "logs".into()],
            snapshots: snapshots(&[DATA_SNAPSHOT]),
            state,
            flags: backup(false, BackupMode::Normal, &["data"]),
            settings: settings(),
            clock,
        }
    }

    fn plan(&self) -> RunExpectation {
        plan_run(&PlanInput {
            configured: &self.configured,
            snapshot_dir: SNAP_DIR,
            snapshots: &self.snapshots,
            state: &self.state,
            flags: &self.flags,
            settings: &self.settings,
            clock: self.clock,
        })
    }
}

fn incremental() -> SubvolPlan {
    SubvolPlan::Incremental {
        parent_snapshot: format!("{SNAP_DIR}/{DATA_SNAPSHOT}"),
        parent_manifest: DATA_MANIFEST.into(),
    }
}

fn data_plan(run: &RunExpectation) -> &Expect<SubvolPlan> {
    &run.subvolume("data").expect("data is selected").plan
}

#[test]
fn without_a_state_file_every_selected_subvolume_gets_a_full_in_config_order() {
    let mut case = Case::new(StateObservation::Absent, Clock::exact(t("20260102T020000Z")));
    case.flags = backup(false, BackupMode::Normal, &["logs", "data"]);
    let run = case.plan();
    assert_eq!(run.kind, Expect::known(RunKind::Backup));
    let names: Vec<&str> = run.subvolumes.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["data", "logs"]);
    assert!(run.subvolumes.iter().all(|s| s.plan == Expect::known(SubvolPlan::Full)));
}

#[test]
fn a_subvolume_backed_up_yesterday_is_not_due_and_the_run_has_nothing_due() {
    let run = Case::new(state_with_data("20260101T020000Z"), Clock::exact(t("20260102T020000Z"))).plan();
    assert_eq!(data_plan(&run), &Expect::known(SubvolPlan::NotDue));
    assert_eq!(run.kind, Expect::known(RunKind::NothingDue));
}

#[test]
fn once_turns_a_not_due_subvolume_into_an_incremental_on_the_state_parent() {
    let mut case = Case::new(state_with_data("20260101T020000Z"), Clock::exact(t("20260102T020000Z")));
    case.flags.once = true;
    let run = case.plan();
    assert_eq!(data_plan(&run), &Expect::known(incremental()));
    assert_eq!(run.kind, Expect::known(RunKind::Backup));
}

#[test]
fn a_parent_older_than_incremental_every_days_is_due_without_once() {
    let run = Case::new(state_with_data("20260101T020000Z"), Clock::exact(t("20260110T020000Z"))).plan();
    assert_eq!(data_plan(&run), &Expect::known(incremental()));
}

#[test]
fn an_old_last_full_at_in_extended_iso_form_forces_a_full_even_with_a_fresh_parent() {
    let run = Case::new(state_with_data("2000-01-01T00:00:00Z"), Clock::exact(t("20260102T020000Z"))).plan();
    assert_eq!(data_plan(&run), &Expect::known(SubvolPlan::Full));
}

#[test]
fn an_unparsable_last_full_at_means_full_but_a_date_like_unknown_form_is_undecided() {
    let run = Case::new(state_with_data("not a date"), Clock::exact(t("20260102T020000Z"))).plan();
    assert_eq!(data_plan(&run), &Expect::known(SubvolPlan::Full));
    let run = Case::new(state_with_data("2026-W01-4"), Clock::exact(t("20260102T020000Z"))).plan();
    assert_eq!(data_plan(&run).candidates(), &[SubvolPlan::Full, SubvolPlan::NotDue]);
}

#[test]
fn a_missing_parent_snapshot_means_full() {
    let mut case = Case::new(state_with_data("20260101T020000Z"), Clock::exact(t("20260110T020000Z")));
    case.snapshots = snapshots(&["data__20251201T020001Z__full"]);
    assert_eq!(data_plan(&case.plan()), &Expect::known(SubvolPlan::Full));
}

#[test]
fn an_age_exactly_at_the_incremental_boundary_is_undecided_between_not_due_and_incremental() {
    // The parent snapshot is named 20260101T020001Z; seven days later to the second.
    let run = Case::new(state_with_data("20260101T020000Z"), Clock::exact(t("20260108T020001Z"))).plan();
    assert_eq!(data_plan(&run).candidates(), &[SubvolPlan::NotDue, incremental()]);
    assert_eq!(run.kind.candidates(), &[RunKind::NothingDue, RunKind::Backup]);
}

#[test]
fn a_clock_window_straddling_the_full_boundary_is_undecided_and_says_why() {
    let boundary = t("20260101T020000Z") + TimeDelta::days(180);
    let clock = Clock::between(boundary - TimeDelta::milliseconds(300), boundary + TimeDelta::milliseconds(700));
    let run = Case::new(state_with_data("20260101T020000Z"), clock).plan();
    let plan = data_plan(&run);
    assert_eq!(plan.candidates(), &[SubvolPlan::Full, incremental()]);
    match plan {
        Expect::OneOf { why, .. } => assert!(why.contains("180-day boundary"), "{why}"),
        Expect::Known { .. } => unreachable!(),
    }
}

#[test]
fn a_clock_window_clear_of_every_boundary_is_decided() {
    let start = t("20260103T020000Z");
    let run =
        Case::new(state_with_data("20260101T020000Z"), Clock::between(start, start + TimeDelta::seconds(5))).plan();
    assert_eq!(data_plan(&run), &Expect::known(SubvolPlan::NotDue));
}

#[test]
fn a_subvolume_filter_matching_nothing_is_exit_2_with_no_plan() {
    let mut case = Case::new(StateObservation::Absent, Clock::exact(t("20260102T020000Z")));
    case.flags = backup(false, BackupMode::Normal, &["nope"]);
    let run = case.plan();
    assert_eq!(run.kind, Expect::known(RunKind::FilterMatchedNothing));
    assert_eq!(run.kind.candidates()[0].exit_code(), 2);
    assert!(run.subvolumes.is_empty());
}

#[test]
fn a_dry_run_plans_nothing_and_with_an_empty_selection_may_also_exit_2() {
    let mut case = Case::new(StateObservation::Absent, Clock::exact(t("20260102T020000Z")));
    case.flags = backup(false, BackupMode::DryRun, &[]);
    let run = case.plan();
    assert_eq!(run.kind, Expect::known(RunKind::DryRun));
    assert!(run.subvolumes.is_empty());
    case.flags = backup(false, BackupMode::DryRun, &["nope"]);
    assert_eq!(case.plan().kind.candidates(), &[RunKind::DryRun, RunKind::FilterMatchedNothing]);
}

#[test]
fn no_s3_still_plans_but_the_run_must_change_nothing() {
    let mut case = Case::new(StateObservation::Absent, Clock::exact(t("20260102T020000Z")));
    case.flags = backup(false, BackupMode::NoS3, &[]);
    let run = case.plan();
    assert_eq!(run.kind, Expect::known(RunKind::NoS3));
    assert!(RunKind::NoS3.changes_nothing());
    assert_eq!(run.may_be_due(), ["data", "logs"]);
}

#[test]
fn an_unreadable_state_file_leaves_the_plan_undecided_instead_of_assuming_empty() {
    let run = Case::new(StateObservation::from_contents(Some("{")), Clock::exact(t("20260102T020000Z"))).plan();
    assert!(data_plan(&run).value().is_none(), "{run:?}");
}
