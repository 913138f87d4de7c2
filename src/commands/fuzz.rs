//! `fuzz --profile <name> [--seed S] [--cases N] [--time-budget T] [--workers W]
//! [--shard K/N] [--regressions FILE | --no-regressions]`: a campaign. Prints `seed: S`
//! first, replays the regressions file, runs the profile's cases (this shard's slice),
//! shrinks and files failures in `<run_dir>/bugs/`, tears down what it set up, writes
//! `<run_dir>/reports/<run id>/{summary.json,junit.xml,benchmark.json}`, prints the
//! closing table and, when a case failed, the command replaying the first failure as the
//! last line. Exit 0 no failing findings, 1 findings, 2 usage or config error, 3 harness
//! error, 130 interrupted (reports are still written).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::campaign::progress::{say_line, say_text, warn_line};
use crate::campaign::progress;
use crate::campaign::record::FailureRecord;
use crate::campaign::regressions;
use crate::campaign::report::{self, closing_table, RunInfo};
use crate::campaign::versions::Versions;
use crate::campaign::{self, CampaignProfile, CampaignResult, CampaignSpec, CommandLine, Job, Overrides, Shard};
use crate::config::{Config, RunId};
use crate::engine::Engine;
use crate::exit;
use crate::session::{self, Session};

use super::{load_config, CommandError};

/// The command line of `fuzz`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuzzArgs {
    pub profile: String,
    pub seed: Option<u64>,
    pub cases: Option<u64>,
    pub time_budget: Option<Duration>,
    pub workers: Option<usize>,
    pub shard: Option<Shard>,
    pub regressions: Option<PathBuf>,
    /// Neither replay nor append to the regressions file.
    pub no_regressions: bool,
}

pub fn fuzz(config_path: &Path, args: &FuzzArgs) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let mut profile = campaign::profile::load(&config, &args.profile)?;
    let overrides = Overrides {
        cases: args.cases,
        time_budget: args.time_budget,
        workers: args.workers,
        regressions: args.regressions.clone(),
    };
    overrides.apply(&mut profile);
    let seed = args.seed.unwrap_or_else(random_seed);
    say_line!("seed: {seed}");
    let regressions = if args.no_regressions { Vec::new() } else { regression_jobs(&config, &profile)? };
    let spec = CampaignSpec {
        seed,
        shard: args.shard.unwrap_or_default(),
        bugs_dir: config.paths.run_dir.join("bugs"),
        commands: CommandLine::current(&config),
        regressions,
        record_regressions: !args.no_regressions,
        profile,
    };
    print_plan(&spec);
    let started_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let run = RunSession::open(config.clone())?;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run_campaign(&run, &spec)));
    let closed = run.close();
    let result = outcome.map_err(|p| CommandError::Harness(format!("the campaign panicked ({}); the session was torn down", panic_text(&p))))??;
    let mut code = report::exit_code(&result);
    if let Err(problem) = closed {
        warn_line!("b2s3-harness: {problem}");
        code = if code == exit::OK { exit::HARNESS_ERROR } else { code };
    }
    finish(&config, &spec, &result, started_at, code)
}

/// The message of a caught panic.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}

fn run_campaign(run: &RunSession, spec: &CampaignSpec) -> Result<CampaignResult, CommandError> {
    let engine = Engine::new(&run.session).map_err(|e| CommandError::harness("starting the engine", e))?;
    let progress = progress::for_terminal();
    Ok(campaign::run(&engine, spec, progress.as_ref()))
}

fn print_plan(spec: &CampaignSpec) {
    let p = &spec.profile;
    say_line!("profile {}: {} case(s) (shard {}), {} regression replay(s), {} worker(s), time budget {} s, case limit {} s, shrink {} runs / {} s, fail on {}",
        p.name,
        spec.shard.cases(p.cases).count(),
        spec.shard,
        spec.regressions.len(),
        p.workers,
        p.time_budget.as_secs(),
        p.case_time_limit.as_secs(),
        p.shrink.max_runs,
        p.shrink.max_time.as_secs(),
        p.fail_on.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("+")
    );
}

