//! Campaign profiles: `[profile.<name>]` tables of the harness config, read strictly
//! (an unknown key, a wrong type or a bad value is an error naming the file and the
//! dotted key, exit 2), over built-in defaults for `pr` and `nightly`. A profile says
//! how many cases to run, for how long, on how many workers, what fails a case, how
//! hard to shrink, and (in `[profile.<name>.gen]`) how the generator draws plans.
//!
//! | key | pr | nightly | meaning |
//! |---|---|---|---|
//! | `base` | `"pr"` | `"nightly"` | built-in defaults and generator base (other names: `pr` unless set) |
//! | `cases` | 60 | 400 | cases of the whole run (a shard runs its slice of `0..cases`) |
//! | `time_budget_secs` | 360 | 21600 | no new case starts after this; running cases and their shrinking finish |
//! | `case_time_limit_secs` | 180 | 900 | one case's limit; a hung tool is killed (P10) |
//! | `workers` | 2 | 2 | cases run in parallel (threads sharing one engine) |
//! | `fail_on` | `["violation", "robustness"]` | same | severities whose findings fail a case |
//! | `strict_hygiene` | false | false | hygiene (P14) fails a case too (adds `hygiene` to `fail_on`) |
//! | `shrink_max_runs` | 100 | 400 | case runs one shrink may spend |
//! | `shrink_time_secs` | 150 | 1800 | wall time one shrink may spend |
//! | `shrink_attempts` | 2 | 2 | runs of a candidate before it is rejected (1 to 5) |
//! | `regressions` | `<repo>/proptest-regressions/campaign.txt` | same | regressions file; relative to the config file |
//! | `[gen]` | | | `gen::GenProfile` keys over the base's generator profile |
//!
//! This module reads tables; it runs nothing and touches no file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Table;

use crate::config::error::{ConfigError, KeyProblem};
use crate::config::reader::{Section, Source};
use crate::config::Config;
use crate::gen::{GenProfile, ProfileError};
use crate::oracle::finding::Severity;

/// The built-in profile a campaign profile starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Pr,
    Nightly,
}

impl Base {
    pub fn as_str(self) -> &'static str {
        match self {
            Base::Pr => "pr",
            Base::Nightly => "nightly",
        }
    }

    fn parse(s: &str) -> Option<Base> {
        match s {
            "pr" => Some(Base::Pr),
            "nightly" => Some(Base::Nightly),
            _ => None,
        }
    }

    fn gen(self) -> GenProfile {
        match self {
            Base::Pr => GenProfile::pr(),
            Base::Nightly => GenProfile::nightly(),
        }
    }
}

/// How much one shrink may spend, and how often a candidate is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShrinkBudget {
    pub max_runs: u32,
    pub max_time: Duration,
    /// A candidate is run up to this many times; it is accepted on the first run that
    /// reproduces the failure and rejected when none does.
    pub attempts: u32,
}

/// A resolved campaign profile.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignProfile {
    pub name: String,
    pub base: Base,
    pub cases: u64,
    pub time_budget: Duration,
    pub case_time_limit: Duration,
    pub workers: usize,
    /// Severities whose findings fail a case (hygiene included when `strict_hygiene`).
    pub fail_on: BTreeSet<Severity>,
    pub strict_hygiene: bool,
    pub shrink: ShrinkBudget,
    pub gen: GenProfile,
    /// The regressions file failing seeds are appended to and replayed from.
    pub regressions: PathBuf,
}

impl CampaignProfile {
    /// The built-in defaults of `base`, named `name`.
    pub fn builtin(name: &str, base: Base) -> CampaignProfile {
        let nightly = base == Base::Nightly;
        CampaignProfile {
            name: name.to_string(),
            base,
            cases: if nightly { 400 } else { 60 },
            time_budget: Duration::from_secs(if nightly { 6 * 3600 } else { 360 }),
            case_time_limit: Duration::from_secs(if nightly { 900 } else { 180 }),
            workers: 2,
            fail_on: [Severity::Violation, Severity::Robustness].into_iter().collect(),
            strict_hygiene: false,
            shrink: ShrinkBudget {
                max_runs: if nightly { 400 } else { 100 },
                max_time: Duration::from_secs(if nightly { 1800 } else { 150 }),
                attempts: 2,
            },
            gen: base.gen(),
            regressions: default_regressions_file(),
        }
    }

    /// True when a finding of this severity fails a case.
    pub fn fails_on(&self, severity: Severity) -> bool {
        self.fail_on.contains(&severity)
    }
}

