//! Builders for crafted histories, shared by the `engine_*` tests through
//! `#[path = "engine_support.rs"] mod support;`. Compiled alone it holds no tests.
#![allow(dead_code)]

use b2s3_harness::engine::history::{
    EventRecord, Invocation, ManifestSummary, Observation, ObservedAt, PointerSummary, Role, Termination, ToolCommand,
};
use b2s3_harness::engine::names::Kind;
use b2s3_harness::engine::state::{StateFile, StateObservation, SubvolumeState};

pub const PREFIX: &str = "case/";
pub const SNAP_DIR: &str = "/mnt/case/snapshots";
pub const TS1: &str = "20260101T020000Z";
pub const TS2: &str = "20260102T020000Z";
pub const TS3: &str = "20260103T020000Z";
pub const CHUNK: u64 = 1000;

pub fn chunk_key(sv: &str, kind: Kind, ts: &str, i: u64) -> String {
    format!("{PREFIX}subvol/{sv}/{}/chunk-{ts}-{i}.bin", kind.store_word())
}

pub fn manifest_key(sv: &str, kind: Kind, ts: &str) -> String {
    format!("{PREFIX}subvol/{sv}/{}/manifest-{ts}.json", kind.store_word())
}

pub fn snapshot_name(sv: &str, ts: &str, kind: Kind) -> String {
    format!("{sv}__{ts}__{}", kind.snapshot_suffix())
}

pub fn empty(at: ObservedAt) -> Observation {
    Observation::empty(at, 0, PREFIX)
}

pub fn add_snapshot(obs: &mut Observation, sv: &str, ts: &str, kind: Kind) -> String {
    let name = snapshot_name(sv, ts, kind);
    obs.snapshots.entry(sv.to_string()).or_default().push(name.clone());
    name
}

pub fn add_chunks(obs: &mut Observation, sv: &str, kind: Kind, ts: &str, sizes: &[u64]) {
    for (i, size) in sizes.iter().enumerate() {
        obs.store.chunks.insert(chunk_key(sv, kind, ts, i as u64), *size);
    }
}

/// Chunks and manifest, no pointer move. Returns the manifest key.
pub fn add_manifest(
    obs: &mut Observation,
    sv: &str,
    kind: Kind,
    ts: &str,
    parent: Option<&str>,
    sizes: &[u64],
) -> String {
    add_chunks(obs, sv, kind, ts, sizes);
    let key = manifest_key(sv, kind, ts);
    let summary = ManifestSummary {
        subvolume: sv.to_string(),
        kind: kind.store_word().to_string(),
        created_at: ts.to_string(),
        parent_manifest: parent.map(str::to_string),
        chunk_count: sizes.len(),
    };
    obs.store.manifests.insert(key.clone(), summary);
    key
}

pub fn set_pointer(obs: &mut Observation, sv: &str, kind: Kind, ts: &str) {
    let pointer = PointerSummary {
        manifest_key: manifest_key(sv, kind, ts),
        kind: kind.store_word().to_string(),
        created_at: ts.to_string(),
    };
    obs.store.pointers.insert(sv.to_string(), pointer);
}

/// A whole successful backup of `sv` as the tool leaves it, state included.
pub fn publish(obs: &mut Observation, sv: &str, kind: Kind, ts: &str, parent: Option<&str>) -> String {
    let snap = add_snapshot(obs, sv, ts, kind);
    let key = add_manifest(obs, sv, kind, ts, parent, &[CHUNK, 10]);
    set_pointer(obs, sv, kind, ts);
    let mut file = obs.state.parsed().cloned().unwrap_or_default();
    let last_full_at = match kind {
        Kind::Full => Some(ts.to_string()),
        Kind::Incremental => file.subvolumes.get(sv).and_then(|s| s.last_full_at.clone()),
    };
    file.last_run_at = Some(ts.to_string());
    file.subvolumes.insert(
        sv.to_string(),
        SubvolumeState {
            last_full_at,
            last_manifest: Some(key.clone()),
            last_snapshot: Some(format!("{SNAP_DIR}/{snap}")),
        },
    );
    obs.state = StateObservation::Parsed { file };
    key
}

pub fn state(obs: &Observation) -> StateFile {
    obs.state.parsed().cloned().unwrap_or_default()
}

pub fn ev(at_ms: u64, level: &str, name: &str, fields: &[(&str, &str)]) -> EventRecord {
    fields.iter().fold(EventRecord::new(at_ms, level, name), |e, (k, v)| e.with(k, v))
}

pub fn backup_inv(role: Role, start_ms: u64, end_ms: u64, code: Option<i32>, args: &[&str]) -> Invocation {
    let termination = match code {
        Some(code) => Termination::Exited { code },
        None => Termination::Signalled { signal: 9 },
    };
    let mut argv: Vec<String> = ["python3", "-m", "btrfs_to_s3", "backup"].iter().map(|s| s.to_string()).collect();
    argv.extend(args.iter().map(|s| s.to_string()));
    Invocation::new(role, ToolCommand::Backup, argv, start_ms, end_ms, termination)
}

pub fn restore_inv(role: Role, code: Option<i32>, target: &str) -> Invocation {
    let mut inv = backup_inv(role, 0, 100, code, &["--subvolume", "data", "--target", target]);
    inv.command = ToolCommand::Restore;
    inv.argv[3] = "restore".into();
    inv
}

/// The events a successful backup of `sv` logs.
pub fn uploaded_events(at_ms: u64, sv: &str, kind: Kind, ts: &str) -> Vec<EventRecord> {
    let path = format!("{SNAP_DIR}/{}", snapshot_name(sv, ts, kind));
    let key = manifest_key(sv, kind, ts);
    vec![
        ev(at_ms, "INFO", "snapshot_created", &[("subvolume", sv), ("path", &path), ("kind", kind.snapshot_suffix())]),
        ev(at_ms + 5, "INFO", "backup_uploaded", &[("subvolume", sv), ("manifest_key", &key), ("chunk_count", "2")]),
    ]
}
