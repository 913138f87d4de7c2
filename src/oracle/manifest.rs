//! The manifest and `current.json` of CONTRACT.md section 11: typed values for the rest
//! of the harness, and a validator that lists every deviation from the exact schema
//! (missing or extra field, wrong type or null, bad hash or timestamp, inconsistent
//! kind/parent, chunk sizes that break the chunking rule, keys out of order, text not in
//! the `json.dumps(indent=2, sort_keys=True)` layout).
//!
//! This module judges one document at a time, given its bytes; it knows nothing about
//! keys, prefixes or the configured values (that is `oracle::store`), and does no I/O.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::finding::{Finding, Property};
use super::pyjson::{key_order_problems, layout_mismatch, pointer_escape, KeyOrderProblem};

/// Chunks up to this size are single PUTs with an ETag; larger ones are multipart
/// uploads with a null `etag` (CONTRACT.md section 9).
pub const SINGLE_PUT_MAX: u64 = 5 * 1024 * 1024;

/// `full` or `incremental`, as in manifests, pointers and S3 keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    Full,
    Incremental,
}

impl BackupKind {
    pub fn parse(s: &str) -> Option<BackupKind> {
        match s {
            "full" => Some(BackupKind::Full),
            "incremental" => Some(BackupKind::Incremental),
            _ => None,
        }
    }

    /// The word used in S3 keys, manifests and pointers.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Full => "full",
            BackupKind::Incremental => "incremental",
        }
    }

    /// The suffix used in local snapshot names (`inc`, not `incremental`).
    pub fn snapshot_suffix(self) -> &'static str {
        match self {
            BackupKind::Full => "full",
            BackupKind::Incremental => "inc",
        }
    }
}

/// A manifest as published (section 11). Unknown fields are ignored here and reported
/// by [`check_manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub chunk_size: u64,
    pub chunks: Vec<ChunkRef>,
    pub created_at: String,
    pub kind: BackupKind,
    pub parent_manifest: Option<String>,
    pub s3: S3Meta,
    pub snapshot: SnapshotRef,
    pub subvolume: String,
    pub total_bytes: u64,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// The PutObject ETag, quotes included; null for multipart uploads.
    pub etag: Option<String>,
    pub key: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub name: String,
    pub path: String,
    pub uuid: Option<String>,
    pub parent_uuid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Meta {
    pub storage_class: String,
}

/// What a restore needs from a manifest to follow the chain and fetch chunks. A
/// manifest that yields a `ChainLink` is restorable as far as its text goes, even when
/// other fields deviate from the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub kind: BackupKind,
    #[serde(default)]
    pub parent_manifest: Option<String>,
    pub chunks: Vec<ChunkRef>,
}

/// `current.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    pub created_at: String,
    pub kind: BackupKind,
    pub manifest_key: String,
}

/// One departure from the exact schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    /// JSON pointer of the field (`""` is the whole document).
    pub field: String,
    pub problem: String,
    pub expected: String,
    pub seen: String,
}

impl Deviation {
    fn new(
        field: &str,
        problem: &str,
        expected: impl Into<String>,
        seen: impl Into<String>,
    ) -> Self {
        Deviation {
            field: field.to_string(),
            problem: problem.to_string(),
            expected: expected.into(),
            seen: seen.into(),
        }
    }

    /// Turns the deviation into a finding about `object` (an S3 key or a file path).
    pub fn to_finding(&self, property: Property, object: &str, step: Option<usize>) -> Finding {
        let field = if self.field.is_empty() {
            "(document)"
        } else {
            self.field.as_str()
        };
        Finding::new(
            property,
            step,
            format!("{object}: {field}: {}", self.problem),
        )
        .subject(format!("{object}#{}", self.field))
        .expected_seen(self.expected.clone(), self.seen.clone())
    }
}

/// The verdict on one manifest document.
#[derive(Debug, Clone, Default)]
pub struct ManifestCheck {
    /// Set when every field of section 11 is present with its type.
    pub manifest: Option<Manifest>,
    /// Set when the chain fields (`kind`, `parent_manifest`, `chunks`) can be read.
    pub link: Option<ChainLink>,
    pub deviations: Vec<Deviation>,
    /// Why no chain link could be read (not JSON, not UTF-8, chain fields unusable).
    pub unreadable: Option<String>,
}