/// `<this checkout>/proptest-regressions/campaign.txt`.
pub fn default_regressions_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proptest-regressions").join("campaign.txt")
}

/// Command-line overrides of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub cases: Option<u64>,
    pub time_budget: Option<Duration>,
    pub workers: Option<usize>,
    pub regressions: Option<PathBuf>,
}

impl Overrides {
    pub fn apply(&self, profile: &mut CampaignProfile) {
        if let Some(n) = self.cases {
            profile.cases = n;
        }
        if let Some(t) = self.time_budget {
            profile.time_budget = t;
        }
        if let Some(w) = self.workers {
            profile.workers = w.max(1);
        }
        if let Some(p) = &self.regressions {
            profile.regressions = p.clone();
        }
    }
}

/// The profile `name` of `config`: its `[profile.<name>]` table over the built-in
/// defaults. A name that is neither built in nor in the file is an error.
pub fn load(config: &Config, name: &str) -> Result<CampaignProfile, ConfigError> {
    let table = config.profiles.get(name);
    if table.is_none() && Base::parse(name).is_none() {
        let known: Vec<&str> = ["pr", "nightly"].into_iter().chain(config.profiles.keys().map(String::as_str)).collect();
        return Err(ConfigError::Key {
            file: config.file.clone(),
            key: format!("profile.{name}"),
            problem: KeyProblem::Missing {
                expected: format!("a [profile.{name}] table (profiles here: {})", known.join(", ")),
            },
        });
    }
    let empty = Table::new();
    let dir = config.file.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let source = Source { file: config.file.clone(), dir };
    read(&source, name, table.unwrap_or(&empty))
}

