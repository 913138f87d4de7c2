//! Restore checks: P9 refusal of an existing target, P11 retry after a failed or killed
//! restore, P12 archive classes with and without waiting, P13 agreement between the
//! tool's own verification and the tester's diff, and restores of a subvolume that
//! has nothing published.
//!
//! The tree diff itself is the oracle's; it comes in as a [`RestoreDiff`].
//! [`check_self_check`] is the one place a restore's diff finding is turned into a
//! verdict, so that a P1 difference is reported once, annotated with what the tool's
//! verification said about it.

use crate::engine::history::{EventRecord, Invocation};
use crate::engine::judge::{finding, RestoreDiff, Verdict};
use crate::oracle::finding::Property;

const TARGET_EXISTS: &str = "target path already exists";

fn succeeded(inv: &Invocation) -> bool {
    inv.exit_code() == Some(0) && inv.event_with("restore_complete", "status", "ok").is_some()
}

/// What the restore's own failure line (or its end) says, for subjects.
fn account(inv: &Invocation) -> String {
    inv.first_error().map_or_else(|| inv.argv.join(" "), EventRecord::render)
}

/// P9: a restore onto an existing target exits 1 with `target path already exists`
/// and leaves the target unchanged (`target_unchanged`: the engine's before/after
/// comparison of the target; `None` if it made none).
pub fn check_restore_refusal(step: usize, inv: &Invocation, target_unchanged: Option<bool>) -> Verdict {
    let mut v = Verdict::default();
    let subject = inv.arg_value("--target").unwrap_or("--target").to_string();
    let fail = |msg: &str, expected: &str, seen: String| {
        finding(Property::RestoreRefusal, step, msg.to_string()).subject(subject.clone()).expected_seen(expected, seen)
    };
    if inv.exit_code() != Some(1) {
        v.find(fail("a restore onto an existing target did not fail with exit 1", "exit 1", inv.describe_end()));
    }
    let refused =
        inv.events_named("restore_failed").any(|e| e.field("error").is_some_and(|m| m.contains(TARGET_EXISTS)));
    if !refused {
        v.find(fail(
            "a restore onto an existing target did not refuse it",
            "event=restore_failed error=target path already exists",
            account(inv),
        ));
    }
    match target_unchanged {
        Some(true) => {}
        Some(false) => {
            v.find(fail("a refused restore changed the existing target", "target unchanged", "target changed".into()))
        }
        None => {
            v.cannot_decide(Property::RestoreRefusal, step, subject, "the target was not compared before and after")
        }
    }
    v
}

/// Why a failed restore would fail again identically, so that a retry proves nothing
/// (`None`: the cause was transient, a retry must succeed).
pub fn persistent_restore_cause(
    existing_target: bool,
    archived_without_wait: bool,
    nothing_published: bool,
) -> Option<&'static str> {
    if existing_target {
        Some("the target existed before the first attempt")
    } else if archived_without_wait {
        Some("the chunks are archived and the restore does not wait")
    } else if nothing_published {
        Some("nothing is published for this subvolume")
    } else {
        None
    }
}

/// P11: after a failed or killed restore, the same command to the same target path
/// succeeds without manual cleanup (unless `persistent_cause` explains the failure).
pub fn check_restore_retry(
    step: usize,
    first: &Invocation,
    retry: &Invocation,
    persistent_cause: Option<&str>,
) -> Verdict {
    let mut v = Verdict::default();
    if succeeded(first) {
        v.note("retry: the first restore succeeded, nothing to retry");
        return v;
    }
    if let Some(cause) = persistent_cause {
        v.note(format!("retry: not expected to succeed, {cause}"));
        return v;
    }
    let (t1, t2) = (first.arg_value("--target"), retry.arg_value("--target"));
    if t1 != t2 {
        let why = format!("the retry used target {t2:?}, the first attempt {t1:?}");
        v.cannot_decide(Property::RetryAfterFailure, step, "restore retry", why);
        return v;
    }
    if !succeeded(retry) {
        v.find(
            finding(
                Property::RetryAfterFailure,
                step,
                format!("retrying a restore that ended with {} failed", first.describe_end()),
            )
            .subject(account(retry))
            .expected_seen("exit 0 with event=restore_complete status=ok", retry.describe_end()),
        );
    }
    v
}

