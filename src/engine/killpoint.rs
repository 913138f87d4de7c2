//! Where a SIGKILL of a backup actually landed, told from what it left behind: the
//! observations before and after the run and the log events it wrote. Per subvolume
//! (config order) the phase is the furthest one with evidence:
//!
//! | phase | evidence |
//! |---|---|
//! | `before_snapshot` | no new snapshot, no `snapshot_created`, nothing uploaded |
//! | `during_upload` | a new snapshot; none, some, or not provably all chunks of the run |
//! | `between_chunks_and_manifest` | every chunk of the stream (last one short, or `btrfs receive --dump` accepted the concatenation), no manifest |
//! | `between_manifest_and_pointer` | the run's manifest exists, the pointer did not move |
//! | `after_pointer` | the pointer names the run's new manifest |
//!
//! When the chunks end exactly on a chunk-size boundary and the caller has no
//! `--dump` verdict, the phase is undecided between the two candidates. The run as a
//! whole is summarised by its frontier, the last subvolume that got anywhere.
//! [`PhaseCounts`] tallies landings for the run report.
//!
//! Pure classification: it must not judge the tool (a manifest without chunks is
//! noted as an anomaly here; finding fault with it is the oracle's and judge's job).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::engine::delta::Delta;
use crate::engine::expect::Expect;
use crate::engine::history::{EventRecord, Observation};
use crate::engine::names::StoreKey;
use crate::gen::plan::{KillPoint, ObjectClass};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    BeforeSnapshot,
    DuringUpload,
    BetweenChunksAndManifest,
    BetweenManifestAndPointer,
    AfterPointer,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::BeforeSnapshot,
        Phase::DuringUpload,
        Phase::BetweenChunksAndManifest,
        Phase::BetweenManifestAndPointer,
        Phase::AfterPointer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::BeforeSnapshot => "before_snapshot",
            Phase::DuringUpload => "during_upload",
            Phase::BetweenChunksAndManifest => "between_chunks_and_manifest",
            Phase::BetweenManifestAndPointer => "between_manifest_and_pointer",
            Phase::AfterPointer => "after_pointer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubvolumeLanding {
    pub subvolume: String,
    pub phase: Expect<Phase>,
    /// What the phase was read from (keys, snapshot names, event lines).
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillLanding {
    /// The classified subvolumes, config order.
    pub subvolumes: Vec<SubvolumeLanding>,
    /// Subvolumes the tool logged as not due (not classified).
    pub not_due: Vec<String>,
    /// The phase of the frontier subvolume.
    pub summary: Expect<Phase>,
    /// Evidence that does not fit the contract's order of work.
    pub anomalies: Vec<String>,
}

impl KillLanding {
    /// `data=after_pointer, logs=during_upload`.
    pub fn describe(&self) -> String {
        let one = |e: &Expect<Phase>| e.candidates().iter().map(|p| p.as_str()).collect::<Vec<_>>().join("|");
        self.subvolumes.iter().map(|s| format!("{}={}", s.subvolume, one(&s.phase))).collect::<Vec<_>>().join(", ")
    }
}

/// What the classifier reads.
#[derive(Debug, Clone, Copy)]
pub struct KillContext<'a> {
    pub before: &'a Observation,
    pub after: &'a Observation,
    /// The killed invocation's events.
    pub events: &'a [EventRecord],
    /// The selected subvolumes that may have been due, config order.
    pub subvolumes: &'a [String],
    pub chunk_size: u64,
    /// Per subvolume: did `btrfs receive --dump` accept the concatenation of the run's
    /// chunks? Only consulted when the last chunk is exactly `chunk_size` long.
    pub stream_complete: &'a BTreeMap<String, bool>,
}

