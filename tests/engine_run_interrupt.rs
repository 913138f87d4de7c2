//! Ctrl-C during a case: the harness's SIGINT handler kills the running tool, the case
//! stops at once, reports "interrupted" (exit 130) and still destroys its area. Alone in
//! its binary: the interrupt flag is process-wide and stays set.

mod engine_run_support;

use std::time::{Duration, Instant};

use b2s3_harness::engine::CaseOptions;
use b2s3_harness::tool::signals;
use engine_run_support::*;

#[test]
fn ctrl_c_stops_the_case_promptly_kills_the_tool_and_destroys_the_area() {
    let world = World::with_tool(
        "interrupt",
        &[
            "/bin/sh".into(),
            "-c".into(),
            "sleep 600".into(),
            "sleeper".into(),
        ],
    );
    let engine = world.engine();
    signals::install().unwrap();
    let plan = plan(
        "interrupt",
        vec![subvolume("data")],
        vec![backup(false, None)],
    );
    let options = CaseOptions {
        time_limit: Duration::from_secs(300),
        ..CaseOptions::default()
    };
    let started = Instant::now();
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(2500));
            // SAFETY: sends SIGINT to this very process, whose handler signal-hook owns.
            unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
        });
        engine.run_case(&plan, &options)
    });
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the case took {:?}",
        started.elapsed()
    );
    assert!(report.interrupted, "{}", report.render());
    assert_eq!(report.exit_code(), 130);
    assert!(report.harness_error.is_none(), "{}", report.render());
    assert!(
        !world.case_area_exists(&report.case_id),
        "the case area was destroyed"
    );
    let backup = &report.history.steps[0].invocations[0];
    assert!(
        backup.was_signalled(),
        "the tool was killed: {:?}",
        backup.termination
    );
}
