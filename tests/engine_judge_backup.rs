//! Backup-side checks on crafted histories: P3 old-or-new, P4/P6 publish, P6 schedule
//! and runs that must change nothing. Each check gets a history that shows its finding
//! and one that is correct.

#[path = "engine_support.rs"]
mod support;

use std::collections::BTreeMap;

use b2s3_harness::engine::expect::Expect;
use b2s3_harness::engine::history::{
    History, Invocation, KillReason, KillRecord, Observation, ObservedAt, Role, StepRecord,
};
use b2s3_harness::engine::judge::old_or_new::{check_old_or_new, check_restored_candidate, pointer_side, Side};
use b2s3_harness::engine::judge::publish::{check_due_published, PriorFailure};
use b2s3_harness::engine::judge::schedule::{check_inert_run, check_schedule};
use b2s3_harness::engine::judge::{BackupRun, RestoreDiff, Verdict};
use b2s3_harness::engine::killpoint::{KillLanding, Phase, SubvolumeLanding};
use b2s3_harness::engine::names::Kind::{Full, Incremental};
use b2s3_harness::engine::planner::{RunExpectation, RunKind, SubvolPlan, SubvolumeExpectation};
use b2s3_harness::engine::state::StateObservation;
use b2s3_harness::gen::plan::{BackupMode, BackupStep, Step};
use b2s3_harness::oracle::finding::{Finding, Property, Severity};
use support::*;

const STEP: usize = 4;

/// Observations around a run, where `data` had a full at TS1 before it.
struct Fixture {
    before: Observation,
    after: Observation,
    inv: Invocation,
}

impl Fixture {
    fn new(code: Option<i32>) -> Fixture {
        let mut before = empty(ObservedAt::BeforeStep);
        publish(&mut before, "data", Full, TS1, None);
        let mut after = before.clone();
        after.at = ObservedAt::AfterInvocation { index: 0 };
        Fixture { before, after, inv: backup_inv(Role::Backup, 0, 100, code, &[]) }
    }

    fn run(&self) -> BackupRun<'_> {
        BackupRun { step: STEP, invocation: &self.inv, before: &self.before, after: &self.after }
    }

    /// The run publishes an incremental of `data` on TS1 and logs it.
    fn publish_incremental(&mut self) -> String {
        let key = publish(&mut self.after, "data", Incremental, TS2, Some(&manifest_key("data", Full, TS1)));
        self.inv.events.extend(uploaded_events(10, "data", Incremental, TS2));
        key
    }
}

fn only(v: &Verdict, property: Property) -> &Finding {
    assert_eq!(v.properties(), [property], "{v:#?}");
    &v.findings[0]
}

fn clean(v: &Verdict) {
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
    assert!(v.undecided.is_empty(), "{:#?}", v.undecided);
}

fn incremental_on_ts1() -> SubvolPlan {
    SubvolPlan::Incremental {
        parent_snapshot: format!("{SNAP_DIR}/{}", snapshot_name("data", TS1, Full)),
        parent_manifest: manifest_key("data", Full, TS1),
    }
}

fn expect(kind: RunKind, plans: Vec<(&str, Expect<SubvolPlan>)>) -> RunExpectation {
    RunExpectation {
        kind: Expect::known(kind),
        subvolumes: plans
            .into_iter()
            .map(|(name, plan)| SubvolumeExpectation { name: name.into(), plan, reasons: vec!["crafted".into()] })
            .collect(),
    }
}

fn data_due_incremental() -> RunExpectation {
    expect(RunKind::Backup, vec![("data", Expect::known(incremental_on_ts1()))])
}

// ---- P3 old-or-new ----

#[test]
fn a_kill_that_left_every_pointer_alone_is_old_and_fine() {
    let mut f = Fixture::new(None);
    add_snapshot(&mut f.after, "data", TS2, Incremental);
    add_chunks(&mut f.after, "data", Incremental, TS2, &[CHUNK]);
    clean(&check_old_or_new(&f.run(), &BTreeMap::new()));
    assert_eq!(pointer_side(&f.run(), "data"), Some(Side::Old));
}

