//! [`CaseRecord`]: what the campaign keeps of one finished case (a case report holds every
//! observation and is dropped once this is taken), and [`FailureRecord`]: what became
//! of a failure (shrink, bug folder, replay command). Plain data for the reports.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::bugbase::PlanSize;
use super::shrink::ShrinkStats;
use super::verdict::Verdict;
use crate::engine::executor::InvocationMetrics;
use crate::engine::killpoint::PhaseCounts;
use crate::engine::CaseReport;
use crate::oracle::finding::{Finding, Property, Severity};

/// One case of the campaign: a generated case or a replayed regression entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRecord {
    pub seed: u64,
    pub case: u64,
    pub profile: String,
    /// Replayed from the regressions file.
    pub regression: bool,
    pub case_id: String,
    #[serde(serialize_with = "verdict_str")]
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// Undecided checks by property id.
    pub undecided: BTreeMap<String, usize>,
    pub kill_phases: PhaseCounts,
    /// Tool invocations by role (backup, contender, restore, retry).
    pub invocations: BTreeMap<String, usize>,
    pub metrics: Vec<InvocationMetrics>,
    pub steps: usize,
    pub elapsed_ms: u64,
    /// Why the case stopped early (its time limit), if it did.
    pub stopped: Option<String>,
    pub harness_error: Option<String>,
    pub failure: Option<FailureRecord>,
}

fn verdict_str<S: serde::Serializer>(v: &Verdict, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_str())
}

/// What became of a failing case (or a harness error).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureRecord {
    /// `None` for a harness error.
    pub property: Option<Property>,
    pub severity: Option<Severity>,
    pub message: String,
    pub bug_dir: Option<PathBuf>,
    /// The one command that replays it.
    pub replay: String,
    pub original: PlanSize,
    pub shrunk: Option<PlanSize>,
    pub shrink: Option<ShrinkStats>,
    /// Added to the regressions file by this run.
    pub regression_added: bool,
    /// Set when an earlier case of this run already failed on the same property: this
    /// one is recorded but not shrunk or filed again (one bug folder per property).
    pub duplicate_of: Option<String>,
    /// What went wrong while recording it (bug folder, regressions file).
    pub problems: Vec<String>,
}

impl CaseRecord {
    /// The record of `report`, run as case `case` of `seed`.
    pub fn new(seed: u64, case: u64, profile: &str, regression: bool, report: &CaseReport, verdict: Verdict) -> CaseRecord {
        let mut undecided = BTreeMap::new();
        for u in &report.undecided {
            *undecided.entry(u.property.id().to_string()).or_insert(0) += 1;
        }
        CaseRecord {
            seed,
            case,
            profile: profile.to_string(),
            regression,
            case_id: report.case_id.clone(),
            verdict,
            findings: report.findings.clone(),
            undecided,
            kill_phases: report.kill_phases.clone(),
            invocations: report.invocations_by_role(),
            metrics: report.metrics.clone(),
            steps: report.plan.steps.len(),
            elapsed_ms: report.durations.total_ms,
            stopped: report.stopped.clone(),
            harness_error: report.harness_error.clone(),
            failure: None,
        }
    }

    /// `seed S case N` (plus `(regression)`).
    pub fn label(&self) -> String {
        let r = if self.regression { " (regression)" } else { "" };
        format!("seed {} case {}{r}", self.seed, self.case)
    }

    pub fn invocations_of(&self, role: &str) -> usize {
        self.invocations.get(role).copied().unwrap_or(0)
    }
}
