//! The S3 layout of CONTRACT.md section 10 and the documents of section 11: object keys
//! for chunks, manifests and `current.json`, and the manifest and pointer JSON (written in
//! Python's sorted, indented form; read leniently but with every field the restore needs
//! checked). This module must not perform S3 calls.

use crate::pyjson::Json;

/// A backup kind; its S3 segment and its snapshot-name suffix differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Full,
    Incremental,
}

impl Kind {
    /// `full` or `incremental`, as in keys and JSON.
    pub fn s3_name(self) -> &'static str {
        match self {
            Kind::Full => "full",
            Kind::Incremental => "incremental",
        }
    }

    /// `full` or `inc`, as in snapshot names and `kind=` of `snapshot_created`.
    pub fn snapshot_suffix(self) -> &'static str {
        match self {
            Kind::Full => "full",
            Kind::Incremental => "inc",
        }
    }
}

/// Key builder for one prefix (which ends with exactly one `/`).
#[derive(Clone, Debug)]
pub struct Layout {
    pub prefix: String,
}

impl Layout {
    pub fn chunk_key(&self, subvolume: &str, kind: Kind, ts: &str, index: usize) -> String {
        format!("{}subvol/{subvolume}/{}/chunk-{ts}-{index}.bin", self.prefix, kind.s3_name())
    }

    pub fn manifest_key(&self, subvolume: &str, kind: Kind, ts: &str) -> String {
        format!("{}subvol/{subvolume}/{}/manifest-{ts}.json", self.prefix, kind.s3_name())
    }

    pub fn pointer_key(&self, subvolume: &str) -> String {
        format!("{}subvol/{subvolume}/current.json", self.prefix)
    }
}

/// One uploaded chunk as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkRecord {
    pub etag: Option<String>,
    pub key: String,
    pub sha256: String,
    pub size: u64,
}

/// A manifest (section 11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub subvolume: String,
    pub kind: Kind,
    pub created_at: String,
    pub snapshot_name: String,
    pub snapshot_path: String,
    pub parent_manifest: Option<String>,
    pub chunks: Vec<ChunkRecord>,
    pub total_bytes: u64,
    pub chunk_size: u64,
    pub storage_class: String,
}

impl Manifest {
    /// The manifest document with every key of the contract.
    pub fn to_json(&self) -> Json {
        let chunks = self.chunks.iter().map(|c| {
            Json::object([
                ("etag", Json::opt_str(c.etag.as_deref())),
                ("key", Json::str(&c.key)),
                ("sha256", Json::str(&c.sha256)),
                ("size", Json::Int(c.size as i64)),
            ])
        });
        Json::object([
            ("version", Json::Int(1)),
            ("subvolume", Json::str(&self.subvolume)),
            ("kind", Json::str(self.kind.s3_name())),
            ("created_at", Json::str(&self.created_at)),
            (
                "snapshot",
                Json::object([
                    ("name", Json::str(&self.snapshot_name)),
                    ("path", Json::str(&self.snapshot_path)),
                    ("uuid", Json::Null),
                    ("parent_uuid", Json::Null),
                ]),
            ),
            ("parent_manifest", Json::opt_str(self.parent_manifest.as_deref())),
            ("chunks", Json::Array(chunks.collect())),
            ("total_bytes", Json::Int(self.total_bytes as i64)),
            ("chunk_size", Json::Int(self.chunk_size as i64)),
            ("s3", Json::object([("storage_class", Json::str(&self.storage_class))])),
        ])
    }

