//! `selfcheck` against the real reference tool (root, btrfs, the moto venv, `cargo build
//! -p b2s3-ref`), on two variants with a tiny budget so that it stays under about two
//! minutes: the correct tool raises no finding, `missing-sse` is found on P7, and the
//! table, `selfcheck.json` and the exit code agree.

#[path = "campaign_support/mod.rs"]
mod campaign_support;

use std::time::Instant;

use campaign_support::*;
use serde_json::Value;

const TINY: &str = "[profile.tiny]\nbase = \"pr\"\ncases = 2\nworkers = 2\ntime_budget_secs = 40\nshrink_max_runs = 4\nshrink_time_secs = 20\n";

#[test]
fn selfcheck_on_two_variants_finds_missing_sse_and_no_false_alarm_on_the_correct_tool() {
    let real = RealRun::new("selfcheck", "embedded", None, TINY);
    let t0 = Instant::now();
    let out = real.output(&["selfcheck", "--profile", "tiny", "--variants", "missing-sse,no-lock", "--seeds", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&std::fs::read(real.run_dir().join("reports/selfcheck.json")).unwrap()).unwrap();
    assert_eq!(json["correct"]["failures"].as_array().map(Vec::len), Some(0), "the correct tool raised a finding");
    assert_eq!(json["correct"]["cases"], 2);
    let variants = json["variants"].as_array().unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v["variant"].as_str().unwrap()).collect();
    assert_eq!(names, ["missing-sse", "no-lock"]);
    let sse = &variants[0];
    assert_eq!((sse["found"].as_bool(), sse["hunt"]["found"]["failure"]["property"].as_str()), (Some(true), Some("P7")));
    assert_eq!(sse["property_expected"], true);
    let all_found = variants.iter().all(|v| v["found"] == true);
    assert_eq!(out.status.code(), Some(if all_found { 0 } else { 1 }), "exit code follows the result");
    assert!(stdout.contains("| missing-sse | yes | P7 | yes |"), "table row of missing-sse");
    assert!(t0.elapsed().as_secs() < 240, "the smoke test took {:?}", t0.elapsed());
}
