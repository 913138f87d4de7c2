//! The engine finds the reference tool's deliberate defects, each named by the property
//! it breaks. The variant is chosen the black-box way: `B2S3_REF_BUG` in the harness's
//! own environment, passed to the tool through `tool.pass_env`. The tests of this binary
//! run one at a time (they share the process environment) and each clears the variable
//! before it releases the others.

mod engine_run_support;

use std::sync::{Mutex, MutexGuard};

use b2s3_harness::engine::CaseReport;
use b2s3_harness::gen::plan::*;
use b2s3_harness::oracle::finding::Property;
use engine_run_support::*;

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the environment for one variant; clears it on drop.
struct Variant<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

impl Variant<'_> {
    /// `Some(name)`: that variant; `None`: the correct tool.
    fn set(name: Option<&str>) -> Variant<'static> {
        let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        match name {
            Some(name) => std::env::set_var("B2S3_REF_BUG", name),
            None => std::env::remove_var("B2S3_REF_BUG"),
        }
        Variant(guard)
    }
}

impl Drop for Variant<'_> {
    fn drop(&mut self) {
        std::env::remove_var("B2S3_REF_BUG");
    }
}

/// Runs `plan` against the variant; the report.
fn against(variant: &str, plan: &Plan) -> CaseReport {
    run_with(Some(variant), plan)
}

/// Runs `plan` against the variant, or the correct tool for `None`; the report.
fn run_with(variant: Option<&str>, plan: &Plan) -> CaseReport {
    let label = variant.unwrap_or("correct");
    let world = World::new(label);
    let engine = world.engine();
    let _env = Variant::set(variant);
    let report = run(&engine, plan);
    eprintln!("{label}:\n{}", report.render());
    assert!(
        report.harness_error.is_none(),
        "{label}: harness error {:?}",
        report.harness_error
    );
    report
}

fn assert_found(report: &CaseReport, property: Property) {
    assert!(
        failing_properties(report).contains(&property),
        "expected a {} finding, got {:?}\n{}",
        property.id(),
        failing_properties(report),
        report.render()
    );
    assert_eq!(report.exit_code(), 1);
}

fn full_then_incremental(name: &str) -> Plan {
    plan(
        name,
        vec![subvolume("data")],
        vec![backup(false, None), mutate("data", 6), backup(true, None)],
    )
}

#[test]
fn no_lock_lets_a_contender_make_progress_while_the_first_backup_runs_and_that_is_p5() {
    let p = plan(
        "no-lock contender",
        vec![subvolume("data")],
        vec![backup(
            false,
            Some(BackupFault::Contender {
                simultaneous: false,
            }),
        )],
    );
    assert_found(&against("no-lock", &p), Property::MutualExclusion);
}

#[test]
fn a_pointer_written_before_its_manifest_and_a_kill_before_the_manifest_is_p2_and_p3() {
    let mut p = full_then_incremental("pointer before manifest");
    p.steps[2] = backup(true, kill_on_request(ObjectClass::Manifest, 1, true));
    let report = against("pointer-before-manifest", &p);
    assert_found(&report, Property::OldOrNew);
    assert_found(&report, Property::NoPartialPublish);
}

/// Full backup, mutate, a backup cut after its snapshot by `fault`, then `--once`
/// (the recovery P4 speaks of) and a restore of what it published.
fn failed_then_once(name: &str, fault: BackupFault) -> Plan {
    let mut p = full_then_incremental(name);
    p.steps[2] = backup(true, Some(fault));
    p.steps.push(backup(true, None));
    p.steps.push(restore("data", RestoreSource::Current));
    p
}

#[test]
fn a_once_after_a_backup_failed_or_killed_mid_upload_chains_to_a_manifest_that_exists() {
    let faults = [
        BackupFault::S3Error {
            at: RequestPoint {
                object: ObjectClass::Chunk,
                nth: 1,
            },
            status: 500,
        },
        kill_on_request(ObjectClass::Chunk, 1, true).unwrap(),
    ];
    for fault in faults {
        let p = failed_then_once("failed then once", fault);
        assert_clean(&run_with(None, &p));
        let report = against("state-before-upload", &p);
        let found = failing_properties(&report);
        assert!(
            found.contains(&Property::NoPartialPublish) || found.contains(&Property::Recovery),
            "expected a P2 or P4 finding, got {found:?}\n{}",
            report.render()
        );
        let first = report
            .failing()
            .find(|f| matches!(f.property, Property::NoPartialPublish | Property::Recovery))
            .unwrap();
        // The state the cut backup left is P4 at once; the --once then breaks the chain.
        assert_eq!(first.step, Some(2), "found at the failed backup: {first}");
        assert_eq!(first.property, Property::Recovery, "{first}");
        assert!(report.failing().any(|f| f.step == Some(3)), "{}", report.render());
    }
}

