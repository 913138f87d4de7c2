//! The acceptance run (ignored by default; about 3 minutes on 2 cores): 100 generated PR-profile
//! cases (seed 1, cases 0 to 99) with kills, contenders, stale locks and S3 errors,
//! against the correct reference tool, two at a time on one engine. Every case must end
//! with no failing finding and no harness error, the kills must land in at least four
//! different phases, and afterwards nothing of the harness may be left: no tool process,
//! mount, loop device or lock file.
//!
//! Run: `cargo build -p b2s3-ref && cargo test --test engine_run_campaign -- --ignored --nocapture`.
//! `B2S3_CAMPAIGN_CASES=<n>` runs fewer (or more) cases, `B2S3_CAMPAIGN_SEED` another seed,
//! `B2S3_CAMPAIGN_PROFILE=nightly` the nightly profile.
//! The summed report is written to `target/engine-campaign-report.json`, each case's report
//! to `target/engine-campaign/case-<n>.json`.

mod engine_run_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use b2s3_harness::engine::killpoint::PhaseCounts;
use b2s3_harness::engine::{CaseReport, Engine};
use b2s3_harness::gen::{generate, GenProfile};
use engine_run_support::*;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(serde::Serialize)]
struct Summary {
    seed: u64,
    cases: u64,
    wall_seconds: f64,
    failing: Vec<String>,
    harness_errors: Vec<String>,
    hygiene_findings: usize,
    undecided: usize,
    kill_phases: PhaseCounts,
    faults: BTreeMap<String, u64>,
    invocations: BTreeMap<String, usize>,
}

#[test]
#[ignore = "the 100-case acceptance run takes several minutes"]
fn a_hundred_generated_cases_against_the_correct_tool_find_nothing_and_kills_reach_four_phases() {
    let seed = env_u64("B2S3_CAMPAIGN_SEED", 1);
    let cases = env_u64("B2S3_CAMPAIGN_CASES", 100);
    let profile = match std::env::var("B2S3_CAMPAIGN_PROFILE").as_deref() {
        Ok("nightly") => GenProfile::nightly(),
        _ => GenProfile::pr(),
    };
    let world = World::new("campaign");
    let engine = world.engine();
    let next = AtomicU64::new(0);
    let reports: Mutex<Vec<CaseReport>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some(report) = next_case(&engine, &next, seed, cases, &profile) {
                    reports.lock().unwrap().push(report);
                }
            });
        }
    });
    let summary = summarize(
        seed,
        cases,
        started.elapsed().as_secs_f64(),
        &reports.into_inner().unwrap(),
    );
    let text = serde_json::to_string_pretty(&summary).unwrap();
    std::fs::write(
        repo().join("target").join("engine-campaign-report.json"),
        &text,
    )
    .unwrap();
    eprintln!("{text}\nkill phases:\n{}", summary.kill_phases);
    assert!(
        summary.failing.is_empty(),
        "failing findings: {:#?}",
        summary.failing
    );
    assert!(
        summary.harness_errors.is_empty(),
        "harness errors: {:#?}",
        summary.harness_errors
    );
    let phases = summary
        .kill_phases
        .by_phase
        .values()
        .filter(|n| **n > 0)
        .count();
    assert!(
        phases >= 4,
        "kills reached only {phases} phases: {}",
        summary.kill_phases
    );
}

/// Runs the next case (a worker's loop body), keeps its report and prints its verdict.
fn next_case(
    engine: &Engine,
    next: &AtomicU64,
    seed: u64,
    cases: u64,
    profile: &GenProfile,
) -> Option<CaseReport> {
    let case = next.fetch_add(1, Ordering::Relaxed);
    if case >= cases {
        return None;
    }
    let report = run(engine, &generate(seed, case, profile));
    let dir = repo().join("target").join("engine-campaign");
    let _ = std::fs::create_dir_all(&dir);
    let text = serde_json::to_string_pretty(&report).unwrap();
    let _ = std::fs::write(dir.join(format!("case-{case}.json")), text);
    eprintln!(
        "case {case}: {}",
        report.summary().lines().next().unwrap_or("")
    );
    for f in report.failing() {
        eprintln!("  {f}");
    }
    if let Some(e) = &report.harness_error {
        eprintln!("  HARNESS ERROR: {e}");
    }
    Some(report)
}

fn summarize(seed: u64, cases: u64, wall_seconds: f64, reports: &[CaseReport]) -> Summary {
    let mut s = Summary {
        seed,
        cases,
        wall_seconds,
        failing: Vec::new(),
        harness_errors: Vec::new(),
        hygiene_findings: 0,
        undecided: 0,
        kill_phases: PhaseCounts::default(),
        faults: BTreeMap::new(),
        invocations: BTreeMap::new(),
    };
    for r in reports {
        let case = r.plan.case.unwrap_or_default();
        s.failing
            .extend(r.failing().map(|f| format!("case {case}: {f}")));
        s.harness_errors
            .extend(r.harness_error.iter().map(|e| format!("case {case}: {e}")));
        s.hygiene_findings += r.hygiene().count();
        s.undecided += r.undecided.len();
        s.kill_phases.merge(&r.kill_phases);
        for (role, n) in r.invocations_by_role() {
            *s.invocations.entry(role).or_default() += n;
        }
        for step in &r.plan.steps {
            if let b2s3_harness::gen::plan::Step::Backup(b) = step {
                if let Some(f) = &b.fault {
                    let name = serde_json::to_value(f).unwrap()["fault"]
                        .as_str()
                        .unwrap_or("?")
                        .to_string();
                    *s.faults.entry(name).or_default() += 1;
                }
            }
        }
    }
    s
}
