//! Runs one scenario: its plan through [`Engine::run_case`] (the same engine as every
//! generated case), then its expectations over the report ([`super::expect::check`]),
//! merged into that report so that it has one verdict and one exit code. The case area
//! is kept while the tool logs are copied to `<logs_dir>/scenario-<name>/` (with the
//! report, the rendered plan and the expectations), then removed with the case's S3
//! objects unless the caller keeps them.
//!
//! It judges nothing itself: findings come from the engine and from `expect`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::expect::{check, Checked};
use super::{Scenario, ScenarioPlan};
use crate::engine::{CaseOptions, CaseReport, Engine};
use crate::fixture::CaseArea;
use crate::oracle::finding::Finding;

/// How a scenario is run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioOptions {
    /// Keep the case area and its S3 objects for inspection.
    pub keep: bool,
    /// The case's time limit (default: the engine's).
    pub time_limit: Option<Duration>,
}

/// One scenario's outcome.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub name: String,
    /// The case report with the scenario's own findings, notes and guard failures.
    pub report: CaseReport,
    /// `<logs_dir>/scenario-<name>/`, when the logs could be written there.
    pub logs: Option<PathBuf>,
    pub elapsed: Duration,
}

impl ScenarioResult {
    /// 0 pass, 1 failing findings, 3 harness error, 130 interrupted.
    pub fn exit_code(&self) -> i32 {
        self.report.exit_code()
    }

    /// The first finding that fails the scenario.
    pub fn first_failing(&self) -> Option<&Finding> {
        self.report.failing().next()
    }

    /// `pass`, `fail P6` (the first failing finding's property), `error` or
    /// `interrupted`.
    pub fn verdict(&self) -> String {
        if self.report.interrupted {
            "interrupted".into()
        } else if self.report.harness_error.is_some() {
            "error".into()
        } else if let Some(f) = self.first_failing() {
            format!("fail {}", f.property.id())
        } else {
            "pass".into()
        }
    }
}

/// Runs `built` (the plan of `scenario`) on `engine`.
pub fn run_scenario(
    engine: &Engine,
    scenario: &Scenario,
    built: &ScenarioPlan,
    opts: &ScenarioOptions,
) -> ScenarioResult {
    let t0 = Instant::now();
    let mut options = CaseOptions { keep_area: true, ..CaseOptions::default() };
    if let Some(limit) = opts.time_limit {
        options.time_limit = limit;
    }
    let mut report = engine.run_case(&built.plan, &options);
    let checked = check(&report, &built.expect);
    merge(&mut report, scenario.name, checked);
    let dir = engine.session().config.paths.logs_dir.join(format!("scenario-{}", scenario.name));
    let copied = copy_tool_logs(&dir, &mut report);
    if !opts.keep {
        discard(engine, &mut report);
    }
    let logs = match copied.and_then(|()| write_records(&dir, &report, built)) {
        Ok(()) => Some(dir),
        Err(e) => {
            report.notes.push(format!("scenario logs not written to {}: {e}", dir.display()));
            None
        }
    };
    ScenarioResult { name: scenario.name.to_string(), report, logs, elapsed: t0.elapsed() }
}

/// Adds the scenario's findings (unless the engine already reported that property at
/// that step), notes and failed guards (a harness error) to the report.
fn merge(report: &mut CaseReport, name: &str, checked: Checked) {
    for f in checked.findings {
        let known = report.findings.iter().any(|g| g.property == f.property && g.step == f.step);
        if !known {
            report.findings.push(f);
        }
    }
    report.notes.extend(checked.notes.into_iter().map(|n| format!("scenario: {n}")));
    if checked.guards.is_empty() {
        return;
    }
    let why = format!("scenario {name} did not exercise what it claims: {}", checked.guards.join("; "));
    match report.harness_error {
        None => report.harness_error = Some(why),
        Some(_) => report.notes.push(why),
    }
}

/// Copies the tool logs into `dir` (emptied first) and points the report at the copies.
fn copy_tool_logs(dir: &Path, report: &mut CaseReport) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::create_dir_all(dir)?;
    let mut moved = Vec::new();
    for from in &report.tool_logs {
        let Some(file) = Path::new(from).file_name() else { continue };
        let to = dir.join(file);
        if std::fs::copy(from, &to).is_ok() {
            moved.push((from.clone(), to.display().to_string()));
        }
    }
    let renamed = |p: &mut Option<String>| {
        if let Some((_, to)) = p.as_ref().and_then(|old| moved.iter().find(|(from, _)| from == old)) {
            *p = Some(to.clone());
        }
    };
    for inv in report.history.steps.iter_mut().flat_map(|s| s.invocations.iter_mut()) {
        renamed(&mut inv.stdout_path);
        renamed(&mut inv.stderr_path);
    }
    report.tool_logs = moved.into_iter().map(|(_, to)| to).collect();
    Ok(())
}

/// Removes the case area and the case's S3 objects (the engine kept them for the logs).
fn discard(engine: &Engine, report: &mut CaseReport) {
    if let Err(e) = CaseArea::destroy_leftovers(&engine.session().fixture, &report.case_id) {
        report.harness_error.get_or_insert(format!("destroying the case area: {e}"));
    }
    if let Err(e) = engine.client().cleanup_prefix(&report.prefix, true) {
        report.harness_error.get_or_insert(format!("deleting the case's S3 objects: {e}"));
    }
    report.kept_area.clear();
    report.notes.retain(|n| !n.starts_with("case area and S3 objects under"));
}

/// `report.json`, `plan.txt` (the rendered plan), `expectations.txt` and `result.txt`
/// (what `scenario` printed) in `dir`.
fn write_records(dir: &Path, report: &CaseReport, built: &ScenarioPlan) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json + "\n")?;
    std::fs::write(dir.join("plan.txt"), crate::gen::render(&built.plan))?;
    let expectations: String = built.expect.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(dir.join("expectations.txt"), expectations)?;
    std::fs::write(dir.join("result.txt"), report.render())
}
