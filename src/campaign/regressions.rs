//! The regressions file (`proptest-regressions/campaign.txt` by default): one line per
//! failing case, `seed S case N profile P # property, date[, env]`. `fuzz` appends every
//! failing case it finds (once per seed, case and profile) and replays every entry before
//! its own cases; `cargo test --test campaign_regressions` replays every entry against the
//! reference tool and fails on any finding, so an entry committed there is a regression of
//! the reference or of the tester until it is fixed and the line removed. Lines that are
//! blank or start with `#` are comments. A missing file has no entries.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use thiserror::Error;

use super::command_line::CommandLine;
use super::run::Job;
use super::runner::CaseRunner;
use super::verdict::{judge, FailOn, Verdict};
use crate::config::Config;
use crate::engine::CaseOptions;
use crate::gen::generate;

/// Serialises appends from the campaign's workers.
static APPEND: Mutex<()> = Mutex::new(());

#[derive(Debug, Error)]
pub enum RegressionsError {
    #[error("reading the regressions file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the regressions file {path}, line {line}: {problem}; fix or delete that line")]
    Parse { path: PathBuf, line: usize, problem: String },
    #[error("appending to the regressions file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// One failing case to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seed: u64,
    pub case: u64,
    pub profile: String,
    /// The comment after `#`: property, date, environment.
    pub note: String,
}

impl Entry {
    /// `seed S case N profile P # note`.
    pub fn line(&self) -> String {
        let base = format!("seed {} case {} profile {}", self.seed, self.case, self.profile);
        match self.note.trim() {
            "" => base,
            note => format!("{base} # {note}"),
        }
    }

    /// Parses one line; `Ok(None)` for a comment or blank line.
    pub fn parse(line: &str) -> Result<Option<Entry>, String> {
        let (body, note) = match line.split_once('#') {
            Some((b, n)) => (b, n.trim()),
            None => (line, ""),
        };
        let words: Vec<&str> = body.split_whitespace().collect();
        match words.as_slice() {
            [] => Ok(None),
            ["seed", s, "case", c, "profile", p] => Ok(Some(Entry {
                seed: s.parse().map_err(|_| format!("seed {s:?} is not an unsigned integer"))?,
                case: c.parse().map_err(|_| format!("case {c:?} is not an unsigned integer"))?,
                profile: p.to_string(),
                note: note.to_string(),
            })),
            _ => Err(format!("expected `seed S case N profile P # note`, got {:?}", line.trim())),
        }
    }

    fn same_case(&self, other: &Entry) -> bool {
        (self.seed, self.case, &self.profile) == (other.seed, other.case, &other.profile)
    }
}

/// Every entry of the file, in order; no file means no entries.
pub fn read(path: &Path) -> Result<Vec<Entry>, RegressionsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(RegressionsError::Read { path: path.to_path_buf(), source }),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match Entry::parse(line) {
            Ok(Some(e)) => out.push(e),
            Ok(None) => {}
            Err(problem) => return Err(RegressionsError::Parse { path: path.to_path_buf(), line: i + 1, problem }),
        }
    }
    Ok(out)
}

/// Appends `entry` unless the file already has its seed, case and profile; true if
/// it was added. Creates the file (and its directory) if needed.
pub fn append(path: &Path, entry: &Entry) -> Result<bool, RegressionsError> {
    let _guard = APPEND.lock().unwrap_or_else(|p| p.into_inner());
    if read(path)?.iter().any(|e| e.same_case(entry)) {
        return Ok(false);
    }
    let write_err = |source| RegressionsError::Write { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(write_err)?;
    file.write_all(format!("{}\n", entry.line()).as_bytes()).map_err(write_err)?;
    Ok(true)
}

/// The entries as jobs, each with its profile's generator; entries whose profile this
/// config does not have are returned apart, with why.
pub fn jobs(config: &Config, entries: Vec<Entry>) -> (Vec<Job>, Vec<String>) {
    let (mut jobs, mut skipped) = (Vec::new(), Vec::new());
    for e in entries {
        match super::profile::load(config, &e.profile) {
            Ok(p) => jobs.push(Job { seed: e.seed, case: e.case, profile: e.profile, gen: p.gen, regression: true }),
            Err(err) => skipped.push(format!("skipping regression `{}`: {err}", e.line())),
        }
    }
    (jobs, skipped)
}

/// Runs every job once and returns, for each that did not pass, what happened and the
/// command that replays it (empty: every entry passes).
pub fn replay_all<R: CaseRunner + ?Sized>(
    runner: &R,
    jobs: &[Job],
    fail_on: &FailOn,
    opts: &CaseOptions,
    commands: &CommandLine,
) -> Vec<String> {
    let mut out = Vec::new();
    for job in jobs {
        let report = runner.run(&generate(job.seed, job.case, &job.gen), opts);
        let what = match judge(&report, fail_on) {
            Verdict::Pass => continue,
            Verdict::Fail { property, .. } => {
                let f = report.findings.iter().find(|f| f.property == property).map(ToString::to_string).unwrap_or_default();
                format!("fails: {f}")
            }
            Verdict::HarnessError(e) => format!("harness error: {e}"),
            Verdict::Interrupted => "interrupted".to_string(),
        };
        out.push(format!(
            "regression seed {} case {} profile {} {what}\n  replay: {}",
            job.seed,
            job.case,
            job.profile,
            commands.replay_seed(job.seed, job.case, &job.profile)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seed: u64, case: u64) -> Entry {
        Entry { seed, case, profile: "pr".into(), note: "P7 layout-and-metadata, 2026-01-01".into() }
    }

    #[test]
    fn an_entry_round_trips_through_its_line() {
        let e = entry(18446744073709551615, 3);
        assert_eq!(e.line(), "seed 18446744073709551615 case 3 profile pr # P7 layout-and-metadata, 2026-01-01");
        assert_eq!(Entry::parse(&e.line()), Ok(Some(e)));
        assert_eq!(Entry::parse("  # a comment"), Ok(None));
        assert!(Entry::parse("seed x case 1 profile pr").is_err());
        assert!(Entry::parse("seed 1 case 1").is_err());
    }

    #[test]
    fn append_adds_each_case_once_and_read_returns_them_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("campaign.txt");
        assert_eq!(read(&path).unwrap(), Vec::new());
        assert!(append(&path, &entry(1, 2)).unwrap());
        assert!(append(&path, &entry(1, 3)).unwrap());
        assert!(!append(&path, &Entry { note: "again".into(), ..entry(1, 2) }).unwrap());
        assert_eq!(read(&path).unwrap(), vec![entry(1, 2), entry(1, 3)]);
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("campaign.txt");
        std::fs::write(&path, "# header\nseed 1 case 2 profile pr\nseed one\n").unwrap();
        let msg = read(&path).unwrap_err().to_string();
        assert!(msg.contains("campaign.txt") && msg.contains("line 3"), "{msg}");
    }
}
