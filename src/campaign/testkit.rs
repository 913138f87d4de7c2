//! A fake [`CaseRunner`] for tests of the campaign without btrfs, S3 or the tool: it
//! decides each run's findings from the plan (and the run's number) with a closure,
//! and fills a plausible [`CaseReport`] around them (a backup and a restore invocation
//! with metrics per backup or restore step, a kill landing per killed backup, a tool log
//! file when given a directory, a one-object S3 listing). It records every plan it ran
//! and every report it was asked to discard. Not used by the binary.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::runner::{CaseRunner, ListedObject};
use crate::engine::executor::{Durations, InvocationMetrics, SubvolumeMetrics};
use crate::engine::history::{History, Role, ToolCommand};
use crate::engine::killpoint::{Phase, PhaseCounts};
use crate::engine::{CaseOptions, CaseReport};
use crate::gen::plan::{BackupFault, Plan, Step};
use crate::oracle::finding::{Finding, Property};

/// What one fake run ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeOutcome {
    Findings(Vec<Finding>),
    HarnessError(String),
    Interrupted,
}

impl FakeOutcome {
    pub fn pass() -> FakeOutcome {
        FakeOutcome::Findings(Vec::new())
    }

    /// One finding of `property` with its own severity.
    pub fn finding(property: Property, message: &str) -> FakeOutcome {
        FakeOutcome::Findings(vec![Finding::new(property, Some(0), message)])
    }
}

type Decide = dyn Fn(&Plan, u32) -> FakeOutcome + Sync;

/// The fake runner.
pub struct FakeRunner {
    decide: Box<Decide>,
    runs: AtomicU32,
    /// Every plan run, in order, with whether the area was kept.
    pub ran: Mutex<Vec<(Plan, bool)>>,
    /// Case ids of discarded (kept) runs.
    pub discarded: Mutex<Vec<String>>,
    /// Where to write a tool log per run, if anywhere.
    pub logs_dir: Option<PathBuf>,
}

impl FakeRunner {
    /// `decide(plan, n)`: the outcome of the n-th run (0-based, over all plans).
    pub fn new(decide: impl Fn(&Plan, u32) -> FakeOutcome + Sync + 'static) -> FakeRunner {
        FakeRunner {
            decide: Box::new(decide),
            runs: AtomicU32::new(0),
            ran: Mutex::new(Vec::new()),
            discarded: Mutex::new(Vec::new()),
            logs_dir: None,
        }
    }

    pub fn with_logs(mut self, dir: PathBuf) -> FakeRunner {
        self.logs_dir = Some(dir);
        self
    }

    pub fn runs(&self) -> u32 {
        self.runs.load(Ordering::SeqCst)
    }

    /// The plans run so far.
    pub fn plans(&self) -> Vec<Plan> {
        self.ran.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(p, _)| p.clone()).collect()
    }
}

impl CaseRunner for FakeRunner {
    fn run(&self, plan: &Plan, opts: &CaseOptions) -> CaseReport {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        self.ran.lock().unwrap_or_else(|p| p.into_inner()).push((plan.clone(), opts.keep_area));
        let mut report = empty_report(plan, n, opts);
        match (self.decide)(plan, n) {
            FakeOutcome::Findings(f) => report.findings = f,
            FakeOutcome::HarnessError(e) => report.harness_error = Some(e),
            FakeOutcome::Interrupted => report.interrupted = true,
        }
        if let Some(dir) = &self.logs_dir {
            let path = dir.join(format!("{}-stderr.log", report.case_id));
            if std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, "INFO event=command_start\n")).is_ok() {
                report.tool_logs.push(path.display().to_string());
            }
        }
        report
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<ListedObject>, String> {
        Ok(vec![ListedObject { key: format!("{prefix}subvol/a/current.json"), size: 120, storage_class: "STANDARD".into() }])
    }

    fn discard(&self, report: &CaseReport) -> Result<(), String> {
        self.discarded.lock().unwrap_or_else(|p| p.into_inner()).push(report.case_id.clone());
        Ok(())
    }
}

/// A report of `plan` with no findings, invocations per step, and metrics.
pub fn empty_report(plan: &Plan, n: u32, opts: &CaseOptions) -> CaseReport {
    let case_id = format!("fake-{n}");
    let mut kill_phases = PhaseCounts::default();
    let mut metrics = Vec::new();
    for (step, s) in plan.steps.iter().enumerate() {
        let (role, command) = match s {
            Step::Backup(b) => {
                if matches!(b.fault, Some(BackupFault::Kill { .. })) {
                    *kill_phases.by_phase.entry(Phase::DuringUpload).or_default() += 1;
                }
                (Role::Backup, ToolCommand::Backup)
            }
            Step::Restore(_) => (Role::Restore, ToolCommand::Restore),
            _ => continue,
        };
        let subvolumes = vec![SubvolumeMetrics { subvolume: "a".into(), total_bytes: 1000 + step as u64, elapsed_seconds: 0.5 }];
        metrics.push(InvocationMetrics { step, role, command, elapsed_ms: 600, subvolumes });
    }
    CaseReport {
        prefix: format!("fake/case-{case_id}/"),
        case_id,
        plan: plan.clone(),
        findings: Vec::new(),
        undecided: Vec::new(),
        notes: Vec::new(),
        history: History::default(),
        kill_phases,
        metrics,
        leftovers: None,
        durations: Durations { total_ms: 100 + u64::from(n), ..Durations::default() },
        harness_error: None,
        interrupted: false,
        stopped: None,
        tool_logs: Vec::new(),
        kept_area: Vec::new(),
        strict_hygiene: opts.strict_hygiene,
    }
}
