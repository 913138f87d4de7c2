//! Checks of what the tool publishes against CONTRACT.md, field by field: the events of a
//! backup run, the S3 key layout, the manifest and `current.json` documents (compared
//! byte for byte with Python's own `json.dumps(indent=2, sort_keys=True)`), storage
//! classes, SSE and content types, that the chunks form a stream `btrfs receive --dump`
//! accepts, retention, and the state file. Each check panics with the first discrepancy.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::tool::Outcome;
use super::world::{World, PREFIX};

const SMALL_OBJECT_MAX: u64 = 5 * 1024 * 1024;

/// One subvolume's publication in a backup run.
#[derive(Clone, Debug)]
pub struct Published {
    pub subvolume: String,
    pub kind: String,
    pub manifest_key: String,
    pub manifest: Value,
}

/// Re-serializes JSON text with the real Python `json.dumps(indent=2, sort_keys=True)`.
pub fn python_pretty(text: &[u8]) -> String {
    let mut child = Command::new("python3")
        .args(["-c", "import json,sys; sys.stdout.write(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed to check the JSON format");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 could not parse {}", String::from_utf8_lossy(text));
    String::from_utf8(out.stdout).unwrap()
}

fn keys_of(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(String::as_str).collect()
}

fn is_ts(text: &str) -> bool {
    text.len() == 16 && text.as_bytes()[8] == b'T' && text.ends_with('Z')
        && text.chars().enumerate().all(|(i, c)| i == 8 || i == 15 || c.is_ascii_digit())
}

/// Checks the events and everything published by a successful backup run; `expected`
/// lists (subvolume, `full`|`inc`) in run order; `parents` gives each incremental's
/// expected parent manifest.
pub fn check_backup_run(w: &World, out: &Outcome, expected: &[(&str, &str)], parents: &[(&str, &str)]) -> Vec<Published> {
    out.expect_code(0);
    assert_eq!(out.events[0].name, "command_start", "{}", out.stderr);
    assert_eq!(out.events[0].get("command"), "backup");
    let created = out.events("snapshot_created");
    let uploaded = out.events("backup_uploaded");
    let metrics = out.events("backup_metrics");
    assert_eq!((created.len(), uploaded.len(), metrics.len()), (expected.len(), expected.len(), expected.len()), "{}", out.stderr);
    let mut published = Vec::new();
    for (i, (subvolume, kind)) in expected.iter().enumerate() {
        assert_eq!((created[i].get("subvolume"), created[i].get("kind")), (*subvolume, *kind), "{}", out.stderr);
        let snapshot = created[i].get("path");
        assert!(super::fixture::BtrfsImage::is_readonly(std::path::Path::new(snapshot)), "{snapshot} is not a read-only snapshot");
        let key = uploaded[i].get("manifest_key").to_string();
        assert_eq!(uploaded[i].get("subvolume"), *subvolume);
        let parent = parents.iter().find(|(s, _)| s == subvolume).map(|(_, p)| *p);
        let manifest = check_manifest(w, subvolume, &key, kind, parent, snapshot);
        assert_eq!(uploaded[i].get("chunk_count"), manifest["chunks"].as_array().unwrap().len().to_string());
        check_metrics(metrics[i].get("total_bytes"), &metrics[i].fields, manifest["total_bytes"].as_u64().unwrap());
        check_pointer(w, subvolume, &key, &manifest);
        published.push(Published { subvolume: subvolume.to_string(), kind: kind.to_string(), manifest_key: key, manifest });
    }
    check_state(w, &published);
    published
}

fn check_metrics(total: &str, fields: &std::collections::BTreeMap<String, String>, manifest_total: u64) {
    assert_eq!(total, manifest_total.to_string());
    let elapsed = &fields["elapsed_seconds"];
    assert!(elapsed.split_once('.').is_some_and(|(_, d)| d.len() == 3), "elapsed_seconds={elapsed}");
    let rate = &fields["throughput"];
    let unit = rate.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    let number = &rate[..rate.len() - unit.len()];
    assert!(["B/s", "KB/s", "MB/s", "GB/s", "TB/s"].contains(&unit), "throughput={rate}");
    assert!(number.split_once('.').is_some_and(|(_, d)| d.len() == 2), "throughput={rate}");
}

/// Checks one manifest document and its chunks; returns it parsed.
pub fn check_manifest(w: &World, subvolume: &str, key: &str, kind: &str, parent: Option<&str>, snapshot: &str) -> Value {
    let s3_kind = if kind == "inc" { "incremental" } else { "full" };
    let dir = format!("{PREFIX}subvol/{subvolume}/{s3_kind}/");
    let ts = key.strip_prefix(&format!("{dir}manifest-")).and_then(|k| k.strip_suffix(".json"));
    let ts = ts.unwrap_or_else(|| panic!("manifest key {key} does not follow the layout"));
    assert!(is_ts(ts), "bad timestamp in {key}");
    let raw = w.s3.get(key);
    assert_eq!(String::from_utf8_lossy(&raw), python_pretty(&raw), "manifest {key} is not Python-pretty JSON");
    let m: Value = serde_json::from_slice(&raw).unwrap();
    let expected_keys = ["chunk_size", "chunks", "created_at", "kind", "parent_manifest", "s3", "snapshot", "subvolume", "total_bytes", "version"];
    assert_eq!(keys_of(&m), expected_keys.into_iter().collect(), "manifest {key} keys");
    assert_eq!(m["version"], Value::from(1));
    assert_eq!((m["subvolume"].as_str(), m["kind"].as_str(), m["created_at"].as_str()), (Some(subvolume), Some(s3_kind), Some(ts)));
    assert_eq!(keys_of(&m["snapshot"]), ["name", "parent_uuid", "path", "uuid"].into_iter().collect());
    assert!(m["snapshot"]["uuid"].is_null() && m["snapshot"]["parent_uuid"].is_null());
    assert_eq!(m["snapshot"]["path"].as_str(), Some(snapshot));
    let name = m["snapshot"]["name"].as_str().unwrap();
    assert_eq!(Some(name), snapshot.rsplit('/').next());
    assert!(name.starts_with(&format!("{subvolume}__")) && name.ends_with(&format!("__{kind}")), "snapshot name {name}");
    assert_eq!(m["parent_manifest"].as_str(), parent, "parent_manifest of {key}");
    assert_eq!(m["chunk_size"].as_u64(), Some(w.settings.chunk_size));
    assert_eq!(keys_of(&m["s3"]), ["storage_class"].into_iter().collect());
    assert_eq!(m["s3"]["storage_class"].as_str(), Some(w.settings.storage_class_chunks.as_str()));
    let sizes = check_chunks(w, &m, &format!("{dir}chunk-{ts}-"));
    assert_eq!(m["total_bytes"].as_u64(), Some(sizes.iter().sum::<u64>()), "total_bytes of {key}");
    check_document_head(w, key);
    if !archived(w) {
        check_send_stream(w, &m);
    }
    m
}

/// Chunks in an archive class cannot be read without a restore, which would change what
/// later steps of a test see; their content is then checked by restoring instead.
fn archived(w: &World) -> bool {
    ["GLACIER", "DEEP_ARCHIVE"].contains(&w.settings.storage_class_chunks.as_str())
}

/// Checks each chunk record against its object; returns the sizes.
fn check_chunks(w: &World, m: &Value, key_stem: &str) -> Vec<u64> {
    let chunks = m["chunks"].as_array().unwrap();
    assert!(!chunks.is_empty(), "a manifest without chunks");
    let mut sizes = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(keys_of(c), ["etag", "key", "sha256", "size"].into_iter().collect());
        let key = c["key"].as_str().unwrap();
        assert_eq!(key, format!("{key_stem}{i}.bin"), "chunk {i} key");
        let size = c["size"].as_u64().unwrap();
        let head = w.s3.head(key);
        assert_eq!(head.size as u64, size, "size of {key}");
        let sha = c["sha256"].as_str().unwrap_or_default();
        assert!(sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "sha256 of {key}");
        if !archived(w) {
            let body = w.s3.get(key);
            assert_eq!(sha, hex::encode(Sha256::digest(&body)), "sha256 of {key}");
        }
        let last = i + 1 == chunks.len();
        assert!(if last { size > 0 && size <= w.settings.chunk_size } else { size == w.settings.chunk_size }, "chunk {i} has {size} bytes");
        if size <= SMALL_OBJECT_MAX {
            assert_eq!(c["etag"].as_str(), head.etag.as_deref(), "etag of {key}");
        } else {
            assert!(c["etag"].is_null(), "a multipart chunk's etag must be null: {key}");
        }
        let class = Some(w.settings.storage_class_chunks.as_str()).filter(|c| *c != "STANDARD");
        assert_eq!(head.storage_class.as_deref(), class, "storage class of {key}");
        assert_eq!(head.sse.as_deref(), Some("AES256"), "SSE of {key}");
        sizes.push(size);
    }
    sizes
}

