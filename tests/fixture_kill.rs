//! Setup SIGKILLed at random moments, then teardown from this (fresh) process, must
//! leave the machine's loop devices and mounts exactly as before.
//!
//! The child is this same test binary, re-run with `--exact` on the ignored helper test
//! below and an environment variable naming its run dir; only the child's own process
//! is killed (the commands it started die through their parent-death signal).

mod fixture_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use b2s3_harness::fixture::record::{Record, Role};
use b2s3_harness::fixture::{self, Fixture};
use fixture_support::{GlobalLock, SystemState, TestRun};

const CHILD_ENV: &str = "B2S3_FIXTURE_KILL_CHILD_RUN_DIR";
const CHILD_TEST: &str = "kill_loop_child_sets_up_a_fixture_in_the_run_dir_it_is_given";
const ITERATIONS: u32 = 20;

#[test]
#[ignore = "helper: run in a child process by the kill loop"]
fn kill_loop_child_sets_up_a_fixture_in_the_run_dir_it_is_given() {
    let run_dir = std::env::var(CHILD_ENV).expect("run only by the kill loop, which sets the run dir");
    let options = TestRun { dir: run_dir.into() }.options();
    let fixture = Fixture::setup(&options).expect("setup in the child");
    std::mem::forget(fixture);
}

#[test]
fn setup_killed_at_random_moments_is_undone_by_teardown_from_a_fresh_process() {
    let _lock = GlobalLock::exclusive();
    let before = SystemState::capture();
    let seed = std::env::var("B2S3_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(time_seed);
    let mut rng = XorShift(seed | 1);
    let full = calibrate(&before);
    eprintln!("kill loop: seed {seed}, an uninterrupted child takes {full:?}");
    let mut phases = Vec::new();
    for i in 0..ITERATIONS {
        // Stratified: iteration i kills somewhere in the i-th slice of the full run.
        let slice = full.mul_f64(1.0) / ITERATIONS;
        let delay = slice * i + slice.mul_f64(rng.unit());
        let test = TestRun::new("kill");
        let phase = run_and_kill(&test, delay);
        let report = fixture::teardown(&test.dir).unwrap();
        assert!(report.is_clean(), "iteration {i} (killed at {delay:?}, {phase}): {report:?}");
        assert!(!test.dir.join("source.img").exists() && !test.dir.join("restore.img").exists());
        assert_eq!(Record::load(&test.dir).unwrap(), None, "iteration {i}: record left behind");
        SystemState::capture().assert_same_as(&before, &format!("iteration {i}, killed at {delay:?} ({phase})"));
        phases.push(phase);
    }
    eprintln!("kill loop: phases reached: {phases:?}");
    let interrupted = phases.iter().filter(|p| !p.starts_with("finished") && *p != "no record").count();
    assert!(interrupted >= 5, "too few kills landed inside setup ({interrupted}): {phases:?}");
}

/// Run the child to completion three times (tearing down after each) and return the
/// median duration, so one slow run on a busy machine does not skew the kill moments.
fn calibrate(before: &SystemState) -> Duration {
    let mut runs: Vec<Duration> = (0..3)
        .map(|_| {
            let test = TestRun::new("kill-calibrate");
            let started = Instant::now();
            let status = child(&test).status().unwrap();
            let full = started.elapsed();
            assert!(status.success(), "the child setup failed on its own");
            assert!(fixture::teardown(&test.dir).unwrap().is_clean());
            SystemState::capture().assert_same_as(before, "after a calibration run");
            full
        })
        .collect();
    runs.sort();
    runs[1]
}

/// Start the child, SIGKILL it after `delay`, and describe how far setup got.
fn run_and_kill(test: &TestRun, delay: Duration) -> String {
    let mut process = child(test).spawn().unwrap();
    std::thread::sleep(delay);
    let finished = process.try_wait().unwrap().is_some();
    process.kill().unwrap();
    process.wait().unwrap();
    let phase = describe(Record::load(&test.dir).unwrap());
    match finished {
        true => format!("finished ({phase})"),
        false => phase,
    }
}

fn child(test: &TestRun) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", CHILD_TEST, "--nocapture", "--include-ignored", "--test-threads=1"])
        .env(CHILD_ENV, &test.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn describe(record: Option<Record>) -> String {
    let Some(record) = record else { return "no record".into() };
    if record.ready {
        return "ready".into();
    }
    let Some(last) = record.volumes.last() else { return "record only".into() };
    let role = if last.role == Role::Source { "source" } else { "restore" };
    let step = match (&last.loop_device, last.formatted, last.mounted) {
        (None, _, _) => "image recorded",
        (Some(_), false, _) => "attached",
        (Some(_), true, false) => "formatted",
        (Some(_), true, true) => "mounted",
    };
    format!("{role} {step}")
}

fn time_seed() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// A tiny deterministic generator; the seed is printed so a run can be repeated.
struct XorShift(u64);

impl XorShift {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}
