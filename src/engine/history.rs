//! The record of one case: what every tool invocation did (argv, times, exit, the kill we
//! aimed and where it landed, its log events) and what every observation point saw (the
//! store, the state file, the snapshots, the lock), with the findings and the
//! undecided checks of each step and what timing decided (PROPERTIES.md requires the
//! moment of a kill and the lock winner in the case report).
//!
//! Plain serialisable data with small read-only helpers. It must not run anything,
//! read files or judge: the runner fills it, `engine::judge` reads it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::judge::publish::PriorFailure;
use crate::engine::judge::{Undecided, Verdict};
use crate::engine::killpoint::KillLanding;
use crate::engine::state::StateObservation;
use crate::gen::plan::{KillPoint, Step};
use crate::oracle::finding::Finding;

/// Everything that happened in one case, step by step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub steps: Vec<StepRecord>,
}

impl History {
    /// Every finding of the case: per step, then per observation point.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.steps.iter().flat_map(|s| s.findings.iter().chain(s.observations.iter().flat_map(|o| o.findings.iter())))
    }

    pub fn undecided(&self) -> impl Iterator<Item = &Undecided> {
        self.steps.iter().flat_map(|s| s.undecided.iter())
    }

    /// The backup failure a backup run after the recorded steps recovers from (P4):
    /// the latest backup that was killed or exited non-zero, provided no backup
    /// succeeded after it. Dry runs and --no-s3 runs do not count either way, nor do
    /// refusals by the lock (contention is judged by P5) or exit 2 (nothing started).
    pub fn prior_failure(&self) -> Option<PriorFailure> {
        for step in self.steps.iter().rev() {
            for inv in step.invocations.iter().rev() {
                let counts = inv.command == ToolCommand::Backup
                    && !inv.has_flag("--dry-run")
                    && !inv.has_flag("--no-s3")
                    && inv.event("backup_lock_failed").is_none();
                match (counts, inv.exit_code()) {
                    (false, _) | (true, Some(2)) => continue,
                    (true, Some(0)) => return None,
                    (true, _) => return Some(PriorFailure { step: step.index, how: inv.describe_failure() }),
                }
            }
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Index into the plan's `steps`.
    pub index: usize,
    pub step: Step,
    pub invocations: Vec<Invocation>,
    pub observations: Vec<Observation>,
    /// Findings of the step-level checks (`engine::judge`).
    pub findings: Vec<Finding>,
    /// Checks that could not decide, and why.
    pub undecided: Vec<Undecided>,
    /// What timing decided in this step.
    pub timing: Vec<TimingDecision>,
    /// Resolutions and remarks of the checks, for the report.
    pub notes: Vec<String>,
}

impl StepRecord {
    pub fn new(index: usize, step: Step) -> StepRecord {
        StepRecord {
            index,
            step,
            invocations: Vec::new(),
            observations: Vec::new(),
            findings: Vec::new(),
            undecided: Vec::new(),
            timing: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a check's verdict to this step.
    pub fn absorb(&mut self, verdict: Verdict) {
        self.findings.extend(verdict.findings);
        self.undecided.extend(verdict.undecided);
        self.notes.extend(verdict.notes);
    }
}

/// Why the engine ran this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Backup,
    /// The second backup of a contender pair.
    Contender,
    Restore,
    /// The same command again after a failed or killed attempt.
    Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolCommand {
    Backup,
    Restore,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Termination {
    Exited { code: i32 },
    Signalled { signal: i32 },
}

/// One run of the tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    pub role: Role,
    pub command: ToolCommand,
    pub argv: Vec<String>,
    #[serde(default)]
    pub pid: Option<u32>,
    /// Milliseconds from the start of the case.
    pub start_ms: u64,
    pub end_ms: u64,
    pub termination: Termination,
    /// Set when the harness killed it.
    #[serde(default)]
    pub kill: Option<KillRecord>,
    /// The tool's `event=` log lines, in the order seen.
    pub events: Vec<EventRecord>,
    #[serde(default)]
    pub stdout_path: Option<String>,
    #[serde(default)]
    pub stderr_path: Option<String>,
}

impl Invocation {
    /// A finished invocation with no events yet (for the runner and for crafted tests).
    pub fn new(
        role: Role,
        command: ToolCommand,
        argv: Vec<String>,
        start_ms: u64,
        end_ms: u64,
        termination: Termination,
    ) -> Invocation {
        Invocation {
            role,
            command,
            argv,
            pid: None,
            start_ms,
            end_ms,
            termination,
            kill: None,
            events: Vec::new(),
            stdout_path: None,
            stderr_path: None,
        }
    }

    pub fn exit_code(&self) -> Option<i32> {
        match self.termination {
            Termination::Exited { code } => Some(code),
            Termination::Signalled { .. } => None,
        }
    }

    pub fn was_signalled(&self) -> bool {
        matches!(self.termination, Termination::Signalled { .. })
    }

    pub fn events_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a EventRecord> + 'a {
        self.events.iter().filter(move |e| e.name == name)
    }

    pub fn event(&self, name: &str) -> Option<&EventRecord> {
        self.events.iter().find(|e| e.name == name)
    }

    /// The first event named `name` whose field `key` equals `value`.
    pub fn event_with(&self, name: &str, key: &str, value: &str) -> Option<&EventRecord> {
        self.events.iter().find(|e| e.name == name && e.field(key) == Some(value))
    }

    /// The first `ERROR` (or `CRITICAL`) event: the tool's own account of a failure.
    pub fn first_error(&self) -> Option<&EventRecord> {
        self.events.iter().find(|e| matches!(e.level.as_str(), "ERROR" | "CRITICAL"))
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.argv.iter().any(|a| a == flag)
    }

    /// The value after `flag` (`--target /x`) or in `flag=value` form.
    pub fn arg_value(&self, flag: &str) -> Option<&str> {
        let eq = format!("{flag}=");
        self.argv.iter().enumerate().find_map(|(i, a)| {
            if a == flag {
                self.argv.get(i + 1).map(String::as_str)
            } else {
                a.strip_prefix(eq.as_str())
            }
        })
    }

    /// How a failed or killed invocation ended: where the kill landed, or its exit.
    pub fn describe_failure(&self) -> String {
        match &self.kill {
            Some(KillRecord { landed: Some(l), .. }) => format!("killed at {}", l.describe()),
            Some(_) => "killed".to_string(),
            None => self.describe_end(),
        }
    }

    /// One line saying how it ended, for finding messages.
    pub fn describe_end(&self) -> String {
        let end = match self.termination {
            Termination::Exited { code } => format!("exit {code}"),
            Termination::Signalled { signal } => format!("signal {signal}"),
        };
        match self.first_error() {
            Some(e) => format!("{end}, {}", e.render()),
            None => end,
        }
    }
}

/// Why the harness killed an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillReason {
    /// The plan's fault asked for it.
    Fault,
    /// It ran past the harness's time limit.
    Timeout,
    /// The harness was tearing down.
    Teardown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KillRecord {
    pub reason: KillReason,
    /// The point the plan aimed at (`None` for timeouts and teardown).
    #[serde(default)]
    pub aimed: Option<KillPoint>,
    /// When the signal was sent, from the start of the case.
    pub at_ms: u64,
    /// Where it landed, classified afterwards by `engine::killpoint`.
    #[serde(default)]
    pub landed: Option<KillLanding>,
}

/// One `event=` log line of the tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// When the harness read the line, from the start of the case.
    pub at_ms: u64,
    /// `INFO`, `ERROR`, ...
    pub level: String,
    pub name: String,
    pub fields: BTreeMap<String, String>,
}

impl EventRecord {
    pub fn new(at_ms: u64, level: &str, name: &str) -> EventRecord {
        EventRecord { at_ms, level: level.to_string(), name: name.to_string(), fields: BTreeMap::new() }
    }

    /// Builder: adds a `key=value` field.
    pub fn with(mut self, key: &str, value: &str) -> EventRecord {
        self.fields.insert(key.to_string(), value.to_string());
        self
    }

    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// `event=<name> k=v ...` with `error=` last, as the tool writes it.
    pub fn render(&self) -> String {
        let mut line = format!("{} event={}", self.level, self.name);
        for (k, v) in self.fields.iter().filter(|(k, _)| k.as_str() != "error") {
            line.push_str(&format!(" {k}={v}"));
        }
        if let Some(e) = self.field("error") {
            line.push_str(&format!(" error={e}"));
        }
        line
    }
}

/// When an observation was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum ObservedAt {
    BeforeStep,
    /// After the invocation with this index in the step's `invocations` ended.
    AfterInvocation {
        index: usize,
    },
    AfterStep,
}

