//! The engine over the reference tool, fault-free: a full backup, mutations, an
//! incremental with `--once`, restores of `current.json` and of the older manifest.
//! Every restore is compared with the model, and the correct tool yields no finding.

mod engine_run_support;

use b2s3_harness::engine::history::Role;
use b2s3_harness::gen::plan::{RestoreSource, VerifyMode};
use engine_run_support::*;

#[test]
fn a_restore_served_a_corrupted_chunk_fails_cleanly_and_its_retry_restores_the_model() {
    let world = World::new("corrupt");
    let engine = world.engine();
    let plan = plan(
        "corrupted chunk",
        vec![subvolume("data")],
        vec![
            backup(false, None),
            mutate("data", 7),
            backup(true, None),
            corrupt_restore("data", 0, VerifyMode::Full),
            corrupt_restore("data", 1, VerifyMode::None),
        ],
    );
    let report = run(&engine, &plan);
    eprintln!("{}", report.render());
    assert_clean(&report);
    for index in [3, 4] {
        let rec = step(&report, index);
        assert_eq!(roles(rec), vec![Role::Restore, Role::Retry], "step {index}");
        let first = &rec.invocations[0];
        assert_eq!(first.exit_code(), Some(1), "step {index}: the corrupted attempt fails");
        let failed = first.events_named("restore_failed").next().expect("restore_failed");
        assert!(
            failed.field("error").is_some_and(|e| e.contains("hash mismatch for")),
            "step {index}: {failed:?}"
        );
        assert_eq!(rec.invocations[1].exit_code(), Some(0), "step {index}: the retry succeeds");
        assert!(
            rec.notes.iter().any(|n| n.starts_with("restore fault: the first attempt is served")),
            "step {index}: {:?}",
            rec.notes
        );
    }
}

#[test]
fn a_full_an_incremental_and_restores_of_both_manifests_give_no_finding_on_the_correct_tool() {
    let world = World::new("roundtrip");
    let engine = world.engine();
    let plan = plan(
        "round trip",
        vec![subvolume("data"), subvolume("home")],
        vec![
            backup(false, None),
            mutate("data", 7),
            backup(true, None),
            restore("data", RestoreSource::Current),
            restore("data", RestoreSource::Manifest { back: 1 }),
            restore("home", RestoreSource::Manifest { back: 0 }),
        ],
    );
    let report = run(&engine, &plan);
    eprintln!("{}", report.summary());
    assert_clean(&report);
    assert_eq!(report.exit_code(), 0);
    // Both backups published both subvolumes: a full, then an incremental for "data".
    let incremental = step(&report, 2);
    let uploaded: Vec<String> = incremental.invocations[0]
        .events_named("backup_uploaded")
        .filter_map(|e| e.field("manifest_key").map(str::to_string))
        .collect();
    assert!(
        uploaded.iter().any(|k| k.contains("/data/incremental/")),
        "{uploaded:?}"
    );
    // Every restore ran once, succeeded, and was compared (no undecided round trip).
    for index in [3, 4, 5] {
        let rec = step(&report, index);
        assert_eq!(roles(rec), vec![Role::Restore]);
        assert_eq!(
            rec.invocations[0].exit_code(),
            Some(0),
            "{:?}",
            rec.invocations[0].events
        );
    }
    assert!(
        report.undecided.iter().all(|u| u.property.id() != "P1"),
        "{:?}",
        report.undecided
    );
    // The end of the case restored nothing again: data's current.json was verified at step 3
    // and home's (an unchanged incremental) was not, so exactly one final restore ran.
    let finals: Vec<_> = report
        .history
        .steps
        .iter()
        .filter(|s| s.index == plan.steps.len())
        .collect();
    assert_eq!(
        finals.len(),
        1,
        "final restores: {:?}",
        finals.iter().map(|s| &s.step).collect::<Vec<_>>()
    );
}