fn check_document_head(w: &World, key: &str) {
    let head = w.s3.head(key);
    assert_eq!(head.storage_class, None, "manifest and pointer are STANDARD: {key}");
    assert_eq!(head.sse.as_deref(), Some("AES256"), "SSE of {key}");
    assert_eq!(head.content_type.as_deref(), Some("application/json"), "content type of {key}");
}

/// Checks `current.json` of `subvolume` names `key`.
pub fn check_pointer(w: &World, subvolume: &str, key: &str, manifest: &Value) {
    let pointer_key = format!("{PREFIX}subvol/{subvolume}/current.json");
    let raw = w.s3.get(&pointer_key);
    assert_eq!(String::from_utf8_lossy(&raw), python_pretty(&raw), "current.json is not Python-pretty JSON");
    let p: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(keys_of(&p), ["created_at", "kind", "manifest_key"].into_iter().collect());
    assert_eq!(p["manifest_key"].as_str(), Some(key));
    assert_eq!(p["kind"], manifest["kind"]);
    assert_eq!(p["created_at"], manifest["created_at"]);
    check_document_head(w, &pointer_key);
}

/// The concatenated chunks must be a send stream `btrfs receive --dump` accepts.
pub fn check_send_stream(w: &World, m: &Value) {
    let path = w.scratch.join("stream.bin");
    let mut stream = Vec::new();
    for c in m["chunks"].as_array().unwrap() {
        stream.extend(w.s3.get(c["key"].as_str().unwrap()));
    }
    std::fs::write(&path, stream).unwrap();
    let out = Command::new("btrfs").args(["receive", "--dump", "-f"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "btrfs receive --dump rejected the stream: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(path).unwrap();
}

/// The state names each published backup, and its snapshot exists read-only.
pub fn check_state(w: &World, published: &[Published]) {
    let state = w.state().expect("a successful backup writes the state file");
    for p in published {
        let entry = &state["subvolumes"][&p.subvolume];
        assert_eq!(entry["last_manifest"].as_str(), Some(p.manifest_key.as_str()), "state of {}", p.subvolume);
        assert_eq!(entry["last_snapshot"], p.manifest["snapshot"]["path"]);
        assert_eq!(state["last_run_at"], p.manifest["created_at"]);
        if p.kind == "full" {
            assert_eq!(entry["last_full_at"], p.manifest["created_at"]);
        }
        let snapshot = std::path::PathBuf::from(entry["last_snapshot"].as_str().unwrap());
        assert!(super::fixture::BtrfsImage::is_readonly(&snapshot), "state's last_snapshot {} must exist read-only", snapshot.display());
    }
}

/// Every key under the subvolume is a chunk of a listed manifest, a listed manifest, or
/// the pointer.
pub fn check_no_stray_keys(w: &World, subvolume: &str, manifests: &[&Value], manifest_keys: &[&str]) {
    let mut allowed: BTreeSet<String> = manifest_keys.iter().map(|k| k.to_string()).collect();
    allowed.insert(format!("{PREFIX}subvol/{subvolume}/current.json"));
    for m in manifests {
        for c in m["chunks"].as_array().unwrap() {
            allowed.insert(c["key"].as_str().unwrap().to_string());
        }
    }
    for key in w.keys(subvolume) {
        assert!(allowed.contains(&key), "unexpected object {key}");
    }
}
