//! The bug base: one folder per failing case under `<run_dir>/bugs/`, named
//! `<seed>-<case>-<property>` (`-harness-error` for a harness error; `-2`, `-3`... if
//! the name is taken), holding everything needed to understand and replay the failure:
//!
//! | file | content |
//! |---|---|
//! | `README.md` | what broke, the one command that replays it, shrink numbers, and (for a shrunk plan above 4 steps or 5 files) what the shrinker could not remove |
//! | `bug.json` | [`BugMeta`]: seed, case, profile, property, severity, message, sizes, shrink stats, replay commands |
//! | `original-plan.json`, `original-plan.txt` | the generated plan (JSON and `gen::render`) |
//! | `shrunk-plan.json`, `shrunk-plan.txt` | the shrunk plan `replay` runs |
//! | `findings.txt`, `findings.json` | the findings of the shrunk and the original run |
//! | `report.json`, `original-report.json` | the case reports (history: every invocation, observation, kill) |
//! | `logs/` | the tool's stdout and stderr of every invocation of the shrunk run |
//! | `s3-listing.txt` | the objects under the case's S3 prefix at the end of the shrunk run |
//! | `tree-diff.txt` | the tree differences (expected vs seen) of the findings that compared trees |
//!
//! This module writes and reads folders; it runs no case.

mod evidence;
mod readme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::runner::ListedObject;
use super::shrink::Shrunk;
use crate::engine::CaseReport;
use crate::gen::plan::Plan;
use crate::gen::render;
use crate::oracle::finding::{Finding, Property, Severity};

pub use readme::why_not_smaller;

/// Version of the `bug.json` format.
pub const BUG_FORMAT: u32 = 1;

/// Size of a plan, as the README and `bug.json` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSize {
    pub subvolumes: usize,
    pub steps: usize,
    pub files: usize,
    pub bytes: u64,
}

impl PlanSize {
    pub fn of(plan: &Plan) -> PlanSize {
        PlanSize {
            subvolumes: plan.subvolumes.len(),
            steps: plan.steps.len(),
            files: plan.files_written(),
            bytes: plan.bytes_written(),
        }
    }

    /// Above 4 steps or 5 files: the README explains what could not be removed.
    pub fn needs_explaining(&self) -> bool {
        self.steps > 4 || self.files > 5
    }
}

/// `bug.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BugMeta {
    pub format: u32,
    pub seed: Option<u64>,
    pub case: Option<u64>,
    pub profile: String,
    /// `None` for a harness error.
    pub property: Option<Property>,
    pub severity: Option<Severity>,
    /// The first failing finding (or the harness error), one line.
    pub message: String,
    pub harness_error: Option<String>,
    /// Severities that failed the case.
    pub fail_on: Vec<Severity>,
    pub found_at: String,
    /// Environment the failure depended on (e.g. `B2S3_REF_BUG`).
    pub env: BTreeMap<String, String>,
    pub original: PlanSize,
    pub shrunk: PlanSize,
    pub shrink: Option<super::shrink::ShrinkStats>,
    /// Whether the last run of the shrunk plan (the one the logs come from) reproduced.
    pub last_run_reproduced: bool,
    pub replay: String,
    pub replay_seed: Option<String>,
}

/// The kept run of the shrunk plan: its report and its S3 listing.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub report: CaseReport,
    pub listing: Result<Vec<ListedObject>, String>,
    pub reproduced: bool,
}

/// Everything one bug folder is written from.
#[derive(Debug, Clone)]
pub struct Bug<'a> {
    pub meta: BugMeta,
    pub original: &'a Plan,
    pub original_report: &'a CaseReport,
    pub shrunk: Option<&'a Shrunk>,
    /// A kept run of the final plan; without one, the last reproducing report is used.
    pub evidence: Option<Evidence>,
}

impl Bug<'_> {
    /// The plan `replay` runs.
    pub fn final_plan(&self) -> &Plan {
        self.shrunk.map_or(self.original, |s| &s.plan)
    }

    /// The report whose findings, history and logs the folder shows.
    pub fn final_report(&self) -> &CaseReport {
        match (&self.evidence, self.shrunk) {
            (Some(e), _) if e.reproduced => &e.report,
            (_, Some(s)) => &s.report,
            (Some(e), None) => &e.report,
            (None, None) => self.original_report,
        }
    }
}

/// The folder name: `<seed>-<case>-<property id>` or `...-harness-error`.
pub fn folder_name(plan: &Plan, property: Option<Property>) -> String {
    let origin = match (plan.seed, plan.case) {
        (Some(s), Some(c)) => format!("{s}-{c}"),
        _ => plan.name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(40).collect(),
    };
    format!("{origin}-{}", property.map_or("harness-error", Property::id))
}

/// A fresh folder under `bugs_dir` for `name` (suffixed `-2`, `-3`... when taken).
pub fn claim_folder(bugs_dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(bugs_dir)?;
    for n in 1..10_000 {
        let dir = if n == 1 { bugs_dir.join(name) } else { bugs_dir.join(format!("{name}-{n}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!("no free bug folder name for {name} in {}", bugs_dir.display())))
}

/// Writes every file of the bug into `dir` (claimed with [`claim_folder`]).
pub fn write_bug(dir: &Path, bug: &Bug) -> std::io::Result<()> {
    let final_report = bug.final_report();
    write_json(&dir.join("bug.json"), &bug.meta)?;
    write_plan(dir, "original-plan", bug.original)?;
    write_plan(dir, "shrunk-plan", bug.final_plan())?;
    write_json(&dir.join("report.json"), final_report)?;
    write_json(&dir.join("original-report.json"), bug.original_report)?;
    let findings = FindingsFile { shrunk: &final_report.findings, original: &bug.original_report.findings };
    write_json(&dir.join("findings.json"), &findings)?;
    std::fs::write(dir.join("findings.txt"), evidence::findings_text(final_report, bug.original_report))?;
    let logs = evidence::copy_logs(&final_report.tool_logs, &dir.join("logs"))?;
    let listing = evidence::listing_text(bug.evidence.as_ref(), final_report);
    std::fs::write(dir.join("s3-listing.txt"), listing)?;
    std::fs::write(dir.join("tree-diff.txt"), evidence::tree_diff_text(final_report))?;
    std::fs::write(dir.join("README.md"), readme::readme(bug, &logs))?;
    Ok(())
}

#[derive(Serialize)]
struct FindingsFile<'a> {
    shrunk: &'a [Finding],
    original: &'a [Finding],
}

fn write_plan(dir: &Path, stem: &str, plan: &Plan) -> std::io::Result<()> {
    write_json(&dir.join(format!("{stem}.json")), plan)?;
    std::fs::write(dir.join(format!("{stem}.txt")), render(plan))
}

fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

/// A bug folder read back for `replay`: its metadata and the plan to run.
#[derive(Debug, Clone)]
pub struct StoredBug {
    pub dir: PathBuf,
    pub meta: BugMeta,
    pub plan: Plan,
}

/// Reads `bug.json` and `shrunk-plan.json` of a bug folder.
pub fn read_bug(dir: &Path) -> Result<StoredBug, String> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}; is {} a bug folder?", path.display(), dir.display()))
    };
    let meta: BugMeta =
        serde_json::from_str(&read("bug.json")?).map_err(|e| format!("{}/bug.json is not a bug record: {e}", dir.display()))?;
    let plan: Plan = serde_json::from_str(&read("shrunk-plan.json")?)
        .map_err(|e| format!("{}/shrunk-plan.json is not a plan: {e}", dir.display()))?;
    Ok(StoredBug { dir: dir.to_path_buf(), meta, plan })
}