/// Reads one `[profile.<name>]` table.
pub(crate) fn read(source: &Source, name: &str, table: &Table) -> Result<CampaignProfile, ConfigError> {
    let mut s = Section::new(source, &format!("profile.{name}"), table);
    let base = read_base(&mut s, name)?;
    let mut p = CampaignProfile::builtin(name, base);
    p.cases = s.u64_at_least("cases", p.cases, 0)?;
    p.time_budget = secs(s.u64_at_least("time_budget_secs", p.time_budget.as_secs(), 1)?);
    p.case_time_limit = secs(s.u64_at_least("case_time_limit_secs", p.case_time_limit.as_secs(), 1)?);
    p.workers = bounded(&mut s, "workers", p.workers as u64, 1, 64)? as usize;
    p.strict_hygiene = s.bool("strict_hygiene", p.strict_hygiene)?;
    if let Some(list) = s.string_list("fail_on")? {
        p.fail_on = read_fail_on(&s, &list)?;
    }
    if p.strict_hygiene {
        p.fail_on.insert(Severity::Hygiene);
    }
    p.strict_hygiene = p.fail_on.contains(&Severity::Hygiene);
    p.shrink.max_runs = s.u32_at_least("shrink_max_runs", p.shrink.max_runs, 0)?;
    p.shrink.max_time = secs(s.u64_at_least("shrink_time_secs", p.shrink.max_time.as_secs(), 0)?);
    p.shrink.attempts = bounded(&mut s, "shrink_attempts", u64::from(p.shrink.attempts), 1, 5)? as u32;
    if let Some(path) = s.path("regressions")? {
        p.regressions = path;
    }
    if let Some(gen) = s.table("gen")? {
        p.gen = GenProfile::from_table_over(&base.gen(), gen).map_err(|e| gen_error(&s, e))?;
    }
    s.finish()?;
    Ok(p)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn read_base(s: &mut Section<'_>, name: &str) -> Result<Base, ConfigError> {
    let default = Base::parse(name).unwrap_or(Base::Pr);
    match s.string("base")? {
        None => Ok(default),
        Some(b) => Base::parse(&b).ok_or_else(|| s.invalid("base", "\"pr\" or \"nightly\"", format!("{b:?}"))),
    }
}

fn bounded(s: &mut Section<'_>, key: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    let v = s.u64_at_least(key, default, min)?;
    if v > max {
        return Err(s.invalid(key, &format!("an integer from {min} to {max}"), v));
    }
    Ok(v)
}

fn read_fail_on(s: &Section<'_>, list: &[String]) -> Result<BTreeSet<Severity>, ConfigError> {
    let mut out = BTreeSet::new();
    for (i, item) in list.iter().enumerate() {
        let sev = match item.as_str() {
            "violation" => Severity::Violation,
            "robustness" => Severity::Robustness,
            "hygiene" => Severity::Hygiene,
            other => {
                return Err(s.invalid(&format!("fail_on[{i}]"), "\"violation\", \"robustness\" or \"hygiene\"", format!("{other:?}")))
            }
        };
        out.insert(sev);
    }
    if out.is_empty() {
        return Err(s.invalid("fail_on", "at least one severity", "[]"));
    }
    Ok(out)
}

/// A generator profile error as a config error naming `profile.<name>.gen[.<key>]`.
fn gen_error(s: &Section<'_>, e: ProfileError) -> ConfigError {
    match e {
        ProfileError::Invalid { key, reason } => {
            s.error(&format!("gen.{key}"), KeyProblem::Invalid { expected: "a valid generator setting".into(), got: reason })
        }
        ProfileError::Parse { message } => {
            s.error("gen", KeyProblem::Invalid { expected: "a valid [gen] table".into(), got: message })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source { file: PathBuf::from("/cfg/harness.toml"), dir: PathBuf::from("/cfg") }
    }

    fn parse(name: &str, text: &str) -> Result<CampaignProfile, ConfigError> {
        let table: Table = text.parse().unwrap();
        read(&source(), name, &table)
    }

    fn key_of(name: &str, text: &str) -> String {
        let e = parse(name, text).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/cfg/harness.toml"), "error names the file: {msg}");
        e.key().map(str::to_string).unwrap_or(msg)
    }

    #[test]
    fn an_empty_pr_table_gives_the_built_in_pr_profile() {
        let p = parse("pr", "").unwrap();
        assert_eq!(p, CampaignProfile::builtin("pr", Base::Pr));
        assert_eq!(p.gen, GenProfile::pr());
        assert!(p.fails_on(Severity::Violation) && p.fails_on(Severity::Robustness) && !p.fails_on(Severity::Hygiene));
    }

    #[test]
    fn the_nightly_table_starts_from_the_nightly_generator_and_keys_replace_defaults() {
        let p = parse("nightly", "cases = 7\nworkers = 3\n[gen]\nsteps_max = 30\n").unwrap();
        assert_eq!((p.cases, p.workers, p.gen.steps_max), (7, 3, 30));
        assert_eq!(p.gen.subvolumes_max, GenProfile::nightly().subvolumes_max);
    }

    #[test]
    fn a_custom_profile_names_its_base_and_relative_regressions_resolve_against_the_config() {
        let p = parse("soak", "base = \"nightly\"\nregressions = \"../r/c.txt\"\n").unwrap();
        assert_eq!(p.base, Base::Nightly);
        assert_eq!(p.regressions, PathBuf::from("/r/c.txt"));
    }

    #[test]
    fn strict_hygiene_adds_hygiene_to_fail_on_and_hygiene_in_fail_on_makes_it_strict() {
        assert!(parse("pr", "strict_hygiene = true").unwrap().fails_on(Severity::Hygiene));
        assert!(parse("pr", "fail_on = [\"violation\", \"hygiene\"]").unwrap().strict_hygiene);
    }

    #[test]
    fn bad_keys_are_errors_naming_the_dotted_key() {
        assert_eq!(key_of("pr", "cases = \"many\""), "profile.pr.cases");
        assert_eq!(key_of("pr", "workers = 0"), "profile.pr.workers");
        assert_eq!(key_of("pr", "worker = 2"), "profile.pr.worker");
        assert_eq!(key_of("pr", "fail_on = [\"fatal\"]"), "profile.pr.fail_on[0]");
        assert_eq!(key_of("pr", "fail_on = []"), "profile.pr.fail_on");
        assert_eq!(key_of("pr", "shrink_attempts = 9"), "profile.pr.shrink_attempts");
        assert_eq!(key_of("x", "base = \"weekly\""), "profile.x.base");
        assert_eq!(key_of("pr", "[gen]\nsteps_min = 9\nsteps_max = 3\n"), "profile.pr.gen.steps_min");
        let msg = parse("pr", "[gen]\nstep_max = 3\n").unwrap_err().to_string();
        assert!(msg.contains("profile.pr.gen") && msg.contains("step_max"), "{msg}");
    }

    #[test]
    fn overrides_replace_cases_budget_and_workers() {
        let mut p = CampaignProfile::builtin("pr", Base::Pr);
        let o = Overrides { cases: Some(3), time_budget: Some(secs(9)), workers: Some(0), regressions: None };
        o.apply(&mut p);
        assert_eq!((p.cases, p.time_budget, p.workers), (3, secs(9), 1));
    }
}
