//! Restore checks on crafted invocations: P9 refusal, P11 retry, P12 archive, P13
//! self-check agreement, and restores of a subvolume with nothing published.

#[path = "engine_support.rs"]
mod support;

use b2s3_harness::engine::history::{Invocation, Role};
use b2s3_harness::engine::judge::restore::{
    check_archive_restore, check_restore_refusal, check_restore_retry, check_restore_unpublished, check_self_check,
    persistent_restore_cause,
};
use b2s3_harness::engine::judge::{RestoreDiff, Verdict};
use b2s3_harness::oracle::finding::{Finding, Property, Severity};
use support::*;

const STEP: usize = 6;
const TARGET: &str = "/mnt/restore/data";

fn completed(mut inv: Invocation) -> Invocation {
    inv.events.push(ev(40, "INFO", "restore_verify_complete", &[("status", "ok"), ("mode", "full")]));
    inv.events.push(ev(50, "INFO", "restore_complete", &[("status", "ok")]));
    inv
}

fn failed_with(event: &str, error: &str) -> Invocation {
    let mut inv = restore_inv(Role::Restore, Some(1), TARGET);
    inv.events.push(ev(30, "ERROR", event, &[("error", error)]));
    inv
}

fn clean(v: &Verdict) {
    assert!(v.findings.is_empty() && v.undecided.is_empty(), "{v:#?}");
}

fn all_of(v: &Verdict, property: Property) -> usize {
    assert!(!v.findings.is_empty(), "expected a {property} finding: {v:#?}");
    assert!(v.properties().iter().all(|p| *p == property), "{v:#?}");
    v.findings.len()
}

// ---- P9 ----

#[test]
fn a_restore_refusing_an_existing_target_and_leaving_it_alone_is_correct() {
    let inv = failed_with("restore_failed", &format!("target path already exists: {TARGET}"));
    clean(&check_restore_refusal(STEP, &inv, Some(true)));
}

#[test]
fn a_restore_over_an_existing_target_is_a_p9_violation_on_every_count() {
    let inv = completed(restore_inv(Role::Restore, Some(0), TARGET));
    let v = check_restore_refusal(STEP, &inv, Some(false));
    assert_eq!(all_of(&v, Property::RestoreRefusal), 3, "exit code, missing refusal, changed target");
    assert_eq!(v.findings[0].subject.as_deref(), Some(TARGET));
}

#[test]
fn a_refusal_whose_target_was_not_compared_is_undecided() {
    let inv = failed_with("restore_failed", &format!("target path already exists: {TARGET}"));
    let v = check_restore_refusal(STEP, &inv, None);
    assert!(v.findings.is_empty() && v.undecided.len() == 1, "{v:#?}");
}

// ---- P11 ----

#[test]
fn a_retry_to_the_same_target_that_succeeds_after_a_kill_is_correct() {
    let first = restore_inv(Role::Restore, None, TARGET);
    clean(&check_restore_retry(STEP, &first, &completed(restore_inv(Role::Retry, Some(0), TARGET)), None));
}

#[test]
fn a_retry_that_trips_over_the_killed_attempts_leftovers_is_p11_robustness() {
    let first = restore_inv(Role::Restore, None, TARGET);
    let retry = failed_with("restore_failed", &format!("target path already exists: {TARGET}"));
    let v = check_restore_retry(STEP, &first, &retry, None);
    all_of(&v, Property::RetryAfterFailure);
    assert_eq!(v.findings[0].severity, Severity::Robustness);
    assert!(v.findings[0].subject.as_deref().unwrap().contains("target path already exists"));
}

#[test]
fn a_retry_of_a_failure_whose_cause_persists_is_not_judged() {
    let first = failed_with("restore_failed", "restore stream failed: InvalidObjectState");
    let retry = first.clone();
    let cause = persistent_restore_cause(false, true, false);
    assert!(cause.is_some());
    let v = check_restore_retry(STEP, &first, &retry, cause);
    clean(&v);
    assert_eq!(v.notes.len(), 1);
    assert_eq!(persistent_restore_cause(false, false, false), None);
}

#[test]
fn a_retry_to_another_target_is_undecided() {
    let first = restore_inv(Role::Restore, None, TARGET);
    let retry = completed(restore_inv(Role::Retry, Some(0), "/mnt/restore/other"));
    assert_eq!(check_restore_retry(STEP, &first, &retry, None).undecided.len(), 1);
}

