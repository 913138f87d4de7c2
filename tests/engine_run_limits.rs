//! A tool that never ends: the case's time limit kills it, reports it as hung (P10,
//! robustness, with its last event), stops the case and still destroys the case area.

mod engine_run_support;

use std::time::{Duration, Instant};

use b2s3_harness::engine::CaseOptions;
use b2s3_harness::oracle::finding::{Property, Severity};
use engine_run_support::*;

/// A stand-in tool that logs `command_start` and then sleeps for ten minutes.
fn hanging_tool() -> Vec<String> {
    let script = "echo '2026-01-01 00:00:00,000 INFO btrfs_to_s3.cli event=command_start command=backup' >&2; sleep 600";
    vec![
        "/bin/sh".into(),
        "-c".into(),
        script.into(),
        "hanging-tool".into(),
    ]
}

#[test]
fn a_tool_that_hangs_is_killed_at_the_time_limit_and_reported_as_p10_with_its_last_event() {
    let world = World::with_tool("hang", &hanging_tool());
    let engine = world.engine();
    let plan = plan(
        "hang",
        vec![subvolume("data")],
        vec![
            backup(false, None),
            restore("data", b2s3_harness::gen::plan::RestoreSource::Current),
        ],
    );
    let options = CaseOptions {
        time_limit: Duration::from_secs(4),
        ..CaseOptions::default()
    };
    let started = Instant::now();
    let report = engine.run_case(&plan, &options);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the case took {:?}",
        started.elapsed()
    );
    let hung = report
        .findings
        .iter()
        .find(|f| f.property == Property::CleanFailure && f.message.contains("did not finish"))
        .unwrap_or_else(|| panic!("no hang finding:\n{}", report.render()));
    assert_eq!(hung.severity, Severity::Robustness);
    assert_eq!(hung.step, Some(0));
    assert!(
        hung.subject
            .as_deref()
            .unwrap_or("")
            .contains("event=command_start"),
        "{hung}"
    );
    assert!(
        report.stopped.is_some() && report.harness_error.is_none(),
        "{}",
        report.render()
    );
    assert_eq!(report.history.steps.len(), 1, "the restore step never ran");
    assert_eq!(report.exit_code(), 1);
    assert!(
        !world.case_area_exists(&report.case_id),
        "the case area was destroyed"
    );
}