/// The verdict on one `current.json` document.
#[derive(Debug, Clone, Default)]
pub struct PointerCheck {
    pub pointer: Option<Pointer>,
    /// The `manifest_key`, when it is a string (even if other fields deviate).
    pub manifest_key: Option<String>,
    pub deviations: Vec<Deviation>,
    /// Why no `manifest_key` could be read from it.
    pub unreadable: Option<String>,
}

const MANIFEST_KEYS: [&str; 10] = [
    "chunk_size",
    "chunks",
    "created_at",
    "kind",
    "parent_manifest",
    "s3",
    "snapshot",
    "subvolume",
    "total_bytes",
    "version",
];
const SNAPSHOT_KEYS: [&str; 4] = ["name", "parent_uuid", "path", "uuid"];
const CHUNK_KEYS: [&str; 4] = ["etag", "key", "sha256", "size"];
const POINTER_KEYS: [&str; 3] = ["created_at", "kind", "manifest_key"];

/// Validates a manifest's bytes against section 11 and reads what it can.
pub fn check_manifest(bytes: &[u8]) -> ManifestCheck {
    let (text, value) = match parse_json(bytes) {
        Ok(parsed) => parsed,
        Err(reason) => {
            return ManifestCheck {
                unreadable: Some(reason),
                ..Default::default()
            }
        }
    };
    let mut check = ManifestCheck::default();
    match value.as_object() {
        Some(map) => check.deviations = manifest_deviations(map),
        None => check.deviations.push(Deviation::new(
            "",
            "not a JSON object",
            "object",
            describe(&value),
        )),
    }
    check.deviations.extend(text_deviations(text, &value));
    check.manifest = serde_json::from_value(value.clone()).ok();
    match serde_json::from_value::<ChainLink>(value) {
        Ok(link) => check.link = Some(link),
        Err(e) => check.unreadable = Some(format!("chain fields unusable: {e}")),
    }
    check
}

/// Validates a `current.json`'s bytes against section 11 and reads what it can.
pub fn check_pointer(bytes: &[u8]) -> PointerCheck {
    let (text, value) = match parse_json(bytes) {
        Ok(parsed) => parsed,
        Err(reason) => {
            return PointerCheck {
                unreadable: Some(reason),
                ..Default::default()
            }
        }
    };
    let mut check = PointerCheck::default();
    let mut v = Fields::default();
    match value.as_object() {
        Some(map) => {
            v.exact_keys("", map, &POINTER_KEYS);
            v.timestamp("/created_at", map.get("created_at"));
            v.kind("/kind", map.get("kind"));
            v.string("/manifest_key", map.get("manifest_key"));
        }
        None => v.push("", "not a JSON object", "object", describe(&value)),
    }
    check.deviations = v.devs;
    check.deviations.extend(text_deviations(text, &value));
    check.pointer = serde_json::from_value(value.clone()).ok();
    check.manifest_key = value
        .get("manifest_key")
        .and_then(Value::as_str)
        .map(str::to_string);
    if check.manifest_key.is_none() {
        check.unreadable = Some("no string manifest_key".to_string());
    }
    check
}

fn parse_json(bytes: &[u8]) -> Result<(&str, Value), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    Ok((text, value))
}

/// Key order and layout, judged on the raw text. Layout is only reported when the keys
/// are in order, so that one mistake gives one deviation.
fn text_deviations(text: &str, value: &Value) -> Vec<Deviation> {
    let problems = key_order_problems(text);
    if !problems.is_empty() {
        return problems.into_iter().map(key_problem_deviation).collect();
    }
    match layout_mismatch(text, value) {
        None => Vec::new(),
        Some(m) => vec![Deviation::new(
            "",
            &format!("text is not json.dumps(indent=2, sort_keys=True) output; first difference on line {}", m.line),
            m.expected,
            m.seen,
        )],
    }
}

