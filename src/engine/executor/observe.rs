//! Observation points: what the store (through the oracle's [`StoreChecker`], P2 and
//! P7), the state file, the snapshots dir and the lock file look like right now, as an
//! [`Observation`] of the history. A persistent defect (say, a chunk without SSE) would
//! be found again at every later observation; each finding and undecided check is kept
//! only the first time it is seen, so the report names the step where it appeared.
//!
//! It reads; it never changes the store or the fixture.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{Abort, Flow};
use crate::engine::history::{
    LockObservation, ManifestSummary, ARCHIVED_POINTER, Observation, ObservedAt, PointerSummary, StoreSummary,
};
use crate::engine::judge::Undecided;
use crate::engine::names::{SnapshotName, StoreKey};
use crate::engine::state::StateObservation;
use crate::oracle::finding::{Finding, Property};
use crate::oracle::store::{StoreChecker, StoreExpect, StoreSnapshot};
use crate::s3::S3Client;

/// The group of snapshot dir entries that are no subvolume's snapshot.
pub(super) const OTHER_ENTRIES: &str = "(other)";

/// Takes the observations of one case.
pub(super) struct Observer<'e> {
    checker: StoreChecker,
    client: &'e S3Client,
    prefix: String,
    state_path: PathBuf,
    lock_path: PathBuf,
    snapshots_dir: PathBuf,
    seen: BTreeSet<String>,
    /// The store as of the latest observation.
    pub store: StoreSnapshot,
    /// The state file's text as of the latest observation.
    pub state_text: Option<String>,
}

/// One observation and the checks it could not decide.
pub(super) struct Observed {
    pub observation: Observation,
    pub undecided: Vec<Undecided>,
}

impl<'e> Observer<'e> {
    pub fn new(
        client: &'e S3Client,
        expect: StoreExpect,
        state_path: PathBuf,
        lock_path: PathBuf,
        snapshots_dir: PathBuf,
    ) -> Observer<'e> {
        Observer {
            prefix: expect.prefix.clone(),
            checker: StoreChecker::new(expect),
            client,
            state_path,
            lock_path,
            snapshots_dir,
            seen: BTreeSet::new(),
            store: StoreSnapshot::default(),
            state_text: None,
        }
    }

    /// Looks at everything now.
    pub fn observe(&mut self, at: ObservedAt, at_ms: u64, step: usize) -> Flow<Observed> {
        let report = self
            .checker
            .check(self.client, Some(step))
            .map_err(|e| Abort::harness(format!("checking the store under {}", self.prefix), e))?;
        let store = summarize(&report.snapshot, &self.prefix);
        let findings: Vec<Finding> = report
            .findings
            .into_iter()
            .filter(|f| self.first_time(&finding_key(f)))
            .collect();
        let undecided = report
            .undecided
            .into_iter()
            .filter(|u| self.first_time(&format!("undecided|{}|{}", u.subject, u.reason)))
            .map(|u| Undecided {
                property: store_property(&u.subject, &u.reason),
                step,
                subject: u.subject,
                why: u.reason,
            })
            .collect();
        self.store = report.snapshot;
        self.state_text = read_optional(&self.state_path, "reading the state file")?;
        let lock = match read_optional(&self.lock_path, "reading the lock file")? {
            Some(content) => LockObservation::Present { content },
            None => LockObservation::Absent,
        };
        let observation = Observation {
            at,
            at_ms,
            store,
            state: StateObservation::from_contents(self.state_text.as_deref()),
            snapshots: list_snapshots(&self.snapshots_dir)?,
            lock,
            findings,
        };
        Ok(Observed {
            observation,
            undecided,
        })
    }

    /// The chunk size manifests written from now on must record (a reconfiguration).
    pub fn set_chunk_size(&mut self, chunk_size: u64) {
        self.checker.set_chunk_size(chunk_size);
    }

    /// Keeps a finding of another check only if it was not reported before.
    pub fn first_time_finding(&mut self, f: &Finding) -> bool {
        self.first_time(&finding_key(f))
    }

    fn first_time(&mut self, key: &str) -> bool {
        self.seen.insert(key.to_string())
    }
}

/// What identifies a finding across observations: everything but its step and the
/// running count of similar ones.
fn finding_key(f: &Finding) -> String {
    let message = f.message.split(" [and ").next().unwrap_or("");
    format!(
        "{}|{}|{}|{}|{}",
        f.property.id(),
        message,
        f.subject.as_deref().unwrap_or(""),
        f.expected.as_deref().unwrap_or(""),
        f.seen.as_deref().unwrap_or("")
    )
}

/// The store checker's undecided checks are about published chains (P2) or the
/// layout and stream (P7).
fn store_property(subject: &str, reason: &str) -> Property {
    if subject.ends_with("current.json")
        || reason.starts_with("chain")
        || reason.contains("not hashed")
    {
        Property::NoPartialPublish
    } else {
        Property::LayoutAndMetadata
    }
}

fn read_optional(path: &Path, doing: &str) -> Flow<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Abort::harness(format!("{doing} {}", path.display()), e)),
    }
}

/// Entries of the snapshots dir grouped by the subvolume their name says (sorted);
/// entries that are no snapshot name go under [`OTHER_ENTRIES`].
pub(super) fn list_snapshots(dir: &Path) -> Flow<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Abort::harness(format!("listing {}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Abort::harness(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let group = SnapshotName::parse(&name).map_or(OTHER_ENTRIES.to_string(), |n| n.subvolume);
        out.entry(group).or_default().push(name);
    }
    out.values_mut().for_each(|v| v.sort());
    Ok(out)
}

/// The history's view of a store snapshot: pointers, manifests (unreadable ones with
/// what their key says), chunks with sizes, incomplete uploads.
fn summarize(snap: &StoreSnapshot, prefix: &str) -> StoreSummary {
    let mut out = StoreSummary::new(prefix);
    for (subvolume, p) in &snap.pointers {
        let summary = PointerSummary {
            manifest_key: p.manifest_key.clone(),
            kind: p.kind.as_str().to_string(),
            created_at: p.created_at.clone(),
        };
        out.pointers.insert(subvolume.clone(), summary);
    }
    for (key, info) in &snap.objects {
        match StoreKey::parse(prefix, key) {
            Some(StoreKey::Pointer { subvolume }) if !snap.pointers.contains_key(&subvolume) => {
                let why = match info.storage_class.as_str() {
                    class @ ("GLACIER" | "DEEP_ARCHIVE") => format!("{ARCHIVED_POINTER} {class}"),
                    _ => "current.json cannot be parsed".to_string(),
                };
                out.unreadable_pointers.insert(subvolume, why);
            }
            Some(StoreKey::Manifest {
                subvolume,
                kind,
                ts,
            }) => {
                let summary = match snap.manifests.get(key) {
                    Some(m) => ManifestSummary {
                        subvolume: m.subvolume.clone(),
                        kind: m.kind.as_str().to_string(),
                        created_at: m.created_at.clone(),
                        parent_manifest: m.parent_manifest.clone(),
                        chunk_count: m.chunks.len(),
                    },
                    None => ManifestSummary {
                        subvolume,
                        kind: kind.store_word().to_string(),
                        created_at: ts,
                        parent_manifest: None,
                        chunk_count: 0,
                    },
                };
                out.manifests.insert(key.clone(), summary);
            }
            Some(StoreKey::Chunk { .. }) => {
                out.chunks.insert(key.clone(), info.size);
            }
            _ => {}
        }
    }
    out.uploads = snap.uploads.iter().map(|u| u.key.clone()).collect();
    out
}