/// What one observation point saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub at: ObservedAt,
    pub at_ms: u64,
    pub store: StoreSummary,
    pub state: StateObservation,
    /// Snapshot basenames in `snapshots.base_dir`, grouped by subvolume name.
    pub snapshots: BTreeMap<String, Vec<String>>,
    pub lock: LockObservation,
    /// Findings of the oracle's checks at this point (P2, P7, P14, ...).
    #[serde(default)]
    pub findings: Vec<Finding>,
}

impl Observation {
    /// Nothing published, no state, no snapshots, no lock.
    pub fn empty(at: ObservedAt, at_ms: u64, prefix: &str) -> Observation {
        Observation {
            at,
            at_ms,
            store: StoreSummary::new(prefix),
            state: StateObservation::Absent,
            snapshots: BTreeMap::new(),
            lock: LockObservation::Absent,
            findings: Vec::new(),
        }
    }

    pub fn snapshots_of(&self, subvolume: &str) -> &[String] {
        self.snapshots.get(subvolume).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn pointer(&self, subvolume: &str) -> Option<&PointerSummary> {
        self.store.pointers.get(subvolume)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "lock", rename_all = "snake_case")]
pub enum LockObservation {
    Absent,
    Present { content: String },
}

impl LockObservation {
    pub fn is_present(&self) -> bool {
        matches!(self, LockObservation::Present { .. })
    }
}

/// How [`StoreSummary::unreadable_pointers`] starts for a `current.json` stored in an
/// archive class (GetObject needs a restore first): a P7 matter, not a missing publish.
pub const ARCHIVED_POINTER: &str = "current.json is stored in the archive class";

/// What the store held under the case's prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSummary {
    /// The prefix, with its one trailing `/`.
    pub prefix: String,
    /// `current.json` per subvolume, as parsed.
    pub pointers: BTreeMap<String, PointerSummary>,
    /// `current.json` objects that exist but could not be parsed: subvolume -> error.
    #[serde(default)]
    pub unreadable_pointers: BTreeMap<String, String>,
    /// Manifests by key.
    pub manifests: BTreeMap<String, ManifestSummary>,
    /// Chunk objects by key, with their sizes.
    pub chunks: BTreeMap<String, u64>,
    /// Keys of incomplete multipart uploads.
    #[serde(default)]
    pub uploads: Vec<String>,
}

impl StoreSummary {
    pub fn new(prefix: &str) -> StoreSummary {
        StoreSummary { prefix: prefix.to_string(), ..StoreSummary::default() }
    }
}

/// A parsed `current.json`; fields kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointerSummary {
    pub manifest_key: String,
    pub kind: String,
    pub created_at: String,
}

/// A parsed manifest; fields kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSummary {
    pub subvolume: String,
    pub kind: String,
    pub created_at: String,
    pub parent_manifest: Option<String>,
    pub chunk_count: usize,
}

/// What timing decided in a step, for the case report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decided", rename_all = "snake_case")]
pub enum TimingDecision {
    /// Which backup of a contender pair got the lock (`None`: neither, or both).
    LockWinner { winner: Option<Role>, simultaneous: bool },
    /// Where a kill landed.
    KillLanded { role: Role, at_ms: u64, landed: KillLanding },
    /// An indeterminate expectation resolved by observation.
    Resolved { subject: String, chosen: String },
}
