//! The reports of one campaign, under `<run_dir>/reports/<run id>/`: `summary.json`
//! ([`Summary`], schema `config/schemas/report.schema.json`), `junit.xml` (one testcase
//! per case; schema `config/schemas/junit.xsd`), `benchmark.json` (bytes, time and
//! throughput of every backup and restore) and the closing table printed at the end.
//!
//! Everything here is derived from a [`CampaignResult`]; it runs nothing. The exit code
//! of a campaign is decided here too: 130 interrupted, else 1 if a case failed, else 3
//! if the harness failed in a case, else 0.

mod bench;
mod junit;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use bench::Benchmark;
pub use junit::junit_xml;
pub use table::closing_table;

use super::record::{CaseRecord, FailureRecord};
use super::run::CampaignResult;
use super::shard::Shard;
use super::verdict::Verdict;
use super::versions::Versions;
use crate::engine::killpoint::Phase;
use crate::exit;
use crate::oracle::finding::{Property, Severity};

/// Version of the `summary.json` format.
pub const SUMMARY_FORMAT: u32 = 1;

/// What the reports say about the run itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    pub run_id: String,
    pub profile: String,
    pub seed: u64,
    pub shard: Shard,
    pub started_at: String,
    pub fail_on: Vec<Severity>,
    pub versions: Versions,
}

