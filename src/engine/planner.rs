//! The tester's own model of the tool's planner (CONTRACT.md 1.1, 7 and 8): from the
//! state file, the snapshots present, the backup flags, the schedule settings, the
//! configured subvolumes and the time of the run, what each selected subvolume must get
//! (full, incremental with a given parent, or nothing) and how the run as a whole must
//! end (dry run, filter matched nothing, --no-s3, nothing due, or a backup).
//!
//! Written from the contract, never from the tool's code. Where the contract leaves a
//! choice open (an age exactly at a schedule boundary, the tool's `now` somewhere in a
//! window, a date form Python may read and we do not), it returns every candidate in an
//! [`Expect::OneOf`] with the reason instead of guessing. Pure: no I/O, no clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::expect::Expect;
use crate::engine::history::Invocation;
use crate::engine::names::{basename, dirname, parse_iso, IsoTime, Kind, SnapshotName};
use crate::engine::state::{StateObservation, SubvolumeState};
use crate::gen::plan::{BackupMode, BackupStep, ToolSettings};

/// What one selected subvolume must get from a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "plan", rename_all = "snake_case")]
pub enum SubvolPlan {
    Full,
    /// `btrfs send -p <parent_snapshot>`, manifest `parent_manifest` = this key.
    Incremental {
        parent_snapshot: String,
        parent_manifest: String,
    },
    NotDue,
}

impl SubvolPlan {
    pub fn kind(&self) -> Option<Kind> {
        match self {
            SubvolPlan::Full => Some(Kind::Full),
            SubvolPlan::Incremental { .. } => Some(Kind::Incremental),
            SubvolPlan::NotDue => None,
        }
    }

    pub fn is_due(&self) -> bool {
        self.kind().is_some()
    }

    pub fn describe(&self) -> String {
        match self {
            SubvolPlan::Full => "full".into(),
            SubvolPlan::Incremental { parent_manifest, .. } => format!("incremental on {parent_manifest}"),
            SubvolPlan::NotDue => "not due".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubvolumeExpectation {
    pub name: String,
    pub plan: Expect<SubvolPlan>,
    /// How the planner got there, rule by rule, for reports.
    pub reasons: Vec<String>,
}

/// How a backup run as a whole must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// `--dry-run`: exit 0, `backup_dry_run`, nothing changes.
    DryRun,
    /// `--subvolume` matched nothing: exit 2, `backup_no_subvolumes`.
    FilterMatchedNothing,
    /// `--no-s3`: exit 0, `backup_no_s3`, no snapshot, nothing uploaded.
    NoS3,
    /// Every selected subvolume is not due: exit 0, `backup_not_due status=skipped`.
    NothingDue,
    /// At least one subvolume is due: exit 0 and one publish per due subvolume.
    Backup,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::DryRun => "dry-run",
            RunKind::FilterMatchedNothing => "empty --subvolume selection",
            RunKind::NoS3 => "--no-s3",
            RunKind::NothingDue => "nothing-due",
            RunKind::Backup => "backup",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            RunKind::FilterMatchedNothing => 2,
            _ => 0,
        }
    }

    /// True when the run must leave store, snapshots and state as they were.
    pub fn changes_nothing(self) -> bool {
        !matches!(self, RunKind::Backup)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunExpectation {
    pub kind: Expect<RunKind>,
    /// The selected subvolumes in config order (empty for a dry run or an empty
    /// selection, where the tool makes no plan).
    pub subvolumes: Vec<SubvolumeExpectation>,
}

impl RunExpectation {
    pub fn subvolume(&self, name: &str) -> Option<&SubvolumeExpectation> {
        self.subvolumes.iter().find(|s| s.name == name)
    }

    /// Names of the subvolumes that may be due (some candidate is a backup).
    pub fn may_be_due(&self) -> Vec<&str> {
        self.subvolumes.iter().filter(|s| s.plan.any(SubvolPlan::is_due)).map(|s| s.name.as_str()).collect()
    }
}

/// The window in which the tool took its `now`. The tool's planner compares ages
/// against `now`; the tester only knows it lies between the spawn and the exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
}

impl Clock {
    pub fn exact(t: DateTime<Utc>) -> Clock {
        Clock { earliest: t, latest: t }
    }

