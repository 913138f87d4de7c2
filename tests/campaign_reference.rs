//! Campaigns against the reference tool (root, btrfs, the moto venv, `cargo build -p
//! b2s3-ref`):
//! - the project's own PR run: a few PR-profile cases (`PROPTEST_CASES`, default 3) of
//!   a random seed, expecting no failing finding;
//! - `fuzz` against a buggy reference files a shrunk bug whose printed replay command
//!   (the last line) reproduces it, and `replay --seed` reproduces the original case;
//! - SIGINT during `fuzz` exits 130, writes the report of what finished and leaves no
//!   process, mount or loop device of the run behind.

mod campaign_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use b2s3_harness::campaign::progress::Plain;
use b2s3_harness::campaign::{run, CampaignSpec, CommandLine, Shard};
use b2s3_harness::oracle::schema::validate_with_schema_file;
use campaign_support::*;
use serde_json::Value;

fn proptest_cases() -> u64 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

#[test]
fn a_quick_pr_campaign_against_the_reference_finds_nothing() {
    let world = World::new("pr", None, "");
    let reference = b2s3_harness::config::Config::load_with_env(&repo().join("config/reference.toml"), |_| None).unwrap();
    let mut profile = b2s3_harness::campaign::profile::load(&reference, "pr").unwrap();
    profile.cases = proptest_cases();
    let seed = b2s3_harness::commands::fuzz::random_seed();
    eprintln!("seed: {seed} ({} PR cases; PROPTEST_CASES overrides)", profile.cases);
    let spec = CampaignSpec {
        profile,
        seed,
        shard: Shard::ALL,
        bugs_dir: repo().join("target").join("campaign-test-bugs"),
        commands: CommandLine { exe: BIN.into(), ..CommandLine::current(&reference) },
        regressions: Vec::new(),
        record_regressions: true,
    };
    let result = run(&world.engine(), &spec, &Plain::default());
    assert_eq!(result.records.len() as u64, spec.profile.cases);
    let failed: Vec<String> = result
        .records
        .iter()
        .filter(|r| r.failure.is_some())
        .map(|r| format!("{}: {:?}\n  replay: {}", r.label(), r.findings, r.failure.as_ref().unwrap().replay))
        .collect();
    assert!(failed.is_empty(), "the reference failed (seed {seed}):\n{}", failed.join("\n"));
}

fn quick_profile(dir: &std::path::Path) -> String {
    format!(
        "[profile.quick]\nbase = \"pr\"\ncases = 2\nworkers = 1\nshrink_max_runs = 12\nregressions = {:?}\n",
        dir.join("campaign.txt").display().to_string()
    )
}

fn summary_of(run_dir: &std::path::Path) -> Value {
    let reports = run_dir.join("reports");
    let dir = std::fs::read_dir(&reports).unwrap().flatten().find(|e| e.path().join("summary.json").exists()).expect("a report dir");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    let violations = validate_with_schema_file(&repo().join("config/schemas/report.schema.json"), &json).unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
    json
}

#[test]
fn fuzz_against_a_buggy_reference_files_a_bug_whose_printed_replay_command_reproduces_it() {
    let scratch = tempfile::tempdir().unwrap();
    let real = RealRun::new("bug", "embedded", Some("missing-sse"), &quick_profile(scratch.path()));
    let out = real.output(&["fuzz", "--profile", "quick", "--seed", "5"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(stdout.lines().next(), Some("seed: 5"));
    let replay = last_line(&out);
    assert!(replay.contains(" replay ") && replay.contains("/run/bugs/5-0-P7"), "{}", text(&out));
    assert_eq!(summary_of(&real.run_dir())["findings"]["failing"].as_u64().map(|n| n > 0), Some(true));
    let again = Command::new("sh").arg("-c").arg(&replay).output().unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(last_line(&again).starts_with("REPRODUCED P7 layout-and-metadata"), "{}", text(&again));
    let by_seed = real.output(&["replay", "--seed", "5", "--case", "0", "--profile", "quick"]);
    assert_eq!(by_seed.status.code(), Some(1), "{}", text(&by_seed));
    assert!(last_line(&by_seed).starts_with("FAILED P7"), "{}", text(&by_seed));
    assert_eq!(leftovers(&real.run_dir()), Vec::<String>::new());
}

/// Loop devices, mounts and processes that mention `run_dir`.
fn leftovers(run_dir: &std::path::Path) -> Vec<String> {
    let needle = run_dir.display().to_string();
    let loops = Command::new("losetup").args(["-l", "-n", "-O", "NAME,BACK-FILE"]).output().unwrap();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let procs = Command::new("pgrep").args(["-af", &needle]).output().unwrap();
    String::from_utf8_lossy(&loops.stdout)
        .lines()
        .chain(mounts.lines())
        .chain(String::from_utf8_lossy(&procs.stdout).lines())
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn sigint_during_fuzz_exits_130_with_a_report_and_nothing_left_running_or_mounted() {
    let scratch = tempfile::tempdir().unwrap();
    let profile = format!("[profile.long]\nbase = \"pr\"\ncases = 200\nregressions = {:?}\n", scratch.path().join("c.txt").display().to_string());
    let real = RealRun::new("sigint", "embedded", None, &profile);
    let mut child = real.harness(&["fuzz", "--profile", "long", "--seed", "3"]).stdout(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let t0 = Instant::now();
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("[2/")) {
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("fuzz prints progress");
        lines.push(line);
    }
    std::thread::sleep(Duration::from_millis(700));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    lines.extend(rx.try_iter());
    assert_eq!(status.code(), Some(130), "{}", lines.join("\n"));
    assert!(t0.elapsed() < Duration::from_secs(300));
    let summary = summary_of(&real.run_dir());
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["exit_code"], 130);
    assert!(summary["cases"]["run"].as_u64().unwrap() >= 2);
    assert_eq!(leftovers(&real.run_dir()), Vec::<String>::new(), "{}", lines.join("\n"));
}