#[test]
fn a_pointer_moved_to_the_runs_complete_manifest_is_new_and_fine() {
    let mut f = Fixture::new(None);
    let key = f.publish_incremental();
    clean(&check_old_or_new(&f.run(), &BTreeMap::from([(key, true)])));
    assert_eq!(pointer_side(&f.run(), "data"), Some(Side::New));
}

#[test]
fn a_pointer_moved_to_the_runs_incomplete_manifest_is_a_p3_violation() {
    let mut f = Fixture::new(None);
    let key = f.publish_incremental();
    let v = check_old_or_new(&f.run(), &BTreeMap::from([(key.clone(), false)]));
    let finding = only(&v, Property::OldOrNew);
    assert_eq!(finding.severity, Severity::Violation);
    assert_eq!(finding.step, Some(STEP));
    assert_eq!(finding.subject.as_deref(), Some("case/subvol/data/current.json"));
    assert_eq!(finding.seen.as_deref(), Some(key.as_str()));
}

#[test]
fn a_pointer_moved_to_a_manifest_that_does_not_exist_is_a_p3_violation() {
    let mut f = Fixture::new(None);
    set_pointer(&mut f.after, "data", Incremental, TS2);
    let v = check_old_or_new(&f.run(), &BTreeMap::new());
    assert!(only(&v, Property::OldOrNew).message.contains("does not exist"), "{v:#?}");
    assert_eq!(pointer_side(&f.run(), "data"), None);
}

#[test]
fn a_pointer_that_vanished_or_became_unreadable_is_a_p3_violation() {
    let mut f = Fixture::new(None);
    f.after.store.pointers.clear();
    f.after.store.unreadable_pointers.insert("data".into(), "truncated JSON".into());
    let v = check_old_or_new(&f.run(), &BTreeMap::new());
    assert!(only(&v, Property::OldOrNew).seen.as_deref().unwrap().contains("truncated JSON"), "{v:#?}");
}

#[test]
fn a_new_manifest_without_a_completeness_verdict_is_undecided_not_passed() {
    let mut f = Fixture::new(None);
    f.publish_incremental();
    let v = check_old_or_new(&f.run(), &BTreeMap::new());
    assert!(v.findings.is_empty());
    assert_eq!(v.undecided.len(), 1, "{v:#?}");
}

fn differs(what: &str) -> RestoreDiff {
    RestoreDiff::Differs {
        finding: Finding::new(Property::RoundTrip, Some(STEP), format!("content differs at {what}")),
    }
}

#[test]
fn a_restore_equal_to_the_tree_the_pointer_names_is_fine() {
    clean(&check_restored_candidate(STEP, "data", Side::New, &differs("a"), &RestoreDiff::Clean));
}

#[test]
fn a_restore_equal_to_the_other_candidate_is_a_p3_violation() {
    let v = check_restored_candidate(STEP, "data", Side::New, &RestoreDiff::Clean, &differs("a"));
    assert_eq!(only(&v, Property::OldOrNew).seen.as_deref(), Some("the old model tree"));
}

#[test]
fn a_restore_matching_neither_candidate_is_a_p3_mix() {
    let v = check_restored_candidate(STEP, "data", Side::Old, &differs("old/x"), &differs("new/y"));
    let finding = only(&v, Property::OldOrNew);
    assert!(finding.message.contains("a mix"));
    assert!(finding.seen.as_deref().unwrap().contains("old/x"), "{finding:#?}");
}

#[test]
fn a_restore_not_compared_with_its_candidate_is_undecided() {
    let no_tree = RestoreDiff::NotCompared { why: "restore failed".into() };
    let v = check_restored_candidate(STEP, "data", Side::Old, &differs("x"), &no_tree);
    assert!(v.findings.is_empty() && v.undecided.len() == 1, "{v:#?}");
}