    pub fn between(a: DateTime<Utc>, b: DateTime<Utc>) -> Clock {
        Clock { earliest: a.min(b), latest: a.max(b) }
    }

    /// The lifetime of `inv`, given the wall-clock time of the case start.
    pub fn during(case_start: DateTime<Utc>, inv: &Invocation) -> Clock {
        let at = |ms: u64| case_start + Duration::milliseconds(ms as i64);
        Clock::between(at(inv.start_ms), at(inv.end_ms))
    }

    /// Whether `now - t` exceeds `limit` for every `now` in the window (`Yes`), for
    /// none (`No`), or the answer depends on the instant or on `>` versus `>=`
    /// (`Undecided`). The window's start is floored to the second, in case the tool
    /// truncates `now` to its one-second timestamps.
    fn older_than(&self, t: DateTime<Utc>, limit: TimeDelta) -> Decision {
        let earliest = self.earliest.duration_trunc(TimeDelta::seconds(1)).unwrap_or(self.earliest);
        if earliest - t > limit {
            Decision::Yes
        } else if self.latest - t < limit {
            Decision::No
        } else {
            Decision::Undecided
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Yes,
    No,
    Undecided,
}

/// Everything the planner reads.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// Configured subvolume names (path basenames), in config order.
    pub configured: &'a [String],
    /// `snapshots.base_dir`, absolute.
    pub snapshot_dir: &'a str,
    /// Snapshot basenames in `snapshot_dir`, per subvolume.
    pub snapshots: &'a BTreeMap<String, Vec<String>>,
    pub state: &'a StateObservation,
    pub flags: &'a BackupStep,
    pub settings: &'a ToolSettings,
    pub clock: Clock,
}

/// The `--subvolume` filter: configured names equal to any filter, in config order.
pub fn select_subvolumes(configured: &[String], filters: &[String]) -> Vec<String> {
    configured.iter().filter(|n| filters.is_empty() || filters.contains(n)).cloned().collect()
}

/// The model of one backup run.
pub fn plan_run(input: &PlanInput) -> RunExpectation {
    let selected = select_subvolumes(input.configured, &input.flags.subvolumes);
    if input.flags.mode == BackupMode::DryRun {
        let kind = if selected.is_empty() {
            Expect::one_of(
                vec![RunKind::DryRun, RunKind::FilterMatchedNothing],
                "--dry-run exits right after loading config; the contract does not say whether the \
                 --subvolume filter is applied before that",
            )
        } else {
            Expect::known(RunKind::DryRun)
        };
        return RunExpectation { kind, subvolumes: Vec::new() };
    }
    if selected.is_empty() {
        return RunExpectation { kind: Expect::known(RunKind::FilterMatchedNothing), subvolumes: Vec::new() };
    }
    let subvolumes: Vec<SubvolumeExpectation> = selected.iter().map(|n| plan_subvolume(input, n)).collect();
    let kind = if input.flags.mode == BackupMode::NoS3 { Expect::known(RunKind::NoS3) } else { due_kind(&subvolumes) };
    RunExpectation { kind, subvolumes }
}

fn due_kind(subvolumes: &[SubvolumeExpectation]) -> Expect<RunKind> {
    if subvolumes.iter().all(|s| s.plan.all(|p| !p.is_due())) {
        Expect::known(RunKind::NothingDue)
    } else if subvolumes.iter().any(|s| s.plan.all(SubvolPlan::is_due)) {
        Expect::known(RunKind::Backup)
    } else {
        Expect::one_of(vec![RunKind::NothingDue, RunKind::Backup], "whether any subvolume is due is undecided")
    }
}

fn plan_subvolume(input: &PlanInput, name: &str) -> SubvolumeExpectation {
    let mut reasons = Vec::new();
    let candidates = match (input.state, input.state.subvolume(name)) {
        (StateObservation::Unreadable { error, .. }, _) => {
            reasons.push(format!("state file unreadable ({error}); how the tool reads it is not modelled"));
            vec![SubvolPlan::Full, SubvolPlan::NotDue]
        }
        (_, None) => {
            reasons.push("no state for this subvolume: full (rule 1)".into());
            vec![SubvolPlan::Full]
        }
        (_, Some(entry)) => match full_rule(input, entry, &mut reasons) {
            Decision::Yes => vec![SubvolPlan::Full],
            Decision::No => parent_rules(input, name, entry, &mut reasons),
            Decision::Undecided => with_full(parent_rules(input, name, entry, &mut reasons)),
        },
    };
    let plan = Expect::one_of(candidates, reasons.join("; "));
    SubvolumeExpectation { name: name.to_string(), plan, reasons }
}

fn with_full(mut rest: Vec<SubvolPlan>) -> Vec<SubvolPlan> {
    rest.insert(0, SubvolPlan::Full);
    rest
}

fn days(n: u32) -> TimeDelta {
    TimeDelta::days(i64::from(n))
}

/// Rule 1: no, unparsable or expired `last_full_at` means full.
fn full_rule(input: &PlanInput, entry: &SubvolumeState, reasons: &mut Vec<String>) -> Decision {
    let Some(text) = entry.last_full_at.as_deref() else {
        reasons.push("no last_full_at: full (rule 1)".into());
        return Decision::Yes;
    };
    match parse_iso(text) {
        IsoTime::Garbage => {
            reasons.push(format!("last_full_at {text:?} is unparsable: full (rule 1)"));
            Decision::Yes
        }
        IsoTime::Unrecognised => {
            reasons.push(format!("last_full_at {text:?} is in no ISO form the tester parses; the tool may read it"));
            Decision::Undecided
        }
        IsoTime::Parsed(t) => {
            let limit = input.settings.full_every_days;
            let d = input.clock.older_than(t, days(limit));
            reasons.push(match d {
                Decision::Yes => format!("last_full_at {text} is older than {limit} days: full (rule 1)"),
                Decision::No => format!("last_full_at {text} is within {limit} days"),
                Decision::Undecided => format!("last_full_at {text} is at the {limit}-day boundary"),
            });
            d
        }
    }
}

/// Rule 2: no parent recorded, or the parent snapshot gone, means full.
fn parent_rules(input: &PlanInput, name: &str, entry: &SubvolumeState, reasons: &mut Vec<String>) -> Vec<SubvolPlan> {
    let present = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let (Some(snapshot), Some(manifest)) = (present(&entry.last_snapshot), present(&entry.last_manifest)) else {
        reasons.push("no last_snapshot or no last_manifest: full (rule 2)".into());
        return vec![SubvolPlan::Full];
    };
    let incremental = SubvolPlan::Incremental { parent_snapshot: snapshot.clone(), parent_manifest: manifest };
    let dir = input.snapshot_dir.trim_end_matches('/');
    if dirname(&snapshot) != dir {
        reasons.push(format!("parent snapshot {snapshot} is outside {dir}; the tool may or may not find it"));
        return with_full(due_rule(input, &snapshot, incremental, reasons));
    }
    if !input.snapshots.get(name).is_some_and(|s| s.iter().any(|n| n == basename(&snapshot))) {
        reasons.push(format!("parent snapshot {snapshot} is gone: full (rule 2)"));
        return vec![SubvolPlan::Full];
    }
    due_rule(input, &snapshot, incremental, reasons)
}

/// Rules 3 and 4: a parent younger than `incremental_every_days` means not due, unless
/// `--once`; otherwise incremental.
fn due_rule(input: &PlanInput, snapshot: &str, incremental: SubvolPlan, reasons: &mut Vec<String>) -> Vec<SubvolPlan> {
    if input.flags.once {
        reasons.push("--once: incremental (rule 3)".into());
        return vec![incremental];
    }
    let Some(parent) = SnapshotName::parse(basename(snapshot)) else {
        reasons.push(format!("parent snapshot {snapshot} has no timestamp the tester parses"));
        return vec![SubvolPlan::NotDue, incremental];
    };
    let limit = input.settings.incremental_every_days;
    match input.clock.older_than(parent.taken_at, days(limit)) {
        Decision::Yes => {
            reasons.push(format!("parent snapshot is older than {limit} days: incremental (rule 4)"));
            vec![incremental]
        }
        Decision::No => {
            reasons.push(format!("parent snapshot is newer than {limit} days: not due (rule 3)"));
            vec![SubvolPlan::NotDue]
        }
        Decision::Undecided => {
            reasons.push(format!("parent snapshot is at the {limit}-day boundary"));
            vec![SubvolPlan::NotDue, incremental]
        }
    }
}
