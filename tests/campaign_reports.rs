//! Campaign reports, with a fake runner: `summary.json` validates against
//! `config/schemas/report.schema.json`, `junit.xml` has the structure of
//! `config/schemas/junit.xsd` (checked by hand: no XSD validator crate is available),
//! `benchmark.json` has a row per backup and restore; the exit code and sharding.

mod campaign_support;

use std::collections::BTreeMap;

use b2s3_harness::campaign::progress::Silent;
use b2s3_harness::campaign::report::{exit_code, write_reports, RunInfo};
use b2s3_harness::campaign::testkit::{FakeOutcome, FakeRunner};
use b2s3_harness::campaign::versions::Versions;
use b2s3_harness::campaign::{run, CampaignResult, Shard};
use b2s3_harness::gen::plan::Plan;
use b2s3_harness::oracle::finding::{Finding, Property, Severity};
use b2s3_harness::oracle::schema::validate_with_schema_file;
use campaign_support::*;
use serde_json::Value;

const SEED: u64 = 9;

/// Case 1 fails (P5), case 2 is a harness error (with an XML-hostile message), the
/// others pass with a hygiene finding.
fn mixed(plan: &Plan, _: u32) -> FakeOutcome {
    match plan.case {
        Some(1) => FakeOutcome::finding(Property::MutualExclusion, "two backups made progress <at once> & \"both\" won"),
        Some(2) => FakeOutcome::HarnessError("loop <device> & \u{1}gone".into()),
        _ => FakeOutcome::Findings(vec![Finding::new(Property::Leftovers, None, "1 orphan chunk")]),
    }
}

fn info(shard: Shard) -> RunInfo {
    RunInfo {
        run_id: "20260101T000000Z-00000000-s9-1of1".into(),
        profile: "pr".into(),
        seed: SEED,
        shard,
        started_at: "2026-01-01T00:00:00Z".into(),
        fail_on: vec![Severity::Violation, Severity::Robustness],
        versions: Versions::fixed(),
    }
}

fn mixed_campaign(dir: &std::path::Path) -> CampaignResult {
    let runner = FakeRunner::new(mixed);
    run(&runner, &spec(dir, profile(dir, 5), SEED), &Silent)
}

#[test]
fn the_summary_validates_against_its_schema_and_counts_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let result = mixed_campaign(dir.path());
    let (summary, written) = write_reports(&dir.path().join("reports"), &info(Shard::ALL), &result).unwrap();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&written.summary).unwrap()).unwrap();
    let schema = repo().join("config/schemas/report.schema.json");
    let violations = validate_with_schema_file(&schema, &json).unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(json["cases"]["run"], 5);
    assert_eq!(json["cases"]["failed"], 1);
    assert_eq!(json["cases"]["harness_errors"], 1);
    assert_eq!(json["findings"]["by_property"]["P5"]["violation"], 1);
    assert_eq!(json["findings"]["by_property"]["P14"]["hygiene"], 3);
    assert_eq!(json["exit_code"], 1);
    assert_eq!(summary.failures.len(), 1);
    assert!(json["failures"][0]["bug_dir"].as_str().unwrap().ends_with("9-1-P5"));
}

#[test]
fn a_summary_missing_a_required_key_does_not_validate() {
    let dir = tempfile::tempdir().unwrap();
    let result = mixed_campaign(dir.path());
    let (_, written) = write_reports(&dir.path().join("reports"), &info(Shard::ALL), &result).unwrap();
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&written.summary).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("seed");
    json["findings"]["by_property"]["X1"] = serde_json::json!({"violation": 1});
    let violations = validate_with_schema_file(&repo().join("config/schemas/report.schema.json"), &json).unwrap();
    assert!(violations.len() >= 2, "{violations:#?}");
}