// ---- P4 recovery / P6 due backups publish ----

fn after_kill() -> PriorFailure {
    PriorFailure { step: 3, how: "killed at during_upload".into() }
}

#[test]
fn a_fault_free_backup_after_a_kill_that_publishes_is_a_recovery() {
    let mut f = Fixture::new(Some(0));
    f.publish_incremental();
    clean(&check_due_published(&f.run(), &data_due_incremental(), Some(&after_kill())));
}

#[test]
fn a_fault_free_backup_after_a_kill_that_exits_1_is_a_p4_violation_naming_the_error_line() {
    let mut f = Fixture::new(Some(1));
    f.inv.events.push(ev(3, "ERROR", "backup_stream_failed", &[("subvolume", "data"), ("error", "boom")]));
    let v = check_due_published(&f.run(), &data_due_incremental(), Some(&after_kill()));
    let finding = only(&v, Property::Recovery);
    assert!(finding.subject.as_deref().unwrap().contains("event=backup_stream_failed"), "{finding:#?}");
    assert!(finding.message.contains("step 3"), "{}", finding.message);
}

#[test]
fn a_recovery_run_that_exits_0_without_publishing_a_due_subvolume_is_a_p4_violation() {
    let f = Fixture::new(Some(0));
    let v = check_due_published(&f.run(), &data_due_incremental(), Some(&after_kill()));
    assert!(only(&v, Property::Recovery).seen.as_deref().unwrap().starts_with("pointer still names"), "{v:#?}");
}

#[test]
fn a_due_backup_with_no_failure_before_it_that_does_not_publish_is_p6() {
    let f = Fixture::new(Some(0));
    only(&check_due_published(&f.run(), &data_due_incremental(), None), Property::Schedule);
}

#[test]
fn a_subvolume_undecided_between_due_and_not_due_passes_when_the_tool_says_not_due() {
    let mut f = Fixture::new(Some(0));
    f.inv.events.push(ev(3, "INFO", "backup_not_due", &[("subvolume", "data"), ("reason", "incremental_not_due")]));
    let plan = Expect::one_of(vec![SubvolPlan::NotDue, incremental_on_ts1()], "at the 7-day boundary");
    let run = RunExpectation {
        kind: Expect::one_of(vec![RunKind::NothingDue, RunKind::Backup], "x"),
        ..expect(RunKind::Backup, vec![("data", plan)])
    };
    clean(&check_due_published(&f.run(), &run, None));
}

fn backup_step(index: usize, invocations: Vec<Invocation>) -> StepRecord {
    let plan = BackupStep { gap_ms: 0, subvolumes: vec![], once: false, mode: BackupMode::Normal, fault: None };
    let mut record = StepRecord::new(index, Step::Backup(plan));
    record.invocations = invocations;
    record
}

fn killed_during_upload() -> Invocation {
    let mut inv = backup_inv(Role::Backup, 0, 100, None, &[]);
    let landed = KillLanding {
        subvolumes: vec![SubvolumeLanding {
            subvolume: "data".into(),
            phase: Expect::known(Phase::DuringUpload),
            evidence: String::new(),
        }],
        not_due: vec![],
        summary: Expect::known(Phase::DuringUpload),
        anomalies: vec![],
    };
    inv.kill = Some(KillRecord { reason: KillReason::Fault, aimed: None, at_ms: 90, landed: Some(landed) });
    inv
}