/// P12: with an archive storage class for chunks, a restore that waits succeeds; one
/// that does not wait fails with exit 1 and leaves nothing at the target
/// (`target_exists_after`: `None` if the engine did not look).
pub fn check_archive_restore(step: usize, inv: &Invocation, wait: bool, target_exists_after: Option<bool>) -> Verdict {
    let mut v = Verdict::default();
    if inv.was_signalled() {
        v.note("archive: the restore was killed, not judged");
        return v;
    }
    let target = inv.arg_value("--target").unwrap_or("--target").to_string();
    if wait {
        if !succeeded(inv) {
            v.find(
                finding(Property::Archive, step, "a restore of archived chunks that waits for them failed")
                    .subject(account(inv))
                    .expected_seen("exit 0 with event=restore_complete status=ok", inv.describe_end()),
            );
        }
        return v;
    }
    if inv.exit_code() != Some(1) {
        v.find(
            finding(Property::Archive, step, "a restore of archived chunks that does not wait did not fail")
                .subject(account(inv))
                .expected_seen("exit 1", inv.describe_end()),
        );
    }
    match target_exists_after {
        Some(false) => {}
        Some(true) => v.find(
            finding(
                Property::Archive,
                step,
                "a restore of archived chunks that does not wait left something at the target",
            )
            .subject(target)
            .expected_seen("nothing at the target", "the target exists"),
        ),
        None => v.cannot_decide(Property::Archive, step, target, "the target was not looked at after the restore"),
    }
    v
}

/// What the tool's own verification said.
enum ToolCheck<'a> {
    Failed(&'a EventRecord),
    /// `restore_verify_complete status=ok`, `restore_verify_skipped` or
    /// `restore_verify_source_missing` followed by success.
    Passed(&'a EventRecord),
    NotReached,
}

fn tool_check(inv: &Invocation) -> ToolCheck<'_> {
    if let Some(e) = inv.event("restore_verify_failed") {
        return ToolCheck::Failed(e);
    }
    let passed = inv
        .event_with("restore_verify_complete", "status", "ok")
        .or_else(|| inv.event("restore_verify_skipped"))
        .or_else(|| inv.event("restore_verify_source_missing"));
    passed.map_or(ToolCheck::NotReached, ToolCheck::Passed)
}

/// P13 and the restore's P1: the tool's verification against the tester's diff. A
/// false alarm (tool failed, diff clean) is P13; a difference is the oracle's P1
/// finding, annotated when the tool's verification passed it.
pub fn check_self_check(step: usize, inv: &Invocation, diff: &RestoreDiff) -> Verdict {
    let mut v = Verdict::default();
    match (tool_check(inv), diff) {
        (ToolCheck::Failed(e), RestoreDiff::Clean) => v.find(
            finding(
                Property::SelfCheckAgreement,
                step,
                "the tool's verification failed but the restored tree equals the model",
            )
            .subject(e.render())
            .expected_seen("no verification failure", e.field("error").unwrap_or("").to_string()),
        ),
        (ToolCheck::Failed(e), RestoreDiff::NotCompared { why }) => {
            let why = format!("the tester did not compare the restored tree ({why})");
            v.cannot_decide(Property::SelfCheckAgreement, step, e.render(), why);
        }
        (check, RestoreDiff::Differs { finding }) => {
            let mut f = finding.clone();
            f.step = f.step.or(Some(step));
            match check {
                ToolCheck::Passed(e) => {
                    f.message = format!("{} (the tool's own verification passed: {})", f.message, e.render())
                }
                ToolCheck::Failed(_) => v.note("self-check: the tool's verification also caught the difference"),
                ToolCheck::NotReached => {}
            }
            v.find(f);
        }
        (_, RestoreDiff::Clean | RestoreDiff::NotCompared { .. }) => {}
    }
    v
}

/// A restore of a subvolume with nothing published must fail with
/// `restore_current_failed`; succeeding means it restored something that was never
/// published (P1).
pub fn check_restore_unpublished(step: usize, subvolume: &str, inv: &Invocation) -> Verdict {
    let mut v = Verdict::default();
    match inv.exit_code() {
        Some(0) => v.find(
            finding(
                Property::RoundTrip,
                step,
                format!("a restore of {subvolume}, which has nothing published, succeeded"),
            )
            .subject(inv.arg_value("--target").unwrap_or("--target").to_string())
            .expected_seen("exit 1 with event=restore_current_failed", inv.describe_end()),
        ),
        Some(_) if inv.event("restore_current_failed").is_none() => {
            v.note(format!("unpublished restore failed without restore_current_failed: {}", inv.describe_end()));
        }
        _ => {}
    }
    v
}
