//! Test support for the oracle and its users: synthetic but valid `btrfs send` streams
//! (accepted by `btrfs receive --dump`, no filesystem needed) and a publisher that lays
//! out backups in a [`MemStore`] exactly as CONTRACT.md sections 9 to 11 say, so that
//! tests can start from a correct store and corrupt one thing.
//!
//! Nothing here is used by the oracle's verdicts; it only builds inputs.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use super::manifest::sha256_hex;
use super::manifest::{BackupKind, SINGLE_PUT_MAX};
use super::pyjson::python_pretty;
use super::store::StoreExpect;
use crate::s3::view::MemStore;

pub use crate::engine::corrupt::btrfs_crc32c;

const CMD_SUBVOL: u16 = 1;
const CMD_SNAPSHOT: u16 = 2;
const CMD_MKFILE: u16 = 3;
const CMD_WRITE: u16 = 15;
const CMD_END: u16 = 21;
const ATTR_UUID: u16 = 1;
const ATTR_CTRANSID: u16 = 2;
const ATTR_INO: u16 = 3;
const ATTR_PATH: u16 = 15;
const ATTR_FILE_OFFSET: u16 = 18;
const ATTR_DATA: u16 = 19;
const ATTR_CLONE_UUID: u16 = 20;
const ATTR_CLONE_CTRANSID: u16 = 21;

fn tlv(attr: u16, value: &[u8]) -> Vec<u8> {
    let mut out = attr.to_le_bytes().to_vec();
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn command(cmd: u16, attrs: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = attrs.concat();
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&cmd.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&body);
    let crc = btrfs_crc32c(&out);
    out[6..10].copy_from_slice(&crc.to_le_bytes());
    out
}

/// A version-1 send stream for snapshot `name`: a full (`parent_uuid: None`) or an
/// incremental against the given parent, writing `payload` pseudo-random bytes to one
/// file. Deterministic in its arguments.
pub fn send_stream(name: &str, payload: usize, parent_uuid: Option<[u8; 16]>) -> Vec<u8> {
    let mut out = b"btrfs-stream\0".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    let uuid: [u8; 16] = Sha256::digest(name.as_bytes())[..16]
        .try_into()
        .expect("16 bytes");
    let mut head = vec![
        tlv(ATTR_PATH, name.as_bytes()),
        tlv(ATTR_UUID, &uuid),
        tlv(ATTR_CTRANSID, &7u64.to_le_bytes()),
    ];
    let cmd = match parent_uuid {
        None => CMD_SUBVOL,
        Some(parent) => {
            head.push(tlv(ATTR_CLONE_UUID, &parent));
            head.push(tlv(ATTR_CLONE_CTRANSID, &6u64.to_le_bytes()));
            CMD_SNAPSHOT
        }
    };
    out.extend(command(cmd, &head));
    out.extend(command(
        CMD_MKFILE,
        &[
            tlv(ATTR_PATH, b"file"),
            tlv(ATTR_INO, &257u64.to_le_bytes()),
        ],
    ));
    let data = pseudo_random(name, payload);
    for (i, piece) in data.chunks(48 * 1024).enumerate() {
        let offset = (i * 48 * 1024) as u64;
        let attrs = [
            tlv(ATTR_PATH, b"file"),
            tlv(ATTR_FILE_OFFSET, &offset.to_le_bytes()),
            tlv(ATTR_DATA, piece),
        ];
        out.extend(command(CMD_WRITE, &attrs));
    }
    out.extend(command(CMD_END, &[]));
    out
}

fn pseudo_random(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = Sha256::digest(seed.as_bytes());
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    out.truncate(len);
    out
}

/// One backup to publish with [`publish`].
#[derive(Debug, Clone)]
pub struct Publish<'a> {
    pub subvolume: &'a str,
    pub kind: BackupKind,
    /// The run timestamp `TS`.
    pub ts: &'a str,
    pub stream: &'a [u8],
    pub parent_manifest: Option<&'a str>,
    /// Where the snapshots live, e.g. `/snap`.
    pub snapshots_dir: &'a str,
}

/// Uploads chunks, manifest and pointer as the tool does, returns the manifest key.
pub fn publish(store: &mut MemStore, expect: &StoreExpect, p: &Publish) -> String {
    let dir = format!(
        "{}subvol/{}/{}",
        expect.prefix,
        p.subvolume,
        p.kind.as_str()
    );
    let mut chunks = Vec::new();
    for (i, body) in p.stream.chunks(expect.chunk_size as usize).enumerate() {
        let key = format!("{dir}/chunk-{}-{i}.bin", p.ts);
        store.put(&key, body, &expect.storage_class_chunks, Some(&expect.sse));
        let etag = store.objects[&key]
            .0
            .etag
            .clone()
            .filter(|_| body.len() as u64 <= SINGLE_PUT_MAX);
        chunks.push(
            json!({"etag": etag, "key": key, "sha256": sha256_hex(body), "size": body.len()}),
        );
    }
    let name = format!("{}__{}__{}", p.subvolume, p.ts, p.kind.snapshot_suffix());
    let manifest = json!({
        "version": 1, "subvolume": p.subvolume, "kind": p.kind.as_str(), "created_at": p.ts,
        "snapshot": {"name": name, "path": format!("{}/{name}", p.snapshots_dir), "uuid": null, "parent_uuid": null},
        "parent_manifest": p.parent_manifest, "chunks": chunks, "total_bytes": p.stream.len(),
        "chunk_size": expect.chunk_size, "s3": {"storage_class": expect.storage_class_chunks},
    });
    let manifest_key = format!("{dir}/manifest-{}.json", p.ts);
    put_json(store, expect, &manifest_key, &manifest);
    let pointer =
        json!({"created_at": p.ts, "kind": p.kind.as_str(), "manifest_key": manifest_key});
    put_json(
        store,
        expect,
        &format!("{}subvol/{}/current.json", expect.prefix, p.subvolume),
        &pointer,
    );
    manifest_key
}

/// PUTs a document as the tool does: Python layout, manifest class, SSE, JSON type.
pub fn put_json(store: &mut MemStore, expect: &StoreExpect, key: &str, value: &Value) {
    store.put(
        key,
        python_pretty(value).as_bytes(),
        &expect.storage_class_manifest,
        Some(&expect.sse),
    );
    if let Some((info, _)) = store.objects.get_mut(key) {
        info.content_type = Some("application/json".to_string());
    }
}

/// The parsed JSON of an object in the store (panics if absent or not JSON: test use).
pub fn json_of(store: &MemStore, key: &str) -> Value {
    serde_json::from_slice(&store.objects[key].1).expect("object is JSON")
}

/// The uuid [`send_stream`] gives snapshot `name`, for building an incremental on it.
pub fn stream_uuid(name: &str) -> [u8; 16] {
    Sha256::digest(name.as_bytes())[..16]
        .try_into()
        .expect("16 bytes")
}