#[test]
fn the_failure_a_backup_recovers_from_is_the_latest_one_not_followed_by_a_success() {
    let mut history = History::default();
    history.steps.push(backup_step(3, vec![killed_during_upload()]));
    let mut refused = backup_inv(Role::Contender, 0, 10, Some(1), &[]);
    refused.events.push(ev(5, "ERROR", "backup_lock_failed", &[("error", "lock already held by pid 1")]));
    history.steps.push(backup_step(4, vec![backup_inv(Role::Backup, 0, 10, Some(0), &["--dry-run"]), refused]));
    let prior = history.prior_failure().expect("the kill at step 3");
    assert_eq!(prior, PriorFailure { step: 3, how: "killed at data=during_upload".into() });
    history.steps.push(backup_step(5, vec![backup_inv(Role::Backup, 0, 10, Some(0), &[])]));
    assert_eq!(history.prior_failure(), None);
}

// ---- P6 schedule ----

#[test]
fn a_correct_incremental_with_the_state_parent_and_updated_state_has_no_schedule_finding() {
    let mut f = Fixture::new(Some(0));
    f.publish_incremental();
    clean(&check_schedule(&f.run(), &data_due_incremental()));
}

#[test]
fn a_full_where_an_incremental_was_due_is_p6_with_the_first_place_it_shows() {
    let mut f = Fixture::new(Some(0));
    publish(&mut f.after, "data", Full, TS2, None);
    f.inv.events.extend(uploaded_events(10, "data", Full, TS2));
    let v = check_schedule(&f.run(), &data_due_incremental());
    let finding = only(&v, Property::Schedule);
    assert!(finding.subject.as_deref().unwrap().contains("event=snapshot_created"), "{finding:#?}");
    assert_eq!(finding.seen.as_deref(), Some("full"));
}

#[test]
fn an_incremental_chained_to_another_manifest_than_the_states_last_is_p6() {
    let mut f = Fixture::new(Some(0));
    let wrong = manifest_key("data", Full, "20251201T020000Z");
    publish(&mut f.after, "data", Incremental, TS2, Some(&wrong));
    let v = check_schedule(&f.run(), &data_due_incremental());
    let finding = only(&v, Property::Schedule);
    assert!(finding.subject.as_deref().unwrap().ends_with("parent_manifest"));
    assert_eq!(finding.seen.as_deref(), Some(wrong.as_str()));
}

#[test]
fn a_not_due_subvolume_that_was_backed_up_is_p6() {
    let mut f = Fixture::new(Some(0));
    f.publish_incremental();
    let v = check_schedule(&f.run(), &expect(RunKind::NothingDue, vec![("data", Expect::known(SubvolPlan::NotDue))]));
    assert!(only(&v, Property::Schedule).expected.as_deref().unwrap().starts_with("not due"), "{v:#?}");
}

#[test]
fn a_published_backup_the_state_does_not_record_is_p6() {
    let mut f = Fixture::new(Some(0));
    f.publish_incremental();
    f.after.state = f.before.state.clone();
    let v = check_schedule(&f.run(), &data_due_incremental());
    assert_eq!(only(&v, Property::Schedule).subject.as_deref(), Some("state: subvolumes.data.last_manifest"));
}

#[test]
fn a_not_due_subvolume_left_alone_without_its_log_line_is_a_robustness_finding() {
    let f = Fixture::new(Some(0));
    let run = expect(RunKind::NothingDue, vec![("data", Expect::known(SubvolPlan::NotDue))]);
    let v = check_schedule(&f.run(), &run);
    assert_eq!(only(&v, Property::Schedule).severity, Severity::Robustness);
}

#[test]
fn an_undecided_kind_resolved_by_the_run_is_noted_not_found() {
    let mut f = Fixture::new(Some(0));
    f.publish_incremental();
    let plan = Expect::one_of(vec![SubvolPlan::Full, incremental_on_ts1()], "at the 180-day boundary");
    let v = check_schedule(&f.run(), &expect(RunKind::Backup, vec![("data", plan)]));
    clean(&v);
    assert!(v.notes.iter().any(|n| n.contains("resolved to incremental")), "{:?}", v.notes);
}

// ---- runs that must change nothing ----

