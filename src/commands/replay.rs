//! `replay <bug folder>` re-runs a bug's shrunk plan and says whether its finding (the
//! same property id, at a failing severity) reproduced: exit 1 if it did, 0 if it did
//! not (other findings are still printed). For a harness-error folder, exit 3 if the
//! harness error came back. `replay --seed S --case N [--profile P]` regenerates the
//! plan of a case and runs it: exit 1 on any failing finding, 0 otherwise. Both: 3 on a
//! harness error, 130 when interrupted; `--keep` keeps the case area and S3 objects.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use crate::campaign::progress::{say_line, say_text, warn_line};
use crate::campaign::bugbase::{self, StoredBug};
use crate::campaign::verdict::{failing, first_of, judge, reproduces, FailOn, Verdict};
use crate::campaign::{self, CampaignProfile};
use crate::config::Config;
use crate::engine::{CaseOptions, CaseReport, Engine};
use crate::exit;
use crate::gen::plan::Plan;
use crate::gen::{generate, render};
use crate::oracle::finding::Severity;

use super::case::write_report;
use super::fuzz::{panic_text, RunSession};
use super::{load_config, CommandError};

/// The command line of `replay`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayArgs {
    pub bug_dir: Option<PathBuf>,
    pub seed: Option<u64>,
    pub case: Option<u64>,
    pub profile: String,
    pub keep: bool,
}

pub fn replay(config_path: &Path, args: &ReplayArgs) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    match (&args.bug_dir, args.seed, args.case) {
        (Some(dir), None, None) => {
            let bug = bugbase::read_bug(dir).map_err(CommandError::Usage)?;
            replay_bug(config, &bug, args.keep)
        }
        (None, Some(seed), Some(case)) => replay_seed(config, seed, case, &args.profile, args.keep),
        _ => Err(CommandError::Usage("give either a bug folder or both --seed S and --case N".into())),
    }
}

fn replay_bug(config: Config, bug: &StoredBug, keep: bool) -> Result<i32, CommandError> {
    let m = &bug.meta;
    let fail_on: FailOn = m.fail_on.iter().copied().collect();
    let profile = campaign::profile::load(&config, &m.profile).ok();
    say_line!("replaying {} ({} steps, {} files)", bug.dir.display(), bug.plan.steps.len(), bug.plan.files_written());
    let report = run_plan(config, &bug.plan, profile.as_ref(), &fail_on, keep)?;
    let code = match (m.property, judge(&report, &fail_on)) {
        (_, Verdict::Interrupted) => return Err(CommandError::Interrupted),
        (None, Verdict::HarnessError(e)) => say(exit::HARNESS_ERROR, format!("REPRODUCED: the harness error came back: {e}")),
        (None, _) => say(exit::OK, "NOT REPRODUCED: no harness error this time".to_string()),
        (Some(_), Verdict::HarnessError(e)) => say(exit::HARNESS_ERROR, format!("HARNESS ERROR (the finding could not be checked): {e}")),
        (Some(p), _) if reproduces(&report, p, &fail_on) => {
            let f = first_of(&report, p, &fail_on).map(ToString::to_string).unwrap_or_default();
            say(exit::FINDINGS, format!("REPRODUCED {} {}: {f}", p.id(), p.name()))
        }
        (Some(p), _) => {
            let others = failing(&report, &fail_on).count();
            let note = if others > 0 { format!("; {others} other failing finding(s), listed above") } else { String::new() };
            say(exit::OK, format!("NOT REPRODUCED: no failing {} {} finding in this run{note}", p.id(), p.name()))
        }
    };
    Ok(code)
}

fn replay_seed(config: Config, seed: u64, case: u64, profile: &str, keep: bool) -> Result<i32, CommandError> {
    let p = campaign::profile::load(&config, profile)?;
    let plan = generate(seed, case, &p.gen);
    say_text!("{}", render(&plan));
    let report = run_plan(config, &plan, Some(&p), &p.fail_on, keep)?;
    let code = match judge(&report, &p.fail_on) {
        Verdict::Interrupted => return Err(CommandError::Interrupted),
        Verdict::HarnessError(e) => say(exit::HARNESS_ERROR, format!("HARNESS ERROR: {e}")),
        Verdict::Fail { property, .. } => {
            let f = first_of(&report, property, &p.fail_on).map(ToString::to_string).unwrap_or_default();
            say(exit::FINDINGS, format!("FAILED {} {}: {f}", property.id(), property.name()))
        }
        Verdict::Pass => say(exit::OK, format!("PASSED: no failing finding (seed {seed} case {case}, profile {profile})")),
    };
    Ok(code)
}

/// Runs one plan in a session of its own (torn down after, unless it was set up before).
fn run_plan(
    config: Config,
    plan: &Plan,
    profile: Option<&CampaignProfile>,
    fail_on: &FailOn,
    keep: bool,
) -> Result<CaseReport, CommandError> {
    let run = RunSession::open(config)?;
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let engine = Engine::new(&run.session).map_err(|e| CommandError::harness("starting the engine", e))?;
        let mut opts = CaseOptions { keep_area: keep, strict_hygiene: fail_on.contains(&Severity::Hygiene), ..CaseOptions::default() };
        if let Some(p) = profile {
            opts.time_limit = p.case_time_limit;
        }
        Ok::<_, CommandError>(engine.run_case(plan, &opts))
    }));
    let run_dir = run.session.config.paths.run_dir.clone();
    if let Err(problem) = run.close() {
        warn_line!("b2s3-harness: {problem}");
    }
    let report = ran.map_err(|p| CommandError::Harness(format!("the case panicked ({}); the session was torn down", panic_text(&p))))??;
    say_text!("{}", report.render());
    match write_report(&run_dir, &report) {
        Ok(path) => say_line!("report: {}", path.display()),
        Err(e) => warn_line!("b2s3-harness: {e}"),
    }
    Ok(report)
}

fn say(code: i32, line: String) -> i32 {
    say_line!("{line}");
    code
}
