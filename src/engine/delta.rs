//! What changed between two observations: new manifests, chunks and multipart uploads,
//! moved pointers, new and removed snapshots, a changed state file (lock files have
//! their own checks in `engine::judge::exclusion`). The checks of `engine::judge` and
//! the kill-point classifier read runs through this.
//!
//! Pure set arithmetic over `engine::history::Observation`; it must not decide whether
//! a change was allowed.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::history::{ManifestSummary, Observation, PointerSummary};
use crate::engine::names::StoreKey;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub new_manifests: BTreeMap<String, ManifestSummary>,
    pub new_chunks: BTreeMap<String, u64>,
    pub new_uploads: Vec<String>,
    /// Subvolume -> (before, after), for every pointer that appeared, moved or vanished.
    pub moved_pointers: BTreeMap<String, (Option<PointerSummary>, Option<PointerSummary>)>,
    /// Subvolume -> snapshot basenames that appeared.
    pub new_snapshots: BTreeMap<String, Vec<String>>,
    pub removed_snapshots: BTreeMap<String, Vec<String>>,
    pub state_changed: bool,
}

impl Delta {
    pub fn between(before: &Observation, after: &Observation) -> Delta {
        let (b, a) = (&before.store, &after.store);
        Delta {
            new_manifests: added(&b.manifests, &a.manifests),
            new_chunks: added(&b.chunks, &a.chunks),
            new_uploads: a.uploads.iter().filter(|k| !b.uploads.contains(k)).cloned().collect(),
            moved_pointers: moved(&b.pointers, &a.pointers),
            new_snapshots: snapshot_diff(&before.snapshots, &after.snapshots),
            removed_snapshots: snapshot_diff(&after.snapshots, &before.snapshots),
            state_changed: before.state != after.state,
        }
    }

    /// The new manifests of one subvolume (by the manifest's key, not its body).
    pub fn manifests_of(&self, prefix: &str, subvolume: &str) -> Vec<(&str, &ManifestSummary)> {
        self.new_manifests
            .iter()
            .filter(|(k, _)| key_subvolume(prefix, k).as_deref() == Some(subvolume))
            .map(|(k, m)| (k.as_str(), m))
            .collect()
    }

    /// The new chunks of one subvolume, parsed, with sizes.
    pub fn chunks_of(&self, prefix: &str, subvolume: &str) -> Vec<(StoreKey, u64)> {
        self.new_chunks
            .iter()
            .filter_map(|(k, size)| StoreKey::parse(prefix, k).map(|key| (key, *size)))
            .filter(|(key, _)| key.subvolume() == subvolume)
            .collect()
    }

    pub fn new_snapshots_of(&self, subvolume: &str) -> &[String] {
        self.new_snapshots.get(subvolume).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first thing that changed in the store, the snapshots or the state file,
    /// as `(subject, description)`; `None` when nothing did. The lock is left out: a
    /// run that takes and releases it leaves no trace, and lock leftovers have their
    /// own check.
    pub fn first_change(&self) -> Option<(String, String)> {
        if let Some(k) = self.new_manifests.keys().next() {
            return Some((k.clone(), "a new manifest".into()));
        }
        if let Some(k) = self.new_chunks.keys().next() {
            return Some((k.clone(), "a new chunk".into()));
        }
        if let Some(k) = self.new_uploads.first() {
            return Some((k.clone(), "a new multipart upload".into()));
        }
        if let Some((n, (_, after))) = self.moved_pointers.iter().next() {
            let seen = after.as_ref().map_or("removed".to_string(), |p| format!("now names {}", p.manifest_key));
            return Some((format!("pointer of {n}"), seen));
        }
        if let Some((_, names)) = self.new_snapshots.iter().next() {
            return Some((names[0].clone(), "a new snapshot".into()));
        }
        if let Some((_, names)) = self.removed_snapshots.iter().next() {
            return Some((names[0].clone(), "a snapshot removed".into()));
        }
        self.state_changed.then(|| ("state file".to_string(), "rewritten with different contents".to_string()))
    }
}

/// The subvolume a chunk or manifest key belongs to.
pub fn key_subvolume(prefix: &str, key: &str) -> Option<String> {
    StoreKey::parse(prefix, key).map(|k| k.subvolume().to_string())
}

fn added<V: Clone>(before: &BTreeMap<String, V>, after: &BTreeMap<String, V>) -> BTreeMap<String, V> {
    after.iter().filter(|(k, _)| !before.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn moved(
    before: &BTreeMap<String, PointerSummary>,
    after: &BTreeMap<String, PointerSummary>,
) -> BTreeMap<String, (Option<PointerSummary>, Option<PointerSummary>)> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .map(|n| (n.clone(), (before.get(n).cloned(), after.get(n).cloned())))
        .collect()
}

/// Per subvolume, the names in `a` missing from `b`.
fn snapshot_diff(
    b: &BTreeMap<String, Vec<String>>,
    a: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    a.iter()
        .filter_map(|(subvol, names)| {
            let old = b.get(subvol);
            let fresh: Vec<String> = names.iter().filter(|n| !old.is_some_and(|o| o.contains(n))).cloned().collect();
            (!fresh.is_empty()).then(|| (subvol.clone(), fresh))
        })
        .collect()
}