/// Writes the reports and prints the closing table; the replay command comes last.
fn finish(config: &Config, spec: &CampaignSpec, result: &CampaignResult, started_at: String, code: i32) -> Result<i32, CommandError> {
    let info = RunInfo {
        run_id: format!("{}-s{}-{}of{}", RunId::generate(), spec.seed, spec.shard.index, spec.shard.count),
        profile: spec.profile.name.clone(),
        seed: spec.seed,
        shard: spec.shard,
        started_at,
        fail_on: spec.profile.fail_on.iter().copied().collect(),
        versions: Versions::detect(config),
    };
    let (summary, written) = report::write_reports(&config.paths.run_dir.join("reports"), &info, result)
        .map_err(|e| CommandError::harness("writing the campaign reports", e))?;
    say_text!("{}", closing_table(&summary, result));
    say_line!("reports: {}", written.dir.display());
    if result.interrupted {
        say_line!("interrupted: the reports cover the {} case(s) that finished", result.records.len());
    }
    if let Some(first) = first_failure(result) {
        say_line!("replay the first failure with:");
        say_line!("{}", first.replay);
    }
    Ok(code)
}

/// The failure whose replay command ends the output: the first filed finding, else the
/// first finding, else the first harness error.
fn first_failure(result: &CampaignResult) -> Option<&FailureRecord> {
    let all: Vec<&FailureRecord> = result.failures().filter_map(|r| r.failure.as_ref()).collect();
    let filed = all.iter().find(|f| f.property.is_some() && f.bug_dir.is_some());
    filed.or_else(|| all.iter().find(|f| f.property.is_some())).or(all.first()).copied()
}

/// The regressions file's entries as jobs; entries of profiles this config lacks are
/// skipped with a warning.
fn regression_jobs(config: &Config, profile: &CampaignProfile) -> Result<Vec<Job>, CommandError> {
    let entries = regressions::read(&profile.regressions).map_err(|e| CommandError::Usage(e.to_string()))?;
    let (jobs, skipped) = regressions::jobs(config, entries);
    for s in skipped {
        warn_line!("b2s3-harness: {s}");
    }
    Ok(jobs)
}

/// A fresh random seed (std's random hasher keys, the clock and the pid).
pub fn random_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}

/// `90`, `90s`, `15m`, `2h`: a duration for `--time-budget`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s.trim().split_at(s.trim().find(|c: char| !c.is_ascii_digit()).unwrap_or(s.trim().len()));
    let n: u64 = digits.parse().map_err(|_| format!("{s:?}: expected seconds, or a number with s, m or h (90, 15m, 2h)"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}; use s, m or h")),
    };
    Ok(Duration::from_secs(n * factor))
}

/// The session of a command that runs cases: opened (set up, or reused when an earlier
/// `setup` left one) and, if this command set it up, torn down by [`RunSession::close`].
pub struct RunSession {
    pub session: Session,
    fresh: bool,
}

impl RunSession {
    pub fn open(config: Config) -> Result<RunSession, CommandError> {
        let fresh = !matches!(session::read_record(&config.paths.run_dir), Ok(Some(_)));
        let session = Session::open(config).map_err(|e| CommandError::harness("setting up the run", e))?;
        Ok(RunSession { session, fresh })
    }

    /// Stops what this command started; tears the fixture down if it set it up.
    pub fn close(self) -> Result<(), String> {
        let run_dir = self.session.config.paths.run_dir.clone();
        drop(self.session);
        if !self.fresh {
            say_line!("kept the session set up before this command; `teardown` undoes it");
            return Ok(());
        }
        match session::teardown(&run_dir) {
            Ok(s) if s.fixture.is_clean() => Ok(()),
            Ok(s) => Err(format!("teardown of {} left: {:?}", run_dir.display(), s.fixture.unresolved)),
            Err(e) => Err(format!("tearing down {}: {e}", run_dir.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_budgets_take_seconds_or_a_unit() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("2d").is_err());
        assert!(parse_duration("m").is_err());
    }
}