fn key_problem_deviation(problem: KeyOrderProblem) -> Deviation {
    match problem {
        KeyOrderProblem::Unsorted {
            object,
            previous,
            key,
        } => Deviation::new(
            &object,
            "keys not sorted",
            format!("\"{key}\" before \"{previous}\""),
            format!("\"{key}\" after \"{previous}\""),
        ),
        KeyOrderProblem::Duplicate { object, key } => Deviation::new(
            &object,
            "duplicate key",
            "each key once",
            format!("\"{key}\" repeated"),
        ),
    }
}

fn manifest_deviations(map: &Map<String, Value>) -> Vec<Deviation> {
    let mut v = Fields::default();
    v.exact_keys("", map, &MANIFEST_KEYS);
    if let Some(version) = v.uint("/version", map.get("version")) {
        if version != 1 {
            v.push("/version", "unsupported version", "1", version.to_string());
        }
    }
    let subvolume = v.name("/subvolume", map.get("subvolume"));
    let kind = v.kind("/kind", map.get("kind"));
    v.timestamp("/created_at", map.get("created_at"));
    v.snapshot(map.get("snapshot"), subvolume, kind);
    v.parent(map.get("parent_manifest"), kind);
    let chunk_size = v.uint("/chunk_size", map.get("chunk_size"));
    if chunk_size == Some(0) {
        v.push("/chunk_size", "chunk_size must be positive", "> 0", "0");
    }
    let sizes = v.chunks(map.get("chunks"), chunk_size.filter(|c| *c > 0));
    if let (Some(total), Some(sizes)) = (v.uint("/total_bytes", map.get("total_bytes")), sizes) {
        let sum: u64 = sizes.iter().sum();
        if total != sum {
            v.push(
                "/total_bytes",
                "total_bytes is not the sum of the chunk sizes",
                sum.to_string(),
                total.to_string(),
            );
        }
    }
    if let Some(s3) = v.object("/s3", map.get("s3")) {
        v.exact_keys("/s3", s3, &["storage_class"]);
        v.name("/s3/storage_class", s3.get("storage_class"));
    }
    v.devs
}

/// Accumulates deviations while walking a document.
#[derive(Default)]
struct Fields {
    devs: Vec<Deviation>,
}

impl Fields {
    fn push(
        &mut self,
        field: &str,
        problem: &str,
        expected: impl Into<String>,
        seen: impl Into<String>,
    ) {
        self.devs
            .push(Deviation::new(field, problem, expected, seen));
    }

    fn exact_keys(&mut self, path: &str, map: &Map<String, Value>, keys: &[&str]) {
        for (at, what, expected, seen) in key_deviations(path, map, keys) {
            self.push(&at, what, expected, seen);
        }
    }

    /// Present with the wrong type: records it. Absent: already reported by `exact_keys`.
    fn typed<'a, T>(
        &mut self,
        path: &str,
        v: Option<&'a Value>,
        want: &str,
        get: impl Fn(&'a Value) -> Option<T>,
    ) -> Option<T> {
        let v = v?;
        let got = get(v);
        if got.is_none() {
            self.push(path, "wrong type", want, describe(v));
        }
        got
    }