#[test]
fn a_failed_backup_that_leaves_the_state_naming_a_missing_manifest_is_p4_at_once() {
    let fault = BackupFault::S3Error {
        at: RequestPoint {
            object: ObjectClass::Manifest,
            nth: 1,
        },
        status: 500,
    };
    let mut p = full_then_incremental("failed, nothing after");
    p.steps[2] = backup(true, Some(fault));
    assert_clean(&run_with(None, &p));
    let report = against("state-before-upload", &p);
    let first = report.failing().next().expect("a finding");
    assert_eq!((first.property, first.step), (Property::Recovery, Some(2)), "{first}");
}

#[test]
fn dropping_the_last_partial_chunk_breaks_the_stream_and_the_restore() {
    let mut p = full_then_incremental("drop last partial chunk");
    p.steps.push(restore("data", RestoreSource::Current));
    let report = against("drop-last-partial-chunk", &p);
    assert_found(&report, Property::LayoutAndMetadata);
    assert_found(&report, Property::RoundTrip);
}

#[test]
fn a_restore_that_ignores_the_incrementals_is_a_p1_difference() {
    let mut p = full_then_incremental("restore full only");
    p.steps.push(restore("data", RestoreSource::Current));
    let report = against("restore-full-only", &p);
    assert_found(&report, Property::RoundTrip);
    let first = report
        .failing()
        .find(|f| f.property == Property::RoundTrip)
        .unwrap();
    assert_eq!(first.step, Some(3), "found at the restore step: {first}");
}

#[test]
fn a_stale_lock_that_is_never_taken_over_blocks_the_backup_and_that_is_p5() {
    let stale = Some(BackupFault::StaleLock {
        content: StaleLock::DeadPid,
    });
    let p = plan(
        "stale lock never taken",
        vec![subvolume("data")],
        vec![backup(false, stale)],
    );
    assert_found(
        &against("stale-lock-never-taken", &p),
        Property::MutualExclusion,
    );
}

#[test]
fn manifests_and_pointers_in_the_chunks_archive_class_are_p7_and_not_a_missing_publish() {
    let mut p = plan("manifest chunk class", vec![subvolume("data")], vec![backup(false, None)]);
    p.tool.storage_class_chunks = "DEEP_ARCHIVE".into();
    let report = against("manifest-chunk-class", &p);
    assert_found(&report, Property::LayoutAndMetadata);
    assert!(
        !failing_properties(&report).contains(&Property::Schedule),
        "an archived pointer is not a missing publish:\n{}",
        report.render()
    );
}

#[test]
fn manifests_and_pointers_without_sse_are_p7() {
    assert_found(
        &against("missing-sse", &full_then_incremental("missing sse")),
        Property::LayoutAndMetadata,
    );
}

#[test]
fn pruning_the_snapshot_the_state_records_is_p8() {
    let mut p = full_then_incremental("prune parent");
    p.tool.retain = 1;
    p.steps.extend([mutate("data", 8), backup(true, None)]);
    // The next --once is a full, and rightly so: its parent snapshot is gone. The
    // defect is the pruning itself.
    assert_found(&against("prune-parent", &p), Property::Retention);
}

#[test]
fn an_incremental_chained_to_the_full_instead_of_its_parent_is_p6() {
    let mut p = full_then_incremental("wrong parent manifest");
    p.steps.extend([mutate("data", 8), backup(true, None)]);
    assert_found(&against("wrong-parent-manifest", &p), Property::Schedule);
}

#[test]
fn a_restore_that_does_not_check_chunk_hashes_restores_a_corrupted_chunk_and_that_is_p1() {
    let mut p = full_then_incremental("restore skip hash");
    p.steps.push(corrupt_restore("data", 0, VerifyMode::None));
    let report = against("restore-skip-hash", &p);
    assert_found(&report, Property::RoundTrip);
    let first = report.failing().next().unwrap();
    assert_eq!(first.step, Some(3), "found at the corrupted restore: {first}");
}

#[test]
fn a_restore_that_fails_mid_chain_and_leaves_a_partial_target_fails_its_retry_p11() {
    // The incremental's chunk is corrupted: the full is already at the target when the
    // restore fails, and the retry finds it there.
    let mut p = full_then_incremental("restore leave partial");
    p.steps.push(corrupt_restore("data", 0, VerifyMode::Full));
    let report = against("restore-leave-partial", &p);
    assert_found(&report, Property::RetryAfterFailure);
}

#[test]
fn an_archived_restore_that_does_not_wait_although_asked_to_is_p12() {
    let mut p = plan(
        "archive no wait",
        vec![subvolume("data")],
        vec![backup(false, None)],
    );
    p.tool.storage_class_chunks = "GLACIER".into();
    p.steps.push(Step::Restore(RestoreStep {
        subvolume: "data".into(),
        source: RestoreSource::Current,
        verify: VerifyMode::Full,
        wait: Some(true),
        existing_target: false,
        kill: None,
        fault: None,
        retry: false,
    }));
    assert_found(&against("archive-no-wait", &p), Property::Archive);
}