    /// Reads a manifest fetched from `key`; errors name the key and the bad field.
    pub fn parse(key: &str, bytes: &[u8]) -> Result<Manifest, String> {
        let doc: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("invalid manifest {key}: not JSON: {e}"))?;
        let field = Fields { key, doc: &doc };
        let kind = match field.string("kind")?.as_str() {
            "full" => Kind::Full,
            "incremental" => Kind::Incremental,
            other => return Err(format!("invalid manifest {key}: unknown kind {other:?}")),
        };
        let snapshot = Fields { key, doc: field.get("snapshot")? };
        let mut chunks = Vec::new();
        for item in field.get("chunks")?.as_array().ok_or_else(|| field.bad("chunks"))? {
            let chunk = Fields { key, doc: item };
            chunks.push(ChunkRecord {
                etag: item.get("etag").and_then(|v| v.as_str()).map(str::to_string),
                key: chunk.string("key")?,
                sha256: chunk.string("sha256")?.to_ascii_lowercase(),
                size: chunk.uint("size")?,
            });
        }
        Ok(Manifest {
            subvolume: field.string("subvolume")?,
            kind,
            created_at: field.string("created_at")?,
            snapshot_name: snapshot.string("name")?,
            snapshot_path: snapshot.string("path")?,
            parent_manifest: doc.get("parent_manifest").and_then(|v| v.as_str()).map(str::to_string),
            chunks,
            total_bytes: field.uint("total_bytes")?,
            chunk_size: field.uint("chunk_size")?,
            storage_class: Fields { key, doc: field.get("s3")? }.string("storage_class")?,
        })
    }
}

struct Fields<'a> {
    key: &'a str,
    doc: &'a serde_json::Value,
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Result<&'a serde_json::Value, String> {
        self.doc.get(name).ok_or_else(|| format!("invalid manifest {}: missing field {name}", self.key))
    }

    fn bad(&self, name: &str) -> String {
        format!("invalid manifest {}: field {name} has the wrong type", self.key)
    }

    fn string(&self, name: &str) -> Result<String, String> {
        self.get(name)?.as_str().map(str::to_string).ok_or_else(|| self.bad(name))
    }

    fn uint(&self, name: &str) -> Result<u64, String> {
        self.get(name)?.as_u64().ok_or_else(|| self.bad(name))
    }
}

/// The `current.json` pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pointer {
    pub created_at: String,
    pub kind: Kind,
    pub manifest_key: String,
}

impl Pointer {
    pub fn to_json(&self) -> Json {
        Json::object([
            ("created_at", Json::str(&self.created_at)),
            ("kind", Json::str(self.kind.s3_name())),
            ("manifest_key", Json::str(&self.manifest_key)),
        ])
    }

    /// Reads the `manifest_key` of a pointer fetched from `key`.
    pub fn manifest_key_of(key: &str, bytes: &[u8]) -> Result<String, String> {
        let doc: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("invalid pointer {key}: not JSON: {e}"))?;
        doc.get("manifest_key")
            .and_then(|v| v.as_str())
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("invalid pointer {key}: missing manifest_key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let layout = Layout { prefix: "p/".into() };
        Manifest {
            subvolume: "data".into(),
            kind: Kind::Incremental,
            created_at: "20260101T020000Z".into(),
            snapshot_name: "data__20260101T020001Z__inc".into(),
            snapshot_path: "/s/data__20260101T020001Z__inc".into(),
            parent_manifest: Some(layout.manifest_key("data", Kind::Full, "20251201T020000Z")),
            chunks: vec![ChunkRecord {
                etag: Some("\"abc\"".into()),
                key: layout.chunk_key("data", Kind::Incremental, "20260101T020000Z", 0),
                sha256: "0".repeat(64),
                size: 7,
            }],
            total_bytes: 7,
            chunk_size: 8,
            storage_class: "DEEP_ARCHIVE".into(),
        }
    }

    #[test]
    fn keys_follow_the_flat_layout() {
        let layout = Layout { prefix: "p/".into() };
        assert_eq!(layout.chunk_key("d", Kind::Full, "T", 10), "p/subvol/d/full/chunk-T-10.bin");
        assert_eq!(layout.manifest_key("d", Kind::Incremental, "T"), "p/subvol/d/incremental/manifest-T.json");
        assert_eq!(layout.pointer_key("d"), "p/subvol/d/current.json");
    }

    #[test]
    fn a_manifest_round_trips_through_its_json() {
        let text = sample().to_json().to_python_pretty();
        assert_eq!(Manifest::parse("k", text.as_bytes()).unwrap(), sample());
        assert!(text.starts_with("{\n  \"chunk_size\": 8,\n  \"chunks\": [\n    {\n      \"etag\": \"\\\"abc\\\"\","));
        assert!(text.contains("\"snapshot\": {\n    \"name\": \"data__20260101T020001Z__inc\",\n    \"parent_uuid\": null,"));
    }
}
