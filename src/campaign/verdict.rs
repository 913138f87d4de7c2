//! What one case report means to a campaign: passed, failed (and on which property), a
//! harness error, or interrupted. A case fails when one of its findings has a severity
//! the profile fails on; the property of the first such finding names the failure, and
//! a re-run reproduces it when any of its failing findings has that same property. A
//! harness error is never a tool failure: it is reported as such and never shrunk.
//!
//! Pure functions over [`CaseReport`]; nothing here runs a case.

use std::collections::BTreeSet;

use crate::engine::CaseReport;
use crate::oracle::finding::{Finding, Property, Severity};

/// Severities that fail a case.
pub type FailOn = BTreeSet<Severity>;

/// The campaign's reading of one case report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// A finding whose severity fails the profile; the first one names the failure.
    Fail { property: Property, severity: Severity },
    /// The harness failed; the findings (if any) are incomplete.
    HarnessError(String),
    /// SIGINT/SIGTERM stopped the case.
    Interrupted,
}

impl Verdict {
    pub fn is_fail(&self) -> bool {
        matches!(self, Verdict::Fail { .. })
    }

    /// `pass`, `fail`, `harness_error`, `interrupted` (as in the reports).
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail { .. } => "fail",
            Verdict::HarnessError(_) => "harness_error",
            Verdict::Interrupted => "interrupted",
        }
    }
}

/// The findings of `report` that fail it under `fail_on`, in the order found.
pub fn failing<'a>(report: &'a CaseReport, fail_on: &'a FailOn) -> impl Iterator<Item = &'a Finding> + 'a {
    report.findings.iter().filter(move |f| fail_on.contains(&f.severity))
}

/// Interrupted first, then a harness error, then the first failing finding.
pub fn judge(report: &CaseReport, fail_on: &FailOn) -> Verdict {
    if report.interrupted {
        return Verdict::Interrupted;
    }
    if let Some(e) = &report.harness_error {
        return Verdict::HarnessError(e.clone());
    }
    match failing(report, fail_on).next() {
        Some(f) => Verdict::Fail { property: f.property, severity: f.severity },
        None => Verdict::Pass,
    }
}

/// True when `report` shows a failing finding of `property` (a harness error or an
/// interruption never reproduces anything).
pub fn reproduces(report: &CaseReport, property: Property, fail_on: &FailOn) -> bool {
    !report.interrupted && report.harness_error.is_none() && failing(report, fail_on).any(|f| f.property == property)
}

/// The first failing finding of `property`, for messages.
pub fn first_of<'a>(report: &'a CaseReport, property: Property, fail_on: &'a FailOn) -> Option<&'a Finding> {
    failing(report, fail_on).find(|f| f.property == property)
}