/// A minimal XML reader: the elements with their attributes and parent, checking that
/// tags nest, attributes are quoted and text holds no raw `<` or `&`.
fn elements(xml: &str) -> Vec<(String, BTreeMap<String, String>, Option<String>)> {
    let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").expect("XML declaration");
    let tag = regex::Regex::new(r#"<(/?)([A-Za-z-]+)((?:\s+[a-z_]+="[^"<]*")*)\s*(/?)>"#).unwrap();
    let attr = regex::Regex::new(r#"([a-z_]+)="([^"]*)""#).unwrap();
    let (mut stack, mut out, mut last) = (Vec::<String>::new(), Vec::new(), 0);
    for m in tag.captures_iter(body) {
        let whole = m.get(0).unwrap();
        let text = &body[last..whole.start()];
        assert!(!text.contains('<') && !text.contains('>'), "stray markup in {text:?}");
        assert!(text.split('&').skip(1).all(|t| ["amp;", "lt;", "gt;", "quot;", "apos;", "#x"].iter().any(|e| t.starts_with(e))), "bad escape in {text:?}");
        last = whole.end();
        let name = m[2].to_string();
        if &m[1] == "/" {
            assert_eq!(stack.pop().as_deref(), Some(name.as_str()), "tags nest");
            continue;
        }
        let attrs = attr.captures_iter(&m[3]).map(|a| (a[1].to_string(), a[2].to_string())).collect();
        out.push((name.clone(), attrs, stack.last().cloned()));
        if m[4].is_empty() {
            stack.push(name);
        }
    }
    assert!(stack.is_empty() && body[last..].trim().is_empty(), "document closed");
    out
}

#[test]
fn the_junit_report_has_one_testcase_per_case_with_the_property_of_each_failure() {
    let dir = tempfile::tempdir().unwrap();
    let result = mixed_campaign(dir.path());
    let (_, written) = write_reports(&dir.path().join("reports"), &info(Shard::ALL), &result).unwrap();
    let xml = std::fs::read_to_string(&written.junit).unwrap();
    assert!(xml.is_ascii());
    let els = elements(&xml);
    let find = |name: &str| els.iter().filter(|(n, _, _)| n == name).collect::<Vec<_>>();
    let (suites, suite, cases) = (find("testsuites"), find("testsuite"), find("testcase"));
    assert_eq!((suites.len(), suite.len(), cases.len()), (1, 1, 5));
    for (name, required) in [("testsuites", vec!["name", "tests", "failures", "errors", "skipped", "time"]),
        ("testsuite", vec!["name", "tests", "failures", "errors", "skipped", "time", "timestamp"]),
        ("testcase", vec!["name", "classname", "time"]),
        ("failure", vec!["type", "message"]),
        ("error", vec!["type", "message"])] {
        for (_, attrs, _) in find(name) {
            for key in &required {
                assert!(attrs.contains_key(*key), "{name} has {key}");
            }
        }
    }
    assert_eq!(suite[0].1["tests"], "5");
    assert_eq!((suite[0].1["failures"].as_str(), suite[0].1["errors"].as_str()), ("1", "1"));
    assert!(cases.iter().all(|(_, _, parent)| parent.as_deref() == Some("testsuite")));
    let failure = &find("failure")[0];
    assert_eq!(failure.1["type"], "P5");
    assert!(failure.1["message"].contains("P5 mutual-exclusion") && failure.1["message"].contains("&lt;at once&gt;"));
    assert_eq!(failure.2.as_deref(), Some("testcase"));
    assert_eq!(find("error")[0].1["type"], "harness");
}

#[test]
fn the_benchmark_has_a_row_per_backup_and_restore_with_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let result = mixed_campaign(dir.path());
    let (_, written) = write_reports(&dir.path().join("reports"), &info(Shard::ALL), &result).unwrap();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&written.benchmark).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let expected: usize = result.records.iter().map(|r| r.metrics.len()).sum();
    assert_eq!(rows.len(), expected);
    assert!(rows.iter().all(|r| r["throughput_bytes_per_sec"].as_f64().unwrap() > 0.0));
    assert!(json["totals"]["backup"]["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn the_exit_code_is_130_interrupted_then_1_findings_then_3_harness_error_then_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut result = mixed_campaign(dir.path());
    assert_eq!(exit_code(&result), 1);
    result.records.retain(|r| r.case != 1);
    assert_eq!(exit_code(&result), 3);
    result.records.retain(|r| r.case != 2);
    assert_eq!(exit_code(&result), 0, "hygiene findings do not fail the pr profile");
    result.interrupted = true;
    assert_eq!(exit_code(&result), 130);
}

#[test]
fn shards_of_one_seed_run_disjoint_cases_that_together_cover_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for index in 1..=3 {
        let runner = FakeRunner::new(|_, _| FakeOutcome::pass());
        let mut s = spec(dir.path(), profile(dir.path(), 10), SEED);
        s.shard = Shard { index, count: 3 };
        let result = run(&runner, &s, &Silent);
        let cases: Vec<u64> = result.records.iter().map(|r| r.case).collect();
        assert!(cases.iter().all(|c| c % 3 == index - 1), "shard {index}: {cases:?}");
        all.extend(cases);
    }
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
}

#[test]
fn no_case_starts_once_the_time_budget_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let runner = FakeRunner::new(|_, _| {
        std::thread::sleep(std::time::Duration::from_millis(300));
        FakeOutcome::pass()
    });
    let mut p = profile(dir.path(), 50);
    p.time_budget = std::time::Duration::from_millis(500);
    p.workers = 1;
    let result = run(&runner, &spec(dir.path(), p, SEED), &Silent);
    assert_eq!(result.records.len(), 2, "cases started at 0 and 300 ms, none after 500 ms");
    assert_eq!(result.out_of_time, 48);
}

#[test]
fn three_harness_errors_in_a_row_stop_the_campaign_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let runner = FakeRunner::new(|_, _| FakeOutcome::HarnessError("Input/output error (os error 5)".into()));
    let mut p = profile(dir.path(), 20);
    p.workers = 1;
    let result = run(&runner, &spec(dir.path(), p, SEED), &Silent);
    assert_eq!(result.records.len(), 3);
    assert!(result.stopped_early.as_deref().unwrap().contains("3 harness errors in a row"));
    assert_eq!(exit_code(&result), 3);
    let (summary, _) = write_reports(&dir.path().join("reports"), &info(Shard::ALL), &result).unwrap();
    assert!(summary.stopped_early.is_some());
}
