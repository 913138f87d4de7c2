//! `scenario <name> | all [--include-large] | list`: the fixed scenarios of the
//! requirements (`crate::scenario`). One scenario runs on the run's session (set up or
//! reused, like `case`) and prints its findings and verdict; `all` sets the run up,
//! runs every scenario, tears down even when one fails, and prints a table of
//! scenario, result and time. Each scenario's tool logs, report, plan and
//! expectations go to `<logs_dir>/scenario-<name>/`, its report JSON also to
//! `<run_dir>/reports/`. Exit 0 all passed, 1 findings, 2 usage (unknown scenario, a
//! missing settings file), 3 harness error, 130 interrupted.

use std::path::Path;
use std::time::Duration;

use crate::engine::Engine;
use crate::exit;
use crate::scenario::all::{build_all, run_all, selected, table};
use crate::scenario::run::{run_scenario, ScenarioOptions, ScenarioResult};
use crate::scenario::{self, settings, SettingsFrom};
use crate::session::Session;

use super::case::write_report;
use super::{load_config, CommandError};

/// The command line of `scenario`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioArgs {
    /// A scenario name, `all` or `list`.
    pub name: String,
    /// With `all`: also the large scenarios.
    pub include_large: bool,
    /// Keep the case area and S3 objects (one scenario only).
    pub keep: bool,
    pub time_limit_secs: Option<u64>,
}

pub fn scenario(config_path: &Path, args: &ScenarioArgs) -> Result<i32, CommandError> {
    match args.name.as_str() {
        "list" => Ok(list()),
        "all" if args.keep => Err(CommandError::Usage(
            "--keep applies to one scenario: `scenario all` tears the run down at its end".into(),
        )),
        "all" => all(config_path, args),
        name => one(config_path, name, args),
    }
}

fn options(args: &ScenarioArgs) -> ScenarioOptions {
    ScenarioOptions { keep: args.keep, time_limit: args.time_limit_secs.map(Duration::from_secs) }
}

/// Prints every scenario, where its settings come from and what it proves.
fn list() -> i32 {
    for s in scenario::catalog() {
        let from = match s.settings {
            SettingsFrom::Harness => "harness config".to_string(),
            SettingsFrom::File(f) => f.to_string(),
        };
        let large = if s.large { ", --include-large" } else { "" };
        println!("{:<18} ({from}{large}) {}", s.name, s.proves);
    }
    exit::OK
}

fn one(config_path: &Path, name: &str, args: &ScenarioArgs) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let found = scenario::find(name).ok_or_else(|| {
        CommandError::Usage(format!("no scenario {name:?}: use one of {}, all or list", scenario::names().join(", ")))
    })?;
    let inputs = settings::inputs(&found, &config).map_err(|e| CommandError::Usage(e.to_string()))?;
    let built = found.build(&inputs).map_err(CommandError::Usage)?;
    let session = Session::open(config).map_err(|e| CommandError::harness("setting up the run", e))?;
    let engine = Engine::new(&session).map_err(|e| CommandError::harness("starting the engine", e))?;
    let result = run_scenario(&engine, &found, &built, &options(args));
    print!("{}", result.report.render());
    println!("scenario {name}: {} in {:.1} s", result.verdict(), result.elapsed.as_secs_f64());
    print_paths(&session.config.paths.run_dir, &result);
    if result.report.interrupted {
        return Err(CommandError::Interrupted);
    }
    Ok(result.exit_code())
}

fn all(config_path: &Path, args: &ScenarioArgs) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let built = build_all(&config, &selected(args.include_large)).map_err(CommandError::Usage)?;
    let run_dir = config.paths.run_dir.clone();
    let total = built.len();
    let mut n = 0;
    let outcome = run_all(config, &built, &options(args), |r| {
        n += 1;
        println!("[{n}/{total}] {}: {} ({:.1} s)", r.name, r.verdict(), r.elapsed.as_secs_f64());
        if let Some(e) = &r.report.harness_error {
            println!("    harness error: {e}");
        }
        for f in r.report.failing().take(3) {
            println!("    {f}");
        }
        print_paths(&run_dir, r);
    });
    print!("{}", table(&outcome));
    Ok(outcome.exit_code())
}

/// Where the scenario's logs and report went.
fn print_paths(run_dir: &Path, r: &ScenarioResult) {
    if let Some(dir) = &r.logs {
        println!("    logs: {}", dir.display());
    }
    match write_report(run_dir, &r.report) {
        Ok(path) => println!("    report: {}", path.display()),
        Err(e) => println!("    report not written: {e}"),
    }
}