pub fn classify(ctx: &KillContext) -> KillLanding {
    let delta = Delta::between(ctx.before, ctx.after);
    let logged_not_due =
        |n: &str| ctx.events.iter().any(|e| e.name == "backup_not_due" && e.field("subvolume") == Some(n));
    let mut anomalies = Vec::new();
    let mut not_due = Vec::new();
    let mut subvolumes = Vec::new();
    for name in ctx.subvolumes {
        if logged_not_due(name) {
            not_due.push(name.clone());
        } else {
            subvolumes.push(classify_subvolume(ctx, &delta, name, &mut anomalies));
        }
    }
    let summary = frontier(&subvolumes, &mut anomalies);
    KillLanding { subvolumes, not_due, summary, anomalies }
}

fn classify_subvolume(ctx: &KillContext, delta: &Delta, name: &str, anomalies: &mut Vec<String>) -> SubvolumeLanding {
    let prefix = ctx.after.store.prefix.as_str();
    let landing =
        |phase: Expect<Phase>, evidence: String| SubvolumeLanding { subvolume: name.to_string(), phase, evidence };
    let uploaded_event = ctx.events.iter().find(|e| e.name == "backup_uploaded" && e.field("subvolume") == Some(name));
    if let Some((_, Some(p))) = delta.moved_pointers.get(name) {
        if !delta.new_manifests.contains_key(&p.manifest_key) {
            anomalies.push(format!("{name}: pointer moved to {}, not a manifest of this run", p.manifest_key));
        }
        return landing(Expect::known(Phase::AfterPointer), format!("pointer names {}", p.manifest_key));
    }
    if let Some(e) = uploaded_event {
        anomalies.push(format!("{name}: `{}` logged but the pointer did not move", e.render()));
    }
    if let Some((key, _)) = delta.manifests_of(prefix, name).last() {
        return landing(Expect::known(Phase::BetweenManifestAndPointer), format!("manifest {key}, pointer unchanged"));
    }
    let snapshot = delta.new_snapshots_of(name).last().cloned().or_else(|| {
        let e = ctx.events.iter().find(|e| e.name == "snapshot_created" && e.field("subvolume") == Some(name))?;
        anomalies.push(format!("{name}: `{}` logged but no new snapshot is in the snapshot dir", e.render()));
        e.field("path").map(str::to_string)
    });
    let chunks = delta.chunks_of(prefix, name);
    match (snapshot, chunks.is_empty()) {
        (None, true) => landing(Expect::known(Phase::BeforeSnapshot), "no new snapshot, nothing uploaded".into()),
        (Some(s), true) => landing(Expect::known(Phase::DuringUpload), format!("snapshot {s}, no chunk uploaded")),
        (s, false) => {
            if s.is_none() {
                anomalies.push(format!("{name}: chunks uploaded without a new snapshot"));
            }
            let (phase, evidence) =
                upload_progress(&chunks, ctx.chunk_size, ctx.stream_complete.get(name).copied(), name, anomalies);
            landing(phase, evidence)
        }
    }
}

/// Whether the run's chunks form the whole stream.
fn upload_progress(
    chunks: &[(StoreKey, u64)],
    chunk_size: u64,
    dump_ok: Option<bool>,
    name: &str,
    anomalies: &mut Vec<String>,
) -> (Expect<Phase>, String) {
    let latest_ts = chunks.iter().filter_map(|(k, _)| k.ts()).max().unwrap_or_default().to_string();
    if chunks.iter().any(|(k, _)| k.ts() != Some(latest_ts.as_str())) {
        anomalies.push(format!("{name}: new chunks of more than one run timestamp; judging {latest_ts}"));
    }
    let mut sized: BTreeMap<u64, u64> = BTreeMap::new();
    for (key, size) in chunks.iter().filter(|(k, _)| k.ts() == Some(latest_ts.as_str())) {
        if let StoreKey::Chunk { index, .. } = key {
            sized.insert(*index, *size);
        }
    }
    let count = sized.len() as u64;
    let (&last, &last_size) = sized.iter().next_back().expect("at least one chunk");
    let during = Expect::known(Phase::DuringUpload);
    let done = Expect::known(Phase::BetweenChunksAndManifest);
    if last + 1 != count {
        return (during, format!("{count} chunks of run {latest_ts}, up to index {last}: some missing"));
    }
    let evidence = format!("{count} chunks of run {latest_ts}, last {last_size} bytes of {chunk_size}");
    match (last_size.cmp(&chunk_size), dump_ok) {
        (std::cmp::Ordering::Less, _) | (std::cmp::Ordering::Equal, Some(true)) => (done, evidence),
        (std::cmp::Ordering::Equal, Some(false)) => (during, format!("{evidence}; --dump rejects the stream")),
        _ => (
            Expect::one_of(
                vec![Phase::DuringUpload, Phase::BetweenChunksAndManifest],
                "the last chunk fills chunk_size and no --dump verdict was supplied",
            ),
            evidence,
        ),
    }
}