    fn string<'a>(&mut self, path: &str, v: Option<&'a Value>) -> Option<&'a str> {
        self.typed(path, v, "string", Value::as_str)
    }

    fn uint(&mut self, path: &str, v: Option<&Value>) -> Option<u64> {
        self.typed(path, v, "non-negative integer", Value::as_u64)
    }

    fn object<'a>(&mut self, path: &str, v: Option<&'a Value>) -> Option<&'a Map<String, Value>> {
        self.typed(path, v, "object", Value::as_object)
    }

    /// A non-empty string without `/`.
    fn name<'a>(&mut self, path: &str, v: Option<&'a Value>) -> Option<&'a str> {
        let s = self.string(path, v)?;
        if s.is_empty() || s.contains('/') {
            self.push(
                path,
                "not a usable name",
                "non-empty, no '/'",
                format!("{s:?}"),
            );
            return None;
        }
        Some(s)
    }

    fn null(&mut self, path: &str, v: Option<&Value>) {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            self.push(path, "must be null", "null", describe(v));
        }
    }

    fn kind(&mut self, path: &str, v: Option<&Value>) -> Option<BackupKind> {
        let s = self.string(path, v)?;
        let kind = BackupKind::parse(s);
        if kind.is_none() {
            self.push(
                path,
                "unknown kind",
                "\"full\" or \"incremental\"",
                format!("{s:?}"),
            );
        }
        kind
    }

    fn timestamp(&mut self, path: &str, v: Option<&Value>) {
        if let Some(s) = self.string(path, v) {
            if !is_compact_utc(s) {
                self.push(
                    path,
                    "not a compact UTC timestamp",
                    "YYYYMMDDTHHMMSSZ",
                    format!("{s:?}"),
                );
            }
        }
    }

    fn snapshot(&mut self, v: Option<&Value>, subvolume: Option<&str>, kind: Option<BackupKind>) {
        let Some(map) = self.object("/snapshot", v) else {
            return;
        };
        self.exact_keys("/snapshot", map, &SNAPSHOT_KEYS);
        self.null("/snapshot/uuid", map.get("uuid"));
        self.null("/snapshot/parent_uuid", map.get("parent_uuid"));
        let name = self.string("/snapshot/name", map.get("name"));
        if let (Some(name), Some(subvolume), Some(kind)) = (name, subvolume, kind) {
            if !snapshot_name_matches(name, subvolume, kind) {
                let want = format!("{subvolume}__YYYYMMDDTHHMMSSZ__{}", kind.snapshot_suffix());
                self.push(
                    "/snapshot/name",
                    "snapshot name does not follow section 8",
                    want,
                    format!("{name:?}"),
                );
            }
        }
        let Some(path) = self.string("/snapshot/path", map.get("path")) else {
            return;
        };
        let basename = path.rsplit('/').next().unwrap_or("");
        if !path.starts_with('/') || name.is_some_and(|n| n != basename) {
            let want = format!("absolute path ending in /{}", name.unwrap_or("<name>"));
            self.push(
                "/snapshot/path",
                "snapshot path is not the absolute path of the snapshot",
                want,
                format!("{path:?}"),
            );
        }
    }

    fn parent(&mut self, v: Option<&Value>, kind: Option<BackupKind>) {
        let Some(v) = v else { return };
        match (kind, v) {
            (Some(BackupKind::Full), Value::Null) | (None, Value::Null) => {}
            (Some(BackupKind::Full), _) => self.push(
                "/parent_manifest",
                "a full has no parent",
                "null",
                describe(v),
            ),
            (_, Value::String(s)) if !s.is_empty() => {}
            (Some(BackupKind::Incremental), _) => self.push(
                "/parent_manifest",
                "an incremental names its parent",
                "manifest key",
                describe(v),
            ),
            (None, _) => self.push(
                "/parent_manifest",
                "wrong type",
                "string or null",
                describe(v),
            ),
        }
    }

    /// Checks each chunk entry; returns the sizes when every entry has one.
    fn chunks(&mut self, v: Option<&Value>, chunk_size: Option<u64>) -> Option<Vec<u64>> {
        let items = self.typed("/chunks", v, "array", Value::as_array)?;
        if items.is_empty() {
            self.push(
                "/chunks",
                "no chunks (a send stream is never empty)",
                "at least one chunk",
                "[]",
            );
        }
        let sizes: Vec<Option<u64>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.chunk(i, item))
            .collect();
        let sizes: Option<Vec<u64>> = sizes.into_iter().collect();
        if let (Some(sizes), Some(chunk_size)) = (&sizes, chunk_size) {
            self.chunking_rule(sizes, chunk_size);
        }
        sizes
    }

    fn chunk(&mut self, index: usize, item: &Value) -> Option<u64> {
        let path = format!("/chunks/{index}");
        let map = self.object(&path, Some(item))?;
        self.exact_keys(&path, map, &CHUNK_KEYS);
        self.string(&format!("{path}/key"), map.get("key"));
        if let Some(sha) = self.string(&format!("{path}/sha256"), map.get("sha256")) {
            if !is_sha256_hex(sha) {
                self.push(
                    &format!("{path}/sha256"),
                    "not 64 lowercase hex digits",
                    "sha256 hex",
                    format!("{sha:?}"),
                );
            }
        }
        let size = self.uint(&format!("{path}/size"), map.get("size"));
        self.etag(&path, map.get("etag"), size);
        size
    }

    fn etag(&mut self, chunk: &str, v: Option<&Value>, size: Option<u64>) {
        let path = format!("{chunk}/etag");
        let Some(v) = v else { return };
        let multipart = size.map(|s| s > SINGLE_PUT_MAX);
        match (v, multipart) {
            (Value::Null, Some(false)) => self.push(
                &path,
                "a single-PUT chunk records its ETag",
                "quoted ETag",
                "null",
            ),
            (Value::Null, _) => {}
            (Value::String(_), Some(true)) => self.push(
                &path,
                "a multipart chunk (over 5 MiB) has a null etag",
                "null",
                describe(v),
            ),
            (Value::String(s), _) if s.len() < 2 || !s.starts_with('"') || !s.ends_with('"') => {
                self.push(
                    &path,
                    "ETag without its quotes",
                    "\"...\"",
                    format!("{s:?}"),
                )
            }
            (Value::String(_), _) => {}
            _ => self.push(&path, "wrong type", "string or null", describe(v)),
        }
    }

    fn chunking_rule(&mut self, sizes: &[u64], chunk_size: u64) {
        let last = sizes.len().saturating_sub(1);
        for (i, size) in sizes.iter().enumerate() {
            let path = format!("/chunks/{i}/size");
            if i < last && *size != chunk_size {
                self.push(
                    &path,
                    "a chunk before the last must be exactly chunk_size",
                    chunk_size.to_string(),
                    size.to_string(),
                );
            } else if i == last && (*size == 0 || *size > chunk_size) {
                self.push(
                    &path,
                    "the last chunk must be non-empty and at most chunk_size",
                    format!("1..={chunk_size}"),
                    size.to_string(),
                );
            }
        }
    }
}

