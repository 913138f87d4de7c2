//! `selfcheck [--profile pr|nightly] [--variants a,b] [--seeds 1,2,3] [--cases N]
//! [--time-budget T] [--workers W]`: the tester's score. In one harness process and one
//! session, runs the profile against the correct tool (`B2S3_REF_BUG` unset), then
//! against each bug variant (`B2S3_REF_BUG=<variant>`, set in this process's environment
//! before the variant's cases; the engine builds every tool invocation's environment
//! from it through `tool.pass_env`). The variants come from `<tool.cmd> --list-bugs`
//! unless `--variants` names them. Prints the table, writes
//! `<run_dir>/reports/selfcheck.json`. Exit 0 when the correct tool had no finding and
//! every variant was found, 1 otherwise, 2 usage or config error, 3 harness error,
//! 130 interrupted (the JSON still covers what ran).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::campaign::selfcheck::{hunt, Hunt, HuntSpec, Machine, Selfcheck, VariantRow, DEFAULT_SEEDS};
use crate::campaign::{self, CampaignProfile, CaseRunner, Overrides};
use crate::config::Config;
use crate::engine::Engine;
use crate::exit;
use crate::tool::signals;

use super::fuzz::RunSession;
use super::{load_config, CommandError};

/// The variable that selects a bug variant of the reference tool.
pub const BUG_VAR: &str = "B2S3_REF_BUG";

/// The command line of `selfcheck`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelfcheckArgs {
    pub profile: String,
    pub variants: Option<Vec<String>>,
    pub seeds: Option<Vec<u64>>,
    pub cases: Option<u64>,
    pub time_budget: Option<Duration>,
    pub workers: Option<usize>,
    /// Overrides the profile's shrink time budget.
    pub shrink_time: Option<Duration>,
    /// Skip the correct tool's hunt (its row shows 0 cases and the self-check fails).
    pub skip_correct: bool,
}

pub fn selfcheck(config_path: &Path, args: &SelfcheckArgs) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let mut profile = campaign::profile::load(&config, &args.profile)?;
    let overrides = Overrides { cases: args.cases, time_budget: args.time_budget, workers: args.workers, regressions: None };
    overrides.apply(&mut profile);
    if let Some(t) = args.shrink_time {
        profile.shrink.max_time = t;
    }
    if !config.tool.pass_env.iter().any(|v| v == BUG_VAR) {
        return Err(CommandError::Usage(format!("{}: tool.pass_env must contain {BUG_VAR}, or the variants would all run the correct tool", config.file.display())));
    }
    let variants = match &args.variants {
        Some(v) => v.clone(),
        None => list_bugs(&config)?,
    };
    let seeds = args.seeds.clone().unwrap_or_else(|| DEFAULT_SEEDS.to_vec());
    println!(
        "selfcheck: profile {}, {} variant(s), seeds {:?}; per tool at most {} case(s) / {} s, shrink {} runs / {} s",
        profile.name,
        variants.len(),
        seeds,
        profile.cases,
        profile.time_budget.as_secs(),
        profile.shrink.max_runs,
        profile.shrink.max_time.as_secs()
    );
    let machine = Machine::detect();
    let run = RunSession::open(config.clone())?;
    let hunts = run_hunts(&run, &profile, &seeds, &variants, args.skip_correct);
    let mut code = exit::OK;
    if let Err(problem) = run.close() {
        eprintln!("b2s3-harness: {problem}");
        code = exit::HARNESS_ERROR;
    }
    let (correct, rows) = hunts?;
    let check = Selfcheck::new(machine, &profile.name, seeds, correct, rows);
    finish(&config, &check, code)
}

/// The correct tool's hunt, then each variant's, with the variable set for each.
fn run_hunts(run: &RunSession, profile: &CampaignProfile, seeds: &[u64], variants: &[String], skip_correct: bool) -> Result<(Hunt, Vec<VariantRow>), CommandError> {
    let engine = Engine::new(&run.session).map_err(|e| CommandError::harness("starting the engine", e))?;
    let saved = std::env::var_os(BUG_VAR);
    let spec = |stop_at_first| HuntSpec { profile: profile.clone(), seeds: seeds.to_vec(), stop_at_first };
    let mut correct_spec = spec(false);
    if skip_correct {
        correct_spec.profile.cases = 0;
    }
    let correct = hunt_one(&engine, None, &correct_spec);
    let mut rows = Vec::new();
    for variant in variants {
        if signals::interrupted() {
            break;
        }
        rows.push(VariantRow::new(variant, hunt_one(&engine, Some(variant), &spec(true))));
    }
    match saved {
        Some(v) => std::env::set_var(BUG_VAR, v),
        None => std::env::remove_var(BUG_VAR),
    }
    Ok((correct, rows))
}

/// One hunt with `B2S3_REF_BUG` set to `variant` (unset for the correct tool). No
/// worker thread runs while the variable changes.
fn hunt_one<R: CaseRunner + ?Sized>(runner: &R, variant: Option<&str>, spec: &HuntSpec) -> Hunt {
    match variant {
        Some(v) => std::env::set_var(BUG_VAR, v),
        None => std::env::remove_var(BUG_VAR),
    }
    let name = variant.unwrap_or("correct");
    println!("selfcheck: {name}: hunting");
    let h = hunt(runner, spec);
    match &h.found {
        Some(f) => println!(
            "selfcheck: {name}: found {} after {} case(s), {:.0} s (shrink {:.0} s to {}/{}/{} steps/files/bytes): {}",
            f.failure.property.id(),
            f.cases_until,
            f.secs_until,
            f.shrink_secs,
            f.shrunk.steps,
            f.shrunk.files,
            f.shrunk.bytes,
            f.failure.message
        ),
        None => println!("selfcheck: {name}: {} case(s), {:.0} s, {} failing case(s), nothing confirmed", h.cases, h.secs, h.failures.len()),
    }
    h
}

/// Writes selfcheck.json, prints the table; 130 when interrupted.
fn finish(config: &Config, check: &Selfcheck, code: i32) -> Result<i32, CommandError> {
    let dir = config.paths.run_dir.join("reports");
    let path = dir.join("selfcheck.json");
    let json = serde_json::to_string_pretty(check).map_err(|e| CommandError::harness("serializing selfcheck.json", e))?;
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, json + "\n"))
        .map_err(|e| CommandError::harness(&format!("writing {}", path.display()), e))?;
    print!("{}", check.table());
    println!("report: {}", path.display());
    if signals::interrupted() {
        return Ok(exit::INTERRUPTED);
    }
    Ok(if code == exit::OK { check.exit_code() } else { code })
}

/// The tool's variant names from `<tool.cmd> --list-bugs`, one per line.
pub fn list_bugs(config: &Config) -> Result<Vec<String>, CommandError> {
    let cmd = &config.tool.cmd;
    let unsupported = |why: String| {
        CommandError::Usage(format!("the configured tool {cmd:?} cannot list its bug variants ({why}); name them with --variants a,b,..."))
    };
    let out = Command::new(&cmd[0]).args(&cmd[1..]).arg("--list-bugs").output().map_err(|e| unsupported(e.to_string()))?;
    if !out.status.success() {
        return Err(unsupported(format!("`--list-bugs` exited with {}", out.status)));
    }
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.is_empty() {
        return Err(unsupported("`--list-bugs` printed nothing".into()));
    }
    Ok(names)
}