/// The campaign's exit code (see the module docs).
pub fn exit_code(result: &CampaignResult) -> i32 {
    let any = |f: fn(&Verdict) -> bool| result.records.iter().any(|r| f(&r.verdict));
    if result.interrupted {
        exit::INTERRUPTED
    } else if any(Verdict::is_fail) {
        exit::FINDINGS
    } else if any(|v| matches!(v, Verdict::HarnessError(_))) {
        exit::HARNESS_ERROR
    } else {
        exit::OK
    }
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub format: u32,
    #[serde(flatten)]
    pub run: RunInfo,
    pub finished_at: String,
    pub exit_code: i32,
    pub interrupted: bool,
    /// Why the campaign stopped starting cases before its end (harness broken).
    pub stopped_early: Option<String>,
    pub cases: CaseCounts,
    pub findings: FindingCounts,
    pub undecided: UndecidedCounts,
    pub kill_phases: BTreeMap<String, u64>,
    pub activity: Activity,
    pub durations: DurationSummary,
    pub failures: Vec<FailureSummary>,
    pub harness_errors: Vec<HarnessErrorSummary>,
    pub case_list: Vec<CaseLine>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaseCounts {
    pub planned: usize,
    pub run: usize,
    pub passed: usize,
    pub failed: usize,
    pub harness_errors: usize,
    pub interrupted: usize,
    /// Cases stopped by their time limit.
    pub stopped: usize,
    pub regressions: usize,
    /// Cases never started because the time budget ran out.
    pub out_of_time: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FindingCounts {
    pub total: usize,
    /// Findings whose severity fails a case.
    pub failing: usize,
    /// Property id -> severity -> count.
    pub by_property: BTreeMap<String, BTreeMap<String, usize>>,
    pub by_severity: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UndecidedCounts {
    pub total: usize,
    pub by_property: BTreeMap<String, usize>,
}

/// What the cases exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub backups: usize,
    pub contenders: usize,
    pub restores: usize,
    pub retries: usize,
    /// Backups killed by a fault (kill landings).
    pub kills: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DurationSummary {
    pub total_ms: u64,
    /// Sum over cases (more than `total_ms` with several workers).
    pub cases_ms: u64,
    pub shrink_ms: u64,
    pub slowest: Vec<SlowCase>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlowCase {
    pub case: String,
    pub case_id: String,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureSummary {
    pub case: String,
    pub seed: u64,
    pub case_number: u64,
    pub profile: String,
    pub regression: bool,
    #[serde(flatten)]
    pub failure: FailureRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HarnessErrorSummary {
    pub case: String,
    pub case_id: String,
    pub error: String,
    pub bug_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseLine {
    pub case: String,
    pub seed: u64,
    pub case_number: u64,
    pub regression: bool,
    pub case_id: String,
    pub verdict: String,
    pub steps: usize,
    pub elapsed_ms: u64,
    pub findings: usize,
}

impl Summary {
    /// The summary of `result`.
    pub fn new(run: &RunInfo, result: &CampaignResult, finished_at: String) -> Summary {
        let records = &result.records;
        Summary {
            format: SUMMARY_FORMAT,
            run: run.clone(),
            finished_at,
            exit_code: exit_code(result),
            interrupted: result.interrupted,
            stopped_early: result.stopped_early.clone(),
            cases: case_counts(result),
            findings: finding_counts(records, &run.fail_on),
            undecided: undecided_counts(records),
            kill_phases: kill_phases(records),
            activity: activity(records),
            durations: durations(result),
            failures: records.iter().filter(|r| r.verdict.is_fail()).filter_map(failure_summary).collect(),
            harness_errors: records.iter().filter_map(harness_error).collect(),
            case_list: records.iter().map(case_line).collect(),
        }
    }
}

fn case_counts(result: &CampaignResult) -> CaseCounts {
    let count = |f: &dyn Fn(&CaseRecord) -> bool| result.records.iter().filter(|r| f(r)).count();
    CaseCounts {
        planned: result.planned,
        run: result.records.len(),
        passed: count(&|r| r.verdict == Verdict::Pass),
        failed: count(&|r| r.verdict.is_fail()),
        harness_errors: count(&|r| matches!(r.verdict, Verdict::HarnessError(_))),
        interrupted: count(&|r| r.verdict == Verdict::Interrupted),
        stopped: count(&|r| r.stopped.is_some()),
        regressions: count(&|r| r.regression),
        out_of_time: result.out_of_time,
    }
}

fn finding_counts(records: &[CaseRecord], fail_on: &[Severity]) -> FindingCounts {
    let mut c = FindingCounts::default();
    for f in records.iter().flat_map(|r| r.findings.iter()) {
        c.total += 1;
        c.failing += usize::from(fail_on.contains(&f.severity));
        *c.by_property.entry(f.property.id().to_string()).or_default().entry(f.severity.as_str().to_string()).or_default() += 1;
        *c.by_severity.entry(f.severity.as_str().to_string()).or_default() += 1;
    }
    c
}

fn undecided_counts(records: &[CaseRecord]) -> UndecidedCounts {
    let mut c = UndecidedCounts::default();
    for (p, n) in records.iter().flat_map(|r| r.undecided.iter()) {
        c.total += n;
        *c.by_property.entry(p.clone()).or_default() += n;
    }
    c
}

fn kill_phases(records: &[CaseRecord]) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = Phase::ALL.iter().map(|p| (p.as_str().to_string(), 0)).collect();
    out.insert("undecided".into(), 0);
    for r in records {
        for (p, n) in &r.kill_phases.by_phase {
            *out.entry(p.as_str().to_string()).or_default() += n;
        }
        *out.entry("undecided".into()).or_default() += r.kill_phases.undecided;
    }
    out
}

fn activity(records: &[CaseRecord]) -> Activity {
    let sum = |role: &str| records.iter().map(|r| r.invocations_of(role)).sum();
    Activity {
        backups: sum("backup"),
        contenders: sum("contender"),
        restores: sum("restore"),
        retries: sum("retry"),
        kills: records.iter().map(|r| r.kill_phases.total()).sum(),
    }
}

fn durations(result: &CampaignResult) -> DurationSummary {
    let mut slowest: Vec<SlowCase> = result
        .records
        .iter()
        .map(|r| SlowCase { case: r.label(), case_id: r.case_id.clone(), elapsed_ms: r.elapsed_ms })
        .collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.elapsed_ms));
    slowest.truncate(5);
    DurationSummary {
        total_ms: result.elapsed.as_millis().try_into().unwrap_or(u64::MAX),
        cases_ms: result.records.iter().map(|r| r.elapsed_ms).sum(),
        shrink_ms: result.records.iter().filter_map(|r| r.failure.as_ref()?.shrink.as_ref()).map(|s| s.elapsed_ms).sum(),
        slowest,
    }
}

fn failure_summary(r: &CaseRecord) -> Option<FailureSummary> {
    Some(FailureSummary {
        case: r.label(),
        seed: r.seed,
        case_number: r.case,
        profile: r.profile.clone(),
        regression: r.regression,
        failure: r.failure.clone()?,
    })
}

fn harness_error(r: &CaseRecord) -> Option<HarnessErrorSummary> {
    let Verdict::HarnessError(e) = &r.verdict else { return None };
    Some(HarnessErrorSummary {
        case: r.label(),
        case_id: r.case_id.clone(),
        error: e.clone(),
        bug_dir: r.failure.as_ref().and_then(|f| f.bug_dir.clone()),
    })
}

fn case_line(r: &CaseRecord) -> CaseLine {
    CaseLine {
        case: r.label(),
        seed: r.seed,
        case_number: r.case,
        regression: r.regression,
        case_id: r.case_id.clone(),
        verdict: r.verdict.as_str().to_string(),
        steps: r.steps,
        elapsed_ms: r.elapsed_ms,
        findings: r.findings.len(),
    }
}

/// The paths of the written reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub dir: PathBuf,
    pub summary: PathBuf,
    pub junit: PathBuf,
    pub benchmark: PathBuf,
}

/// Writes `summary.json`, `junit.xml` and `benchmark.json` into `<reports_dir>/<run id>/`.
pub fn write_reports(reports_dir: &Path, run: &RunInfo, result: &CampaignResult) -> std::io::Result<(Summary, Written)> {
    let dir = reports_dir.join(&run.run_id);
    std::fs::create_dir_all(&dir)?;
    let finished = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let summary = Summary::new(run, result, finished);
    let written = Written {
        summary: dir.join("summary.json"),
        junit: dir.join("junit.xml"),
        benchmark: dir.join("benchmark.json"),
        dir,
    };
    std::fs::write(&written.summary, pretty(&summary)?)?;
    std::fs::write(&written.junit, junit_xml(run, result))?;
    std::fs::write(&written.benchmark, pretty(&Benchmark::new(run, result))?)?;
    Ok((summary, written))
}

/// Pretty JSON with a trailing newline.
fn pretty<T: Serialize>(value: &T) -> std::io::Result<String> {
    serde_json::to_string_pretty(value).map(|s| s + "\n").map_err(std::io::Error::other)
}

/// Counts of one property by severity, for the closing table.
pub fn by_property(records: &[CaseRecord]) -> BTreeMap<Property, BTreeMap<Severity, usize>> {
    let mut out: BTreeMap<Property, BTreeMap<Severity, usize>> = BTreeMap::new();
    for f in records.iter().flat_map(|r| r.findings.iter()) {
        *out.entry(f.property).or_default().entry(f.severity).or_default() += 1;
    }
    out
}