/// Short description of a JSON value for a finding: its type and (truncated) text.
pub fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let mut text = v.to_string();
    if text.len() > 60 {
        let cut = (0..=57)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str("...");
    }
    format!("{kind} {text}")
}

/// `%Y%m%dT%H%M%SZ` with a real calendar date and time.
pub fn is_compact_utc(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(u32::MAX);
    let (year, month, day) = (num(0..4), num(4..6), num(6..8));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    (1..=12).contains(&month)
        && (1..=month_days[month as usize - 1]).contains(&day)
        && num(9..11) < 24
        && num(11..13) < 60
        && num(13..15) < 60
}

/// Lowercase hex SHA-256 of `bytes`, as manifests record it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// `<subvolume>__<TS>__<full|inc>` (CONTRACT.md section 8).
pub fn snapshot_name_matches(name: &str, subvolume: &str, kind: BackupKind) -> bool {
    parse_snapshot_name(name).is_some_and(|(n, _, k)| n == subvolume && k == kind)
}

/// Splits a snapshot name into subvolume, timestamp and kind.
pub fn parse_snapshot_name(name: &str) -> Option<(&str, &str, BackupKind)> {
    let (rest, suffix) = name.rsplit_once("__")?;
    let kind = match suffix {
        "full" => BackupKind::Full,
        "inc" => BackupKind::Incremental,
        _ => return None,
    };
    let (subvolume, ts) = rest.rsplit_once("__")?;
    (!subvolume.is_empty() && is_compact_utc(ts)).then_some((subvolume, ts, kind))
}
/// The fields of the object at JSON pointer `path` that are missing (of `keys`) or
/// unexpected (not in `keys`), as `(pointer, what, expected, seen)`; shared by every
/// exact-shape check of the oracle (manifest, pointer, state file).
pub(crate) fn key_deviations(
    path: &str,
    map: &Map<String, Value>,
    keys: &[&str],
) -> Vec<(String, &'static str, &'static str, &'static str)> {
    let missing = keys.iter().filter(|k| !map.contains_key(**k)).map(|key| {
        (format!("{path}/{}", pointer_escape(key)), "missing field", "present", "absent")
    });
    let unexpected = map.keys().filter(|k| !keys.contains(&k.as_str())).map(|key| {
        (format!("{path}/{}", pointer_escape(key)), "unexpected field", "absent", "present")
    });
    missing.chain(unexpected).collect()
}