// ---- P12 ----

#[test]
fn an_archive_restore_that_waits_and_succeeds_is_correct_and_one_that_fails_is_p12() {
    clean(&check_archive_restore(STEP, &completed(restore_inv(Role::Restore, Some(0), TARGET)), true, None));
    let inv = failed_with("restore_failed", "restore timeout waiting for case/subvol/data/full/chunk-x-0.bin");
    all_of(&check_archive_restore(STEP, &inv, true, None), Property::Archive);
}

#[test]
fn an_archive_restore_that_does_not_wait_must_fail_and_leave_no_target() {
    let refused = failed_with("restore_failed", "restore stream failed: InvalidObjectState");
    clean(&check_archive_restore(STEP, &refused, false, Some(false)));
    assert_eq!(all_of(&check_archive_restore(STEP, &refused, false, Some(true)), Property::Archive), 1);
    let read_anyway = completed(restore_inv(Role::Restore, Some(0), TARGET));
    assert_eq!(all_of(&check_archive_restore(STEP, &read_anyway, false, Some(false)), Property::Archive), 1);
    assert_eq!(check_archive_restore(STEP, &refused, false, None).undecided.len(), 1);
}

// ---- P13 and the restore's P1 ----

fn diff_finding() -> Finding {
    Finding::new(Property::RoundTrip, None, "content differs").subject("dir/file").expected_seen("sha 1", "sha 2")
}

#[test]
fn a_verification_failure_the_testers_diff_does_not_confirm_is_a_p13_false_alarm() {
    let mut inv = failed_with("restore_verify_failed", "hash mismatch for dir/file");
    inv.events.insert(0, ev(20, "INFO", "restore_metrics", &[("subvolume", "data")]));
    let v = check_self_check(STEP, &inv, &RestoreDiff::Clean);
    all_of(&v, Property::SelfCheckAgreement);
    assert_eq!(v.findings[0].severity, Severity::Robustness);
    assert_eq!(v.findings[0].seen.as_deref(), Some("hash mismatch for dir/file"));
}

#[test]
fn a_passed_verification_over_a_real_difference_is_p1_annotated_with_the_tools_line() {
    let inv = completed(restore_inv(Role::Restore, Some(0), TARGET));
    let v = check_self_check(STEP, &inv, &RestoreDiff::Differs { finding: diff_finding() });
    all_of(&v, Property::RoundTrip);
    assert!(v.findings[0].message.contains("event=restore_verify_complete"), "{}", v.findings[0].message);
    assert_eq!(v.findings[0].step, Some(STEP));
    assert_eq!(v.findings[0].subject.as_deref(), Some("dir/file"));
}

#[test]
fn a_failed_verification_over_a_real_difference_keeps_the_p1_finding_as_is() {
    let inv = failed_with("restore_verify_failed", "hash mismatch for dir/file");
    let v = check_self_check(STEP, &inv, &RestoreDiff::Differs { finding: diff_finding() });
    assert_eq!(v.findings[0].message, "content differs");
    all_of(&v, Property::RoundTrip);
}

#[test]
fn agreement_is_silent_and_an_uncompared_alarm_is_undecided() {
    clean(&check_self_check(STEP, &completed(restore_inv(Role::Restore, Some(0), TARGET)), &RestoreDiff::Clean));
    let inv = failed_with("restore_verify_failed", "missing file: a");
    let v = check_self_check(STEP, &inv, &RestoreDiff::NotCompared { why: "no model tree".into() });
    assert!(v.findings.is_empty() && v.undecided.len() == 1, "{v:#?}");
}

// ---- nothing published ----

#[test]
fn a_restore_of_a_never_published_subvolume_must_fail_and_succeeding_is_p1() {
    let refused = failed_with("restore_current_failed", "missing object case/subvol/data/current.json");
    clean(&check_restore_unpublished(STEP, "data", &refused));
    let v = check_restore_unpublished(STEP, "data", &completed(restore_inv(Role::Restore, Some(0), TARGET)));
    assert_eq!(all_of(&v, Property::RoundTrip), 1);
    assert_eq!(v.findings[0].severity, Severity::Violation);
}