fn inert(kind: RunKind) -> RunExpectation {
    expect(kind, vec![])
}

#[test]
fn a_dry_run_that_logged_its_event_and_changed_nothing_is_fine() {
    let mut f = Fixture::new(Some(0));
    f.inv.events.push(ev(1, "INFO", "backup_dry_run", &[("status", "skipped")]));
    clean(&check_inert_run(&f.run(), &inert(RunKind::DryRun)));
}

#[test]
fn a_dry_run_that_uploaded_a_chunk_is_a_p6_violation() {
    let mut f = Fixture::new(Some(0));
    f.inv.events.push(ev(1, "INFO", "backup_dry_run", &[("status", "skipped")]));
    add_chunks(&mut f.after, "data", Incremental, TS2, &[CHUNK]);
    let v = check_inert_run(&f.run(), &inert(RunKind::DryRun));
    let finding = only(&v, Property::Schedule);
    assert_eq!(finding.severity, Severity::Violation);
    assert_eq!(finding.subject.as_deref(), Some(chunk_key("data", Incremental, TS2, 0).as_str()));
}

#[test]
fn a_no_s3_run_that_took_a_snapshot_is_a_p6_violation() {
    let mut f = Fixture::new(Some(0));
    f.inv.events.push(ev(1, "INFO", "backup_no_s3", &[("status", "skipped")]));
    let name = add_snapshot(&mut f.after, "data", TS2, Incremental);
    let v = check_inert_run(&f.run(), &inert(RunKind::NoS3));
    assert_eq!(only(&v, Property::Schedule).subject.as_deref(), Some(name.as_str()));
}

#[test]
fn a_dry_run_without_its_event_is_a_robustness_finding_only() {
    let f = Fixture::new(Some(0));
    let v = check_inert_run(&f.run(), &inert(RunKind::DryRun));
    assert_eq!(only(&v, Property::Schedule).severity, Severity::Robustness);
}

#[test]
fn an_empty_selection_that_exits_0_has_the_wrong_code() {
    let mut f = Fixture::new(Some(0));
    f.inv.events.push(ev(1, "ERROR", "backup_no_subvolumes", &[("status", "failed")]));
    let v = check_inert_run(&f.run(), &inert(RunKind::FilterMatchedNothing));
    let finding = only(&v, Property::Schedule);
    assert_eq!(finding.expected.as_deref(), Some("exit 2"));
    assert_eq!(finding.severity, Severity::Robustness);
}

#[test]
fn a_nothing_due_run_may_rewrite_last_run_at_but_not_a_subvolume_entry() {
    let mut f = Fixture::new(Some(0));
    f.inv.events.push(ev(1, "INFO", "backup_not_due", &[("status", "skipped")]));
    let mut file = state(&f.after);
    file.last_run_at = Some(TS3.into());
    f.after.state = StateObservation::Parsed { file: file.clone() };
    clean(&check_inert_run(&f.run(), &inert(RunKind::NothingDue)));
    file.subvolumes.get_mut("data").unwrap().last_manifest = Some("elsewhere".into());
    f.after.state = StateObservation::Parsed { file };
    assert_eq!(
        only(&check_inert_run(&f.run(), &inert(RunKind::NothingDue)), Property::Schedule).subject.as_deref(),
        Some("state file")
    );
}

#[test]
fn a_no_s3_run_with_nothing_due_may_log_not_due_instead() {
    let mut f = Fixture::new(Some(0));
    f.inv.events.push(ev(1, "INFO", "backup_not_due", &[("status", "skipped")]));
    let run = expect(RunKind::NoS3, vec![("data", Expect::known(SubvolPlan::NotDue))]);
    clean(&check_inert_run(&f.run(), &run));
    let run = expect(RunKind::NoS3, vec![("data", Expect::known(incremental_on_ts1()))]);
    only(&check_inert_run(&f.run(), &run), Property::Schedule);
}
