//! The S3 key layout of CONTRACT.md section 10 and the per-object metadata rules of
//! sections 9 and 11 (storage class by role, SSE on everything, JSON content type on
//! manifests and pointers). Pure functions over keys and `ObjectInfo`; no I/O.

use super::{StoreExpect, Tally};
use crate::oracle::finding::{Finding, Property};
use crate::oracle::manifest::{is_compact_utc, BackupKind};
use crate::s3::view::ObjectInfo;

/// What a key under the prefix is, by its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRole {
    Chunk {
        subvolume: String,
        kind: BackupKind,
        ts: String,
        index: u64,
    },
    Manifest {
        subvolume: String,
        kind: BackupKind,
        ts: String,
    },
    Pointer {
        subvolume: String,
    },
}

impl KeyRole {
    pub fn subvolume(&self) -> &str {
        match self {
            KeyRole::Chunk { subvolume, .. }
            | KeyRole::Manifest { subvolume, .. }
            | KeyRole::Pointer { subvolume } => subvolume,
        }
    }
}

pub fn chunk_key(
    prefix: &str,
    subvolume: &str,
    kind: BackupKind,
    ts: &str,
    index: usize,
) -> String {
    format!(
        "{prefix}subvol/{subvolume}/{}/chunk-{ts}-{index}.bin",
        kind.as_str()
    )
}

pub fn manifest_key(prefix: &str, subvolume: &str, kind: BackupKind, ts: &str) -> String {
    format!(
        "{prefix}subvol/{subvolume}/{}/manifest-{ts}.json",
        kind.as_str()
    )
}

pub fn pointer_key(prefix: &str, subvolume: &str) -> String {
    format!("{prefix}subvol/{subvolume}/current.json")
}

/// Classifies `key`; `Err` says how it breaks section 10.
pub fn parse_key(prefix: &str, key: &str) -> Result<KeyRole, String> {
    let rel = key
        .strip_prefix(prefix)
        .ok_or_else(|| format!("not under the case prefix {prefix}"))?;
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        ["subvol", n, "current.json"] if !n.is_empty() => Ok(KeyRole::Pointer {
            subvolume: n.to_string(),
        }),
        ["subvol", n, k, file] if !n.is_empty() => {
            let kind = BackupKind::parse(k)
                .ok_or_else(|| format!("kind segment {k:?} is not full or incremental"))?;
            parse_file(n, kind, file)
        }
        _ => Err("not subvol/N/current.json nor subvol/N/K/<chunk or manifest>".to_string()),
    }
}

fn parse_file(subvolume: &str, kind: BackupKind, file: &str) -> Result<KeyRole, String> {
    let subvolume = subvolume.to_string();
    if let Some(mid) = file
        .strip_prefix("chunk-")
        .and_then(|f| f.strip_suffix(".bin"))
    {
        let (ts, index) = mid.rsplit_once('-').ok_or("chunk name has no -<index>")?;
        check_ts(ts)?;
        let plain = index == "0" || (!index.starts_with('0') && !index.is_empty());
        let index = index.parse::<u64>().ok().filter(|_| plain).ok_or_else(|| {
            format!("chunk index {index:?} is not plain decimal (no sign, no zero padding)")
        })?;
        return Ok(KeyRole::Chunk {
            subvolume,
            kind,
            ts: ts.to_string(),
            index,
        });
    }
    if let Some(ts) = file
        .strip_prefix("manifest-")
        .and_then(|f| f.strip_suffix(".json"))
    {
        check_ts(ts)?;
        return Ok(KeyRole::Manifest {
            subvolume,
            kind,
            ts: ts.to_string(),
        });
    }
    Err(format!(
        "file name {file:?} is neither chunk-TS-i.bin nor manifest-TS.json"
    ))
}

fn check_ts(ts: &str) -> Result<(), String> {
    if is_compact_utc(ts) {
        Ok(())
    } else {
        Err(format!("timestamp {ts:?} is not YYYYMMDDTHHMMSSZ"))
    }
}

/// Key shape, subvolume name, storage class, SSE and content type of one object.
pub(super) fn check_object(
    expect: &StoreExpect,
    info: &ObjectInfo,
    tally: &mut Tally,
    step: Option<usize>,
) -> Option<KeyRole> {
    let role = match parse_key(&expect.prefix, &info.key) {
        Ok(role) => Some(role),
        Err(why) => {
            let f = Finding::new(
                Property::LayoutAndMetadata,
                step,
                format!("key breaks the layout of section 10: {why}"),
            )
            .subject(info.key.clone());
            tally.add("key layout", f);
            None
        }
    };
    if let Some(role) = role
        .as_ref()
        .filter(|r| !expect.subvolumes.iter().any(|s| s == r.subvolume()))
    {
        let f = Finding::new(
            Property::LayoutAndMetadata,
            step,
            format!("key names unconfigured subvolume {:?}", role.subvolume()),
        )
        .subject(info.key.clone())
        .expected_seen(expect.subvolumes.join(" or "), role.subvolume());
        tally.add("unknown subvolume", f);
    }
    check_metadata(expect, info, role.as_ref(), tally, step);
    role
}

fn check_metadata(
    expect: &StoreExpect,
    info: &ObjectInfo,
    role: Option<&KeyRole>,
    tally: &mut Tally,
    step: Option<usize>,
) {
    let p7 = |message: &str| {
        Finding::new(Property::LayoutAndMetadata, step, message).subject(info.key.clone())
    };
    let (what, class) = match role {
        Some(KeyRole::Chunk { .. }) => ("chunk", Some(&expect.storage_class_chunks)),
        Some(_) => ("manifest/pointer", Some(&expect.storage_class_manifest)),
        None => ("object", None),
    };
    if let Some(class) = class.filter(|c| **c != info.storage_class) {
        let f = p7(&format!("{what} has the wrong storage class"))
            .expected_seen(class.clone(), info.storage_class.clone());
        tally.add(&format!("{what} storage class"), f);
    }
    if info.sse.as_deref() != Some(expect.sse.as_str()) {
        let seen = info.sse.clone().unwrap_or_else(|| "no SSE".to_string());
        tally.add(
            "sse",
            p7("object lacks the configured server-side encryption")
                .expected_seen(expect.sse.clone(), seen),
        );
    }
    let json_role = matches!(
        role,
        Some(KeyRole::Manifest { .. } | KeyRole::Pointer { .. })
    );
    if let Some(ct) = info
        .content_type
        .as_ref()
        .filter(|ct| json_role && !ct.starts_with("application/json"))
    {
        tally.add(
            "content type",
            p7(&format!("{what} is not PUT as JSON")).expected_seen("application/json", ct.clone()),
        );
    }
}
