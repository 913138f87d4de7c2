//! `case (--plan FILE | --seed S --case N [--profile pr|nightly]) [--keep]`: runs one
//! case through the engine against the run's session (set up or reused), prints the
//! findings and a summary (kill phases, invocations), and writes the case report JSON
//! to `<run_dir>/reports/case-<id>.json`. Exit 0 no failing findings, 1 findings,
//! 3 harness error, 130 interrupted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::{CaseOptions, CaseReport, Engine};
use crate::gen::plan::{Plan, PLAN_FORMAT};
use crate::gen::{generate, normalize, GenProfile};
use crate::session::Session;

use super::{load_config, CommandError};

/// Where the plan comes from and how to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseArgs {
    /// A plan file (JSON, as the bug base and `gen::render` keep them).
    pub plan: Option<PathBuf>,
    pub seed: Option<u64>,
    pub case: Option<u64>,
    /// `pr`, `nightly`, or a `[profile.<name>.gen]` table of the harness config.
    pub profile: String,
    /// Keep the case area and its S3 objects.
    pub keep: bool,
    /// The case's time limit in seconds (default: the engine's).
    pub time_limit_secs: Option<u64>,
}

pub fn case(config_path: &Path, args: &CaseArgs) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let plan = load_plan(args, &config)?;
    let session =
        Session::open(config).map_err(|e| CommandError::harness("setting up the run", e))?;
    let engine =
        Engine::new(&session).map_err(|e| CommandError::harness("starting the engine", e))?;
    let mut options = CaseOptions {
        keep_area: args.keep,
        ..CaseOptions::default()
    };
    if let Some(secs) = args.time_limit_secs {
        options.time_limit = Duration::from_secs(secs);
    }
    let report = engine.run_case(&plan, &options);
    print!("{}", report.render());
    let path = write_report(&session.config.paths.run_dir, &report)?;
    println!("report: {}", path.display());
    if report.interrupted {
        return Err(CommandError::Interrupted);
    }
    Ok(report.exit_code())
}

/// The plan named by the arguments: read from a file (and normalized, with a warning
/// if that changed it), or generated.
fn load_plan(args: &CaseArgs, config: &crate::config::Config) -> Result<Plan, CommandError> {
    match (&args.plan, args.seed, args.case) {
        (Some(path), None, None) => read_plan(path),
        (None, Some(seed), Some(case)) => {
            Ok(generate(seed, case, &profile(&args.profile, config)?))
        }
        _ => Err(CommandError::Usage(
            "give either --plan FILE or both --seed S and --case N".into(),
        )),
    }
}

fn read_plan(path: &Path) -> Result<Plan, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::Usage(format!("reading the plan {}: {e}", path.display())))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| {
        CommandError::Usage(format!("the plan {} is not a plan: {e}", path.display()))
    })?;
    if plan.format != PLAN_FORMAT {
        return Err(CommandError::Usage(format!(
            "the plan {} has format {}, this harness reads format {PLAN_FORMAT}",
            path.display(),
            plan.format
        )));
    }
    let valid = normalize(&plan);
    if valid != plan {
        eprintln!(
            "b2s3-harness: the plan {} was not valid; running its valid part (gen::normalize)",
            path.display()
        );
    }
    Ok(valid)
}

fn profile(name: &str, config: &crate::config::Config) -> Result<GenProfile, CommandError> {
    match name {
        "pr" => Ok(GenProfile::pr()),
        "nightly" => Ok(GenProfile::nightly()),
        other => {
            let table = config
                .profiles
                .get(other)
                .and_then(|p| p.get("gen"))
                .and_then(|g| g.as_table())
                .ok_or_else(|| {
                    CommandError::Usage(format!(
                        "no profile {other:?}: use pr, nightly or a [profile.{other}.gen] table"
                    ))
                })?;
            GenProfile::from_table(table).map_err(|e| CommandError::Usage(e.to_string()))
        }
    }
}

/// Writes the report to `<run_dir>/reports/case-<id>.json`.
pub fn write_report(run_dir: &Path, report: &CaseReport) -> Result<PathBuf, CommandError> {
    let dir = run_dir.join("reports");
    std::fs::create_dir_all(&dir)
        .map_err(|e| CommandError::harness("creating the reports dir", e))?;
    let path = dir.join(format!("case-{}.json", report.case_id));
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| CommandError::harness("serialising the report", e))?;
    std::fs::write(&path, text + "\n")
        .map_err(|e| CommandError::harness("writing the report", e))?;
    Ok(path)
}
