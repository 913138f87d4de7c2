//! [`CaseReport`]: everything one case produced, serialisable for the bug base and the
//! campaign, plus the text summary the `case` command prints and the exit code it maps
//! to. Building the report is the case runner's job; this module only shapes and
//! renders it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::engine::history::{History, Role, ToolCommand};
use crate::engine::judge::Undecided;
use crate::engine::killpoint::PhaseCounts;
use crate::exit;
use crate::gen::plan::Plan;
use crate::oracle::finding::{Finding, Severity};
use crate::oracle::local::Leftovers;

/// What one case produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseReport {
    pub case_id: String,
    /// The case's S3 prefix, with its trailing `/`.
    pub prefix: String,
    pub plan: Plan,
    /// Every finding of the case, in the order found (also placed per step in
    /// `history`). Findings at `step == plan.steps.len()` were made at the end of the
    /// case (final restores, leftovers).
    pub findings: Vec<Finding>,
    /// Checks that could not decide, and why (never counted as passes).
    pub undecided: Vec<Undecided>,
    /// Case-level remarks (fallbacks, skipped checks, what was kept).
    pub notes: Vec<String>,
    pub history: History,
    /// Where the fault kills of backups landed, by phase.
    pub kill_phases: PhaseCounts,
    pub metrics: Vec<InvocationMetrics>,
    /// Leftovers counted at the end of the case (P14), if the case got that far.
    pub leftovers: Option<LeftoverSummary>,
    pub durations: Durations,
    /// Set when the harness itself failed; the findings are then incomplete.
    pub harness_error: Option<String>,
    pub interrupted: bool,
    /// Why the case stopped before its last step (time limit), if it did.
    pub stopped: Option<String>,
    /// Tool log files (stdout and stderr of every invocation), where they are now.
    pub tool_logs: Vec<String>,
    /// The case area's directories, when it was kept.
    pub kept_area: Vec<String>,
    pub strict_hygiene: bool,
}

/// Timing of one invocation and what the tool reported about throughput.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationMetrics {
    pub step: usize,
    pub role: Role,
    pub command: ToolCommand,
    pub elapsed_ms: u64,
    /// From `backup_metrics` / `restore_metrics` events.
    pub subvolumes: Vec<SubvolumeMetrics>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubvolumeMetrics {
    pub subvolume: String,
    pub total_bytes: u64,
    pub elapsed_seconds: f64,
}

/// The leftovers of P14, by kind, with names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftoverSummary {
    pub incomplete_uploads: Vec<String>,
    pub orphan_chunks: Vec<String>,
    pub unrecorded_snapshots: Vec<String>,
    pub spool_files: Vec<String>,
    pub stale_lock: Option<String>,
}

impl From<&Leftovers> for LeftoverSummary {
    fn from(l: &Leftovers) -> Self {
        LeftoverSummary {
            incomplete_uploads: l.incomplete_uploads.clone(),
            orphan_chunks: l.orphan_chunks.clone(),
            unrecorded_snapshots: l.unrecorded_snapshots.clone(),
            spool_files: l.spool_files.clone(),
            stale_lock: l.stale_lock.clone(),
        }
    }
}

impl LeftoverSummary {
    pub fn total(&self) -> usize {
        self.incomplete_uploads.len()
            + self.orphan_chunks.len()
            + self.unrecorded_snapshots.len()
            + self.spool_files.len()
            + usize::from(self.stale_lock.is_some())
    }
}

/// Wall-clock durations, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    pub total_ms: u64,
    pub setup_ms: u64,
    /// Per plan step, in order (steps not run are absent).
    pub steps_ms: Vec<u64>,
    /// Final restores and leftover counting.
    pub finish_ms: u64,
    pub teardown_ms: u64,
}

impl CaseReport {
    /// The report of a case with nothing recorded yet.
    pub fn new(case_id: &str, prefix: &str, plan: &Plan, strict_hygiene: bool) -> CaseReport {
        CaseReport {
            case_id: case_id.to_string(),
            prefix: prefix.to_string(),
            plan: plan.clone(),
            findings: Vec::new(),
            undecided: Vec::new(),
            notes: Vec::new(),
            history: History::default(),
            kill_phases: PhaseCounts::default(),
            metrics: Vec::new(),
            leftovers: None,
            durations: Durations::default(),
            harness_error: None,
            interrupted: false,
            stopped: None,
            tool_logs: Vec::new(),
            kept_area: Vec::new(),
            strict_hygiene,
        }
    }

    /// Findings that fail the case: violations and robustness, and hygiene when strict.
    pub fn failing(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity != Severity::Hygiene || self.strict_hygiene)
    }

    pub fn hygiene(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Hygiene)
    }

    /// The documented exit code: 0 clean, 1 failing findings, 3 harness error, 130
    /// interrupted (checked in that order of precedence: interrupted, harness, findings).
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            exit::INTERRUPTED
        } else if self.harness_error.is_some() {
            exit::HARNESS_ERROR
        } else if self.failing().next().is_some() {
            exit::FINDINGS
        } else {
            exit::OK
        }
    }

    /// Number of tool invocations by role (`backup`, `contender`, `restore`, `retry`).
    pub fn invocations_by_role(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for inv in self.history.steps.iter().flat_map(|s| s.invocations.iter()) {
            *out.entry(role_name(inv.role).to_string()).or_insert(0) += 1;
        }
        out
    }

    /// The text the `case` command prints: findings first, then a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let _ = writeln!(out, "{f}");
        }
        for u in &self.undecided {
            let _ = writeln!(
                out,
                "undecided {} step {}: {}: {}",
                u.property.id(),
                u.step,
                u.subject,
                u.why
            );
        }
        out.push_str(&self.summary());
        out
    }

    /// A few lines: outcome, counts, kill phases, invocations, time.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let failing = self.failing().count();
        let hygiene = self.hygiene().count();
        let _ = writeln!(
            out,
            "case {} ({} steps): {} failing finding(s), {} hygiene, {} undecided check(s)",
            self.case_id,
            self.plan.steps.len(),
            failing,
            hygiene,
            self.undecided.len()
        );
        if let Some(e) = &self.harness_error {
            let _ = writeln!(out, "HARNESS ERROR: {e}");
        }
        if self.interrupted {
            let _ = writeln!(out, "interrupted");
        }
        if let Some(s) = &self.stopped {
            let _ = writeln!(out, "stopped: {s}");
        }
        let roles: Vec<String> = self
            .invocations_by_role()
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let _ = writeln!(out, "invocations: {}", roles.join(", "));
        if self.kill_phases.total() > 0 {
            let _ = write!(out, "kill phases:\n{}", self.kill_phases);
        }
        if let Some(l) = &self.leftovers {
            let _ = writeln!(
                out,
                "leftovers: {} incomplete upload(s), {} orphan chunk(s), {} unrecorded snapshot(s), {} spool file(s), stale lock: {}",
                l.incomplete_uploads.len(),
                l.orphan_chunks.len(),
                l.unrecorded_snapshots.len(),
                l.spool_files.len(),
                l.stale_lock.as_deref().unwrap_or("none")
            );
        }
        let _ = writeln!(
            out,
            "time: {:.1} s",
            self.durations.total_ms as f64 / 1000.0
        );
        out
    }
}

/// The role's name as in the report JSON.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Backup => "backup",
        Role::Contender => "contender",
        Role::Restore => "restore",
        Role::Retry => "retry",
    }
}
