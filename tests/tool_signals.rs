//! The harness's SIGINT handling: the first signal sets `interrupted()` and kills every
//! running tool group; a second one exits the process at once with code 130.
//!
//! Raising SIGINT affects the whole test process, so this file holds exactly one test
//! that raises it in-process; the double-signal test re-runs this test binary as a child.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use b2s3_harness::tool::groups::live_groups;
use b2s3_harness::tool::{run, signals, Invocation, KillReason, RunError, RunSpec};

const CHILD_MODE: &str = "B2S3_SIGNALS_TEST_CHILD";

fn sleeper() -> Invocation {
    Invocation {
        program: "sh".into(),
        args: vec!["-c".into(), "sleep 100 & sleep 100".into()],
        env: BTreeMap::from([("PATH".into(), std::env::var("PATH").unwrap_or_default())]),
        cwd: None,
    }
}

#[test]
fn the_first_sigint_kills_running_tools_and_later_runs_are_refused() {
    if std::env::var_os(CHILD_MODE).is_some() {
        return;
    }
    signals::install().expect("install");
    signals::install().expect("installing twice is harmless");
    assert!(!signals::interrupted());
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let spec = RunSpec::new(sleeper(), &out, &err, Duration::from_secs(60));
    let runner = std::thread::spawn(move || run(spec));
    let deadline = Instant::now() + Duration::from_secs(20);
    while live_groups().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the tool never registered its group"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    signal_hook::low_level::raise(signal_hook::consts::SIGINT).unwrap();
    let outcome = runner.join().unwrap().expect("run");
    assert!(signals::interrupted());
    assert_eq!(outcome.killed, Some(KillReason::Interrupted));
    assert_eq!(outcome.signal, Some(9));
    assert!(outcome.duration < Duration::from_secs(20));
    assert!(outcome.survivors.is_empty() && live_groups().is_empty());
    let again = RunSpec::new(sleeper(), &out, &err, Duration::from_secs(60));
    assert!(matches!(run(again), Err(RunError::Interrupted { .. })));
}

#[test]
fn a_second_sigint_exits_the_process_at_once_with_code_130() {
    if std::env::var_os(CHILD_MODE).is_some() {
        signals::install().expect("install");
        signal_hook::low_level::raise(signal_hook::consts::SIGINT).unwrap();
        assert!(signals::interrupted());
        signal_hook::low_level::raise(signal_hook::consts::SIGINT).unwrap();
        std::thread::sleep(Duration::from_secs(30));
        std::process::exit(0);
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_second_sigint_exits_the_process_at_once_with_code_130",
            "--nocapture",
        ])
        .env(CHILD_MODE, "1")
        .status()
        .expect("re-run the test binary");
    assert_eq!(status.code(), Some(130), "{status:?}");
}
