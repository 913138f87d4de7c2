//! P10 clean-failure on crafted invocation outcomes: documented exits pass, undocumented
//! codes, silent failures, mismatched codes and tracebacks are findings.

use std::collections::BTreeMap;

use b2s3_harness::oracle::events::{check_invocation, traceback, InvocationOutcome, LogEvent};
use b2s3_harness::oracle::finding::{Finding, Property, Severity};

const LOCK_LINE: &str = "2026-01-01 02:00:00,001 ERROR btrfs_to_s3.cli event=backup_lock_failed error=lock already held by pid 77\n";
const TRACEBACK: &str = "Traceback (most recent call last):\n  File \"/x/cli.py\", line 3, in main\n    run()\nKeyError: 'last_full_at'\n";

fn event(name: &str, level: Option<&str>) -> LogEvent {
    LogEvent {
        name: name.into(),
        level: level.map(str::to_string),
        fields: BTreeMap::new(),
    }
}

fn judge(exit_code: Option<i32>, events: &[LogEvent], stderr: &str) -> Vec<Finding> {
    let outcome = InvocationOutcome {
        exit_code,
        killed_by_harness: false,
        events,
        stderr,
    };
    let findings = check_invocation(&outcome, "backup", Some(2));
    assert!(findings.iter().all(|f| f.property == Property::CleanFailure
        && f.severity == Severity::Robustness
        && f.step == Some(2)));
    findings
}

#[test]
fn documented_successes_and_failures_give_no_finding() {
    assert_eq!(
        judge(Some(0), &[event("backup_uploaded", Some("INFO"))], ""),
        vec![]
    );
    assert_eq!(
        judge(
            Some(1),
            &[event("backup_lock_failed", Some("ERROR"))],
            LOCK_LINE
        ),
        vec![]
    );
    assert_eq!(
        judge(Some(1), &[], LOCK_LINE),
        vec![],
        "the raw ERROR line is enough without a parsed level"
    );
    assert_eq!(
        judge(Some(2), &[], "config error: s3.bucket is required\n"),
        vec![]
    );
    assert_eq!(judge(Some(2), &[], "usage: btrfs_to_s3 backup [-h]\nbtrfs_to_s3 backup: error: unrecognized arguments: --x\n"), vec![]);
}

#[test]
fn an_exit_code_outside_the_contract_is_a_finding() {
    let findings = judge(Some(3), &[event("backup_stream_failed", Some("ERROR"))], "");
    assert!(
        findings.iter().any(
            |f| f.seen.as_deref() == Some("3") && f.message.contains("outside CONTRACT.md 1.3")
        ),
        "{findings:#?}"
    );
}

#[test]
fn a_failure_without_an_error_line_is_a_finding_naming_the_last_stderr_line() {
    let findings = judge(
        Some(1),
        &[event("command_start", Some("INFO"))],
        "2026 INFO btrfs_to_s3.cli event=command_start\nboom\n",
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].subject.as_deref(), Some("boom"));
}

#[test]
fn an_error_event_with_the_wrong_exit_code_is_a_finding() {
    let findings = judge(Some(1), &[event("backup_no_subvolumes", Some("ERROR"))], "");
    assert_eq!(findings.len(), 1);
    assert_eq!(
        (findings[0].expected.as_deref(), findings[0].seen.as_deref()),
        (Some("2"), Some("1"))
    );
    let zero = judge(
        Some(0),
        &[event("restore_verify_failed", Some("ERROR"))],
        "",
    );
    assert_eq!(zero.len(), 1);
    assert_eq!(zero[0].subject.as_deref(), Some("restore_verify_failed"));
}

#[test]
fn a_python_traceback_is_a_finding_naming_the_exception() {
    let findings = judge(Some(1), &[], TRACEBACK);
    assert_eq!(
        findings.len(),
        1,
        "the traceback explains the missing error line: {findings:#?}"
    );
    assert_eq!(
        findings[0].subject.as_deref(),
        Some("KeyError: 'last_full_at'")
    );
    assert_eq!(traceback("all fine\n"), None);
}

#[test]
fn a_process_killed_by_the_harness_is_only_checked_for_tracebacks() {
    let outcome = InvocationOutcome {
        exit_code: None,
        killed_by_harness: true,
        events: &[],
        stderr: "",
    };
    assert_eq!(check_invocation(&outcome, "backup", None), vec![]);
    let outcome = InvocationOutcome {
        exit_code: None,
        killed_by_harness: true,
        events: &[],
        stderr: TRACEBACK,
    };
    assert_eq!(check_invocation(&outcome, "backup", None).len(), 1);
}

#[test]
fn dying_by_a_signal_nobody_sent_is_a_finding() {
    let findings = judge(None, &[], "");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].seen.as_deref(), Some("killed by a signal"));
}
