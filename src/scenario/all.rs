//! `scenario all`: builds every selected scenario first (so a missing or bad settings
//! file is a usage error before anything is mounted), then sets the run up, runs the
//! scenarios one after another on one engine, and tears the run down whatever
//! happened (best effort). The run's session record is written back after the
//! teardown, so that `cleanup` still addresses the run's S3 prefix afterwards. Stops
//! early only when interrupted. [`table`] renders the summary the command prints.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use super::run::{run_scenario, ScenarioOptions, ScenarioResult};
use super::settings::inputs;
use super::{catalog, Scenario, ScenarioPlan};
use crate::config::Config;
use crate::engine::Engine;
use crate::exit;
use crate::session::{self, Session};

/// A scenario ready to run.
pub type Built = (Scenario, ScenarioPlan);

/// What `scenario all` did.
#[derive(Debug, Default)]
pub struct AllOutcome {
    pub results: Vec<ScenarioResult>,
    /// Set when the run could not be set up (no scenario ran then).
    pub setup_error: Option<String>,
    /// Set when the teardown left something behind.
    pub teardown_error: Option<String>,
    pub elapsed: Duration,
}

impl AllOutcome {
    /// 130 interrupted, else 3 if the harness failed anywhere, else 1 if a scenario
    /// failed, else 0.
    pub fn exit_code(&self) -> i32 {
        let codes: Vec<i32> = self.results.iter().map(ScenarioResult::exit_code).collect();
        if codes.contains(&exit::INTERRUPTED) {
            exit::INTERRUPTED
        } else if self.setup_error.is_some() || self.teardown_error.is_some() || codes.contains(&exit::HARNESS_ERROR) {
            exit::HARNESS_ERROR
        } else if codes.iter().any(|c| *c != exit::OK) {
            exit::FINDINGS
        } else {
            exit::OK
        }
    }
}

/// The scenarios `scenario all` runs: every one, the large ones only if asked.
pub fn selected(include_large: bool) -> Vec<Scenario> {
    catalog().into_iter().filter(|s| include_large || !s.large).collect()
}

/// Builds `scenarios` under `config`; the first problem, as a sentence.
pub fn build_all(config: &Config, scenarios: &[Scenario]) -> Result<Vec<Built>, String> {
    scenarios
        .iter()
        .map(|s| {
            let plan = inputs(s, config).map_err(|e| e.to_string())?;
            Ok((*s, s.build(&plan)?))
        })
        .collect()
}

/// Sets up, runs every built scenario (calling `done` after each), tears down.
pub fn run_all(
    config: Config,
    built: &[Built],
    opts: &ScenarioOptions,
    mut done: impl FnMut(&ScenarioResult),
) -> AllOutcome {
    let t0 = Instant::now();
    let run_dir = config.paths.run_dir.clone();
    let mut out = AllOutcome::default();
    match Session::open(config) {
        Err(e) => out.setup_error = Some(format!("setting up the run: {e}")),
        Ok(session) => match Engine::new(&session) {
            Err(e) => out.setup_error = Some(format!("starting the engine: {e}")),
            Ok(engine) => {
                for (scenario, plan) in built {
                    let result = run_scenario(&engine, scenario, plan, opts);
                    done(&result);
                    let interrupted = result.report.interrupted;
                    out.results.push(result);
                    if interrupted {
                        break;
                    }
                }
            }
        },
    }
    out.teardown_error = teardown_keeping_prefix(&run_dir).err();
    out.elapsed = t0.elapsed();
    out
}

/// Tears the run down (server, fixture) and writes its session record back.
fn teardown_keeping_prefix(run_dir: &Path) -> Result<(), String> {
    let record = session::read_record(run_dir).ok().flatten();
    let summary = session::teardown(run_dir).map_err(|e| format!("tearing down: {e}"))?;
    if !summary.fixture.is_clean() {
        return Err(format!("the teardown left something behind: {:?}", summary.fixture));
    }
    match record {
        Some(r) => session::write_record(run_dir, &r).map_err(|e| format!("keeping the run's prefix: {e}")),
        None => Ok(()),
    }
}

/// The summary table: scenario, result (pass, `fail P<n>`, error, interrupted) and
/// wall time, then a totals line.
pub fn table(outcome: &AllOutcome) -> String {
    let mut out = String::new();
    let width = outcome.results.iter().map(|r| r.name.len()).max().unwrap_or(8).max(8);
    let _ = writeln!(out, "{:<width$}  {:<11}  {:>8}", "scenario", "result", "time");
    for r in &outcome.results {
        let _ = writeln!(out, "{:<width$}  {:<11}  {:>6.1} s", r.name, r.verdict(), r.elapsed.as_secs_f64());
    }
    let count = |v: &str| outcome.results.iter().filter(|r| r.verdict().starts_with(v)).count();
    let _ = writeln!(
        out,
        "{} scenario(s): {} passed, {} failed, {} error(s) in {:.1} s",
        outcome.results.len(),
        count("pass"),
        count("fail"),
        count("error"),
        outcome.elapsed.as_secs_f64()
    );
    if let Some(e) = &outcome.setup_error {
        let _ = writeln!(out, "SETUP FAILED: {e}");
    }
    if let Some(e) = &outcome.teardown_error {
        let _ = writeln!(out, "TEARDOWN INCOMPLETE: {e}");
    }
    out
}