/// The phase of the last subvolume that got anywhere; every one before it must have
/// finished (the tool works through subvolumes one after another).
fn frontier(subvolumes: &[SubvolumeLanding], anomalies: &mut Vec<String>) -> Expect<Phase> {
    let started = |s: &SubvolumeLanding| s.phase.any(|p| *p != Phase::BeforeSnapshot);
    let Some(pos) = subvolumes.iter().rposition(started) else {
        return Expect::known(Phase::BeforeSnapshot);
    };
    for earlier in &subvolumes[..pos] {
        if earlier.phase.value() != Some(&Phase::AfterPointer) {
            anomalies.push(format!(
                "{} stopped at {} although {} started after it",
                earlier.subvolume,
                earlier.phase.candidates()[0].as_str(),
                subvolumes[pos].subvolume
            ));
        }
    }
    subvolumes[pos].phase.clone()
}

/// The run-level phase a kill point aims at, where the plan alone tells (`None` for
/// delays and for points whose phase depends on the stream, such as after a chunk).
pub fn aimed_phase(point: &KillPoint) -> Option<Phase> {
    match point {
        KillPoint::AfterDelay { .. } => None,
        KillPoint::OnEvent { event, .. } => match event.as_str() {
            "command_start" => Some(Phase::BeforeSnapshot),
            "snapshot_created" => Some(Phase::DuringUpload),
            "backup_metrics" | "backup_uploaded" => Some(Phase::AfterPointer),
            _ => None,
        },
        KillPoint::OnRequest { at, before } => match (at.object, before) {
            (ObjectClass::Chunk, true) => Some(Phase::DuringUpload),
            (ObjectClass::Chunk, false) => None,
            (ObjectClass::Manifest, true) => Some(Phase::BetweenChunksAndManifest),
            (ObjectClass::Manifest, false) | (ObjectClass::Pointer, true) => Some(Phase::BetweenManifestAndPointer),
            (ObjectClass::Pointer, false) => Some(Phase::AfterPointer),
        },
    }
}

/// Kill landings of a campaign, by the run's summary phase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseCounts {
    pub by_phase: BTreeMap<Phase, u64>,
    /// Landings whose phase could not be decided.
    pub undecided: u64,
}

impl PhaseCounts {
    pub fn record(&mut self, landing: &KillLanding) {
        match landing.summary.value() {
            Some(p) => *self.by_phase.entry(*p).or_default() += 1,
            None => self.undecided += 1,
        }
    }

    pub fn merge(&mut self, other: &PhaseCounts) {
        for (p, n) in &other.by_phase {
            *self.by_phase.entry(*p).or_default() += n;
        }
        self.undecided += other.undecided;
    }

    pub fn total(&self) -> u64 {
        self.by_phase.values().sum::<u64>() + self.undecided
    }

    pub fn count(&self, phase: Phase) -> u64 {
        self.by_phase.get(&phase).copied().unwrap_or(0)
    }
}

impl fmt::Display for PhaseCounts {
    /// One phase per line, every phase listed (zeros show which were never reached).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in Phase::ALL {
            writeln!(f, "{:<30} {}", p.as_str(), self.count(p))?;
        }
        writeln!(f, "{:<30} {}", "undecided", self.undecided)
    }
}
